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

Then ``gra dedup`` on ``--dedup-rows`` short generated rows (benchmarks/dataset_scale.py's
samples: 10% near or exact copies; written as 8 JSONL shards), each run as its own
``gra`` process: locally, and with ``--executor ray`` on the same two-node cluster. Printed:
rows/s, the driver process's peak memory, and whether both kept the same rows.
"""

from __future__ import annotations

import argparse
import filecmp
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import gra  # noqa: E402
from tests.servers import SEEDS, free_port, server_council, start_fake, stop  # noqa: E402

sys.path.insert(0, str(ROOT / "benchmarks"))
from dataset_scale import write_samples  # noqa: E402

#: runs gra's CLI in this process and prints the process's own peak RSS (KiB) to stderr
_DRIVER = (
    "import resource, runpy, sys; sys.argv = ['gra', *sys.argv[1:]]\n"
    "try:\n    runpy.run_module('gra', run_name='__main__')\nexcept SystemExit as e:\n"
    "    assert not e.code, e.code\n"
    "print('peak_kib', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)"
)


def dedup_run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and the driver's peak RSS (MiB) of one ``gra dedup`` process."""
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", _DRIVER, "dedup", *args], capture_output=True,
                       text=True, check=False)  # fmt: skip
    wall = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(p.stderr[-3000:])
    peak = next(line for line in p.stderr.splitlines() if line.startswith("peak_kib"))
    return wall, int(peak.split()[1]) / 1024


def dedup_table(n: int, address: str, work: Path) -> None:
    shards = work / "rows"
    shards.mkdir()
    whole = work / "all.jsonl"
    write_samples(whole, n)
    lines = whole.read_text().splitlines(keepends=True)
    for k in range(8):
        (shards / f"part{k}.jsonl").write_text("".join(lines[k * n // 8 : (k + 1) * n // 8]))
    local_wall, local_peak = dedup_run([str(shards), "--out", str(work / "local.jsonl")])
    ray_wall, ray_peak = dedup_run(
        [str(shards), "--out", str(work / "ray.jsonl"), "--executor", "ray",
         "--ray-address", address]
    )  # fmt: skip
    same = filecmp.cmp(work / "local.jsonl", work / "ray.jsonl", shallow=False)
    kept = len((work / "local.jsonl").read_text().splitlines())
    print(f"\ngra dedup, {n} rows in 8 shards ({kept} kept), exact + MinHash 0.7\n")
    print("| path | rows/s | wall s | driver peak memory MiB |")
    print("|---|---:|---:|---:|")
    print(f"| local | {n / local_wall:.0f} | {local_wall:.1f} | {local_peak:.0f} |")
    print(f"| ray (2 nodes, 1 CPU each) | {n / ray_wall:.0f} | {ray_wall:.1f} | {ray_peak:.0f} |")
    print(f"\nsame rows kept: {same}")


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
    ap.add_argument("--dedup-rows", type=int, default=1_000_000, help="0: no dedup table")
    ap.add_argument("--no-synth", action="store_true", help="only the dedup table")
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
        if args.dedup_rows:
            dedup_table(args.dedup_rows, cluster.address, work)
        for i, (name, how) in enumerate([] if args.no_synth else runs):
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

    if args.no_synth:
        return
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
