"""Throughput and overhead of gra's backends and pipeline, measured side by side.

    .venv/bin/python benchmarks/throughput.py [--requests 48] [--n 4] [--parallel 8 16]

Prints one markdown table with three ratios, each measured in this one run on
the same job and the same model (SmolLM2-135M, embedded or behind a server):

1. embedded: gra's batched backend with the default config as it runs on this
   machine (all requests submitted at once; weights, extra buffer types and
   sequences per batch as gra.models.cpu_probe measured them, flash attention on) vs plain
   llama-cpp-python ``create_chat_completion`` calls one at a time -- with
   llama-cpp-python's default settings, with flash attention, with extra buffer
   types off, and on each converted file: completion tokens/s. The batched backend
   on each weight file at ``--parallel`` sequences is shown too.
2. server: ``gra synth`` through llama-cpp-python's OpenAI server vs a bare
   httpx client replaying the very same requests (read back from the run
   store) at the same concurrency: completion tokens/s.
3. overhead: wall time of an embedded ``gra synth`` run vs the sum of its
   model-call times (one model, one call at a time, so the sum is the floor).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.embedded_batching import build_requests, run_batched, run_sequential  # noqa: E402
from gra.config import load_config  # noqa: E402
from gra.council.pool import ModelPool  # noqa: E402
from gra.models.backends.base import ChatRequest  # noqa: E402
from gra.models.loading import model_path  # noqa: E402
from gra.models.registry import resolve  # noqa: E402
from gra.models.weights import NO_BATCH_KERNEL, gguf_file_type  # noqa: E402
from gra.synthesis.run import RunOptions, create_run, execute  # noqa: E402
from tests.councils import fast_roles  # noqa: E402
from tests.servers import free_port, start_llama_server, stop  # noqa: E402

SEEDS = ROOT / "examples" / "seeds.jsonl"
MODEL = "smollm2-135m"
N_CTX = 2048  # per sequence, as in the default council


def bench_embedded(n: int, max_tokens: int, parallels: list[int]) -> list[tuple]:
    """The same chat requests (embedded_batching.py's job) answered one at a time by
    plain llama-cpp-python -- on the shipped file with its default settings, with
    flash attention, with extra buffer types off, and on each converted file gra may
    pick -- and by gra's batched backend as gra's default config runs it (every
    ``auto`` setting as gra.models.cpu_probe measured it on this machine), and with the
    shipped or converted weights at ``--parallel`` sequences. Ratios are against the
    defaults and against the fastest one-at-a-time mode."""
    shipped = resolve(MODEL)
    tuned = ModelPool(load_config()).settings(MODEL)  # the default config, as it runs here
    extra = tuned.extra_buffers == "on"
    threads = os.cpu_count() or 1
    reqs = build_requests(n, max_tokens)
    rows, base = [], {}
    singles = [
        ("defaults", shipped, False, True),
        ("flash_attn=True", shipped, True, True),
        ("flash_attn=True, extra buffer types off", shipped, True, False),
    ]
    kinds = ["shipped"]
    if gguf_file_type(shipped) in NO_BATCH_KERNEL:
        kinds += ["bf16", "q8_0"]
    for kind in kinds[1:]:
        path = model_path(replace(tuned, weights=kind))
        singles.append((f"flash_attn=True, {kind} weights", path, True, extra))
    for label, path, fa, xb in singles:
        wall, _, tokens = run_sequential(path, reqs, N_CTX, threads, 1, fa, xb)
        base[label] = tokens / wall
        rows.append(
            (
                "embedded",
                f"one at a time (llama-cpp-python {label}), {n} requests",
                f"{base[label]:.1f} tok/s",
                "" if label == "defaults" else f"{base[label] / base['defaults']:.2f}x",
            )
        )
    best = max(base, key=base.get)

    def ratios(tps: float, goal: bool) -> str:
        return (
            f"{tps / base['defaults']:.2f}x vs defaults; "
            f"{tps / base[best]:.2f}x vs the fastest one at a time ({best})"
            + (" (goal >= 2.0x)" if goal else "")
        )

    xb = "on" if extra else "off"
    wall, replies = run_batched(
        model_path(tuned), reqs, N_CTX, threads, tuned.concurrency, 1, True, extra
    )
    tps = sum(r.completion_tokens for r in replies) / wall
    rows.append(
        (
            "embedded",
            f"**gra default config** (measured here: {tuned.weights} weights, extra buffer "
            f"types {xb}, {tuned.concurrency} sequences), flash attention",
            f"{tps:.1f} tok/s",
            ratios(tps, True),
        )
    )
    for p in parallels:
        for kind in kinds:
            path = model_path(replace(tuned, weights=kind))
            wall, replies = run_batched(path, reqs, N_CTX, threads, p, 1, True, extra)
            tps = sum(r.completion_tokens for r in replies) / wall
            rows.append(
                (
                    "embedded",
                    f"gra batched backend, {p} sequences, {kind} weights, extra buffer types "
                    f"{xb}, flash attention",
                    f"{tps:.1f} tok/s",
                    ratios(tps, False),
                )
            )
    return rows


def synth_run(tmp: Path, name: str, council: dict, n: int) -> tuple[Path, float]:
    cfg = tmp / f"{name}.yaml"
    cfg.write_text(json.dumps(council))
    run = tmp / name
    create_run(SEEDS, cfg, run, RunOptions(target=n))
    t0 = time.perf_counter()
    execute(run, RunOptions(), progress_stream=open("/dev/null", "w"), live=False)
    return run, time.perf_counter() - t0


def bench_server(tmp: Path, n: int, concurrency: int) -> list[tuple]:
    port = free_port()
    server = start_llama_server(port, resolve(MODEL), tmp / "server.log")
    url = f"http://127.0.0.1:{port}/v1"
    council = {
        "models": {
            "srv": {
                "backend": "openai",
                "base_url": url,
                "model": "smollm2",
                "concurrency": concurrency,
                "structured_output": "json_object",
            }
        },
        "executor": {"concurrency": 2 * concurrency},
        **fast_roles("srv"),
    }
    try:
        run, wall = synth_run(tmp, "server", council, n)
        db = sqlite3.connect(run / "run.sqlite")
        rows = db.execute("SELECT request, completion_tokens FROM calls").fetchall()
        db.close()
        gra_tps = sum(t for _, t in rows) / wall

        async def replay() -> int:
            from gra.models.backends.openai import OpenAIBackend

            b = OpenAIBackend(
                "srv",
                base_url=url,
                model="smollm2",
                concurrency=concurrency,
                structured_output="json_object",
            )
            sem = asyncio.Semaphore(concurrency)
            bodies = []
            for req, _ in rows:
                d = json.loads(req)  # every field, logprobs included (reviews ask for them)
                d["messages"] = tuple((m["role"], m["content"]) for m in d["messages"])
                d["json_schema"] = json.dumps(d["json_schema"]) if d["json_schema"] else None
                bodies.append(b.body(ChatRequest(**d), "json_object"))
            async with httpx.AsyncClient(base_url=url, timeout=300) as client:

                async def one(body):
                    async with sem:
                        resp = await client.post("/chat/completions", json=body)
                        return resp.json()["usage"]["completion_tokens"]

                return sum(await asyncio.gather(*(one(x) for x in bodies)))

        t0 = time.perf_counter()
        tokens = asyncio.run(replay())
        bare_tps = tokens / (time.perf_counter() - t0)
    finally:
        stop(server)
    return [
        (
            "server",
            f"bare httpx client, same {len(rows)} requests, {concurrency} in flight",
            f"{bare_tps:.1f} tok/s",
            "",
        ),
        (
            "server",
            f"gra synth --n {n} through the server",
            f"{gra_tps:.1f} tok/s",
            f"{gra_tps / bare_tps:.2f}x (goal >= 0.9x)",
        ),
    ]


def bench_overhead(tmp: Path, n: int) -> list[tuple]:
    council = {
        "models": {MODEL: {"concurrency": 1}},
        "executor": {"concurrency": 1},
        **fast_roles(MODEL),
    }
    run, wall = synth_run(tmp, "overhead", council, n)
    db = sqlite3.connect(run / "run.sqlite")
    calls, model_time = db.execute("SELECT COUNT(*), SUM(latency_s) FROM calls").fetchone()
    db.close()
    return [
        ("overhead", f"sum of {calls} model-call times", f"{model_time:.1f} s", ""),
        (
            "overhead",
            f"gra synth --n {n} wall time (embedded, one call at a time)",
            f"{wall:.1f} s",
            f"{wall / model_time:.3f}x (goal <= 1.05x)",
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--requests", type=int, default=48, help="embedded: requests in the job")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument(
        "--parallel", type=int, nargs="+", default=[8, 16], help="embedded: sequences per batch"
    )
    ap.add_argument("--n", type=int, default=4, help="synth runs: accepted samples")
    ap.add_argument("--server-concurrency", type=int, default=4)
    ap.add_argument("--only", choices=["embedded", "server", "overhead"])
    args = ap.parse_args()
    rows: list[tuple] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if args.only in (None, "embedded"):
            rows += bench_embedded(args.requests, args.max_tokens, args.parallel)
        if args.only in (None, "server"):
            rows += bench_server(tmp, args.n, args.server_concurrency)
        if args.only in (None, "overhead"):
            rows += bench_overhead(tmp, args.n)
    print(f"\nmodel: {MODEL}; machine: {sys.platform}, {_cores()} cores\n")
    print("| part | measured | throughput / time | ratio |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def _cores() -> int:
    return os.cpu_count() or 0


if __name__ == "__main__":
    main()
