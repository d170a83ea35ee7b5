"""Cheap checks on the labeled dev set: catch rate per kind, false-positive rate on good pairs.

    .venv/bin/python benchmarks/cheap_checks.py [--data benchmarks/data/review_dev.jsonl]
                                                [--show KIND] [--misses KIND]

Prints a markdown table: for each kind, how many rows any check flags (recall for the bad
kinds, the false-positive rate for `good`) and which checks fired. The checks see only
instruction, input and response; `kind`, `label`, `constraint` and `note` are read here only.
`--show KIND` lists the flagged rows of a kind with the detail, `--misses KIND` the rows no
check flags.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gra.checks import run_checks  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "review_dev.jsonl"
ORDER = [
    "good", "empty", "refusal", "repetition", "truncated", "format_ignored",
    "wrong_answer", "fabricated_fact", "unsafe", "mismatch",
]  # fmt: skip
EXPECTED = {"empty", "refusal", "repetition", "truncated", "format_ignored"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--show", metavar="KIND", help="list the flagged rows of KIND")
    ap.add_argument("--misses", metavar="KIND", help="list the rows of KIND no check flags")
    args = ap.parse_args()
    rows = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]

    by_kind: dict[str, list] = defaultdict(list)
    times = []
    for r in rows:
        t0 = time.perf_counter()
        res = run_checks(r["instruction"], r.get("input", ""), r["response"])
        times.append(time.perf_counter() - t0)
        by_kind[r["kind"]].append((r, res))
    # a second pass: instruction parsing is cached per instruction, as in a real run where
    # one instruction is checked once; the first pass pays for parsing
    warm = []
    for r in rows:
        t0 = time.perf_counter()
        run_checks(r["instruction"], r.get("input", ""), r["response"])
        warm.append(time.perf_counter() - t0)

    kinds = [k for k in ORDER if k in by_kind] + sorted(set(by_kind) - set(ORDER))
    print("| kind | n | flagged | rate | checks that fired (rows) |")
    print("|---|---|---|---|---|")
    for kind in kinds:
        items = by_kind[kind]
        flagged = sum(1 for _, res in items if res)
        fired = Counter(name for _, res in items for name in {x.name for x in res})
        what = ", ".join(f"{n} {c}" for n, c in fired.most_common()) or "–"
        label = (
            "false positives"
            if kind == "good"
            else ("caught" if kind in EXPECTED else "caught (not expected)")
        )
        print(
            f"| {kind} | {len(items)} | {flagged} | {100 * flagged / len(items):.1f}% "
            f"{label} | {what} |"
        )
    bad = [res for k in EXPECTED for _, res in by_kind.get(k, [])]
    caught = sum(1 for res in bad if res)
    print()
    print(
        f"mechanical kinds together: {caught}/{len(bad)} caught "
        f"({100 * caught / max(1, len(bad)):.1f}%); good flagged: "
        f"{sum(1 for _, res in by_kind['good'] if res)}/{len(by_kind['good'])}"
    )
    print(
        f"time per sample ({len(rows)} samples): mean {1e6 * sum(times) / len(rows):.0f} µs, "
        f"max {1e6 * max(times):.0f} µs (instruction parse cached: mean "
        f"{1e6 * sum(warm) / len(rows):.0f} µs)"
    )

    for kind, want_flagged in ((args.show, True), (args.misses, False)):
        if not kind:
            continue
        print()
        for r, res in by_kind.get(kind, []):
            if bool(res) == want_flagged:
                print(f"- {r['id']}: {r['response'][-120:]!r}")
                for x in res:
                    print(f"    {x.name}: {x.detail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
