"""Adjudicator: only on disagreement; reads the candidate and the reviews, keeps or drops."""

from __future__ import annotations

from ..backends.base import ChatRequest
from ..records import Adjudication, Review
from ..templates import load
from .common import ParseError, pair_request, parse_object, string_field

PROMPT = load("adjudicate")
SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string"},
        "decision": {"type": "string", "enum": ["keep", "drop"]},
    },
    "required": ["reason", "decision"],
}


def build(
    instruction: str,
    input_text: str,
    response: str,
    reviews: list[Review],
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
) -> ChatRequest:
    return pair_request(
        PROMPT,
        instruction,
        input_text,
        response,
        schema=SCHEMA,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        reviews=reviews,
    )


def parse(adjudicator: str, text: str) -> Adjudication:
    """An unreadable reply is recorded (``ok=False``) and counts as drop."""
    try:
        obj = parse_object(text)
        decision = string_field(obj, "decision").lower()
        if decision not in ("keep", "drop"):
            raise ParseError(f"'decision' = {decision!r}, expected keep or drop")
        reason = string_field(obj, "reason", required=False)
    except ParseError as e:
        return Adjudication(adjudicator, ok=False, keep=False, reason=f"unreadable: {e}", raw=text)
    return Adjudication(adjudicator, ok=True, keep=decision == "keep", reason=reason, raw=text)
