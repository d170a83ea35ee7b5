"""The dataset commands on Ray Data (``--executor ray``): the same results as on one
machine, with the work spread over a cluster.

- **Reading.** A data file, or each shard of a directory, is read by a Ray task with gra's
  own reader (``gra.io.datasets.read_samples``), so ids, column mappings and errors are the
  same as without Ray. Every row gets an order key (shard, row): "first" means what it
  means on one machine.
- **Dedup** (``dedup_on_ray``) is a global step, in three parts:

  1. ``map_batches``: each sample's normalised-text key, shingles and MinHash band keys;
  2. ``groupby`` exact key, and ``groupby`` band key: a band's samples are compared with
     their true shingle Jaccard (identical texts count once); pairs at or above the
     threshold come back to the driver;
  3. the driver keeps the first sample of each group in order, exactly as the one-machine
     pass does (``resolve``), and the kept rows are written in input order.

  Only the duplicate groups and the pairs reach the driver, never the dataset, unless one
  merged output file is asked for (its rows stream through the driver).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gra.core.errors import UserError
from gra.curate.dedup import DedupOptions, DedupStats, Removal
from gra.curate.minhash import MinHasher, _jaccard_sorted, normalize, optimal_bands, shingles
from gra.io.datasets import check_dataset_path, read_samples, sample_text
from gra.io.parquet import shard_files

SHARD_BITS = 40  # order = shard << 40 | row: a trillion rows a shard


def shards_of(path: str | Path) -> list[Path]:
    """The files a dataset is read from on Ray: the file, or a directory's shards."""
    p = check_dataset_path(path)
    if p.is_dir() and not any(p.glob("*.parquet")) and not any(p.glob("*.jsonl")):
        raise UserError(
            "--executor ray reads a .jsonl, .json or .parquet file or a directory of shards; "
            "save this dataset as one of those first",
            str(path),
        )
    return shard_files(p, str(path)) if p.is_dir() else [p]


def read(ray: Any, path: str | Path, fields: dict[str, str] | None, text_field: str | None):
    """A Ray Dataset of the samples, in input order: ``order``, ``id``, ``text``
    (``text_field``) and ``record`` (the original object, as JSON); with ``text_field``
    None, ``order`` and ``item`` (the ``Sample``, pickled) instead."""
    files = shards_of(path)

    def rows(item: dict) -> Iterator[dict]:
        shard = int(item["shard"])
        for n, s in enumerate(read_samples(item["path"], fields)):
            order = (shard << SHARD_BITS) | n
            if text_field is None:
                yield {"order": order, "item": pickle.dumps(s)}
                continue
            yield {
                "order": order,
                "id": s.id,
                "text": sample_text(s, text_field),
                "record": json.dumps(s.record, ensure_ascii=False),
            }

    items = [{"shard": i, "path": str(f)} for i, f in enumerate(files)]
    return ray.data.from_items(items, override_num_blocks=len(items)).flat_map(rows)


@dataclass
class Pairs:
    """What the cluster found: exact groups (orders, first first) and near pairs between
    the first samples of groups (``(a, b) -> similarity``, a < b)."""

    groups: list[list[int]] = field(default_factory=list)
    near: dict[tuple[int, int], float] = field(default_factory=dict)


def _exact_key(text: str) -> bytes:
    return hashlib.blake2b(normalize(text).encode("utf-8"), digest_size=16).digest()


#: mixes a band's MinHash values into one int64 key (a collision only adds a candidate,
#: which the true-Jaccard re-check removes)
_MIX = np.random.default_rng(7).integers(1, 2**63, size=64, dtype=np.uint64) | np.uint64(1)


def _band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n, bands) int64 keys of the signatures' bands, distinct per band index."""
    with np.errstate(over="ignore"):
        cut = sigs[:, : bands * rows].reshape(len(sigs), bands, rows)
        keys = (cut * _MIX[:rows]).sum(axis=2, dtype=np.uint64)
        keys = keys * _MIX[rows] + np.arange(bands, dtype=np.uint64) * _MIX[rows + 1]
    return keys.view(np.int64)


def _partitions(ray: Any) -> int:
    return max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))


def _buckets(ray: Any) -> int:
    """Groups are formed per bucket of keys (a hash partition): a Python call per bucket,
    not per key -- a call per MinHash band made 100,000 rows take minutes."""
    return 8 * _partitions(ray)


def find_pairs(ray: Any, ds: Any, opts: DedupOptions, seed: int = 1) -> Pairs:
    """Exact groups and near pairs of ``ds`` (rows with ``order`` and ``text``)."""
    hasher = MinHasher(num_perm=opts.num_perm, seed=seed)
    bands, rows = optimal_bands(opts.jaccard or 1.0, opts.num_perm, 0.1, 0.9)
    near = opts.jaccard > 0

    def prepare(batch: dict[str, np.ndarray]) -> dict[str, Any]:
        texts = batch["text"]
        sh = [np.array(sorted(shingles(t, opts.ngram)), dtype=np.uint64) for t in texts]
        out: dict[str, Any] = {
            "order": batch["order"].astype(np.int64),
            "exact": np.array([_exact_key(t) for t in texts], dtype=object),
        }
        if near:
            sigs = np.stack([hasher.signature(x) for x in sh]) if sh else np.zeros((0, 1))
            out["shingles"] = np.array([x.tobytes() for x in sh], dtype=object)
            out["bands"] = (
                _band_keys(sigs.astype(np.uint64), bands, rows)
                if sh
                else np.zeros((0, bands), dtype=np.int64)
            )
        return out

    prepared = ds.select_columns(["order", "text"]).map_batches(prepare, batch_format="numpy")
    prepared = prepared.materialize()
    buckets = _buckets(ray)

    def exact_bucket(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        first8 = [int.from_bytes(k[:8], "little") % buckets for k in batch["exact"]]
        return {**batch, "bucket": np.array(first8, dtype=np.int64)}

    def exact_groups(g: dict[str, np.ndarray]) -> dict[str, list]:
        by_key: dict[bytes, list[int]] = defaultdict(list)
        for key, order in zip(g["exact"], g["order"], strict=True):
            by_key[key].append(int(order))
        return {"orders": [sorted(v) for v in by_key.values() if len(v) > 1]}

    groups = (
        prepared.select_columns(["exact", "order"])
        .map_batches(exact_bucket, batch_format="numpy")
        .groupby("bucket", num_partitions=_partitions(ray))
        .map_groups(exact_groups, batch_format="numpy")
    )
    result = Pairs(groups=sorted([int(o) for o in r["orders"]] for r in groups.iter_rows()))
    if not near:
        return result
    # identical texts are compared once: by the first of each exact group
    later = np.array(sorted(o for g in result.groups for o in g[1:]), dtype=np.int64)

    def explode(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        first = ~np.isin(batch["order"], later)
        order, sh, keys = batch["order"][first], batch["shingles"][first], batch["bands"][first]
        band = keys.reshape(-1)
        return {
            "bucket": band % buckets,
            "band": band,
            "order": np.repeat(order, bands),
            "shingles": np.repeat(sh, bands),
        }

    def band_pairs(g: dict[str, np.ndarray]) -> dict[str, list]:
        """Every band in this bucket: runs of one band key, compared pairwise."""
        out: dict[str, list] = {"a": [], "b": [], "sim": []}
        sort = np.lexsort((g["order"], g["band"]))
        band, order, sh = g["band"][sort], g["order"][sort], g["shingles"][sort]
        starts = np.flatnonzero(np.r_[True, band[1:] != band[:-1]])
        ends = np.r_[starts[1:], len(band)]
        shared = ends - starts > 1
        for lo, hi in zip(starts[shared], ends[shared], strict=True):
            members = [
                (int(o), np.frombuffer(x, dtype=np.uint64))
                for o, x in zip(order[lo:hi], sh[lo:hi], strict=True)
            ]
            for i, (a, sa) in enumerate(members):
                for b, sb in members[i + 1 :]:
                    sim = _jaccard_sorted(sa, sb)
                    if sim >= opts.jaccard:
                        out["a"].append(a)
                        out["b"].append(b)
                        out["sim"].append(sim)
        return out

    exploded = prepared.select_columns(["order", "shingles", "bands"]).map_batches(
        explode, batch_format="numpy"
    )
    found = exploded.groupby("bucket", num_partitions=_partitions(ray)).map_groups(
        band_pairs, batch_format="numpy"
    )
    for row in found.iter_rows():
        result.near[(int(row["a"]), int(row["b"]))] = float(row["sim"])
    return result


def resolve(pairs: Pairs) -> dict[int, tuple[int, str, float]]:
    """The samples to drop: ``order -> (kept order, method, similarity)``, as the
    one-machine pass decides (``gra.curate.dedup``): in order, a sample is dropped when an
    earlier *kept* sample has the same normalised text (exact; the earliest such), or else
    when an earlier kept sample is a near pair of it (minhash; the most similar, the
    earliest on ties)."""
    group_of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for g in pairs.groups:
        members[g[0]] = g
        for o in g:
            group_of[o] = g[0]
    neighbours: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for (a, b), sim in pairs.near.items():
        neighbours[a].append((b, sim))
        neighbours[b].append((a, sim))
    for rep in list(neighbours):
        members.setdefault(rep, [rep])
    kept: dict[int, list[int]] = defaultdict(list)  # group -> its kept members, in order
    dropped: dict[int, tuple[int, str, float]] = {}
    for s in sorted(o for g in members.values() for o in g):
        rep = group_of.get(s, s)
        if kept[rep]:
            dropped[s] = (kept[rep][0], "exact", 1.0)
            continue
        best: tuple[float, int] | None = None
        for other, sim in neighbours.get(rep, ()):
            earlier = [k for k in kept[other] if k < s]
            if earlier and (best is None or (sim, -earlier[0]) > (best[0], -best[1])):
                best = (sim, earlier[0])
        if best is not None:
            dropped[s] = (best[1], "minhash", best[0])
        else:
            kept[rep].append(s)
    return dropped


def dedup_on_ray(
    ray: Any,
    path: str | Path,
    out: Path | None,
    opts: DedupOptions,
    fields: dict[str, str] | None,
    write_records,
    progress=None,
) -> tuple[DedupStats, list[Removal], list[dict[str, Any]]]:
    """``gra dedup --executor ray``: the stats, the removals (in input order) and, without
    ``out``, the kept records. ``out``: a ``.jsonl``/``.parquet`` file (one merged file,
    streamed through the driver in input order) or a directory (JSONL shards written by the
    workers, ``part-SHARD-ROW.jsonl``: every node must see it)."""
    say = progress or (lambda text: None)
    say("reading on the cluster")
    ds = read(ray, path, fields, opts.field).materialize()
    n = ds.count()
    say(f"{n} read; grouping exact copies and MinHash bands")
    pairs = find_pairs(ray, ds, opts)
    dropped = resolve(pairs)
    say(f"{n} read, {len(dropped)} removed; writing")
    drop = np.array(sorted(dropped), dtype=np.int64)
    ids: dict[int, str] = {}
    if dropped:
        wanted = sorted({o for o in dropped} | {k for k, _, _ in dropped.values()})
        want = np.array(wanted, dtype=np.int64)

        def named(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            keep = np.isin(batch["order"].astype(np.int64), want)
            return {"order": batch["order"][keep], "id": batch["id"][keep]}

        found = ds.select_columns(["order", "id"]).map_batches(named, batch_format="numpy")
        ids = {int(row["order"]): row["id"] for row in found.iter_rows()}
    removals = [
        Removal(ids[o], ids[k], method, round(sim, 4))
        for o, (k, method, sim) in sorted(dropped.items())
    ]
    stats = DedupStats(read=n)
    stats.kept = stats.read - len(dropped)
    for r in removals:
        stats.removed[r.method] += 1

    def keep(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        mask = ~np.isin(batch["order"].astype(np.int64), drop)
        return {"order": batch["order"][mask], "record": batch["record"][mask]}

    kept = ds.select_columns(["order", "record"]).map_batches(keep, batch_format="numpy")
    records: list[dict[str, Any]] = []
    if out is not None and out.suffix == "":
        partial = out.with_name(out.name + ".partial")  # renamed once every shard is written
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)

        def write_shard(batch: dict[str, np.ndarray]) -> dict[str, list]:
            if len(batch["order"]):
                first = int(batch["order"][0])
                name = f"part-{first >> SHARD_BITS:05d}-{first & ((1 << SHARD_BITS) - 1):012d}"
                lines = "".join(f"{r}\n" for r in batch["record"])
                (partial / f"{name}.jsonl").write_text(lines, encoding="utf-8")
            return {"n": [len(batch["order"])]}

        kept.map_batches(write_shard, batch_format="numpy").materialize()
        if out.exists():
            out.rmdir()  # empty (checked before the run)
        partial.rename(out)
    else:
        rows = (json.loads(r["record"]) for r in kept.iter_rows())  # in order (``session``)
        if out is not None:
            write_records(out, rows)
        else:
            records = list(rows)
    return stats, removals, records
