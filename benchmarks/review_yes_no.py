"""An alternative judge, measured: p("Yes") of one yes/no question instead of a JSON review.

    .venv/bin/python benchmarks/review_yes_no.py [--model qwen2.5-coder-0.5b] [--data ...]
        [--out SCORES.jsonl]

Asks the embedded model, for every pair of the labeled dev set, "Is the response a
correct, complete and appropriate answer to this task? Answer Yes or No." and scores the
pair by p(Yes) / (p(Yes) + p(No)) at the first generated token (one token decoded, top 20
logprobs). Prints AUROC over all pairs and, per corruption kind, AUROC of the good pairs
against that kind. Compare with the reviewers' AUROC in benchmarks/review_quality.py; this
judge is not wired into gra (docs/review.md says why).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from review_quality import DATA, auroc, load  # noqa: E402

from gra.council.steps.judge_yes import p_yes  # noqa: E402
from gra.models.backends.base import ChatRequest  # noqa: E402
from gra.models.backends.llama_batch import BatchedLlamaBackend  # noqa: E402
from gra.models.registry import resolve  # noqa: E402

PAIR = "Here is a task and a response written for it.\n\nTask:\n{task}\n\nResponse:\n{response}\n\n"
#: question variants: (text after the pair, the answer that means good)
VARIANTS = {
    # gra's judge prompt (src/gra/prompts/judge.txt)
    "correct": (
        "Is the response a correct, complete and appropriate answer to this task? "
        "Answer Yes or No.", "yes"),
    "strict": (
        "Is the task a clear, self-contained request, and is the response a correct and "
        "complete answer to it? Answer Yes or No.", "yes"),
    "mistake": (
        "Does the task or the response contain any mistake, or is the task unclear? "
        "Answer Yes or No.", "no"),
    "expert": (
        "You are an expert grader. Would you accept this pair as training data for an AI "
        "assistant: a real task, answered correctly? Answer Yes or No.", "yes"),
}  # fmt: skip
QUESTION = PAIR + VARIANTS["correct"][0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="qwen2.5-coder-0.5b")
    ap.add_argument("--data", type=Path, nargs="+", default=[DATA])
    ap.add_argument("--out", type=Path, help="also write each pair's id, label, kind, p(Yes)")
    ap.add_argument(
        "--variant",
        choices=sorted(VARIANTS),
        default="correct",
        help="the question asked (VARIANTS); 'mistake' scores p(No)",
    )
    ap.add_argument("--split", choices=["dev", "test", "all"], default="all")
    ap.add_argument(
        "--passing",
        action="store_true",
        help="only pairs that pass every cheap check (what the verdict sees)",
    )
    args = ap.parse_args()
    samples, rows = load(args.data, None, args.split)
    if args.passing:
        from gra.checks import run_checks

        keep = [
            not run_checks(s.instruction, s.input, s.response, finish_reason=r.get("finish_reason"))
            for s, r in zip(samples, rows, strict=True)
        ]
        samples = [s for s, k in zip(samples, keep, strict=True) if k]
        rows = [r for r, k in zip(rows, keep, strict=True) if k]
    question, good_word = VARIANTS[args.variant]
    backend = BatchedLlamaBackend(
        args.model, resolve(args.model), n_ctx=2048, n_parallel=8, flash_attn=True
    )
    requests = [
        ChatRequest(
            messages=(("user", PAIR.format(task=s.prompt, response=s.response) + question),),
            max_tokens=1,
            temperature=0.0,
            logprobs=20,
        )
        for s in samples
    ]

    async def ask_all():
        return await asyncio.gather(*(backend.chat(r) for r in requests))

    t0 = time.perf_counter()
    try:
        replies = asyncio.run(ask_all())
    finally:
        backend.close()
    scores = [p_yes(r.text, r.extra.get("logprobs")) for r in replies]
    if good_word == "no":
        scores = [1 - p for p in scores]
    if args.out:
        args.out.write_text(
            "".join(
                json.dumps({"id": r["id"], "label": r["label"], "kind": r["kind"], "p_yes": p})
                + "\n"
                for p, r in zip(scores, rows, strict=True)
            )
        )
    good = [p for p, r in zip(scores, rows, strict=True) if r["label"] == "good"]
    bad = [p for p, r in zip(scores, rows, strict=True) if r["label"] != "good"]
    print(f"{args.model} ({args.variant}): {len(rows)} pairs in {time.perf_counter() - t0:.0f} s")
    print("| pairs | AUROC of p(Yes) |\n|---|---|")
    print(f"| good vs all bad | {auroc(good, bad):.3f} |")
    for kind in sorted({r["kind"] for r in rows} - {"good"}):
        these = [p for p, r in zip(scores, rows, strict=True) if r["kind"] == kind]
        print(f"| good vs {kind} | {auroc(good, these):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
