"""Reviewers: six dimensions scored 1-10 plus a critique, through a JSON schema.

Where the backend returns logprobs, each dimension's score is the expectation over
the score tokens at the position where the reviewer wrote it (sum of s * p(s),
renormalised over the tokens that read as a score), not the one digit it sampled:
small models put real mass on neighbouring scores, and the expectation ranks
samples far better (benchmarks/review_quality.py). Digits are single tokens for the
embedded models, so "10" is "1" then "0": when the reviewer wrote "1", the next
position's p("0") against p(end of number) splits the mass of "1" between 1 and 10;
when it wrote another digit, the mass of "1" (1 or the start of 10?) is left out.
Without logprobs the written digits are the scores (``Review.method``).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from gra.core.calls import ChatRequest
from gra.core.records import DIMENSIONS, Review
from gra.core.templates import load
from gra.council.steps.common import ParseError, pair_request, parse_object, string_field
from gra.models.backends.logprobs import token_probs, with_prefix

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
    logprobs: int = 0,
) -> ChatRequest:
    """The review request; ``logprobs`` > 0 asks for that many top tokens per position."""
    req = pair_request(
        PROMPT,
        instruction,
        input_text,
        response,
        schema=SCHEMA,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
    )
    return dataclasses.replace(req, logprobs=logprobs) if logprobs else req


def _score(obj: dict, dim: str) -> float:
    value = obj.get(dim)
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParseError(f"'{dim}' is missing or not a number")
    if not 1 <= value <= 10:
        raise ParseError(f"'{dim}' = {value} is outside 1-10")
    return float(value)


def parse(reviewer: str, text: str, logprobs: dict[str, Any] | None = None) -> Review:
    """A Review; an unreadable reply gives ``ok=False`` with the raw text kept.

    ``logprobs`` is the response's OpenAI-style ``{"content": [...]}``; when it
    covers every dimension's score the scores are expectations (``method``
    ``logprobs``), otherwise the written digits (``sampled``)."""
    try:
        obj = parse_object(text)
        scores = {d: _score(obj, d) for d in DIMENSIONS}
        critique = string_field(obj, "critique", required=False)
    except ParseError as e:
        return Review(reviewer=reviewer, ok=False, raw=text, error=str(e))
    expected = expected_scores((logprobs or {}).get("content") or [])
    if all(d in expected for d in DIMENSIONS):
        return Review(
            reviewer=reviewer,
            ok=True,
            scores={d: expected[d] for d in DIMENSIONS},
            critique=critique,
            raw=text,
            method="logprobs",
            sampled=scores,
        )
    return Review(reviewer=reviewer, ok=True, scores=scores, critique=critique, raw=text)


_KEY_BEFORE = re.compile(r'"(\w+)"\s*:\s*$')
_VALUES = {str(v): v for v in range(1, 11)}


def _ends_number(token: str) -> bool:
    s = token.strip()
    return not s or s[0] in ",}"


def _expectation(entries: list[dict[str, Any]], i: int) -> float | None:
    written = entries[i]["token"].strip()
    mass: dict[int, float] = {}
    for tok, p in token_probs(entries[i]).items():
        v = _VALUES.get(tok.strip())
        if v is None or (v == 1 and written != "1"):
            continue  # the mass of "1" is 1 or the start of 10: unknown unless written
        mass[v] = mass.get(v, 0.0) + p
    if written == "1" and 1 in mass and i + 1 < len(entries):
        nxt = token_probs(entries[i + 1])
        p0 = sum(p for tok, p in nxt.items() if tok.strip() == "0")
        p_end = sum(p for tok, p in nxt.items() if _ends_number(tok))
        if p0 + p_end > 0:
            p1 = mass.pop(1)
            q = p0 / (p0 + p_end)
            mass[1], mass[10] = p1 * (1 - q), mass.get(10, 0.0) + p1 * q
    total = sum(mass.values())
    if total <= 0:
        return None
    return round(sum(v * p for v, p in mass.items()) / total, 4)


def expected_scores(entries: list[dict[str, Any]]) -> dict[str, float]:
    """Per dimension, the expected score at the position its value was written."""
    out: dict[str, float] = {}
    for i, (before, e) in enumerate(with_prefix(entries) or []):
        m = _KEY_BEFORE.search(before)
        dim = m.group(1) if m else ""
        if dim in DIMENSIONS and dim not in out and e["token"].strip().isdigit():
            value = _expectation(entries, i)
            if value is not None:
                out[dim] = value
    return out
