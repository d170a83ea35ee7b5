"""Local asyncio executor: loads each model once and runs calls with bounded
concurrency per model, answering repeated requests from the run store.

Requests to one model are issued concurrently up to its ``concurrency``
(across candidates and roles), so a batching server or the batched embedded
backend is kept full. A call that fails after the backend's retries is
recorded in the store; a model whose calls keep failing stops the run.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .backends.base import Backend, CallFailed, ChatRequest, ChatResponse
from .config import Config, ModelSettings
from .errors import UserError
from .models import EMBEDDED, cache_dir, resolve
from .records import CallInfo
from .store import Store
from .weights import converted


class ModelDown(UserError):
    """A model that keeps failing: the run stops (resumably) with one line."""


class BudgetExhausted(Exception):
    """The run's token budget is spent: no new model call starts."""


def model_id(settings: ModelSettings) -> str:
    """Names the exact model, without loading it (part of every cache key): the
    source, plus ``+TYPE`` when the embedded backend runs converted weights."""
    if settings.backend == "openai":
        return f"openai:{settings.base_url.rstrip('/')}:{settings.model}"
    target = weight_type(settings)
    return source_id(settings.source) + ("" if target == "shipped" else f"+{target}")


def weight_type(settings: ModelSettings) -> str:
    """``shipped`` or the type the embedded backend converts the weights to (``auto``:
    the fastest measured on this machine, ``gra.cpu_probe``)."""
    if settings.weights != "auto":
        return settings.weights
    return tuned(settings).weights


def model_path(settings: ModelSettings) -> Path:
    """The GGUF file the embedded backend loads: the source, converted once if asked."""
    path = resolve(settings.source)
    target = weight_type(settings)
    if target == "shipped":
        return path
    return converted(path, target, source_id(settings.source), cache_dir())


def tuned(settings: ModelSettings, name: str | None = None) -> ModelSettings:
    """``settings`` of an embedded model with every ``auto`` knob (weights, extra
    buffer types, concurrency 0) replaced by what ``gra.cpu_probe`` measured on this
    machine -- and the combination run once, so a CPU that crashes llama.cpp is one
    line here, not a dead process later. Server models are returned as they are."""
    if settings.backend != "embedded":
        return settings
    from .cpu_probe import choose

    c = choose(name or settings.source, settings)
    return replace(
        settings,
        weights=c.weights,
        extra_buffers="on" if c.extra_buffers else "off",
        concurrency=c.concurrency,
    )


def untuned(settings: ModelSettings, name: str | None = None) -> ModelSettings:
    """``auto`` knobs set without measuring (the shipped file, extra buffer types on,
    8 sequences): for pools whose loader is not gra's (tests' fake models)."""
    if settings.backend != "embedded":
        return settings
    return replace(
        settings,
        weights="shipped" if settings.weights == "auto" else settings.weights,
        extra_buffers="on" if settings.extra_buffers == "auto" else settings.extra_buffers,
        concurrency=settings.concurrency or 8,
    )


def _has_auto(s: ModelSettings) -> bool:
    return s.backend == "embedded" and (
        s.weights == "auto" or s.extra_buffers == "auto" or s.concurrency == 0
    )


def source_id(src: str) -> str:
    if src in EMBEDDED:
        return f"{src}@{EMBEDDED[src].sha256[:16]}"
    if src.startswith("hf:"):
        return src
    p = Path(src).expanduser()
    size = p.stat().st_size if p.is_file() else 0
    return f"file:{p.resolve()}:{size}"


def load_backend(settings: ModelSettings) -> Backend:
    settings = tuned(settings) if _has_auto(settings) else settings
    if settings.backend == "openai":
        from .backends.openai import OpenAIBackend

        return OpenAIBackend(
            settings.model,
            base_url=settings.base_url,
            model=settings.model,
            api_key_env=settings.api_key_env,
            concurrency=settings.concurrency,
            timeout_s=settings.timeout_s,
            max_retries=settings.max_retries,
            retry_backoff_s=settings.retry_backoff_s,
            structured_output=settings.structured_output,
        )
    path = model_path(settings)
    if settings.concurrency > 1:
        from .backends.llama_batch import BatchedLlamaBackend

        return BatchedLlamaBackend(
            model_id(settings),
            path,
            settings.n_ctx,
            settings.n_threads,
            n_parallel=settings.concurrency,
            flash_attn=settings.flash_attn,
            extra_buffers=settings.extra_buffers == "on",
        )
    from .backends.llama_cpp import LlamaCppBackend

    return LlamaCppBackend(
        model_id(settings),
        path,
        settings.n_ctx,
        settings.n_threads,
        settings.flash_attn,
        extra_buffers=settings.extra_buffers == "on",
    )


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


@dataclass
class LiveStats:
    """What this session did live (cache hits excluded), for the progress display."""

    calls: int = 0
    cached: int = 0
    failed: int = 0
    completion_tokens: int = 0
    model_time_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def tokens_per_s(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.completion_tokens / elapsed if elapsed > 0 else 0.0


class Caller:
    """Answers a request from the store, or from the model (then records it)."""

    def __init__(self, pool: ModelPool, store: Store):
        self.pool = pool
        self.store = store
        self.stats = LiveStats()
        self._live_tasks: set[asyncio.Task] = set()
        self._closing = False
        self._failing: dict[str, int] = {}  # model -> calls failed in a row
        self.max_tokens = 0  # the run's token budget (0: none), checked before each live call
        self.tokens_used = store.total_tokens()

    async def _live(
        self, model: str, role: str, prompt: str, key: str, request: ChatRequest
    ) -> ChatResponse:
        backend, slot = await self.pool.get(model)
        async with slot:
            if self._closing:
                raise asyncio.CancelledError
            if self.max_tokens and self.tokens_used >= self.max_tokens:
                raise BudgetExhausted
            try:
                reply = await backend.chat(request)
            except CallFailed as e:
                self._failed(model, role, prompt, key, e)
                raise
        for attempt, error in enumerate(reply.extra.pop("failed_attempts", []), start=1):
            self.store.put_failure(key, model, role, prompt, attempt, error, recovered=True)
        self._failing[model] = 0
        self.store.put_call(key, model, role, prompt, request, reply)
        self.tokens_used += reply.prompt_tokens + reply.completion_tokens
        self.stats.calls += 1
        self.stats.completion_tokens += reply.completion_tokens
        self.stats.model_time_s += reply.latency_s
        return reply

    def _failed(self, model: str, role: str, prompt: str, key: str, e: CallFailed) -> None:
        for attempt, error in enumerate(e.attempts, start=1):
            self.store.put_failure(key, model, role, prompt, attempt, error, recovered=False)
        self.stats.failed += 1
        self._failing[model] = self._failing.get(model, 0) + 1
        limit = self.pool.cfg.model(model).down_after
        if e.down or self._failing[model] >= limit:
            why = "unreachable" if e.down else f"failing ({self._failing[model]} calls in a row)"
            raise ModelDown(f"model is {why}: {e}", where=f"models.{model}") from None

    async def drain(self) -> None:
        """Let calls already running finish and be stored (none is started anew)."""
        self._closing = True
        if self._live_tasks:
            await asyncio.gather(*self._live_tasks, return_exceptions=True)
        self._closing = False

    async def __call__(
        self, model: str, role: str, prompt: str, request: ChatRequest
    ) -> tuple[ChatResponse, CallInfo]:
        key = request.key(self.pool.model_id(model))
        reply = self.store.get_call(key)
        cached = reply is not None
        if reply is None:
            # shielded: a call that completes is stored even if its candidate is cancelled
            task = asyncio.ensure_future(self._live(model, role, prompt, key, request))
            self._live_tasks.add(task)
            task.add_done_callback(self._live_tasks.discard)
            reply = await asyncio.shield(task)
        else:
            self.stats.cached += 1
        info = CallInfo(
            model=model,
            prompt=prompt,
            key=key,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            latency_s=round(reply.latency_s, 4),
            cached=cached,
        )
        return reply, info
