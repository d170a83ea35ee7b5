"""Which executor a command runs on: ``open_executor(cfg, open_store, ray=...)``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gra.config import Config
from gra.core.errors import UserError
from gra.core.store import Store
from gra.executors.base import Executor
from gra.executors.local import LocalExecutor
from gra.executors.ray_actors import RayExecutor, import_ray

EXECUTORS = ("local", "ray")


@dataclass
class OnRay:
    """Run on Ray: ``workers`` actors of the cluster at ``address`` (None: ``RAY_ADDRESS``,
    or a Ray started on this machine). ``data``: on Ray Data's actor pool (the dataset
    commands), not on gra's own actors (``gra synth``)."""

    address: str | None = None
    workers: int = 2
    data: bool = False


def on_ray(
    executor: str, address: str | None = None, workers: int = 1, data: bool = False
) -> OnRay | None:
    """``OnRay`` for ``executor="ray"`` (checked now, before anything is written: Ray
    installed, ``workers`` >= 1), None for ``local``; else one line naming the argument."""
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; use one of: local, ray", "executor")
    if executor == "local":
        return None
    if workers < 1:
        raise UserError("must be >= 1", "workers")
    import_ray()
    return OnRay(address, workers, data)


def open_executor(
    cfg: Config,
    open_store: Callable[[], Store],
    *,
    models: Iterable[str] | None = None,
    loader: Callable[..., Any] | None = None,
    ray: OnRay | None = None,
) -> Executor:
    """The local executor, or the Ray one with ``ray``. ``open_store`` opens the call store
    once the models' ``auto`` settings are measured (a CPU that crashes llama.cpp is one
    line before any file is opened)."""
    if ray is None:
        return LocalExecutor(cfg, open_store, models=models, loader=loader)
    store = open_store()
    try:
        if ray.data:
            from gra.executors.ray_data_map import RayDataExecutor

            return RayDataExecutor(
                cfg, store, address=ray.address, workers=ray.workers, models=models
            )
        return RayExecutor(cfg, store, address=ray.address, workers=ray.workers, models=models)
    except BaseException:
        store.close()
        raise
