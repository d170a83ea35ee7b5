"""Speed and memory of ``gra dedup`` (MinHash) and ``gra diversity`` as n grows.

    .venv/bin/python benchmarks/dataset_scale.py [--sizes 25000 50000 100000]

Writes synthetic short samples (an instruction of 8-20 words from a 2,000-word
Zipf vocabulary, a response of 10-30 words; 10% near or exact copies of earlier
instructions), runs each command as its own process on each size, and prints
samples/s and the peak resident memory of the process: memory should grow
linearly with n, never with n².
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VOCAB = [f"w{i}" for i in range(2000)]
WEIGHTS = [1 / (i + 1) for i in range(len(VOCAB))]


def write_samples(path: Path, n: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    base: list[str] = []
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            if base and rng.random() < 0.1:
                words = rng.choice(base).split()
                if rng.random() < 0.5:
                    words[rng.randrange(len(words))] = rng.choice(VOCAB)
                instruction = " ".join(words)
            else:
                instruction = " ".join(rng.choices(VOCAB, WEIGHTS, k=rng.randint(8, 20)))
                base.append(instruction)
            response = " ".join(rng.choices(VOCAB, WEIGHTS, k=rng.randint(10, 30)))
            f.write(json.dumps({"id": f"s{i}", "instruction": instruction, "response": response}))
            f.write("\n")


_PEAK = (
    "import resource, subprocess, sys;"
    "subprocess.run(sys.argv[1:], check=True, capture_output=True);"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one gra process (measured by a fresh parent,
    whose RUSAGE_CHILDREN peak is that process's alone)."""
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _PEAK, sys.executable, "-m", "gra", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return time.perf_counter() - t0, int(out.stdout.strip()) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[25_000, 50_000, 100_000])
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for n in sorted(args.sizes):
            data = tmp / f"d{n}.jsonl"
            write_samples(data, n)
            wall, rss = run(["dedup", str(data), "--out", str(tmp / f"o{n}.jsonl")])
            rows.append(("gra dedup (exact + MinHash 0.7)", n, wall, rss))
            wall, rss = run(["diversity", str(data), "--no-embeddings", "--json", str(tmp / "x")])
            rows.append(("gra diversity --no-embeddings", n, wall, rss))
    print(f"\n{sys.platform}, synthetic short samples\n")
    print("| command | samples | wall s | samples/s | peak memory MiB |")
    print("|---|---:|---:|---:|---:|")
    for name, n, wall, rss in sorted(rows, key=lambda r: (r[0], r[1])):
        print(f"| {name} | {n} | {wall:.1f} | {n / wall:.0f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
