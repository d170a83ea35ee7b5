"""What llama.cpp's extra buffer types cost or gain on this CPU, for both embedded models.

    .venv/bin/python benchmarks/cpu_features.py [--models smollm2-135m qwen2.5-coder-0.5b]
        [--seqs 8] [--max-tokens 96] [--repeat 3]

Extra buffer types (model parameter ``use_extra_bufts``) are llama.cpp's CPU-specific
weight layouts: AMX tiles where the CPU and the build have AMX, and repacked
(interleaved) Q4_0 / Q4_K / IQ4_NL weights for AVX2/AVX512 kernels. On AMX CPUs the
AMX path has crashed the process, which is why gra measures them per machine
(``gra.models.cpu_probe``). For each model and weight file, with them on and off, side by
side in one run:

* prompt evaluation: one 512-token prompt, one sequence (``Llama.eval``), tokens/s,
  best of ``--repeat``;
* batched decode: ``--seqs`` chat requests answered together by gra's batched
  backend (as a run decodes them), completion tokens/s, best of ``--repeat``.

A configuration that crashes shows as such: each one runs in its own process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from gra.config import ModelSettings  # noqa: E402
from gra.models.cpu_probe import cpu_flags, cpu_name  # noqa: E402
from gra.models.loading import model_path  # noqa: E402
from gra.models.registry import resolve  # noqa: E402
from gra.models.weights import NO_BATCH_KERNEL, gguf_file_type  # noqa: E402

TEXT = (
    "The council of small models writes, reviews and selects training data. Each "
    "reviewer reads the instruction and the response and scores six dimensions. "
) * 40


def measure(path: str, extra: bool, seqs: int, max_tokens: int, repeat: int) -> dict:
    """In a child process: prompt eval and batched decode of one file."""
    from benchmarks.embedded_batching import build_requests, run_batched
    from gra.models.backends.native import load_llama

    llm = load_llama(
        path,
        extra_buffers=extra,
        n_ctx=1024,
        n_batch=512,
        n_ubatch=512,
        flash_attn=True,
        verbose=False,
    )
    tokens = llm.tokenize(TEXT.encode())[:512]
    best = 0.0
    for _ in range(repeat):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        best = max(best, len(tokens) / (time.perf_counter() - t0))
    llm.close()
    reqs = build_requests(seqs, max_tokens)
    wall, replies = run_batched(Path(path), reqs, 1024, 0, seqs, repeat, True, extra)
    decode = sum(r.completion_tokens for r in replies) / wall
    return {"prompt": best, "decode": decode}


def child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(args)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode < 0:
        return {"crashed": f"signal {-proc.returncode}"}
    if proc.returncode != 0:
        return {"crashed": proc.stderr.strip().splitlines()[-1][:120]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b"])
    ap.add_argument("--seqs", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        path, extra, seqs, max_tokens, repeat = json.loads(a.child)
        print(json.dumps(measure(path, extra, seqs, max_tokens, repeat)))
        return
    import llama_cpp

    flags = cpu_flags()
    shown = [f for f in flags if f.startswith(("amx", "avx512_bf16", "avx512_fp16", "avx512f"))]
    print(f"cpu: {cpu_name()}; flags: {' '.join(shown) or '(none of amx/avx512)'}")
    print(f"llama.cpp build: {llama_cpp.llama_print_system_info().decode().strip()}")
    print(
        f"\n| model | weights | extra buffer types | prompt eval tok/s (512 tokens) | "
        f"batched decode tok/s ({a.seqs} sequences) |"
    )
    print("|---|---|---|---:|---:|")
    for model in a.models:
        src = resolve(model)
        kinds = ["shipped"] + (["bf16", "q8_0"] if gguf_file_type(src) in NO_BATCH_KERNEL else [])
        for kind in kinds:
            path = model_path(ModelSettings(source=model, weights=kind, extra_buffers="on"))
            rows = {}
            for extra in (True, False):
                rows[extra] = child([str(path), extra, a.seqs, a.max_tokens, a.repeat])
            for extra in (True, False):
                r = rows[extra]
                if "crashed" in r:
                    cells = f"crashed ({r['crashed']}) | crashed"
                else:
                    other = rows[not extra]
                    cells = " | ".join(
                        f"{r[k]:.1f}"
                        + (f" ({r[k] / other[k]:.2f}x)" if not extra and k in other else "")
                        for k in ("prompt", "decode")
                    )
                print(f"| {model} | {kind} | {'on' if extra else 'off'} | {cells} |", flush=True)
    print("\n(ratios on the 'off' rows: off / on, measured side by side in this run)")


if __name__ == "__main__":
    main()
