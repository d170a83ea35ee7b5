"""Model work on Ray Data: ``map_batches`` with an actor pool, for the dataset commands
(``gra review``, ``gra select --method judge``) with ``--executor ray``.

- **An actor** (``WorkActor``) is a Ray ``Worker`` (``gra.executors.ray_actors``) inside
  Ray Data's actor pool: its own model pool (one instance of each embedded model), a
  store-first caller over the calls shipped to it, and up to ``limit`` items of a batch
  at once. A server model's ``concurrency`` is a limit for the whole cluster: each actor
  gets an equal share (``shares``).
- **The store stays on the driver.** Every row comes back with the log of the calls its
  item made; the driver stores them (``Caller.absorb``) as it reads the results in input
  order, so a re-run replays them and a run stopped half-way loses nothing it stored.
  Calls made before reach the actors with the data: with each item (``item_rows``), or,
  where the driver never sees the items (a dataset read on the cluster), once for every
  actor (``cached``).
- **Faults** are Ray Data's: a batch whose actor died is run again on a new one (its calls
  not yet sent back are made again).
"""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from gra.config import Config
from gra.core.calls import ChatResponse
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.pool import ModelPool
from gra.executors.base import OnResult, Work
from gra.executors.ray_actors import Worker, _join, import_ray, shares

BATCH = 16  # items per batch: each actor runs up to ``limit`` of them at once


class WorkActor:
    """Runs ``work`` on the items of each batch (column ``item``, pickled; optional column
    ``calls``, the stored calls the item may replay, pickled). Returns ``order``,
    ``item``, ``result`` and ``log`` (pickled): the log holds every call made for the item."""

    def __init__(self, cfg: Config, work: Work, limit: int, cached: dict | None = None):
        self.worker = Worker(cfg, work)
        if cached:
            self.worker.preload(cached)
        self.limit = max(1, limit)
        self.loop = asyncio.new_event_loop()  # one loop for the actor's life: pooled clients
        self.n = 0

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        items = [pickle.loads(x) for x in batch["item"]]
        shipped = [pickle.loads(x) for x in batch["calls"]] if "calls" in batch else None
        outcomes = self.loop.run_until_complete(self._run(items, shipped))
        results, logs = [], []
        for status, result, log in outcomes:
            if status == "error":
                raise result
            results.append(pickle.dumps(result))
            logs.append(pickle.dumps(log))
        return {"order": batch["order"], "item": batch["item"], "result": results, "log": logs}

    async def _run(self, items: list, shipped: list | None) -> list:
        gate = asyncio.Semaphore(self.limit)

        async def one(k: int, item: Any) -> tuple:
            async with gate:
                self.n += 1
                calls = shipped[k] if shipped is not None else {}
                return await self.worker.run(self.n, item, calls, 0, 0)

        return await asyncio.gather(*(one(k, item) for k, item in enumerate(items)))

    def __del__(self) -> None:
        try:
            self.loop.run_until_complete(self.worker.close())
            self.loop.close()
        except Exception:  # noqa: BLE001 -- at interpreter exit there is nothing to close
            pass


def item_rows(ray: Any, work: Work, items: Iterable[Any], store: Store) -> Any:
    """A dataset of ``items`` held by the driver, each with the stored calls it may
    replay (``work.call_owners``), in order."""
    owners = getattr(work, "call_owners", None)
    rows = [
        {
            "order": n,
            "item": pickle.dumps(item),
            "calls": pickle.dumps(store.calls_of(owners(item)) if owners else {}),
        }
        for n, item in enumerate(items)
    ]
    return ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // BATCH)))


def map_work(
    ray: Any,
    ds: Any,
    work: Work,
    cfg: Config,
    caller: Caller,
    *,
    workers: int,
    limit: int,
    cached: dict[str, ChatResponse] | None = None,
) -> Iterator[tuple[Any, Any]]:
    """``(item, result)`` for each row of ``ds`` (columns ``order`` and ``item``, and
    optionally ``calls``), in input order, ``work`` run by ``workers`` actors; each row's
    calls are stored and counted by the driver's ``caller`` (it calls nothing) before it
    is yielded. ``cfg``: the config as given (each actor measures its own machine's
    ``auto`` settings).

    ``ds`` must be materialized, in small blocks (a block is one actor's task, so small
    blocks spread the items over every actor): an operator feeding the actor pool would
    wait for a CPU the actors hold."""
    share = shares(cfg, workers)[-1]  # the smallest share: every actor gets the same config
    mapped = ds.map_batches(
        WorkActor,
        fn_constructor_args=(share, work, limit, cached or None),
        compute=ray.data.ActorPoolStrategy(size=workers),
        batch_size=BATCH,
        batch_format="numpy",
        num_cpus=1,  # (Ray Data restarts a dead actor and retries its batch by default)
    )
    for batch in mapped.iter_batches(batch_size=None, batch_format="numpy"):
        for item, result, log in zip(batch["item"], batch["result"], batch["log"], strict=True):
            caller.absorb(pickle.loads(log))
            yield pickle.loads(item), pickle.loads(result)


class RayDataExecutor:
    """The executor seam (``gra.executors.base``) on Ray Data, for items the driver holds
    (``gra select --method judge``'s samples): ``map`` runs them through ``map_work``."""

    def __init__(
        self,
        cfg: Config,
        store: Store,
        *,
        address: str | None = None,
        workers: int = 2,
        models: Iterable[str] | None = None,
    ):
        self.ray = import_ray()
        self.cfg, self.workers = cfg, workers
        shares(cfg, workers)  # a concurrency below the workers is one line, now
        pool = ModelPool(cfg)
        self.config = pool.resolved(models)  # the work's: auto settings as measured here
        self.caller = Caller(pool, store)
        self._owns_ray = _join(self.ray, address)

    def describe(self) -> dict[str, Any]:
        return {"kind": "ray", "workers": self.workers}

    def map(self, work: Work, items: Iterable[Any], on_result: OnResult, limit: int) -> None:
        ds = item_rows(self.ray, work, items, self.caller.store)
        for item, result in map_work(
            self.ray, ds, work, self.cfg, self.caller, workers=self.workers, limit=limit
        ):
            if on_result(item, result):
                return

    def close(self) -> None:
        if self._owns_ray:
            self.ray.shutdown()


__all__ = ["BATCH", "RayDataExecutor", "WorkActor", "item_rows", "map_work"]
