"""Total generated tokens/s: one-at-a-time llama-cpp-python vs ``BatchedLlamaBackend``.

    python benchmarks/embedded_batching.py [--model smollm2-135m] [--requests 16]
        [--parallel 4 8] [--max-tokens 128] [--threads 0] [--n-ctx 2048] [--repeat 1]
        [--flash-attn]

Both modes answer the SAME list of chat requests (varied short instructions,
temperature 0.7, seeds 0..N-1, no schema, fixed max_tokens):

(a) ``one-at-a-time``: plain ``llama_cpp.Llama.create_chat_completion`` calls in a
    row, no gra code (loaded as ``LlamaCppBackend`` loads it);
(b) ``batched pN``: every request submitted at once to ``BatchedLlamaBackend`` with
    ``n_parallel=N``, for each ``--parallel`` value.

Model loading and one warm-up request are outside the timings. "same text" counts
answers identical to one-at-a-time's with the same attention kernel: the batched
backend samples like create_chat_completion and, for models like SmolLM2, gets
bit-identical logits. The ratio is always against plain one-at-a-time (a). With
``--flash-attn`` every mode runs again with flash attention. With ``--repeat``, each
mode runs that many times and the fastest run counts (timings on a shared machine
are noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from gra.models.backends.base import ChatRequest, ChatResponse  # noqa: E402
from gra.models.backends.llama_batch import BatchedLlamaBackend  # noqa: E402
from gra.models.backends.native import load_llama  # noqa: E402
from gra.models.registry import resolve  # noqa: E402

INSTRUCTIONS = [
    "Write a short poem about the sea.",
    "Explain what a prime number is.",
    "Give three tips for learning to cook.",
    "Describe a sunrise in a few sentences.",
    "What are the benefits of regular exercise?",
    "Tell a short story about a lost cat.",
    "Explain how rain forms.",
    "List some fun things to do on a weekend.",
    "Why is the sky blue?",
    "Write a friendly email inviting a colleague to lunch.",
    "Summarize the plot of a fairy tale you know.",
    "Give advice to someone starting their first job.",
    "Explain what a computer program is to a child.",
    "Describe your ideal vacation.",
    "What makes a good friend?",
    "Explain the water cycle briefly.",
]


def build_requests(n: int, max_tokens: int) -> list[ChatRequest]:
    return [
        ChatRequest(
            messages=(("user", INSTRUCTIONS[i % len(INSTRUCTIONS)]),),
            max_tokens=max_tokens,
            temperature=0.7,
            top_p=0.95,
            seed=i,
        )
        for i in range(n)
    ]


def run_sequential(
    path: Path,
    requests: list[ChatRequest],
    n_ctx: int,
    threads: int,
    repeat: int,
    flash_attn: bool,
    extra_buffers: bool = True,
) -> tuple[float, list[str], int]:
    llm = load_llama(
        path,
        extra_buffers=extra_buffers,
        n_ctx=n_ctx,
        n_threads=threads,
        flash_attn=flash_attn,
        verbose=False,
    )

    def call(r: ChatRequest) -> tuple[str, int]:
        out = llm.create_chat_completion(
            messages=[{"role": role, "content": c} for role, c in r.messages],
            max_tokens=r.max_tokens,
            temperature=r.temperature,
            top_p=r.top_p,
            seed=r.seed,
        )
        return out["choices"][0]["message"]["content"] or "", out["usage"]["completion_tokens"]

    call(ChatRequest(messages=(("user", "Hi"),), max_tokens=8))  # warm-up
    best = float("inf")
    texts: list[str] = []
    tokens = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = [call(r) for r in requests]
        best = min(best, time.perf_counter() - t0)
        texts = [t for t, _ in results]
        tokens = sum(n for _, n in results)
    llm.close()
    return best, texts, tokens


def run_batched(
    path: Path,
    requests: list[ChatRequest],
    n_ctx: int,
    threads: int,
    parallel: int,
    repeat: int,
    flash_attn: bool,
    extra_buffers: bool = True,
) -> tuple[float, list[ChatResponse]]:
    backend = BatchedLlamaBackend(
        "bench",
        path,
        n_ctx=n_ctx,
        n_threads=threads,
        n_parallel=parallel,
        flash_attn=flash_attn,
        extra_buffers=extra_buffers,
    )

    async def all_at_once(reqs: list[ChatRequest]) -> list[ChatResponse]:
        return list(await asyncio.gather(*(backend.chat(r) for r in reqs)))

    try:
        asyncio.run(all_at_once([ChatRequest(messages=(("user", "Hi"),), max_tokens=8)]))
        best = float("inf")
        replies: list[ChatResponse] = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            replies = asyncio.run(all_at_once(requests))
            best = min(best, time.perf_counter() - t0)
    finally:
        backend.close()
    return best, replies


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m", help="embedded name or GGUF path")
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--parallel", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=0, help="0 = all cores")
    ap.add_argument("--n-ctx", type=int, default=2048, help="context per sequence")
    ap.add_argument("--repeat", type=int, default=1, help="runs per mode; the fastest counts")
    ap.add_argument(
        "--flash-attn",
        action="store_true",
        help="run every mode again with flash attention (ratios stay vs plain one-at-a-time)",
    )
    args = ap.parse_args()

    path = resolve(args.model)
    threads = args.threads or os.cpu_count() or 1
    requests = build_requests(args.requests, args.max_tokens)

    rows: list[tuple[str, int, float, str]] = []  # mode, tokens, wall, same text
    for fa in (False, True) if args.flash_attn else (False,):
        tag = " flash-attn" if fa else ""
        wall, ref_texts, tokens = run_sequential(
            path, requests, args.n_ctx, threads, args.repeat, fa
        )
        rows.append((f"one-at-a-time{tag}", tokens, wall, "-"))
        for p in args.parallel:
            wall, replies = run_batched(path, requests, args.n_ctx, threads, p, args.repeat, fa)
            errors = sum(r.finish_reason == "error" for r in replies)
            if errors:
                print(f"warning: {errors} batched replies failed", file=sys.stderr)
            same = sum(r.text == t for r, t in zip(replies, ref_texts, strict=True))
            n_tok = sum(r.completion_tokens for r in replies)
            rows.append((f"batched p{p}{tag}", n_tok, wall, f"{same}/{len(requests)}"))

    base_tps = rows[0][1] / rows[0][2]
    print(
        f"\nmodel {args.model}, {len(requests)} requests, max_tokens {args.max_tokens}, "
        f"temperature 0.7, {threads} threads, {os.cpu_count()} cores, "
        f"best of {args.repeat}\n"
    )
    print(
        "| mode | requests | completion tokens | wall s | tokens/s | ratio "
        "| same text as one-at-a-time |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for mode, n_tok, wall, same in rows:
        tps = n_tok / wall
        print(
            f"| {mode} | {len(requests)} | {n_tok} | {wall:.2f} | {tps:.1f} | "
            f"{tps / base_tps:.2f}x | {same} |"
        )


if __name__ == "__main__":
    main()
