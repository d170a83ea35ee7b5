"""The models a config names, loaded once each and shared by every role that names them."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterable

from gra.config import Config, ModelSettings
from gra.models.backends.base import Backend
from gra.models.loading import load_backend, model_id, tuned, untuned


class ModelPool:
    """One loaded instance per distinct model, shared by every role that names it.

    Embedded models run with their ``auto`` settings measured on this machine
    (``tuned``; ``tune`` replaces it, and pools with a loader of their own default to
    ``untuned``). ``resolved()`` gives the config the run should use."""

    def __init__(self, cfg: Config, loader=load_backend, tune=None):
        self.cfg = cfg
        self._loader = loader
        self._tune = tune or (tuned if loader is load_backend else untuned)
        self._settings: dict[str, ModelSettings] = {}
        self._backends: dict[tuple, Backend] = {}
        self._loading: dict[tuple, asyncio.Lock] = {}
        self._slots: dict[tuple, asyncio.Semaphore] = {}
        self._ids: dict[str, str] = {}

    def settings(self, name: str) -> ModelSettings:
        """``name``'s settings as it runs here (measured once per process and machine)."""
        if name not in self._settings:
            self._settings[name] = self._tune(self.cfg.model(name), name)
        return self._settings[name]

    def resolved(self, names: Iterable[str] | None = None) -> Config:
        """A copy of the config with the settings of ``names`` (default: every role's
        model) as they run here; the pool's own config keeps its ``auto`` values."""
        out = copy.deepcopy(self.cfg)
        for name in dict.fromkeys(self.cfg.model_names() if names is None else names):
            out.models[name] = self.settings(name)
        return out

    def _key(self, name: str) -> tuple:
        s = self.settings(name)
        return (self.model_id(name), s.backend, s.n_ctx, s.n_threads, s.flash_attn, s.concurrency)

    def model_id(self, name: str) -> str:
        # asked once per call (cache keys): computed once per name, a file's stat included
        if name not in self._ids:
            self._ids[name] = model_id(self.settings(name))
        return self._ids[name]

    async def get(self, name: str) -> tuple[Backend, asyncio.Semaphore]:
        key = self._key(name)
        lock = self._loading.setdefault(key, asyncio.Lock())
        async with lock:
            if key not in self._backends:
                backend = await asyncio.to_thread(self._loader, self.settings(name))
                self._backends[key] = backend
                self._slots[key] = asyncio.Semaphore(backend.max_concurrency)
        return self._backends[key], self._slots[key]

    async def aclose(self) -> None:
        backends, self._backends = list(self._backends.values()), {}
        for b in backends:
            aclose = getattr(b, "aclose", None)
            if aclose is not None:
                await aclose()
            else:
                b.close()

    def close(self) -> None:
        """Close backends outside an event loop (embedded ones; servers close in aclose)."""
        for b in self._backends.values():
            b.close()
        self._backends.clear()
