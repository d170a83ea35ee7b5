"""The executor seam: ``map(work, items, on_result)``.

- ``work(caller, item)`` is async and independent per item: every random choice it makes
  derives from the run seed and the item, and every model call goes through ``caller``
  (store-first: a call made before is answered from the store).
- ``items`` is pulled lazily, one item per free slot, so the driver can decide what comes
  next from the results so far (a generator that stops at a target).
- ``on_result(item, result)`` runs in the driver, one at a time, and owns what is global
  (acceptance, final dedup, budgets, what is written); it returns True to stop: results
  that finished in the same round are still handed over, then the items in flight are
  cancelled (their completed calls stay stored) and no new item is pulled.

An exception raised by ``work`` stops the map and is raised by it. The order in which
results arrive is not the order of the items.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, TypeVar

from gra.config import Config
from gra.council.caller import Caller

T = TypeVar("T")
R = TypeVar("R")

Work = Callable[[Caller, Any], Awaitable[Any]]
OnResult = Callable[[Any, Any], "bool | None"]


class Executor(Protocol):
    #: the config with each model's ``auto`` settings as they run here
    config: Config

    def map(self, work: Work, items: Iterable[Any], on_result: OnResult, limit: int) -> None:
        """Run ``work`` over ``items``, at most ``limit`` at once (blocking)."""
        ...

    async def amap(self, work: Work, items: Iterable[Any], on_result: OnResult, limit: int) -> None:
        """``map`` inside a running event loop."""
        ...

    def describe(self) -> dict[str, Any]:
        """Where the work ran (``kind`` and what else a user should know), for summaries."""
        ...

    def close(self) -> None:
        """Free the models."""
        ...
