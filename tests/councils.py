"""Small, fast council settings shared by the real-model tests and the benchmarks."""

from __future__ import annotations


def fast_roles(model: str) -> dict:
    """Every role on ``model``, short outputs, and thresholds loose enough that what is
    measured is the machinery (calls, store, resume), not the tiny models' judgement."""
    roles = {"models": [model]}
    return {
        "tagging": {"model": model, "tag_outputs": False, "max_tokens": 100},
        "generation": {
            **roles,
            "examples": 2,
            "response_max_tokens": 200,
            "instruction_max_tokens": 80,
        },
        "review": {**roles, "max_tokens": 160},
        "adjudication": {**roles, "max_tokens": 120},
        # the rubric rule with loose thresholds: every readable review accepts
        "aggregate": {"rule": "mean_std", "accept_mean": 1.0, "reject_mean": 1.0, "max_std": 9.0},
    }
