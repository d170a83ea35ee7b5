"""Top log-probabilities of generated tokens, in the OpenAI chat format.

Servers return ``choices[0].logprobs`` as ``{"content": [{"token", "logprob",
"top_logprobs": [{"token", "logprob"}, ...]}, ...]}``; the embedded backends build
the same structure from the model's raw logits at each sampled position (before
any grammar, temperature or top-p), so a reader of logprobs sees one format.
"""

from __future__ import annotations

import math
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


def token_probs(entry: dict[str, Any]) -> dict[str, float]:
    """Probability of each distinct token text at one position: the top tokens and the
    written one."""
    out: dict[str, float] = {}
    for t in [entry, *(entry.get("top_logprobs") or [])]:
        tok, lp = t.get("token"), t.get("logprob")
        if isinstance(tok, str) and isinstance(lp, (int, float)):
            out[tok] = math.exp(lp)
    return out


def with_prefix(entries: list[Any]) -> list[tuple[str, dict[str, Any]]] | None:
    """Each entry with the reply's text before it, so a reader finds the position where
    a value was written (``'..."clarity": '`` then the digit); None when an entry has
    no token text."""
    out, before = [], ""
    for e in entries:
        tok = e.get("token") if isinstance(e, dict) else None
        if not isinstance(tok, str):
            return None
        out.append((before, e))
        before += tok
    return out


def as_extra(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """What a response's ``extra`` carries: ``{"logprobs": {"content": entries}}``."""
    return {"logprobs": {"content": entries}}
