"""``gra review DATA --executor ray``: the review stages on Ray Data, streamed.

What runs where:

- **Reading** is a Ray task per file or shard, with gra's own reader (``ray_data.read``).
- **checks** run in ``map_batches`` tasks; **mismatch** in an actor pool (one scorer per
  actor); **council** and **adjudicator** in an actor pool of ``workers`` actors, each with
  its own models (``gra.executors.ray_data_map``).
- **The driver** reads the verdicts back in input order, a batch at a time: it stores each
  sample's calls in the call store (so a re-run replays them, and a run stopped half-way
  keeps what it stored), counts the summary, and writes the verdicts: one merged
  ``.jsonl``/``.parquet`` file, or a directory of JSONL shards. It never holds the dataset.

Two differences from the one-machine review, both documented in docs/ray.md:

- the mismatch stage pairs each sample with another of its batch (``MISMATCH_BATCH``
  samples), not of the whole file, and scores without the loss cache (a per-machine file
  that one process holds at a time);
- a re-run ships the calls stored by earlier runs to every council actor once.
"""

from __future__ import annotations

import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gra.config import Config
from gra.core.lock import ProcessLock, lock_path
from gra.core.store import Store
from gra.council.caller import Caller
from gra.curate.ray_data import read
from gra.curate.review import (
    STORE_BUSY_HINT,
    CouncilWork,
    Judged,
    Tally,
    mismatch_verdicts,
    run_checks_stage,
)
from gra.executors.ray_data_map import map_work

MISMATCH_BATCH = 64  # samples a mismatch partner is drawn from
BLOCK_ROWS = 256  # samples per block: a block is one actor's task
SHARD_ROWS = 100_000  # verdicts per shard of a directory output


class CouncilStep:
    """The council stage for one ``Judged`` (the work ``map_work`` runs): a sample an
    earlier stage rejected passes through; any other gets the council's verdict."""

    def __init__(self, cfg: Config, adjudicate: bool, stages: list[str]):
        self.council = CouncilWork(cfg, adjudicate) if "council" in stages else None
        self.any_stage = bool(stages)

    async def __call__(self, caller: Caller, item: tuple[int, Judged]) -> Judged:
        order, j = item
        if j.verdict != "accept":
            return j
        if self.council is None:
            j.score = 1.0 if self.any_stage else None
        else:
            j.council(await self.council(caller, (order, j.sample)))
        return j


def _judged(batch: dict[str, np.ndarray], cfg: Config, checks: bool) -> dict[str, Any]:
    """Samples to ``(order, Judged)`` items, with the cheap checks' verdicts."""
    judged = [Judged(pickle.loads(x)) for x in batch["item"]]
    if checks:
        run_checks_stage(judged, cfg)
    items = [pickle.dumps((int(o), j)) for o, j in zip(batch["order"], judged, strict=True)]
    return {"order": batch["order"], "item": items}


class MismatchActor:
    """The mismatch stage on a batch (``mismatch_verdicts``), with one scorer per actor."""

    def __init__(self, cfg: Config):
        from gra.ifd.scoring import load_scorer

        self.cfg = cfg
        self.scorer = load_scorer(cfg.checks.mismatch_model, template="plain")

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        items = [pickle.loads(x) for x in batch["item"]]
        mismatch_verdicts([j for _, j in items], self.cfg, self.scorer.losses)
        return {"order": batch["order"], "item": [pickle.dumps(x) for x in items]}


def review_on_ray(
    ray: Any,
    path: str | Path,
    fields: dict[str, str] | None,
    cfg: Config,
    store_path: Path,
    *,
    workers: int,
    write: Callable[[Iterator[dict[str, Any]]], None],
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Review the samples of ``path`` on Ray; each verdict record goes to ``write`` (an
    iterator, in input order). The summary's counts, as ``gra.curate.review.summarize``."""
    from gra.council.pool import ModelPool

    stages = cfg.review.stages
    adjudicate = "adjudicator" in stages
    say = progress or (lambda text: None)
    # each stage is materialized (in the cluster's object store) before an actor pool
    # starts: actors holding every CPU would leave none for the stage that feeds them
    say("reading and checking on the cluster")
    ds = (
        read(ray, path, fields, None)
        .repartition(target_num_rows_per_block=BLOCK_ROWS)  # the checks on every CPU
        .map_batches(_judged, fn_args=(cfg, "checks" in stages), batch_format="numpy")
        .materialize()
    )
    if "mismatch" in stages and "mismatch" not in cfg.checks.disabled:
        say(f"{ds.count()} read; mismatch stage")
        ds = ds.map_batches(  # (blocks of BATCH rows, bundled into batches in order)
            MismatchActor,
            fn_constructor_args=(cfg,),
            compute=ray.data.ActorPoolStrategy(size=workers),
            batch_size=MISMATCH_BATCH,
            batch_format="numpy",
            num_cpus=1,
        ).materialize()
    models = cfg.judging_models(adjudicate) if "council" in stages else []
    tally = Tally()
    with ProcessLock(lock_path(store_path), str(store_path), STORE_BUSY_HINT):
        store = Store(store_path, busy_hint=STORE_BUSY_HINT)
        try:
            pool = ModelPool(cfg)
            resolved = pool.resolved(models)  # auto settings, as measured here
            work = CouncilStep(resolved, adjudicate, stages)
            limit = resolved.candidates_in_flight() if models else 64
            results = map_work(
                ray, ds, work, cfg, Caller(pool, store), workers=workers, limit=limit,
                cached=store.calls_owned("sample:"),
            )  # fmt: skip

            def records() -> Iterator[dict[str, Any]]:
                for _, j in results:
                    tally.add(j)
                    say(f"{tally.n} reviewed, {tally.verdicts.get('accept', 0)} accepted")
                    yield j.record()

            write(records())
        finally:
            store.close()
    return tally.summary()


def write_shards(out: Path, records: Iterator[dict[str, Any]], write_jsonl) -> None:
    """Verdicts as JSONL shards of ``SHARD_ROWS`` in the directory ``out`` (written to
    ``OUT.partial`` and renamed at the end: a stopped run leaves no half directory)."""
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    chunk: list[dict[str, Any]] = []
    n = 0

    def flush() -> None:
        nonlocal n, chunk
        write_jsonl(partial / f"part-{n:05d}.jsonl", chunk)
        n, chunk = n + 1, []

    for r in records:
        chunk.append(r)
        if len(chunk) >= SHARD_ROWS:
            flush()
    if chunk or not n:
        flush()
    if out.exists():
        out.rmdir()  # empty (checked before the run)
    partial.rename(out)
