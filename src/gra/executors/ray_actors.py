"""The Ray executor: the same ``work`` on Ray actors, on one machine or a cluster.

What runs where:

- **The driver** (the process that runs ``gra synth``) pulls items, hands each to the
  least busy worker with the stored calls it may replay (``work.call_owners(item)``,
  ``Store.calls_of``), and receives every result with a log of the calls the worker made,
  which it stores (``Caller.absorb``). The run directory on the driver's machine stays the
  single source of truth: workers need no shared file system and write nothing.
- **A worker** is one Ray actor: its own model pool (one instance of each embedded model
  per actor) and a store-first caller over ``ShippedCalls``. It runs up to ``limit`` items
  at once, like the local executor does. A server model's ``concurrency`` is a limit for
  the whole cluster: each worker gets its share (``shares``).
- **A worker that dies** (its node removed, its process killed) takes its in-flight items
  with it; they are handed to the workers left and redone, and the run goes on as long as
  one worker is left. Calls the dead worker made but had not sent back are made again.

``map``'s contract is the local executor's (``gra.executors.base``).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import dataclasses
import logging
import socket
from collections import deque
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from gra.config import Config
from gra.core.calls import ChatResponse
from gra.core.errors import UserError
from gra.core.store import Store
from gra.council.caller import Caller
from gra.council.pool import ModelPool
from gra.executors.base import OnResult, Work

log = logging.getLogger("gra")

INSTALL_HINT = "pip install 'gra[ray]'"
AUTH_HINT = (
    " (a cluster with token authentication, the default of 'ray start' since Ray 2.59, "
    "also needs RAY_AUTH_MODE=token here, and the head's ~/.ray/auth_token or "
    "RAY_AUTH_TOKEN; docs/ray.md)"
)

#: the log of the item a worker is running: every call it makes is appended to it
_LOG: ContextVar[list | None] = ContextVar("gra_ray_log", default=None)


def import_ray(where: str = "executor"):
    """``ray``, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserError(f"Ray is not installed; run: {INSTALL_HINT}", where=where) from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None) -> Iterator[Any]:
    """``ray``, joined to the cluster at ``address`` (None: ``RAY_ADDRESS``, or a Ray
    started on this machine) for the block; left again if this block joined it. Ray Data
    keeps rows in order here, and an error raised by gra inside a Ray task (a bad line in
    a shard) comes out as the one-line ``UserError`` it was."""
    ray = import_ray()
    # Ray's start-up notices are not for gra's users; and Ray Data logs a task's error with
    # its traceback before raising it, where gra says it in one line (a UserError) and any
    # other error is raised with its traceback anyway. Both levels are restored after.
    # (set after Ray Data has configured its own logging, which it does on first use)
    quiet = {"ray": logging.ERROR, "ray.data": logging.CRITICAL}
    levels = {name: logging.getLogger(name).level for name in quiet}
    logging.getLogger("ray").setLevel(logging.ERROR)
    owns = _join(ray, address)
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    # sort-based shuffles: a dedup of 600 rows took 24 s of hash-shuffle actors' start-up
    # against 3 s this way (measured here, Ray 2.60)
    strategy = getattr(ray.data.context, "ShuffleStrategy", None)
    if strategy is not None:
        ctx.shuffle_strategy = strategy.SORT_SHUFFLE_PULL_BASED
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield ray
    except Exception as e:
        cause = _user_error(e)
        if cause is None:
            raise
        raise cause from None
    finally:
        if owns:
            ray.shutdown()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _reachable(address: str | None) -> None:
    """A ``HOST:PORT`` (or ``ray://HOST:PORT``) address answers within seconds, or one
    line: Ray itself retries an unreachable one for minutes without a word."""
    if not address or address == "auto" or ":" not in address:
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as e:
        raise UserError(
            f"cannot reach a Ray cluster at {address} ({e}); start one with 'ray start "
            "--head' there, or check the address",
            where="ray_address",
        ) from None


def _join(ray: Any, address: str | None) -> bool:
    """Join the cluster at ``address`` unless joined already; True if this call joined."""
    if ray.is_initialized():
        return False
    _reachable(address)
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)  # fmt: skip
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UserError(
            f"cannot reach a Ray cluster at {address or 'this machine'}: {e}"
            + (AUTH_HINT if address else ""),
            where="ray_address",
        ) from None
    return True


def _user_error(e: BaseException | None) -> UserError | None:
    """The ``UserError`` a Ray error wraps, if any."""
    seen = 0
    while e is not None and seen < 10:
        if isinstance(e, UserError):
            return UserError(e.message, e.where)
        e = getattr(e, "cause", None) or e.__cause__
        seen += 1
    return None


def shares(cfg: Config, workers: int) -> list[Config]:
    """One config per worker, each server model's ``concurrency`` split between them so
    the cluster never has more requests in flight on it than configured."""
    out = [copy.deepcopy(cfg) for _ in range(workers)]
    for name in cfg.model_names():
        m = cfg.model(name)
        if m.backend == "embedded":
            continue  # one instance per worker: its concurrency is its own
        total = m.concurrency or 8
        if total < workers:
            raise UserError(
                f"concurrency {total} is below the {workers} Ray workers (it is a limit for "
                "the whole cluster, and each worker needs a share): raise it or use fewer "
                "--workers",
                where=f"models.{name}.concurrency",
            )
        for i, c in enumerate(out):
            share = total // workers + (i < total % workers)
            c.models[name] = dataclasses.replace(m, concurrency=share)
    return out


def _wait(ref) -> asyncio.Future:
    """An asyncio future for a Ray object ref."""
    return asyncio.wrap_future(ref.future())


class ShippedCalls:
    """The store a worker's caller sees: the calls shipped with its items (and those it
    made), and, per item, a log of what it did, sent back with the item's result.

    A worker's memory stays bounded: an item's calls are held while some item in flight
    needs them (``hold``/``release``), the preloaded ones and the shared tag calls it
    made for as long as the worker lives."""

    def __init__(self) -> None:
        self.replies: dict[str, ChatResponse] = {}
        self._holds: dict[str, int] = {}  # key -> items in flight that hold it
        self._kept: set[str] = set()  # never released: preloaded, and tags made here

    def hold(self, calls: dict[str, ChatResponse]) -> None:
        self.replies.update(calls)
        for key in calls:
            self._holds[key] = self._holds.get(key, 0) + 1

    def release(self, shipped: Iterable[str], made: Iterable[str] = ()) -> None:
        """An item ended: drop the calls shipped with it and those it made, unless another
        item in flight holds them or they are kept."""
        for key in shipped:
            left = self._holds.get(key, 0) - 1
            if left > 0:
                self._holds[key] = left
            else:
                self._holds.pop(key, None)
        for key in [*shipped, *made]:
            if key not in self._holds and key not in self._kept:
                self.replies.pop(key, None)

    def keep(self, calls: dict[str, ChatResponse]) -> None:
        self.replies.update(calls)
        self._kept.update(calls)

    def _log(self, op: tuple) -> None:
        log = _LOG.get()
        if log is not None:
            log.append(op)

    def get_call(self, key: str) -> ChatResponse | None:
        reply = self.replies.get(key)
        if reply is not None:
            self._log(("hit",))
        return reply

    def put_call(self, key, model, role, prompt, request, response, owner=None) -> None:
        self.replies[key] = response
        if role == "tag":  # shared by every item of its seed
            self._kept.add(key)
        self._log(("call", (key, model, role, prompt, request, response, owner)))

    def put_failure(self, *args) -> None:
        self._log(("failure", args))

    def total_tokens(self) -> int:
        return 0  # the driver's count arrives with each item


class Worker:
    """One Ray actor (``RayExecutor`` makes it remote): runs items of ``work``."""

    def __init__(self, cfg: Config, work: Work):
        self.calls = ShippedCalls()
        self.caller = Caller(ModelPool(cfg), self.calls)
        self.work = work
        self.running: dict[int, asyncio.Task] = {}

    def node(self) -> str:
        """The id of the Ray node this worker runs on."""
        import ray

        return ray.get_runtime_context().get_node_id()

    def preload(self, calls: dict) -> None:
        """Stored calls any item may replay (those no owner was recorded for)."""
        self.calls.keep(calls)

    async def run(self, n: int, item: Any, calls: dict, tokens_used: int, max_tokens: int):
        """``("done", result, log)``, ``("cancelled", None, log)`` or ``("error", exc,
        log)``: the log holds every call made for the item, to be stored by the driver."""
        self.calls.hold(calls)
        self.caller.max_tokens = max_tokens
        self.caller.tokens_used = max(self.caller.tokens_used, tokens_used)
        log: list = []
        token = _LOG.set(log)
        task = self.running[n] = asyncio.ensure_future(self.work(self.caller, item))
        _LOG.reset(token)
        try:
            return "done", await task, log
        except asyncio.CancelledError:
            await self.caller.drain()  # calls still running finish and are logged
            return "cancelled", None, log
        except Exception as e:  # noqa: BLE001 -- the driver raises it
            return "error", e, log
        finally:
            self.running.pop(n, None)
            self.calls.release(calls, made=[op[1][0] for op in log if op[0] == "call"])

    async def cancel(self, n: int) -> None:
        task = self.running.get(n)
        if task is not None:
            task.cancel()

    async def close(self) -> None:
        await self.caller.pool.aclose()


class RayExecutor:
    """``workers`` Ray actors on the cluster at ``address`` (None: a Ray instance started on
    this machine, or the one ``RAY_ADDRESS`` names). ``store``: the driver's run store.
    ``config`` has the embedded models' ``auto`` settings as measured on the driver (each
    worker measures its own machine)."""

    def __init__(
        self,
        cfg: Config,
        store: Store,
        *,
        address: str | None = None,
        workers: int = 2,
        worker_cpus: float = 1.0,
        models: Iterable[str] | None = None,
    ):
        if workers < 1:
            raise UserError("must be >= 1", where="workers")
        self.ray = import_ray()
        self.worker_configs = shares(cfg, workers)
        pool = ModelPool(cfg)
        self.config = pool.resolved(models)
        self.caller = Caller(pool, store)  # the driver's: stores and counts, calls nothing
        self.worker_cpus = worker_cpus
        self.actors: list = []
        self.nodes: set[str] = set()
        self.lost: list[str] = []  # one line per worker that died
        self._n = 0
        self._work: Work | None = None
        self._owns_ray = _join(self.ray, address)

    async def _start(self, work: Work) -> None:
        remote = self.ray.remote(num_cpus=self.worker_cpus, max_restarts=0)(Worker)
        work_ref = self.ray.put(work)
        self.actors = [
            remote.options(scheduling_strategy="SPREAD").remote(cfg, work_ref)
            for cfg in self.worker_configs
        ]
        self.nodes = set(await asyncio.gather(*(_wait(a.node.remote()) for a in self.actors)))
        # calls stored before owners were recorded: every worker gets them once
        old = self.caller.store.calls_of([None])
        await asyncio.gather(*(_wait(a.preload.remote(old)) for a in self.actors))

    def describe(self) -> dict[str, Any]:
        """Where the work ran, for summary.json."""
        return {
            "kind": "ray",
            "workers": len(self.worker_configs),
            "nodes": len(self.nodes),
            "workers_lost": len(self.lost),
        }

    def _calls_for(self, work: Work, item: Any) -> dict:
        owners = getattr(work, "call_owners", None)
        return self.caller.store.calls_of(owners(item)) if owners else {}

    async def amap(self, work: Work, items: Iterable[Any], on_result: OnResult, limit: int):
        ray = self.ray
        if self.actors and work is not self._work:  # the actors hold the work they were made with
            self._stop_actors()
        if not self.actors:
            self._work = work
            await self._start(work)
        it = iter(items)
        redo: deque = deque()
        in_flight: dict[asyncio.Future, tuple[Any, int, Any]] = {}
        load = {a: 0 for a in self.actors}
        exhausted = stop = False
        error: BaseException | None = None

        def send(actor, item) -> None:
            self._n += 1
            calls = self._calls_for(work, item)
            c = self.caller
            ref = actor.run.remote(self._n, item, calls, c.tokens_used, c.max_tokens)
            in_flight[_wait(ref)] = (actor, self._n, item)
            load[actor] += 1

        try:
            while True:
                while not stop and load:
                    actor = min(load, key=load.get)
                    if load[actor] >= max(1, limit):
                        break
                    if redo:
                        item = redo.popleft()
                    elif exhausted:
                        break
                    else:
                        try:
                            item = next(it)
                        except StopIteration:
                            exhausted = True
                            break
                    send(actor, item)
                if not load and (redo or in_flight):
                    raise UserError(
                        "every Ray worker died: " + "; ".join(self.lost),
                        where="executor",
                    )
                if not in_flight:
                    return
                done, _ = await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    actor, _, item = in_flight.pop(fut)
                    try:
                        status, result, log = fut.result()
                    except ray.exceptions.RayActorError as e:
                        self._lost(actor, load, in_flight, e)
                        redo.append(item)
                        continue
                    if actor in load:  # (a result from a worker given up for dead still counts)
                        load[actor] -= 1
                    self.caller.absorb(log)
                    if status == "error":
                        error, stop = result, True
                    elif status == "done":  # (after a stop too, as the local executor)
                        stop = bool(on_result(item, result)) or stop
                if error is not None:
                    raise error
                if stop:
                    return
        finally:
            await self._cancel(in_flight)

    def _lost(self, actor, load: dict, in_flight: dict, e: BaseException) -> None:
        """``actor`` died: drop it; its items in flight are redone by the workers left."""
        if actor not in load:
            return
        del load[actor]
        self.actors.remove(actor)
        self.ray.kill(actor)  # unreachable may mean slow: its other items are redone, not raced
        lost = sum(a is actor for a, _, _ in in_flight.values()) + 1
        line = (
            f"a Ray worker died ({type(e).__name__}); its {lost} candidate(s) in flight are "
            f"redone on the {len(load)} worker(s) left"
        )
        self.lost.append(line)
        log.warning(line)

    async def _cancel(self, in_flight: dict) -> None:
        """Cancel the items still running; store the calls they completed."""
        for actor, n, _ in in_flight.values():
            actor.cancel.remote(n)
        for fut in in_flight:
            try:
                _, _, log = await fut
            except Exception:  # noqa: BLE001 -- a dead worker's calls are gone
                continue
            self.caller.absorb(log)
        in_flight.clear()

    def run(self, main):
        return asyncio.run(main)

    def map(self, work: Work, items: Iterable[Any], on_result: OnResult, limit: int) -> None:
        self.run(self.amap(work, items, on_result, limit))

    def _stop_actors(self) -> None:
        for actor in self.actors:
            try:
                self.ray.get(actor.close.remote(), timeout=30)
            except Exception:  # noqa: BLE001 -- a dead worker has nothing to close
                pass
            self.ray.kill(actor)
        self.actors = []

    def close(self) -> None:
        self._stop_actors()
        if self._owns_ray:
            self.ray.shutdown()
