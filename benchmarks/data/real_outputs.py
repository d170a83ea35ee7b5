"""The labeled sets of real generator outputs: raw pools + hand labels -> real_outputs*.jsonl.

    .venv/bin/python benchmarks/data/real_outputs.py           # merge, check, write the set
    .venv/bin/python benchmarks/data/real_outputs.py --stats   # good rate by generator, ...
    .venv/bin/python benchmarks/data/real_outputs.py --check   # exit 1 if the set is stale

Each pool in ``POOLS`` is what ``benchmarks/raw_candidates.py`` wrote (the embedded
generators, no check or review): ``raw_pool.jsonl`` with the paper's generation,
``raw_pool_evolve.jsonl`` with ``generation.mode: evolve``; ``labels/POOL.*.jsonl`` are
its hand labels, one line per candidate: ``{"id", "label": good|bad, "kind", "reason"}``.
Every candidate gets a split: ``test`` (about 30%, by a hash of its id, so it never
moves) is kept aside and only scored at the end; ``dev`` is for every decision. Standard
library only.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
KINDS = (
    "good",
    "no_task",
    "prompt_leak",
    "deflection",
    "truncated",
    "wrong_math",
    "wrong_fact",
    "broken_code",
    "off_topic",
    "other",
)


def split_of(item_id: str) -> str:
    return "test" if int(hashlib.sha256(item_id.encode()).hexdigest(), 16) % 10 < 3 else "dev"


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def merge(pool: list[dict], labels: list[dict]) -> list[dict]:
    by_id: dict[str, dict] = {}
    problems = []
    for lab in labels:
        i = lab.get("id")
        if i in by_id:
            problems.append(f"{i}: labeled twice")
        by_id[i] = lab
    out = []
    for row in pool:
        lab = by_id.pop(row["id"], None)
        if lab is None:
            problems.append(f"{row['id']}: no label")
            continue
        label, kind, reason = lab.get("label"), lab.get("kind"), str(lab.get("reason", "")).strip()
        if label not in ("good", "bad") or kind not in KINDS or not reason:
            problems.append(f"{row['id']}: bad label {lab}")
        elif (label == "good") != (kind == "good"):
            problems.append(f"{row['id']}: label {label} with kind {kind}")
        out.append(
            {**row, "label": label, "kind": kind, "reason": reason, "split": split_of(row["id"])}
        )
    problems += [f"{i}: labeled but not in the pool" for i in by_id]
    if problems:
        sys.exit("real_outputs: " + "; ".join(problems[:20]))
    return out


def stats(rows: list[dict]) -> None:
    def table(key: str) -> None:
        groups: dict[str, list[dict]] = collections.defaultdict(list)
        for r in rows:
            groups[r[key]].append(r)
        print(f"| {key} | candidates | good | good rate |")
        print("|---|---:|---:|---:|")
        for name, items in sorted(groups.items()):
            good = sum(r["label"] == "good" for r in items)
            print(f"| {name} | {len(items)} | {good} | {good / len(items):.1%} |")
        good = sum(r["label"] == "good" for r in rows)
        print(f"| all | {len(rows)} | {good} | {good / len(rows):.1%} |\n")

    table("generator")
    table("domain")
    gens = sorted({r["generator"] for r in rows})
    print("| domain | " + " | ".join(gens) + " |")
    print("|---|" + "---:|" * len(gens))
    for d in sorted({r["domain"] for r in rows}):
        cells = []
        for g in gens:
            items = [r for r in rows if r["domain"] == d and r["generator"] == g]
            good = sum(r["label"] == "good" for r in items)
            cells.append(f"{good}/{len(items)}")
        print(f"| {d} | " + " | ".join(cells) + " |")
    print()
    kinds = collections.Counter(r["kind"] for r in rows)
    print("| kind | count | share |")
    print("|---|---:|---:|")
    for k in KINDS:
        if kinds[k]:
            print(f"| {k} | {kinds[k]} | {kinds[k] / len(rows):.1%} |")
    splits = collections.Counter(r["split"] for r in rows)
    print(f"\nsplits: dev {splits['dev']}, test {splits['test']}")


POOLS = {
    "raw_pool": "real_outputs.jsonl",
    "raw_pool_evolve": "real_outputs_evolve.jsonl",
    "raw_pool_qwen": "real_outputs_qwen.jsonl",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    for pool_name, out_name in POOLS.items():
        pool = load(HERE / f"{pool_name}.jsonl")
        labels = [
            lab for p in sorted((HERE / "labels").glob(f"{pool_name}.*.jsonl")) for lab in load(p)
        ]
        rows = merge(pool, labels)
        out = HERE / out_name
        if args.stats:
            print(f"## {out_name} ({pool_name}.jsonl)\n")
            stats(rows)
            print()
            continue
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        if args.check:
            current = out.read_text(encoding="utf-8") if out.exists() else ""
            if current != text:
                sys.exit(f"{out} is out of date: run {Path(__file__).name}")
            continue
        out.write_text(text, encoding="utf-8")
        print(f"wrote {len(rows)} labeled candidates to {out}")


if __name__ == "__main__":
    main()
