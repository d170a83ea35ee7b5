"""Typed records that flow through the pipeline, with full provenance.

Data moves one way: Seed -> Candidate (with Reviews, an Aggregate and
maybe an Adjudication) -> writer. Every record serialises to plain JSON
(``to_dict``) so the run store and the writers share one shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

DIMENSIONS = (
    "correctness",
    "clarity",
    "completeness",
    "relevance",
    "coherence",
    "ethicality",
)


@dataclass
class Seed:
    """One example the user gave us. ``id`` is stable: file stem + line/index."""

    id: str
    instruction: str
    response: str
    domain: str = "general"
    input: str = ""
    keywords: list[str] = field(default_factory=list)
    summary: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Seed:
        return cls(**d)


@dataclass
class CallInfo:
    """Provenance of one model call: who answered, with which prompt, at what cost."""

    model: str
    prompt: str  # template name@version
    key: str  # request hash in the run store
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    cached: bool = False


@dataclass
class Review:
    """One reviewer's scores (1-10 per dimension) and critique.

    ``ok`` is False when the reply could not be parsed; ``raw`` then keeps
    the text as received and ``scores`` is empty. ``method`` says where the
    scores come from: ``logprobs`` (each the expectation over the score tokens,
    sum of s * p(s); ``sampled`` then keeps the digits the reviewer wrote) or
    ``sampled`` (the digits as written, when the backend gave no logprobs).
    """

    reviewer: str
    ok: bool
    scores: dict[str, float] = field(default_factory=dict)
    critique: str = ""
    raw: str = ""
    error: str = ""
    call: CallInfo | None = None
    method: str = "sampled"  # logprobs | sampled
    sampled: dict[str, float] = field(default_factory=dict)  # the written digits (logprobs)

    @property
    def overall(self) -> float | None:
        if not self.ok or not self.scores:
            return None
        return sum(self.scores[d] for d in DIMENSIONS) / len(DIMENSIONS)


@dataclass
class Aggregate:
    """Council statistics over the parsed reviews and the decision they imply."""

    mean: float | None
    std: float | None
    n_valid: int
    n_failed: int
    decision: str  # accept | reject | adjudicate
    reason: str
    # the calibrated rule (gra.council.verdict): p(good) and the signals it was computed from
    p_good: float | None = None
    signals: dict[str, float] = field(default_factory=dict)


@dataclass
class Adjudication:
    """The adjudicator's keep/drop; ``p_keep`` is its probability of "keep" against
    "drop" at the decision token, when the backend gave logprobs."""

    adjudicator: str
    ok: bool
    keep: bool
    reason: str = ""
    raw: str = ""
    call: CallInfo | None = None
    p_keep: float | None = None


TERMINAL = ("accepted", "rejected", "duplicate", "failed", "surplus")


@dataclass(frozen=True)
class Outcome:
    """How a step ended, as data: the ``stage`` that decided, a stable ``code`` that counts,
    summaries and reports read, and ``detail`` for people (the old ``reason`` sentence).
    The codes are listed in docs/architecture.md."""

    stage: str
    code: str
    detail: str = ""


@dataclass
class Candidate:
    """A generated instruction-response pair and everything decided about it.

    ``state`` is ``running`` until the candidate ends as one of TERMINAL:
    accepted, rejected, duplicate, failed, or surplus (accepted after the
    target was already met; kept in the store, not written out). A candidate still in
    flight when the target is reached is ``cancelled``: not terminal, a later run with a
    larger target takes it up first.
    """

    idx: int
    domain: str
    generator: str
    seed_ids: list[str]
    instruction: str = ""
    input: str = ""
    response: str = ""
    state: str = "new"
    reason: str = ""
    reviews: list[Review] = field(default_factory=list)
    aggregate: Aggregate | None = None
    adjudication: Adjudication | None = None
    duplicate_of: str | None = None
    keywords: list[str] = field(default_factory=list)
    summary: str = ""
    calls: dict[str, CallInfo] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    outcome: Outcome | None = None  # set when it ends (None while running)
    # generation.pick adaptive: why its generator was picked (gra.synthesis.routing)
    routing: dict[str, Any] | None = None
    # task preference: the k responses, the chosen and rejected ones and the margin
    # (gra.synthesis.preference)
    preference: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return f"c{self.idx:06d}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["id"] = self.id
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        d = dict(d)
        d.pop("id", None)

        def call(x):
            return CallInfo(**x) if x else None

        d["reviews"] = [Review(**{**r, "call": call(r.get("call"))}) for r in d.get("reviews", [])]
        if d.get("aggregate"):
            d["aggregate"] = Aggregate(**d["aggregate"])
        if d.get("adjudication"):
            a = d["adjudication"]
            d["adjudication"] = Adjudication(**{**a, "call": call(a.get("call"))})
        d["calls"] = {k: CallInfo(**v) for k, v in d.get("calls", {}).items()}
        if d.get("outcome"):
            d["outcome"] = Outcome(**d["outcome"])
        return cls(**d)
