"""gra: training data for large language models, from a council of small ones.

The public API (README, "From Python")::

    import gra
    run = gra.synth("seeds.jsonl", out="runs/x", n=50, config={"aggregate": {"accept_p": 0.5}})
    verdicts = gra.review(run.data_path, out="verdicts.jsonl")
    top = gra.select(run.data_path, out="top.jsonl", top_percent=10, diversity="deita")

Names are imported on first use, so ``import gra`` (and ``gra --help``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gra.core.version import __version__

#: public name -> the module that defines it
_EXPORTS = {
    "synth": "gra.api",
    "resume": "gra.api",
    "preview": "gra.api",
    "review": "gra.api",
    "select": "gra.api",
    "dedup": "gra.api",
    "diversity": "gra.api",
    "build_report": "gra.api",
    "push": "gra.synthesis.push",
    "load_config": "gra.api",
    "ReviewResult": "gra.api",
    "SelectResult": "gra.api",
    "DedupResult": "gra.api",
    "RunResult": "gra.synthesis.run",
    "Config": "gra.config",
    "UserError": "gra.core.errors",
    "Seed": "gra.core.records",
    "Candidate": "gra.core.records",
    "Review": "gra.core.records",
    "Aggregate": "gra.core.records",
    "Adjudication": "gra.core.records",
    "Outcome": "gra.core.records",
    "CallInfo": "gra.core.records",
    "Sample": "gra.io.datasets",
}

__all__ = [
    "__version__",
    "synth",
    "resume",
    "preview",
    "review",
    "select",
    "dedup",
    "diversity",
    "build_report",
    "push",
    "load_config",
    "ReviewResult",
    "SelectResult",
    "DedupResult",
    "RunResult",
    "Config",
    "UserError",
    "Seed",
    "Candidate",
    "Review",
    "Aggregate",
    "Adjudication",
    "Outcome",
    "CallInfo",
    "Sample",
]

if TYPE_CHECKING:  # pragma: no cover
    from gra.api import (
        DedupResult,
        ReviewResult,
        SelectResult,
        build_report,
        dedup,
        diversity,
        load_config,
        resume,
        review,
        select,
        synth,
    )
    from gra.config import Config
    from gra.core.errors import UserError
    from gra.core.records import Adjudication, Aggregate, CallInfo, Candidate, Outcome, Review, Seed
    from gra.io.datasets import Sample
    from gra.synthesis.run import RunResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gra' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
