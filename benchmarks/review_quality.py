"""How well each review configuration tells good pairs from bad, on the labeled dev set.

    .venv/bin/python benchmarks/review_quality.py [--data benchmarks/data/review_dev.jsonl ...]
        [--split dev|test|all] [--config COUNCIL.yaml] [--store PATH] [--sources N]
        [--margins 0.5 1] [--only NAME ...] [--json OUT]

Runs ``gra review``'s stages (gra.curate.review, the embedded council by default) in
these configurations, all over the same samples and one call store, so a call two
configurations share is made once:

- no review: everything accepted;
- cheap checks only: the text checks and the small-model mismatch check;
- text checks only (no mismatch check), for comparison;
- one reviewer; council mean (2 reviewers; an open decision falls to the midpoint);
- council + adjudicator; full (checks + mismatch + council + adjudicator);
- full with adaptive review (``review.sure_margin`` = each of ``--margins``);
- the verdict comparison (docs/review.md, "The calibrated verdict"): the paper's rule
  (rubric mean/std + adjudicator, no checks), the previous default (mean/std with the
  checks from before issue 14), mean/std with the new checks, the new checks alone,
  checks + an unfitted p(Yes) >= 0.5, and the new default (checks + the calibrated
  verdict, ``aggregate.rule: calibrated``).

``--data`` takes one or more labeled files (the review dev set, the real-output sets) and
``--split`` keeps one split of the real-output sets (``test``: the held-out rows).

For each it prints AUROC of ``score`` (good pairs above bad), precision and recall of
``accept`` (good = positive), the share of each corruption kind rejected, and review
tokens (prompt + completion, reviewers and adjudicator) per sample. AUROC is also
given for the council scored from the digits the reviewers wrote instead of the
logprob expectation. Models see instruction, input and response only; ``label``,
``kind`` and ``note`` are read here only. ``--sources N`` keeps the first N good
pairs and their corruptions, for a quick run.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gra.config import load_config  # noqa: E402
from gra.core.records import DIMENSIONS  # noqa: E402
from gra.council.verdict import auroc  # noqa: E402
from gra.curate.review import Judged, review_samples  # noqa: E402
from gra.io.datasets import Sample  # noqa: E402
from gra.models.registry import cache_dir  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "review_dev.jsonl"
KINDS = [
    "wrong_answer", "mismatch", "truncated", "repetition", "refusal", "empty",
    "format_ignored", "unsafe", "fabricated_fact",
]  # fmt: skip
SHORT = {
    "wrong_answer": "wrong",
    "mismatch": "mism",
    "truncated": "trunc",
    "repetition": "rep",
    "refusal": "refus",
    "empty": "empty",
    "format_ignored": "format",
    "unsafe": "unsafe",
    "fabricated_fact": "fabr",
}
HIDDEN = ("label", "kind", "note", "source_id", "constraint", "swap")


def load(
    paths: Path | list[Path], sources: int | None, split: str = "all"
) -> tuple[list[Sample], list[dict]]:
    """Rows of one or more labeled files; ``split`` keeps rows of that ``split`` (rows
    without one, such as the review dev set's, are kept). Ids are prefixed with the file's
    stem when several files are read."""
    paths = [paths] if isinstance(paths, Path) else list(paths)
    rows = []
    for path in paths:
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            r = json.loads(line)
            if split != "all" and r.get("split", split) != split:
                continue
            if len(paths) > 1:
                r["id"] = f"{path.stem}:{r['id']}"
            rows.append(r)
    if sources:
        keep = list(dict.fromkeys(r["source_id"] for r in rows))[:sources]
        rows = [r for r in rows if r["source_id"] in keep]
    samples = [
        Sample(
            id=r["id"],
            instruction=r["instruction"],
            response=r["response"],
            input=r.get("input", ""),
            domain=r.get("domain", ""),
            record={k: v for k, v in r.items() if k not in HIDDEN},
        )
        for r in rows
    ]
    return samples, rows


def score_of(j: Judged) -> float:
    return -1.0 if j.score is None else j.score


def sampled_score(j: Judged) -> float:
    """The council mean from the written digits (what the reviewers sampled)."""
    c = j.candidate
    if c is None:
        return score_of(j)
    means = []
    for r in c.reviews:
        digits = r.sampled or (r.scores if r.ok else {})
        if digits:
            means.append(sum(digits[d] for d in DIMENSIONS) / len(DIMENSIONS))
    return sum(means) / len(means) if means else 0.0


def metrics(judged: list[Judged], rows: list[dict], seconds: float) -> dict:
    good = [r["label"] == "good" for r in rows]
    acc = [j.verdict == "accept" for j in judged]
    tp = sum(a and g for a, g in zip(acc, good, strict=True))
    out = {
        "auroc": auroc(
            [score_of(j) for j, g in zip(judged, good, strict=True) if g],
            [score_of(j) for j, g in zip(judged, good, strict=True) if not g],
        ),
        "auroc_sampled": auroc(
            [sampled_score(j) for j, g in zip(judged, good, strict=True) if g],
            [sampled_score(j) for j, g in zip(judged, good, strict=True) if not g],
        ),
        "precision": tp / sum(acc) if sum(acc) else float("nan"),
        "recall": tp / sum(good) if sum(good) else float("nan"),
        "accepted": sum(acc),
        "tokens_per_sample": sum(j.tokens() for j in judged) / len(judged),
        "reviews_per_sample": sum(len(j.candidate.reviews) for j in judged if j.candidate)
        / len(judged),
        "seconds": round(seconds, 1),
        "rejected_by_kind": {},
    }
    per: dict[str, list[bool]] = defaultdict(list)
    for j, r in zip(judged, rows, strict=True):
        if r["label"] != "good":
            per[r["kind"]].append(j.verdict == "reject")
    out["rejected_by_kind"] = {k: sum(v) / len(v) for k, v in per.items()}
    return out


#: the checks added for what small generators write (issue 14); "previous default" runs
#: without them
NEW_CHECKS = [
    "prompt_leak", "task_about_itself", "deflection", "restates_task", "not_a_request",
    "missing_input", "too_short", "arithmetic", "code_runs",
]  # fmt: skip
MEAN_STD = {"rule": "mean_std"}
ALL_STAGES = ["checks", "mismatch", "council", "adjudicator"]


def configurations(margins: list[float]) -> list[tuple[str, dict]]:
    full = {"stages": ALL_STAGES, **MEAN_STD}
    out = [
        ("no review", {"stages": []}),
        ("cheap checks only", {"stages": ["checks", "mismatch"]}),
        ("text checks only (no mismatch)", {"stages": ["checks"]}),
        ("one reviewer", {"stages": ["council"], "reviewers": 1, **MEAN_STD}),
        ("council mean", {"stages": ["council"], **MEAN_STD}),
        ("council + adjudicator", {"stages": ["council", "adjudicator"], **MEAN_STD}),
        ("full", full),
    ]
    out += [(f"full, adaptive (sure_margin {m:g})", {**full, "sure_margin": m}) for m in margins]
    # the verdict comparison (docs/review.md, "The calibrated verdict")
    out += [
        ("paper's rule (rubric mean/std + adjudicator, no checks)",
         {"stages": ["council", "adjudicator"], **MEAN_STD}),
        ("previous default (mean/std, checks before issue 14)",
         {**full, "sure_margin": 0.5, "disabled": NEW_CHECKS}),
        ("mean/std + new checks", {**full, "sure_margin": 0.5}),
        ("new checks only (no verdict)", {"stages": ["checks", "mismatch"]}),
        ("checks + p(Yes) >= 0.5 (Qwen, unfitted)",
         {"stages": ["checks", "mismatch", "council"], "rule": "calibrated",
          "judges": ["qwen2.5-coder-0.5b"], "weights": {"yes:qwen2.5-coder-0.5b": 1.0},
          "bias": 0.0, "accept_p": 0.5}),
        ("new default (checks + calibrated verdict)",
         {"stages": ["checks", "mismatch", "council"]}),
    ]  # fmt: skip
    return out


def fmt(x: float, digits: int = 3) -> str:
    return "–" if x != x else f"{x:.{digits}f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, nargs="+", default=[DATA])
    ap.add_argument(
        "--split",
        choices=["dev", "test", "all"],
        default="all",
        help="rows of this split of a real-output set (default: all)",
    )
    ap.add_argument("--config", type=Path, help="council config [default: gra's defaults]")
    ap.add_argument("--store", type=Path, default=cache_dir() / "review-quality.calls.sqlite")
    ap.add_argument("--sources", type=int, help="only the first N good pairs and their variants")
    ap.add_argument("--margins", type=float, nargs="*", default=[0.5, 1.0])
    ap.add_argument("--only", nargs="*", help="configurations whose name starts with these")
    ap.add_argument("--json", type=Path, help="write the numbers here too")
    ap.add_argument(
        "--per-sample", type=Path, help="write each configuration's verdicts here (JSONL)"
    )
    args = ap.parse_args()

    samples, rows = load(args.data, args.sources, args.split)
    base = load_config(args.config)
    args.store.parent.mkdir(parents=True, exist_ok=True)
    n_good = sum(r["label"] == "good" for r in rows)
    print(
        f"{len(rows)} samples ({n_good} good, {len(rows) - n_good} bad) from "
        f"{', '.join(p.name for p in args.data)} ({args.split}); "
        f"reviewers {', '.join(base.review.models)}; call store {args.store}",
        file=sys.stderr,
    )
    results = {}
    verdicts: dict[str, list[Judged]] = {}
    for name, over in configurations(args.margins):
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        cfg = copy.deepcopy(base)
        cfg.review.stages = over["stages"]
        cfg.review.reviewers = over.get("reviewers", base.review.reviewers)
        cfg.review.sure_margin = over.get("sure_margin", -1.0)
        cfg.checks.disabled = list(over.get("disabled", base.checks.disabled))
        for key in ("rule", "judges", "weights", "bias", "accept_p"):
            if key in over:
                setattr(cfg.aggregate, key, over[key])
        t0 = time.perf_counter()
        judged = review_samples(
            samples,
            cfg,
            args.store,
            progress=lambda text, name=name: print(f"  {name}: {text}", end="\r", file=sys.stderr),
        )
        results[name] = metrics(judged, rows, time.perf_counter() - t0)
        verdicts[name] = judged
        if args.per_sample:
            with args.per_sample.open("a") as f:
                for j, r in zip(judged, rows, strict=True):
                    line = {"config": name, "id": r["id"], "kind": r["kind"], "score": j.score}
                    line |= {"sampled": sampled_score(j), "verdict": j.verdict}
                    f.write(json.dumps(line | {"decided_by": j.stage}) + "\n")
        print(f"{name}: done in {results[name]['seconds']} s" + " " * 30, file=sys.stderr)

    seen = {k for m in results.values() for k in m["rejected_by_kind"]}
    kinds = [k for k in KINDS if k in seen] + sorted(seen - set(KINDS))
    print(
        "| configuration | AUROC | AUROC (digits) | precision (good rate of accepted) | recall "
        "| accepted | "
        + " | ".join(SHORT.get(k, k) for k in kinds)
        + " | reviews/sample | tokens/sample |"
    )
    print("|---" * (8 + len(kinds)) + "|")
    for name, m in results.items():
        per = " | ".join(f"{m['rejected_by_kind'].get(k, float('nan')):.0%}" for k in kinds)
        print(
            f"| {name} | {fmt(m['auroc'])} | {fmt(m['auroc_sampled'])} | {fmt(m['precision'])} "
            f"| {fmt(m['recall'])} | {m['accepted']} | {per} | {m['reviews_per_sample']:.2f} "
            f"| {m['tokens_per_sample']:.0f} |"
        )
    print(
        "\nkinds: share of each corruption kind rejected ("
        + ", ".join(f"{SHORT.get(k, k)} = {k}" for k in kinds)
        + ")."
    )
    if "council mean" in verdicts and "cheap checks only" in verdicts:
        sweep(verdicts["council mean"], verdicts["cheap checks only"], rows)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def sweep(council: list[Judged], checks: list[Judged], rows: list[dict]) -> None:
    """Where to put the accept threshold: precision and recall of "council mean >= t"
    over the pairs that pass the cheap checks (what the council sees in a full run)."""
    passed = [
        (score_of(c), sampled_score(c), r["label"] == "good")
        for c, k, r in zip(council, checks, rows, strict=True)
        if k.verdict == "accept"
    ]
    n_good = sum(g for _, _, g in passed)
    print(
        f"\nthreshold sweep over the {len(passed)} pairs that pass the cheap checks "
        f"({n_good} good): accept when the council mean >= t"
    )
    print("| t | precision (expected) | recall (expected) | precision (digits) | recall (digits) |")
    print("|---|---|---|---|---|")
    for t in [x / 2 for x in range(2, 19)]:
        cells = []
        for k in (0, 1):
            acc = [p for p in passed if p[k] >= t]
            tp = sum(g for *_, g in acc)
            cells += [
                fmt(tp / len(acc) if acc else float("nan")),
                fmt(tp / n_good if n_good else 0),
            ]
        print(f"| {t:g} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
