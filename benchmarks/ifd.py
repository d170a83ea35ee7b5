"""IFD scoring throughput: a plain per-sample loop vs gra's engine, same model, one run.

    python benchmarks/ifd.py [--model smollm2-135m] [--template chat plain]
        [--data examples/seeds.jsonl benchmarks/data/review_dev.jsonl] [--n 32]
        [--threads 0] [--repeat 2] [--baseline-fa on|off|both] [--baseline-ubatch 512 48]

For each data file and template, the first N samples (instruction, response) are
scored both ways, side by side in one process, timed in turns:

(a) ``per-sample``: what a user would write -- one ``llama_cpp.Llama(logits_all=True)``
    (loaded once, all cores); for each sample: reset, eval the conditioned tokens,
    reset, eval the direct tokens, numpy log-softmax (float64) of the rows that
    predict response tokens. Token lists are gra's (``TokenLayout``), so both compute
    the same quantities. Flash attention on, as the engine (``--baseline-fa``).
    ``--baseline-ubatch`` sets its ``n_batch``/``n_ubatch`` (llama-cpp-python's
    default 512; 48 is the engine's, at which the loop computes the engine's
    numbers, see docs/selection.md "Numbers").
(b) ``engine``: one ``EmbeddedScorer.losses`` call on all 2N passes (batching,
    logits only where needed, shared prefixes evaluated once).

Model loading and a warm-up are outside the timings; with ``--repeat`` the fastest
run of each counts (timings on a shared machine are noisy). Prints samples/s, the
ratio to (a), tokens evaluated, logits rows computed, the share of time inside
llama_decode/Llama.eval, and the largest relative difference of the IFD (ppl) from
the engine's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
from llama_cpp import Llama  # noqa: E402

from gra.ifd.scoring import EmbeddedScorer, ResponseLoss, ifd  # noqa: E402
from gra.models.registry import resolve  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def load_samples(path: Path, n: int) -> list[tuple[str, str]]:
    out = []
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            instruction = r["instruction"]
            if r.get("input"):
                instruction += "\n\n" + r["input"]
            out.append((instruction, r.get("response") or r.get("output") or ""))
            if len(out) >= n:
                break
    return out


def per_sample(llm: Llama, layout, samples) -> tuple[list[ResponseLoss], dict]:
    """The straightforward loop; returns (cond, direct) losses interleaved."""
    out: list[ResponseLoss] = []
    stats = {"tokens": 0, "rows": 0, "decode_s": 0.0}
    for instruction, response in samples:
        for ins in (instruction, None):
            p = layout.prepare(ins, response)
            if isinstance(p, str):
                out.append(ResponseLoss.skipped(p))
                continue
            toks = list(p.tokens)
            n, k = len(toks), p.n_score
            llm.reset()
            t0 = time.perf_counter()
            llm.eval(toks[:-1])
            stats["decode_s"] += time.perf_counter() - t0
            stats["tokens"] += n - 1
            stats["rows"] += n - 1  # logits_all: every evaluated token
            rows = np.asarray(llm.scores[n - 1 - k : n - 1], dtype=np.float64)
            m = rows.max(axis=1, keepdims=True)
            logp = rows - m - np.log(np.exp(rows - m).sum(axis=1, keepdims=True))
            nll = -logp[np.arange(k), toks[n - k :]].sum()
            out.append(ResponseLoss(k, float(nll)))
    return out, stats


def engine_run(scorer: EmbeddedScorer, items) -> tuple[list[ResponseLoss], dict]:
    eng = scorer.engine
    before = (eng.tokens_evaluated, eng.logits_rows, eng.decode_s)
    got = scorer.losses(items)
    return got, {
        "tokens": eng.tokens_evaluated - before[0],
        "rows": eng.logits_rows - before[1],
        "decode_s": eng.decode_s - before[2],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--template", nargs="+", default=["chat", "plain"])
    ap.add_argument(
        "--data",
        nargs="+",
        default=[
            str(ROOT / "examples/seeds.jsonl"),
            str(ROOT / "benchmarks/data/review_dev.jsonl"),
        ],
    )
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--n-ctx", type=int, default=2048)
    ap.add_argument("--baseline-fa", choices=["on", "off", "both"], default="on")
    ap.add_argument("--baseline-ubatch", type=int, nargs="+", default=[512])
    args = ap.parse_args()
    threads = args.threads or os.cpu_count() or 1
    path = resolve(args.model)
    fas = {"on": [True], "off": [False], "both": [True, False]}[args.baseline_fa]
    baselines = {
        f"loop fa={'on' if fa else 'off'} ub={ub}": Llama(
            model_path=str(path),
            n_ctx=args.n_ctx,
            n_batch=ub,
            n_ubatch=ub,
            logits_all=True,
            flash_attn=fa,
            n_threads=threads,
            verbose=False,
        )
        for fa in fas
        for ub in args.baseline_ubatch
    }
    first = next(iter(baselines))
    print(f"model {args.model}; threads {threads} of {os.cpu_count()} cores; best of {args.repeat}")
    header = (
        f"{'data':<12} {'template':<8} {'mode':<20} {'n':>3} {'samples/s':>9} {'ratio':>6} "
        f"{'tokens':>6} {'rows':>6} {'in decode':>9} {'max rel diff':>12}"
    )
    print(header)
    print("-" * len(header))
    for data in args.data:
        samples = load_samples(Path(data), args.n)
        items = [it for ins, resp in samples for it in ((ins, resp), (None, resp))]
        for template in args.template:
            scorer = EmbeddedScorer(args.model, template, args.n_ctx, n_threads=threads)
            layout = scorer.engine.layout
            scorer.losses(items[:2])  # warm-up (and the anchors, evaluated once)
            for llm in baselines.values():
                per_sample(llm, layout, samples[:1])
            best: dict[str, tuple[float, list[ResponseLoss], dict]] = {}
            for _ in range(args.repeat):
                for key in [*baselines, "engine"]:
                    t0 = time.perf_counter()
                    if key == "engine":
                        got, stats = engine_run(scorer, items)
                    else:
                        got, stats = per_sample(baselines[key], layout, samples)
                    dt = time.perf_counter() - t0
                    if key not in best or dt < best[key][0]:
                        best[key] = (dt, got, stats)
            ref_dt = best[first][0]
            eng_got = best["engine"][1]
            for key, (dt, got, stats) in best.items():
                diffs = []
                for i in range(0, len(got), 2):
                    a, b = ifd(got[i], got[i + 1]), ifd(eng_got[i], eng_got[i + 1])
                    if a is not None and b is not None:
                        diffs.append(abs(a - b) / abs(b))
                print(
                    f"{Path(data).stem[:12]:<12} {template:<8} {key:<20} {len(samples):>3} "
                    f"{len(samples) / dt:>9.2f} {ref_dt / dt:>6.2f} {stats['tokens']:>6} "
                    f"{stats['rows']:>6} {stats['decode_s'] / dt:>9.0%} "
                    f"{max(diffs, default=0):>12.1e}"
                )
            scorer.close()


if __name__ == "__main__":
    main()
