"""``gra diversity --executor ray``: the diversity report on Ray Data, with the rows the
one-machine report (``gra.curate.diversity.report``) gives for the same inputs.

What runs where:

- **Reading** (the cluster). Each data file, or each shard of a directory, is read by a Ray
  task with gra's own reader (``gra.io.datasets.read_samples``): the same column mappings,
  the same text (``field_text``) and the same one-line error naming FILE:LINE. Every row
  gets an order key (shard, row) and its generator.
- **distinct-n** (the cluster). ``map_batches`` tokenizes each batch, turns each token into
  a 64-bit id that is the same in every process (blake2b of the token), hashes the
  n-grams as the local counter does (``ngram_hashes``) and emits each batch's distinct
  hashes per (file, generator, n), sorted and cut into hash buckets (contiguous ranges),
  one binary row per bucket, with the batch's n-gram totals. A ``groupby`` over the
  buckets counts the distinct hashes per generator and per file (a file's n-grams are the
  union of its generators'); only the counts reach the driver. They equal the one-machine
  counts up to 64-bit hash collisions (about 2^-64 a pair).
- **Compression and samples** (the driver, while the cluster counts). The gzip ratio of
  texts joined in input order cannot be split without changing it, and the samples are
  drawn with one ``random.Random(seed)`` in file order; so the rows' texts stream through
  the driver in input order, a batch at a time, into the same accumulators the local
  report uses (``diversity._FileRows``: gzip, bounded reservoirs, the ``(no generator)``
  rule). The gzip ratio, self-BLEU and the samples are exactly the local ones; the driver
  holds a batch and the reservoirs, never the dataset.
- **Embeddings** (the cluster). The texts of every row's embedding sample are embedded by
  an actor pool (``map_batches``; each actor loads the embedder by name), and the vectors
  come back keyed by position; cosine distance and Vendi are then computed as locally.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from gra.curate.diversity import (
    DEFAULT_BLEU_SAMPLE,
    DEFAULT_EMBED_SAMPLE,
    DEFAULT_SEED,
    DISTINCT_ORDERS,
    EMBED_BATCH,
    Embedder,
    Lexical,
    _FileRows,
    _Group,
    _Item,
    _report,
    _sorted_unique,
    field_text,
    ngram_hashes,
    tokenize,
)
from gra.curate.ray_data import SHARD_BITS, _buckets, _partitions, shards_of
from gra.io.datasets import read_samples

READ_BATCH = 4096  # rows a reading task hands on at once
HASH_BATCH = 4096  # rows tokenized and hashed at once (each batch's distinct hashes sent)
STREAM_BATCH = 4096  # rows per batch streamed to the driver
MAX_N = max(DISTINCT_ORDERS)


def _key(text: str) -> int:
    """A signed 64-bit hash of ``text``, the same in every process."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(),
                          "little", signed=True)  # fmt: skip


def group_key(file: int, generator: str) -> int:
    """The key of a generator's group (``""``: no generator) of file number ``file``."""
    return _key(f"{file}\x00{generator}")


def read_texts(
    ray: Any, paths: Sequence[str | Path], fields: dict[str, str] | None, field: str
) -> Any:
    """A Ray Dataset of every sample of ``paths``, in input order: ``file`` (its number in
    ``paths``), ``order`` (shard << SHARD_BITS | row; shards numbered across the files),
    ``text`` (``field_text``) and ``generator`` (``""`` for none)."""
    items = [
        {"file": k, "path": str(shard)} for k, path in enumerate(paths) for shard in shards_of(path)
    ]
    for shard, item in enumerate(items):
        item["shard"] = shard

    def read_shards(batch: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        for file, shard, path in zip(batch["file"], batch["shard"], batch["path"], strict=True):
            base = int(shard) << SHARD_BITS
            orders: list[int] = []
            texts: list[str] = []
            gens: list[str] = []
            for n, s in enumerate(read_samples(str(path), fields)):
                orders.append(base | n)
                texts.append(field_text(s, field))
                gens.append(s.generator)
                if len(orders) >= READ_BATCH:
                    yield _texts_batch(int(file), orders, texts, gens)
                    orders, texts, gens = [], [], []
            if orders:
                yield _texts_batch(int(file), orders, texts, gens)

    ds = ray.data.from_items(items, override_num_blocks=len(items))
    return ds.map_batches(read_shards, batch_size=1, batch_format="numpy")


def _texts_batch(file: int, orders: list[int], texts: list[str], gens: list[str]) -> dict:
    return {
        "file": np.full(len(orders), file, dtype=np.int32),
        "order": np.asarray(orders, dtype=np.int64),
        "text": np.asarray(texts, dtype=object),
        "generator": np.asarray(gens, dtype=object),
    }


def _token_ids(tokens: list[str], cache: dict[str, int]) -> list[int]:
    """64-bit ids of ``tokens`` (blake2b: the same id for a token in every process)."""
    out = []
    for t in tokens:
        i = cache.get(t)
        if i is None:
            i = cache[t] = int.from_bytes(
                hashlib.blake2b(t.encode("utf-8"), digest_size=8).digest(), "little"
            )
        out.append(i)
    return out


def _edges(buckets: int) -> np.ndarray:
    """Bucket k holds the hashes h (as uint64) with k * 2^64 / buckets <= h < (k + 1) *
    2^64 / buckets: contiguous ranges, so a sorted array splits into slices."""
    return np.array([-(-k * 2**64 // buckets) for k in range(1, buckets)], dtype=np.uint64)


def _hash_batch(buckets: int) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    edges = _edges(buckets)

    def hash_batch(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per (file, generator, order n) of the batch: its distinct n-gram hashes, sorted,
        one row per bucket they fall in (``hashes``: the uint64s as bytes), and one row
        (bucket 0, no hashes) with its number of n-grams (``count``)."""
        cache: dict[str, int] = {}
        by_group: dict[tuple[int, str], tuple[list[int], list[int]]] = {}
        for file, text, gen in zip(batch["file"], batch["text"], batch["generator"], strict=True):
            ids, lengths = by_group.setdefault((int(file), gen), ([], []))
            tokens = tokenize(text)
            ids.extend(_token_ids(tokens, cache))
            lengths.append(len(tokens))
        cols: dict[str, list] = defaultdict(list)

        def emit(bucket: int, file: int, key: int, n: int, hashes: bytes, count: int) -> None:
            for name, v in zip(("bucket", "file", "group", "n", "hashes", "count"),
                               (bucket, file, key, n, hashes, count), strict=True):  # fmt: skip
                cols[name].append(v)

        for (file, gen), (ids, lengths) in by_group.items():
            key = group_key(file, gen)
            lengths_a = np.asarray(lengths, dtype=np.int64)
            grams = ngram_hashes(np.asarray(ids, dtype=np.uint64), lengths_a, MAX_N)
            for n, h in enumerate(grams, start=1):
                emit(0, file, key, n, b"", int(np.maximum(lengths_a - (n - 1), 0).sum()))
                u = _sorted_unique(h)
                cuts = np.r_[0, np.searchsorted(u, edges), u.size]
                for bucket in np.flatnonzero(np.diff(cuts)):
                    part = u[cuts[bucket] : cuts[bucket + 1]]
                    emit(int(bucket), file, key, n, part.tobytes(), 0)
        return {
            "bucket": np.asarray(cols["bucket"], dtype=np.int64),
            "file": np.asarray(cols["file"], dtype=np.int32),
            "group": np.asarray(cols["group"], dtype=np.int64),
            "n": np.asarray(cols["n"], dtype=np.int8),
            "hashes": np.asarray(cols["hashes"], dtype=object),
            "count": np.asarray(cols["count"], dtype=np.int64),
        }

    return hash_batch


def _count_bucket(g: dict[str, np.ndarray]) -> dict[str, list]:
    """One bucket of hashes: distinct hashes per (file, group, n) and per (file, n) (the
    whole file: ``whole`` True, ``group`` 0: its n-grams are the union of its groups'),
    and the n-gram totals per (file, group, n)."""
    parts: dict[tuple[int, int, int], list[np.ndarray]] = defaultdict(list)
    totals: dict[tuple[int, int, int], int] = defaultdict(int)
    for f, k, n, h, c in zip(g["file"], g["group"], g["n"], g["hashes"], g["count"], strict=True):
        key = (int(f), int(k), int(n))
        totals[key] += int(c)
        if len(h):
            parts[key].append(np.frombuffer(h, dtype=np.uint64))
    out: dict[str, list] = {"file": [], "group": [], "whole": [], "n": [], "distinct": [],
                            "total": []}  # fmt: skip

    def add(file: int, group: int, whole: bool, n: int, distinct: int, total: int) -> None:
        for name, v in zip(out, (file, group, whole, n, distinct, total), strict=True):
            out[name].append(v)

    by_file: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
    for (f, k, n), total in totals.items():
        unique = _sorted_unique(np.concatenate(parts[(f, k, n)] or [np.zeros(0, np.uint64)]))
        add(f, k, False, n, unique.size, total)
        by_file[(f, n)].append(unique)
    for (f, n), uniques in by_file.items():
        add(f, 0, True, n, _sorted_unique(np.concatenate(uniques)).size, 0)
    return out


def lexical_counts(ray: Any, ds: Any) -> Callable[[int, str | None], Lexical]:
    """Counts the n-grams of ``ds`` on the cluster: ``(file, generator)`` (None: the whole
    file) -> its tokens, n-gram totals and distinct n-grams."""
    buckets = _buckets(ray)
    counted = (
        ds.select_columns(["file", "text", "generator"])
        .map_batches(_hash_batch(buckets), batch_size=HASH_BATCH, batch_format="numpy")
        .groupby("bucket", num_partitions=_partitions(ray))
        .map_groups(_count_bucket, batch_format="numpy")
    )
    # (file, group key) -> per order n; group key None: the whole file
    totals: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0] * MAX_N)
    distinct: dict[tuple[int, int | None], list[int]] = defaultdict(lambda: [0] * MAX_N)
    for batch in counted.iter_batches(batch_size=None, batch_format="numpy"):
        for f, k, whole, n, d, t in zip(
            batch["file"], batch["group"], batch["whole"], batch["n"], batch["distinct"],
            batch["total"], strict=True,
        ):  # fmt: skip
            key = (int(f), None if whole else int(k))
            distinct[key][int(n) - 1] += int(d)
            totals[key][int(n) - 1] += int(t)
            totals[(int(f), None)][int(n) - 1] += int(t)  # the file's n-grams: its groups'

    def lexical(file: int, generator: str | None) -> Lexical:
        key = (file, None if generator is None else group_key(file, generator))
        t = totals.get(key, [0] * MAX_N)
        return Lexical(t[0], t, distinct.get(key, [0] * MAX_N))

    return lexical


class EmbedActor:
    """A Ray Data actor that embeds the ``text`` column with the embedder called ``name``
    (loaded once per actor): ``index`` and ``vector`` come back."""

    def __init__(self, name: str):
        from gra.curate.embed import load_embedder

        self.embedder = load_embedder(name)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        texts = [str(t) for t in batch["text"]]
        vectors = np.asarray(self.embedder.embed(texts), dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(texts):
            raise ValueError(f"embedder {self.embedder.name} returned shape {vectors.shape}")
        return {"index": batch["index"], "vector": vectors}


def embed_on_ray(ray: Any, texts: dict[Any, str], name: str, workers: int) -> dict[Any, np.ndarray]:
    """``texts`` (key -> text) embedded by an actor pool of up to ``workers`` actors,
    ``EMBED_BATCH`` texts a batch, in key order: key -> vector."""
    keys = sorted(texts)
    if not keys:
        return {}
    batches = math.ceil(len(keys) / EMBED_BATCH)
    items = [{"index": i, "text": texts[key]} for i, key in enumerate(keys)]
    ds = ray.data.from_items(items, override_num_blocks=batches).map_batches(
        EmbedActor,
        fn_constructor_args=(name,),
        compute=ray.data.ActorPoolStrategy(size=min(workers, batches)),
        batch_size=EMBED_BATCH,
        batch_format="numpy",
        num_cpus=1,
    )
    out: dict[Any, np.ndarray] = {}
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for i, v in zip(batch["index"], batch["vector"], strict=True):
            out[keys[int(i)]] = v
    return out


def report_on_ray(
    ray: Any,
    paths: Sequence[str | Path],
    *,
    fields: dict[str, str] | None = None,
    field: str = "text",
    bleu_sample: int = DEFAULT_BLEU_SAMPLE,
    embed_sample: int = DEFAULT_EMBED_SAMPLE,
    seed: int = DEFAULT_SEED,
    embedder: Embedder | None = None,
    workers: int = 2,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """``diversity.report`` of ``paths`` (files or directories of shards) on Ray: the same
    settings, methods and rows. ``workers``: the embedding actors."""
    say = progress or (lambda text: None)
    say("reading on the cluster")
    ds = read_texts(ray, paths, fields, field).materialize()
    total = ds.count()
    say(f"{total} read; counting n-grams on the cluster, the texts streaming through here")
    esample = embed_sample if embedder is not None else None
    files = [_FileRows(lambda: _Group(bleu_sample, esample, lexical=False)) for _ in paths]
    names: list[set[str]] = [set() for _ in paths]  # the generators of each file
    with ThreadPoolExecutor(1, thread_name_prefix="gra-ngrams") as pool:
        # the cluster counts n-grams while this process compresses and samples the texts
        counting = pool.submit(lexical_counts, ray, ds)
        file, index, last, rng, done = -1, 0, -1, random.Random(seed), 0
        stream = ds.select_columns(["file", "order", "text", "generator"])
        for batch in stream.iter_batches(batch_size=STREAM_BATCH, batch_format="numpy"):
            orders = batch["order"]
            if orders.size and (orders[0] <= last or (np.diff(orders) <= 0).any()):
                raise RuntimeError("Ray Data returned rows out of input order")
            last = int(orders[-1]) if orders.size else last
            for f, text, gen in zip(batch["file"], batch["text"], batch["generator"], strict=True):
                if f != file:  # the next file: a new sample, as a new file_report draws
                    file, index, rng = int(f), 0, random.Random(seed)
                files[file].add(_Item(index, rng.random(), text, None, None), gen)
                names[file].add(gen)
                index += 1
            done += len(orders)
            say(f"{done} of {total} texts through the driver")
        say(f"{total} texts through the driver; waiting for the n-gram counts")
        lexical = counting.result()
    for f, seen in enumerate(names):
        if len({group_key(f, gen) for gen in seen}) != len(seen):
            raise RuntimeError(f"two generators of {paths[f]} share a 64-bit key")
    vectors: dict[int, dict[int, np.ndarray]] = {f: {} for f in range(len(paths))}
    if embedder is not None:
        wanted = {(f, i): t for f, rows in enumerate(files) for i, t in rows.embed_texts().items()}
        say(f"embedding {len(wanted)} texts with {embedder.name} on the cluster")
        for (f, i), v in embed_on_ray(ray, wanted, embedder.name, workers).items():
            vectors[f][i] = v
    rows: list[dict[str, Any]] = []
    for f, (path, file_rows) in enumerate(zip(paths, files, strict=True)):

        def counts(gen: str | None, f: int = f) -> Lexical:
            return lexical(f, gen)

        rows.extend(file_rows.rows(path, vectors[f] if embedder is not None else None, counts))
    return _report(rows, field, seed, bleu_sample, embed_sample, embedder)
