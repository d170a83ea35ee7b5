"""The store-first caller: answers a request from the run store, or from the model
(then records it), with bounded concurrency per model.

Requests to one model are issued concurrently up to its ``concurrency``
(across candidates and roles), so a batching server or the batched embedded
backend is kept full. A call that fails after the backend's retries is
recorded in the store; a model whose calls keep failing stops the run.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from gra.core.calls import CallFailed, ChatRequest, ChatResponse
from gra.core.errors import UserError
from gra.core.records import CallInfo
from gra.core.store import Store
from gra.council.pool import ModelPool

#: whose work a call is, stored with it (``candidate:IDX``, ``tag:ITEM``): an executor on
#: other machines ships an item's stored calls with it (``Store.calls_of``)
CALL_OWNER: ContextVar[str | None] = ContextVar("gra_call_owner", default=None)


class ModelDown(UserError):
    """A model that keeps failing: the run stops (resumably) with one line."""


class BudgetExhausted(Exception):
    """The run's token budget is spent: no new model call starts."""


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
        self.store.put_call(key, model, role, prompt, request, reply, owner=CALL_OWNER.get())
        self._count(reply)
        return reply

    def _count(self, reply: ChatResponse) -> None:
        self.tokens_used += reply.prompt_tokens + reply.completion_tokens
        self.stats.calls += 1
        self.stats.completion_tokens += reply.completion_tokens
        self.stats.model_time_s += reply.latency_s

    def absorb(self, log: list[tuple]) -> None:
        """Store and count what a caller on another machine did (``ShippedCalls``' log):
        ``("call", put_call's arguments)``, ``("failure", put_failure's)``, ``("hit",)``."""
        given_up = set()  # calls whose every try failed (one count each, as here)
        for op in log:
            if op[0] == "call":
                self.store.put_call(*op[1])
                self._count(op[1][5])
            elif op[0] == "failure":
                self.store.put_failure(*op[1])
                if not op[1][-1]:
                    given_up.add(op[1][0])
            else:
                self.stats.cached += 1
        self.stats.failed += len(given_up)

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
