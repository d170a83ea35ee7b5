"""Top log-probabilities of generated tokens, in the OpenAI chat format.

Servers return ``choices[0].logprobs`` as ``{"content": [{"token", "logprob",
"top_logprobs": [{"token", "logprob"}, ...]}, ...]}``; the embedded backends build
the same structure from the model's raw logits at each sampled position (before
any grammar, temperature or top-p), so a reader of logprobs sees one format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def token_entry(
    logits: np.ndarray, token: int, k: int, piece: Callable[[int], str]
) -> dict[str, Any]:
    """The entry for sampled ``token`` given the logits it was sampled from."""
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max()
    logz = float(np.log(np.exp(shifted).sum()))
    k = min(k, x.size)
    top = np.argpartition(-x, k - 1)[:k]
    top = top[np.argsort(-x[top], kind="stable")]
    return {
        "token": piece(token),
        "logprob": float(shifted[token] - logz),
        "top_logprobs": [
            {"token": piece(int(t)), "logprob": float(shifted[t] - logz)} for t in top
        ],
    }


def as_extra(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """What a response's ``extra`` carries: ``{"logprobs": {"content": entries}}``."""
    return {"logprobs": {"content": entries}}
