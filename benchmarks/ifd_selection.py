"""Does IFD selection pick broken pairs? Measured on the labeled dev set.

    .venv/bin/python benchmarks/ifd_selection.py [--scorer smollm2-135m] [--keep 10 30 50]

Scores every row of ``benchmarks/data/review_dev.jsonl`` (good pairs and their
corrupted variants) with the IFD scorer, in both prompt formats, and prints:

1. IFD and the mismatch-guard ratio (loss with the own instruction / loss with
   another sample's instruction) per kind of row;
2. for selection rules keeping the top k% of the rows by IFD (after dropping
   IFD >= 1, then optionally the rows the cheap checks reject and the rows the
   mismatch guard flags), the share of bad
   rows, of mismatched pairs and of broken responses (truncated, repetition,
   empty, refusal) among the selected, next to their share in the whole set,
   which is what a random subset of any size holds on average.

A rule is safe when no share in the selected set is above the whole set's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gra.curate.select import Scored, SelectOptions, check_drops, choose, score_ifd  # noqa: E402
from gra.ifd.scoring import CachedScorer, ifd, load_scorer  # noqa: E402
from gra.io.datasets import load_samples  # noqa: E402

DEV = ROOT / "benchmarks" / "data" / "review_dev.jsonl"
BROKEN = {"truncated", "repetition", "empty", "refusal"}


def kind(s: Scored) -> str:
    return s.sample.record["kind"]


def shares(rows: list[Scored]) -> tuple[float, float, float]:
    n = len(rows) or 1
    bad = sum(kind(r) != "good" for r in rows) / n
    mismatch = sum(kind(r) == "mismatch" for r in rows) / n
    broken = sum(kind(r) in BROKEN for r in rows) / n
    return bad, mismatch, broken


def per_kind_table(scored: list[Scored]) -> list[str]:
    by: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        by[kind(s)].append(s)
    lines = [
        "| kind | n | scored | IFD mean | IFD min–max | IFD >= 1 | guard mean | guard >= 0.95 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for k in sorted(by, key=lambda k: (k != "good", k)):
        rows = by[k]
        ifds = [r.detail["ifd"] for r in rows if "ifd" in r.detail]
        guards = [r.detail["guard"] for r in rows if "guard" in r.detail]
        if not ifds:
            lines.append(f"| {k} | {len(rows)} | 0 | – | – | – | – | – |")
            continue
        lines.append(
            f"| {k} | {len(rows)} | {len(ifds)} | {statistics.mean(ifds):.2f} | "
            f"{min(ifds):.2f}–{max(ifds):.2f} | {sum(x >= 1 for x in ifds) / len(ifds):.0%} | "
            f"{statistics.mean(guards):.2f} | {sum(g >= 0.95 for g in guards) / len(guards):.0%} |"
        )
    return lines


def rule_table(
    scored: list[Scored], checks: list[str], keep: list[int], guards: list[float]
) -> list[str]:
    base = shares(scored)
    lines = [
        "| rule | kept | bad | mismatched | broken |",
        "|---|---:|---:|---:|---:|",
        f"| whole set (= a random subset, on average) | {len(scored)} | {base[0]:.0%} | "
        f"{base[1]:.0%} | {base[2]:.0%} |",
    ]
    rules = [("IFD < 1", 0.0, False), ("IFD < 1, cheap checks", 0.0, True)]
    rules += [(f"IFD < 1, cheap checks, guard < {g}", g, True) for g in guards]
    for name, guard, use_checks in rules:
        for pct in keep:
            opts = SelectOptions(max_ifd=1.0, guard=guard, top_percent=pct)
            rescored = [
                Scored(s.sample, s.score, s.detail, c) if use_checks and c else _redrop(s, opts)
                for s, c in zip(scored, checks, strict=True)
            ]
            # top k% of the whole set, as a user asks for "10% of my data"
            opts.top_n = round(len(scored) * pct / 100)
            opts.top_percent = None
            picked = [rescored[i] for i in choose(rescored, opts)]
            b = shares(picked)
            flag = " ⚠" if any(x > y + 1e-9 for x, y in zip(b, base, strict=True)) else ""
            lines.append(
                f"| {name}, top {pct}% by IFD{flag} | {len(picked)} | {b[0]:.0%} | "
                f"{b[1]:.0%} | {b[2]:.0%} |"
            )
    return lines


def _redrop(s: Scored, opts: SelectOptions) -> Scored:
    """The same scores under other thresholds (no model work)."""
    if "ifd" not in s.detail:
        return s
    value, g = s.detail["ifd"], s.detail.get("guard")
    drop = ""
    if value >= opts.max_ifd:
        drop = "ifd"
    elif opts.guard > 0 and g is not None and g >= opts.guard:
        drop = "guard"
    return Scored(s.sample, value, s.detail, drop)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scorer", default="smollm2-135m")
    ap.add_argument("--keep", type=int, nargs="+", default=[10, 30, 50])
    ap.add_argument("--guards", type=float, nargs="+", default=[0.9, 0.95, 0.98])
    ap.add_argument("--templates", nargs="+", default=["plain", "chat"])
    ap.add_argument("--cache", type=Path, help="score cache [default: a temporary file]")
    args = ap.parse_args()
    samples = load_samples(DEV)
    with tempfile.TemporaryDirectory() as d:
        cache = args.cache or Path(d) / "scores.sqlite"
        for template in args.templates:
            scorer = CachedScorer(load_scorer(args.scorer, template=template), cache)
            try:
                scored = score_ifd(samples, scorer.losses, SelectOptions(guard=1e-9), ifd)
            finally:
                scorer.close()
            checks = check_drops(samples)
            print(f"\n### {args.scorer}, template {template}, {len(samples)} rows of {DEV.name}\n")
            print("\n".join(per_kind_table(scored)))
            print()
            print("\n".join(rule_table(scored, checks, args.keep, args.guards)))


if __name__ == "__main__":
    main()
