"""The executor seam: the same work through the local executor, at any concurrency, gives
the same results; the driver's on_result can stop it; a failing item stops it."""

from __future__ import annotations

import asyncio
import random

import pytest

from gra.config import load_config
from gra.core.calls import ChatRequest
from gra.core.store import Store
from gra.executors import LocalExecutor
from tests.fakes import FakeLoader

MODEL = "qwen2.5-coder-0.5b"


def executor(tmp_path, name="calls.sqlite"):
    cfg = load_config(data={})
    return LocalExecutor(cfg, Store(tmp_path / name), models=[MODEL], loader=FakeLoader())


async def work(caller, item: int) -> str:
    """One model call per item, finishing in a random order."""
    await asyncio.sleep(random.random() / 100)
    req = ChatRequest(messages=(("user", f"item {item}"),), seed=item)
    reply, info = await caller(MODEL, "test", "test@1", req)
    return f"{item}:{reply.text}:{info.cached}"


@pytest.mark.parametrize("limit", [1, 3, 16])
def test_the_same_work_gives_the_same_results_at_any_concurrency(tmp_path, limit):
    ex = executor(tmp_path)
    results: dict[int, str] = {}
    arrived: list[int] = []

    def on_result(item, result):
        results[item] = result
        arrived.append(item)

    try:
        ex.map(work, range(20), on_result, limit)
    finally:
        ex.close()
    assert results == {i: f"{i}:An answer to: item {i}:False" for i in range(20)}
    assert sorted(arrived) == list(range(20))
    if limit > 1:
        assert arrived != list(range(20))  # results arrive as they finish, not in order
    # the calls are stored: the same work again is answered from the store
    again = LocalExecutor(load_config(data={}), ex.caller.store, models=[MODEL],
                          loader=FakeLoader())  # fmt: skip
    cached: dict[int, str] = {}
    try:
        again.map(work, range(20), lambda i, r: cached.__setitem__(i, r), limit)
    finally:
        again.close()
        ex.caller.store.close()
    assert cached == {i: f"{i}:An answer to: item {i}:True" for i in range(20)}


def test_items_are_pulled_lazily_and_on_result_stops_the_map(tmp_path):
    ex = executor(tmp_path)
    pulled: list[int] = []
    seen: list[int] = []

    def items():
        for i in range(100):
            pulled.append(i)
            yield i

    def on_result(item, result):
        seen.append(item)
        return len(seen) >= 5  # the driver's target

    try:
        ex.map(work, items(), on_result, 4)
    finally:
        ex.close()
        ex.caller.store.close()
    # results that finished together with the fifth are still handed over (nothing done is
    # lost); then the items in flight are cancelled and no new one is pulled
    assert 5 <= len(seen) <= 5 + 3
    assert len(pulled) <= len(seen) + 4


def test_a_failing_item_stops_the_map_and_is_raised(tmp_path):
    ex = executor(tmp_path)

    async def failing(caller, item):
        if item == 3:
            raise ValueError("item 3 is broken")
        return await work(caller, item)

    try:
        with pytest.raises(ValueError, match="item 3"):
            ex.map(failing, range(10), lambda i, r: None, 2)
    finally:
        ex.close()
        ex.caller.store.close()
