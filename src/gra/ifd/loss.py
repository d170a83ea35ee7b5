"""A response's token loss under one context: what every IFD scorer returns per pass."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ResponseLoss:
    """The response's tokens under one context."""

    n_tokens: int  # response tokens scored
    sum_nll: float  # sum of -log p(token | everything before it), natural log
    skip: str = ""  # non-empty: why not scored (then n_tokens and sum_nll are 0)

    @property
    def mean_nll(self) -> float:
        """Mean token loss; raises ValueError for a skipped pass (never NaN)."""
        if self.skip or self.n_tokens <= 0:
            raise ValueError(f"not scored: {self.skip or 'no tokens'}")
        return self.sum_nll / self.n_tokens

    @property
    def ppl(self) -> float:
        return math.exp(self.mean_nll)

    @classmethod
    def skipped(cls, reason: str) -> ResponseLoss:
        return cls(0, 0.0, reason)
