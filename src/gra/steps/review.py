"""Reviewers: six dimensions scored 1-10 plus a critique, through a JSON schema."""

from __future__ import annotations

from ..backends.base import ChatRequest
from ..records import DIMENSIONS, Review
from ..templates import load
from .common import ParseError, pair_request, parse_object, string_field

PROMPT = load("review")
SCHEMA = {
    "type": "object",
    "properties": {
        "critique": {"type": "string", "minLength": 10, "maxLength": 200},
        **{d: {"type": "integer", "enum": list(range(1, 11))} for d in DIMENSIONS},
    },
    "required": ["critique", *DIMENSIONS],
}


def build(
    instruction: str,
    input_text: str,
    response: str,
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
    )


def _score(obj: dict, dim: str) -> float:
    value = obj.get(dim)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(f"'{dim}' is missing or not a number")
    if not 1 <= value <= 10:
        raise ParseError(f"'{dim}' = {value} is outside 1-10")
    return float(value)


def parse(reviewer: str, text: str) -> Review:
    """A Review; an unreadable reply gives ``ok=False`` with the raw text kept."""
    try:
        obj = parse_object(text)
        scores = {d: _score(obj, d) for d in DIMENSIONS}
        critique = string_field(obj, "critique", required=False)
    except ParseError as e:
        return Review(reviewer=reviewer, ok=False, raw=text, error=str(e))
    return Review(reviewer=reviewer, ok=True, scores=scores, critique=critique, raw=text)
