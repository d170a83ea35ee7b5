"""gra synth's executors side by side: the local one, Ray with 1 worker, Ray with 2 workers
on two nodes -- on a latency-bound server, so the executor is what is measured.

    .venv/bin/python benchmarks/ray_scaling.py [--candidates 60] [--delay 0.5] [--in-flight 8]

The council is one OpenAI-compatible server (tests/fake_openai_server.py, a real process)
that answers every request after ``--delay`` seconds with unlimited parallelism (a thread
per request). Each executor runs ``--in-flight`` candidates at once per worker
(``executor.concurrency``); the server model's concurrency (256) never binds. A local Ray
cluster is started here: a head and a second node, one CPU each, so two workers land on
two nodes. Every run starts from an empty run directory (no call is cached).

Printed per executor: steady candidates/s (from the first candidate that ended to the
last, so start-up is left out), the run's wall time with start-up, and the ratios the goals
are about (Ray 1 worker >= 0.9x local; 2 workers >= 1.8x 1 worker).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import gra  # noqa: E402
from tests.servers import SEEDS, free_port, server_council, start_fake, stop  # noqa: E402


def steady_rate(run: Path) -> float:
    """Candidates per second between the first and the last candidate that ended."""
    db = sqlite3.connect(f"file:{run / 'run.sqlite'}?mode=ro", uri=True)
    times = sorted(t for (t,) in db.execute("SELECT updated_at FROM candidates"))
    db.close()
    return (len(times) - 1) / (times[-1] - times[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--candidates", type=int, default=60)
    ap.add_argument("--delay", type=float, default=0.5, help="seconds per request")
    ap.add_argument("--in-flight", type=int, default=8, help="candidates at once per worker")
    args = ap.parse_args()

    import ray
    from ray.cluster_utils import Cluster

    port = free_port()
    server = start_fake(port, delay=args.delay)
    cluster = Cluster(initialize_head=True, connect=False, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    work = Path(tempfile.mkdtemp(prefix="gra-ray-scaling-"))
    (work / "seeds.jsonl").write_text(SEEDS)
    cfg = server_council(port, in_flight=args.in_flight, concurrency=256)
    runs = [
        ("local", {}),
        ("ray, 1 worker", {"executor": "ray", "workers": 1}),
        ("ray, 2 workers (2 nodes)", {"executor": "ray", "workers": 2}),
    ]
    rows = []
    try:
        for i, (name, how) in enumerate(runs):
            if how:
                how = {**how, "ray_address": cluster.address}
            out = work / f"run{i}"
            t0 = time.perf_counter()
            r = gra.synth(
                work / "seeds.jsonl", out, n=10**6, max_candidates=args.candidates, config=cfg,
                progress_stream=open("/dev/null", "w"), **how,
            )  # fmt: skip
            wall = time.perf_counter() - t0
            assert r.summary["counts"]["candidates"] == args.candidates, r.summary["counts"]
            nodes = r.summary["executor"].get("nodes", 1)
            rows.append((name, nodes, steady_rate(out), wall))
    finally:
        stop(server)
        cluster.shutdown()
        assert not ray.is_initialized()

    local, one, two = (r[2] for r in rows)
    print(
        f"\n{args.candidates} candidates per run, {args.delay} s per request, "
        f"{args.in_flight} candidates in flight per worker\n"
    )
    print("| executor | nodes | candidates/s (steady) | wall s (with start-up) |")
    print("|---|---:|---:|---:|")
    for name, nodes, rate, wall in rows:
        print(f"| {name} | {nodes} | {rate:.2f} | {wall:.1f} |")
    print()
    print(f"ray 1 worker / local:   {one / local:.2f}x (goal >= 0.9)")
    print(f"ray 2 workers / 1:      {two / one:.2f}x (goal >= 1.8)")


if __name__ == "__main__":
    main()
