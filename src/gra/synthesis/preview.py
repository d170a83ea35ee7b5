"""``gra synth --preview K``: K candidates end to end, without a run directory, with
everything decided about each, so prompts and thresholds can be tuned before a long run.

The candidates are the run's first K (the same plan, seeds and calls as ``gra synth``
with the same config makes them); the model calls go to a temporary store that is removed
afterwards. Every candidate runs to its end: there is no target, and no sample is kept.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from gra.checks import CheckResult, CheckSettings, check_names, run_checks
from gra.config import Config
from gra.core.errors import UserError
from gra.core.records import Candidate, Seed
from gra.core.store import Store


@dataclass
class PreviewItem:
    candidate: Candidate
    seeds: list[Seed]  # the example seeds the generator was shown
    failed_checks: list[CheckResult] = field(default_factory=list)  # every one that fired
    checks_run: int = 0
    judges: dict[str, float] = field(default_factory=dict)  # model -> p(Yes)


def preview(cfg: Config, seeds: list[Seed], k: int, loader=None) -> list[PreviewItem]:
    """Run candidates 0..k-1 of a run with ``cfg`` on ``seeds``; one item each, in order."""
    from gra.executors import LocalExecutor
    from gra.synthesis.pipeline import Synth

    if k < 1:
        raise UserError("must be at least 1", "preview")
    by_id = {s.id: s for s in seeds}
    settings = CheckSettings(disabled=frozenset(cfg.checks.disabled))
    enabled = [n for n in check_names() if not settings.is_disabled(n)]
    done: dict[int, Candidate] = {}
    with tempfile.TemporaryDirectory(prefix="gra-preview-") as tmp:
        store = Store(Path(tmp) / "calls.sqlite")
        try:
            executor = LocalExecutor(cfg, store, loader=loader)
            synth = Synth(executor.config, seeds, store, executor.caller, executor=executor)

            async def work(caller, idx: int) -> Candidate:
                return await synth.candidate(idx)

            try:
                executor.map(
                    work, range(k), done.__setitem__, executor.config.candidates_in_flight()
                )
            finally:
                synth.work.close()
                executor.close()
        finally:
            store.close()
    items = []
    for idx in range(k):
        c = done[idx]
        failed = (
            run_checks(c.instruction, c.input, c.response, settings=settings) if c.response else []
        )
        signals = c.aggregate.signals if c.aggregate else {}
        judges = {
            name[len("yes:") :]: round(1 / (1 + math.exp(-x)), 4)
            for name, x in signals.items()
            if name.startswith("yes:")
        }
        items.append(PreviewItem(c, [by_id[i] for i in c.seed_ids if i in by_id], failed,
                                 len(enabled), judges))  # fmt: skip
    return items
