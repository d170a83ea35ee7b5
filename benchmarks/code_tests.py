"""Asserts written by a model, measured: do they catch wrong code without failing right code?

    .venv/bin/python benchmarks/code_tests.py [--model qwen2.5-coder-0.5b] [--data ...]
        [--split dev|test|all] [--out PER_PAIR.jsonl]

For every labeled pair whose response has Python code that defines a function and passes
the cheap checks (``code_runs`` included: the code runs as written), the model is shown the
task and the names of the functions (gra.council.steps.write_tests, prompt ``tests@1``), writes
three asserts, and each runs after the answer's code in the sandbox
(gra.checks.code_run.run_tests). Prints, for good and bad pairs, how many had at least one
failing assert, how many passed all, and how many could not be judged (no usable assert, or
every assert raised something other than AssertionError).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from review_quality import load  # noqa: E402

from gra.checks import run_checks  # noqa: E402
from gra.checks.code_run import run_tests  # noqa: E402
from gra.council.steps import write_tests  # noqa: E402
from gra.models.backends.llama_batch import BatchedLlamaBackend  # noqa: E402
from gra.models.registry import resolve  # noqa: E402

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_DATA = [
    DATA_DIR / "real_outputs.jsonl",
    DATA_DIR / "real_outputs_evolve.jsonl",
    DATA_DIR / "real_outputs_qwen.jsonl",
    DATA_DIR / "review_dev.jsonl",
]


def verdict(results: list[str]) -> str:
    """fail: an assert failed; pass: at least one passed and none failed; else unjudged."""
    if "fail" in results:
        return "fail"
    return "pass" if "pass" in results else "unjudged"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA)
    ap.add_argument("--split", choices=["dev", "test", "all"], default="all")
    ap.add_argument("--out", type=Path, help="each pair's asserts and results (JSONL)")
    args = ap.parse_args()
    samples, rows = load(args.data, None, args.split)
    todo = []
    for s, r in zip(samples, rows, strict=True):
        if run_checks(s.instruction, s.input, s.response, finish_reason=r.get("finish_reason")):
            continue
        code, names = write_tests.testable_code(s.instruction, s.input, s.response)
        if names:
            todo.append((s, r, code, names))
    backend = BatchedLlamaBackend(
        args.model, resolve(args.model), n_ctx=2048, n_parallel=8, flash_attn=True
    )
    reqs = [write_tests.build(s.instruction, s.input, n, seed=0) for s, _, _, n in todo]

    async def ask_all():
        return await asyncio.gather(*(backend.chat(q) for q in reqs))

    t0 = time.perf_counter()
    try:
        replies = asyncio.run(ask_all())
    finally:
        backend.close()
    table: Counter = Counter()
    lines = []
    for (_, r, code, names), reply in zip(todo, replies, strict=True):
        asserts = write_tests.parse(reply.text, names)
        results = run_tests(code, asserts) if asserts else []
        v = verdict(results)
        table[(r["label"], v)] += 1
        lines.append({"id": r["id"], "label": r["label"], "kind": r["kind"], "verdict": v,
                      "asserts": asserts, "results": results, "reply": reply.text})  # fmt: skip
    if args.out:
        args.out.write_text("".join(json.dumps(x) + "\n" for x in lines))
    print(f"{args.model}: {len(todo)} pairs with a function, {time.perf_counter() - t0:.0f} s")
    print("| label | an assert fails | all pass | unjudged |\n|---|---:|---:|---:|")
    for label in ("good", "bad"):
        print(f"| {label} | " + " | ".join(str(table[(label, v)]) for v in
              ("fail", "pass", "unjudged")) + " |")  # fmt: skip
    kinds = Counter((x["kind"], x["verdict"]) for x in lines if x["label"] == "bad")
    for kind in sorted({k for k, _ in kinds}):
        print(f"| bad: {kind} | " + " | ".join(str(kinds[(kind, v)]) for v in
              ("fail", "pass", "unjudged")) + " |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
