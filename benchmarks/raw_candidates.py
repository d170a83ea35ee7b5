"""The raw pool: candidates exactly as the generators write them -- no cheap check, no
review, no dedup -- for labeling by hand and measuring what generation produces.

    .venv/bin/python benchmarks/raw_candidates.py --n 300 \\
        --out benchmarks/data/raw_pool.jsonl [--config C] [--seeds examples/seeds.jsonl]

It runs gra synth's own planning and prompts (``Synth.draft``): for candidate i the
domain, the generator and the example seeds derive from the run seed and i, exactly
as in a run with the same config. Model calls go through a store beside the output
(``OUT.calls.sqlite``, not shipped), so a rerun with the same arguments costs no model
time. Each output line: id, idx, domain, generator, seed_ids, the example seeds'
instructions, instruction, response, finish_reason, the prompt versions, and
``failed`` (why, when the generator's reply could not be read).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gra.config import load_config  # noqa: E402
from gra.core.store import Store  # noqa: E402
from gra.council.caller import Caller  # noqa: E402
from gra.council.pool import ModelPool  # noqa: E402
from gra.io.formats import write_jsonl_atomic  # noqa: E402
from gra.io.seeds import load_seeds  # noqa: E402
from gra.synthesis.pipeline import Synth  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300, help="candidates")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/data/raw_pool.jsonl")
    ap.add_argument("--config", type=Path, help="council config [default: gra's defaults]")
    ap.add_argument("--seeds", type=Path, default=ROOT / "examples/seeds.jsonl")
    args = ap.parse_args()

    cfg = load_config(args.config)
    seeds = load_seeds(args.seeds)
    by_id = {s.id: s for s in seeds}
    pool = ModelPool(cfg)
    cfg = pool.resolved()
    store = Store(args.out.with_name(args.out.stem + ".calls.sqlite"))
    caller = Caller(pool, store)
    synth = Synth(cfg, seeds, store, caller)
    limit = asyncio.Semaphore(cfg.candidates_in_flight())
    t0 = time.perf_counter()
    done = 0

    async def one(idx: int) -> dict:
        nonlocal done
        async with limit:
            c, finish = await synth.draft(idx)
        done += 1
        print(f"\r{done}/{args.n} drafted ({time.perf_counter() - t0:.0f}s)", end="", flush=True)
        return {
            "id": f"raw{idx:04d}",
            "idx": idx,
            "domain": c.domain,
            "generator": c.generator,
            "seed_ids": c.seed_ids,
            "seed_instructions": [by_id[i].instruction for i in c.seed_ids],
            "instruction": c.instruction,
            "response": c.response,
            "finish_reason": finish,
            "mode": cfg.generation.mode,
            "responder": c.calls["response"].model if "response" in c.calls else "",
            "prompts": [c.calls[k].prompt for k in ("instruction", "response") if k in c.calls],
            "failed": c.reason if c.state == "failed" else "",
        }

    async def run() -> list[dict]:
        try:
            return list(await asyncio.gather(*(one(i) for i in range(args.n))))
        finally:
            await pool.aclose()

    try:
        rows = asyncio.run(run())
    finally:
        pool.close()
        store.close()
    write_jsonl_atomic(args.out, rows)
    failed = sum(1 for r in rows if r["failed"])
    print(f"\nwrote {len(rows)} candidates ({failed} unreadable) to {args.out}")


if __name__ == "__main__":
    main()
