"""IFD passes on Ray Data (``gra select --method ifd --executor ray``).

``RayScorer`` is a ``LossScorer`` whose passes run in ``map_batches`` with an actor pool:
each actor loads the scoring model once and scores a batch of passes. The driver keeps
what needs the whole dataset (the mismatch partners, the ranking, the selection) and the
loss cache: ``CachedScorer`` around a ``RayScorer`` sends only the passes it has not
stored, in chunks, and stores what comes back, so a re-run costs no model time.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

from gra.ifd.scoring import ResponseLoss, load_scorer

PASSES = 64  # passes an actor scores at once


class ScorerActor:
    """One Ray Data actor: the model ``spec`` with ``template``, loaded once."""

    def __init__(self, spec: str, template: str):
        self.scorer = load_scorer(spec, template=template)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        items = [pickle.loads(x) for x in batch["item"]]
        losses = self.scorer.losses(items)
        return {"order": batch["order"], "loss": [pickle.dumps(x) for x in losses]}


class RayScorer:
    """The ``LossScorer`` of ``spec`` (``load_scorer``'s), its passes scored by ``workers``
    actors of the Ray cluster ``ray`` is joined to. Its ids are the local scorer's (that
    loads no model until a pass is scored here, and none is), so the cache is shared with
    runs without Ray."""

    def __init__(self, ray: Any, spec: str, template: str, workers: int):
        self.ray, self.spec, self.workers = ray, spec, workers
        self.local = load_scorer(spec, template=template)
        self.model_id = self.local.model_id
        self.template = self.local.template
        self.numerics = getattr(self.local, "numerics", "")
        self.n_ctx = getattr(self.local, "n_ctx", None)

    def losses(self, items: Sequence[tuple[str | None, str]]) -> list[ResponseLoss]:
        if not items:
            return []
        rows = [{"order": n, "item": pickle.dumps(item)} for n, item in enumerate(items)]
        blocks = -(-len(rows) // PASSES)
        scored = self.ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            ScorerActor,
            fn_constructor_args=(self.spec, self.template),
            compute=self.ray.data.ActorPoolStrategy(size=min(self.workers, blocks)),
            batch_size=PASSES,
            batch_format="numpy",
            num_cpus=1,
        )
        out: list[ResponseLoss] = []
        for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
            out.extend(pickle.loads(x) for x in batch["loss"])
        return out

    def close(self) -> None:
        self.local.close()
