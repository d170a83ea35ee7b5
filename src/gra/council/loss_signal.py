"""The ``loss:MODEL`` signal of the calibrated verdict: the mean token loss (natural log)
of a response after its instruction, under MODEL -- how surprised that model is by the
answer. On the real-output sets, Qwen2.5-Coder-0.5B's loss ranks good pairs above bad
ones better than any judge's p(Yes) (docs/review.md, "The calibrated verdict"): a sampled
answer that invents a fact or loses the thread goes through tokens the model itself finds
unlikely.

The loss comes from gra's IFD scorer (gra.ifd: an embedded model in-process, or a
server's prompt logprobs). Candidates ask concurrently; the asks that arrive while a batch
is scored are scored together in the next, in a worker thread, so the event loop goes on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from gra.config import Config

#: the loss a pair gets when its response cannot be scored (empty, longer than the
#: context): that of a poor answer on the labeled sets (their bad pairs average 0.9)
MISSING = 1.0


def scorer_for(cfg: Config, name: str) -> Any:
    """An IFD loss scorer (chat template) for model ``name`` of the config."""
    from gra.ifd.scoring import load_scorer

    m = cfg.model(name)
    if m.backend == "openai":
        return load_scorer(
            m.base_url, template="chat", model=m.model, api_key_env=m.api_key_env,
            timeout_s=m.timeout_s, concurrency=max(1, m.concurrency),
        )  # fmt: skip
    return load_scorer(
        m.source or name, template="chat", n_ctx=m.n_ctx, n_threads=m.n_threads,
        flash_attn=m.flash_attn,
    )  # fmt: skip


class LossSignals:
    """``await losses.mean_nll(model, prompt, response)``; ``close()`` when done."""

    def __init__(self, cfg: Config, loader=scorer_for):
        self.cfg = cfg
        self.loader = loader
        self._scorers: dict[str, Any] = {}
        self._pending: dict[str, list[tuple[str, str, asyncio.Future]]] = {}
        self._workers: dict[str, asyncio.Task] = {}

    async def mean_nll(self, model: str, prompt: str, response: str) -> float:
        fut = asyncio.get_running_loop().create_future()
        self._pending.setdefault(model, []).append((prompt, response, fut))
        worker = self._workers.get(model)
        if worker is None or worker.done():
            self._workers[model] = asyncio.create_task(self._work(model))
        return await fut

    async def _work(self, model: str) -> None:
        while self._pending.get(model):
            batch, self._pending[model] = self._pending[model], []
            try:
                values = await asyncio.to_thread(self._score, model, batch)
            except BaseException as e:  # every waiter of the batch gets the error
                for *_, fut in batch:
                    if not fut.done():
                        fut.set_exception(e)
                if not isinstance(e, Exception):
                    raise
                continue
            for (*_, fut), v in zip(batch, values, strict=True):
                if not fut.done():
                    fut.set_result(v)

    def _score(self, model: str, batch: list[tuple[str, str, asyncio.Future]]) -> list[float]:
        scorer = self._scorers.get(model)
        if scorer is None:
            scorer = self._scorers[model] = self.loader(self.cfg, model)
        out = []
        for loss in scorer.losses([(p, r) for p, r, _ in batch]):
            out.append(MISSING if loss.skip or loss.n_tokens <= 0 else round(loss.mean_nll, 6))
        return out

    def close(self) -> None:
        for scorer in self._scorers.values():
            scorer.close()
        self._scorers.clear()
