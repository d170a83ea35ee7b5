"""The local executor: work runs as asyncio tasks on this process's event loop, with one
model pool (each model loaded once) and one store-first caller shared by every task."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from gra.config import Config
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.pool import ModelPool
from gra.executors.base import OnResult, Work

X = TypeVar("X")


class LocalExecutor:
    """``store``: the call store, or a function that opens it -- called after the models'
    ``auto`` settings are measured (so a CPU llama.cpp crashes on is one line before any
    file is opened). ``models``: the names to resolve (default: every role's model)."""

    def __init__(
        self,
        cfg: Config,
        store: Store | Callable[[], Store],
        *,
        models: Iterable[str] | None = None,
        loader: Callable[..., Any] | None = None,
    ):
        self.pool = ModelPool(cfg, loader=loader) if loader else ModelPool(cfg)
        self.config = self.pool.resolved(models)
        self.caller = Caller(self.pool, store() if callable(store) else store)

    @classmethod
    def around(cls, caller: Caller) -> LocalExecutor:
        """An executor over a caller made elsewhere (its pool, its store, its config)."""
        self = cls.__new__(cls)
        self.pool, self.caller, self.config = caller.pool, caller, caller.pool.cfg
        return self

    async def amap(self, work: Work, items: Iterable[Any], on_result: OnResult, limit: int):
        it = iter(items)
        in_flight: dict[asyncio.Future, Any] = {}
        exhausted = stop = False
        try:
            while True:
                while not (exhausted or stop) and len(in_flight) < max(1, limit):
                    try:
                        item = next(it)
                    except StopIteration:
                        exhausted = True
                        break
                    in_flight[asyncio.ensure_future(work(self.caller, item))] = item
                if not in_flight:
                    return
                done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    item = in_flight.pop(task)
                    stop = bool(on_result(item, task.result())) or stop
                if stop:
                    return
        finally:
            for task in in_flight:
                task.cancel()
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)
            await self.caller.drain()

    def run(self, main: Awaitable[X]) -> X:
        """Run ``main`` on a new event loop; the server backends close inside it."""

        async def wrapped() -> X:
            try:
                return await main
            finally:
                await self.pool.aclose()

        return asyncio.run(wrapped())

    def map(self, work: Work, items: Iterable[Any], on_result: OnResult, limit: int) -> None:
        self.run(self.amap(work, items, on_result, limit))

    def describe(self) -> dict[str, Any]:
        """Where the work ran, for summary.json."""
        return {"kind": "local"}

    def close(self) -> None:
        self.pool.close()
