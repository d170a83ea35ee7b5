"""The checks for what small generators write, measured on the labeled sets.

    .venv/bin/python benchmarks/task_checks.py [--split dev|test|all] [--show CHECK]

For each check of ``gra.checks.task``, ``gra.checks.arithmetic`` and
``gra.checks.code_run`` (and the other cheap checks together, for context): how many
good pairs it drops and how many bad ones it catches, per failure kind, on the
real-output sets (``benchmarks/data/real_outputs*.jsonl``, the ``--split`` asked for)
and on the review dev set (``review_dev.jsonl``, all rows). The checks see only
instruction, input, response and finish_reason; labels and kinds are read here only.
``--show CHECK`` lists what CHECK flags, with the label, so each catch and each false
alarm can be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gra.checks import CHECKS as ALL_CHECKS  # noqa: E402
from gra.checks import run_checks  # noqa: E402
from gra.checks.arithmetic import CHECKS as ARITHMETIC  # noqa: E402
from gra.checks.base import CheckSettings, Sample  # noqa: E402
from gra.checks.code_run import CHECKS as CODE_RUN  # noqa: E402
from gra.checks.task import CHECKS as TASK  # noqa: E402

CHECKS = {**TASK, **ARITHMETIC, **CODE_RUN}

DATA = ROOT / "benchmarks" / "data"
OTHERS = [n for n in ALL_CHECKS if n not in CHECKS]  # the cheap checks before these


def rows_of(path: Path, split: str) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if split == "all" or r.get("split", split) == split]


def flags(r: dict) -> dict[str, str]:
    s = Sample(r["instruction"], r.get("input", ""), r["response"], r.get("finish_reason"),
               CheckSettings())  # fmt: skip
    found = {name: d for name, check in CHECKS.items() if (d := check(s))}
    cheap = run_checks(r["instruction"], r.get("input", ""), r["response"],
                       finish_reason=r.get("finish_reason"), enabled=OTHERS)  # fmt: skip
    if cheap:
        found["(the other cheap checks)"] = cheap[0].name
    return found


def table(name: str, rows: list[dict]) -> None:
    kinds = sorted({r["kind"] for r in rows if r["label"] == "bad"})
    total = Counter(r["kind"] for r in rows)
    flagged = [(r, flags(r)) for r in rows]
    checks = [*CHECKS, "(the other cheap checks)", "(any)"]
    print(f"\n{name}: {len(rows)} rows, {total['good']} good\n")
    print("| check | good dropped | bad caught | " + " | ".join(kinds) + " |")
    print("|---|---:|---:|" + "---:|" * len(kinds))
    for c in checks:

        def hit(f: dict, c: str = c) -> bool:
            return bool(f) if c == "(any)" else c in f

        good = sum(1 for r, f in flagged if r["label"] == "good" and hit(f))
        bad = sum(1 for r, f in flagged if r["label"] == "bad" and hit(f))
        per = [sum(1 for r, f in flagged if r["kind"] == k and hit(f)) for k in kinds]
        n_bad = len(rows) - total["good"]
        cells = " | ".join(f"{p}/{total[k]}" for p, k in zip(per, kinds, strict=True))
        print(f"| {c} | {good}/{total['good']} | {bad}/{n_bad} | {cells} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="dev", choices=["dev", "test", "all"])
    ap.add_argument("--show", metavar="CHECK")
    args = ap.parse_args()
    sets = {
        f"real outputs ({args.split})": rows_of(DATA / "real_outputs.jsonl", args.split),
        f"real outputs, evolve pool ({args.split})": rows_of(
            DATA / "real_outputs_evolve.jsonl", args.split
        ),
        f"real outputs, Qwen-only pool ({args.split})": rows_of(
            DATA / "real_outputs_qwen.jsonl", args.split
        ),
        "review dev set": rows_of(DATA / "review_dev.jsonl", "all"),
    }
    if args.show:
        for name, rows in sets.items():
            for r in rows:
                d = flags(r).get(args.show)
                if d:
                    print(f"{name} | {r['id']} | {r['label']}/{r['kind']} | {d}")
                    print(f"    I: {r['instruction'][:160]!r}\n    R: {r['response'][:160]!r}")
        return
    for name, rows in sets.items():
        table(name, rows)


if __name__ == "__main__":
    main()
