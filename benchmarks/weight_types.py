"""Which weight type batches on this CPU: decode speed by batch size, and what it costs.

    .venv/bin/python benchmarks/weight_types.py [--model smollm2-135m]
        [--types shipped bf16 q8_0 f16 q4_0] [--sizes 1 8 16 24 32] [--texts 60]

For each type the model is converted once (as ``weights:`` does, into a temporary
cache dir) and loaded with flash attention. Two measurements:

- speed: tokens/s of one llama_decode of N tokens after a 100-token context (one
  sequence, a logits row for every token; best of 3) -- the matrix work of a
  batched decode step of N sequences;
- fidelity: perplexity on the first ``--texts`` good pairs of the review dev set
  (instruction + response, at most 500 tokens each) and the mean KL divergence of
  each type's next-token distribution from the shipped file's.

q4_0 is measured for comparison; gra does not offer it (a coarser grid than Q4_1).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402
from llama_cpp import Llama  # noqa: E402

from gra.models import weights  # noqa: E402
from gra.models.registry import resolve, source_id  # noqa: E402

DEV = ROOT / "benchmarks" / "data" / "review_dev.jsonl"
EXTRA = {"q4_0": 2}  # measured only


def decode_speed(llm: Llama, sizes: list[int]) -> list[float]:
    toks = llm.tokenize(b"The quick brown fox jumps over the lazy dog. " * 40)
    out = []
    for n in sizes:
        best = float("inf")
        for _ in range(3):
            llm.reset()
            llm.eval(toks[:100])
            t0 = time.perf_counter()
            llm.eval(toks[100 : 100 + n])
            best = min(best, time.perf_counter() - t0)
        out.append(n / best)
    return out


def log_probs(llm: Llama, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    rows, targets = [], []
    for t in texts:
        toks = llm.tokenize(t.encode())[:500]
        llm.reset()
        llm.eval(toks)
        lg = np.array(llm.scores[: len(toks) - 1], dtype=np.float64)
        lg -= lg.max(1, keepdims=True)
        rows.append(lg - np.log(np.exp(lg).sum(1, keepdims=True)))
        targets.append(np.array(toks[1:]))
    return np.concatenate(rows), np.concatenate(targets)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--types", nargs="+", default=["shipped", "bf16", "q8_0", "f16", "q4_0"])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 8, 16, 24, 32])
    ap.add_argument("--texts", type=int, default=60)
    args = ap.parse_args()

    src = resolve(args.model)
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line.strip()]
    texts = [r["instruction"] + "\n" + r["response"] for r in rows if r["label"] == "good"]
    texts = texts[: args.texts]
    weights.TARGETS.update(EXTRA)
    print(f"model: {args.model} ({src.name}); file type {weights.gguf_file_type(src)}")
    print(f"cpu has bf16 dot products: {weights.cpu_has_bf16()}")
    sizes = " / ".join(str(n) for n in args.sizes)
    print(f"| weights | file MB | tokens/s, one decode of {sizes} tokens | perplexity | KL |")
    print("|---|---:|---|---:|---:|")
    ref = None
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.types:
            path = src
            if kind != "shipped":
                path = weights.converted(src, kind, source_id(args.model), Path(tmp))
            llm = Llama(
                model_path=str(path),
                n_ctx=1024,
                n_batch=64,
                n_ubatch=64,
                logits_all=True,
                flash_attn=True,
                verbose=False,
            )
            speed = decode_speed(llm, args.sizes)
            lp, tgt = log_probs(llm, texts)
            llm.close()
            ppl = float(np.exp(-lp[np.arange(len(tgt)), tgt].mean()))
            kl = "-" if ref is None else f"{np.mean((np.exp(ref) * (ref - lp)).sum(1)):.4f}"
            ref = lp if ref is None else ref
            mb = path.stat().st_size / 1e6
            rates = " / ".join(f"{r:.0f}" for r in speed)
            print(f"| {kind} | {mb:.0f} | {rates} | {ppl:.3f} | {kl} |", flush=True)
    print(f"({len(tgt)} tokens of {len(texts)} texts; KL from the first row)")


if __name__ == "__main__":
    main()
