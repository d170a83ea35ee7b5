"""Adjudicator: only on disagreement; reads the candidate and the reviews, keeps or drops."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from gra.core.calls import ChatRequest
from gra.core.records import Adjudication, Review
from gra.core.templates import load
from gra.council.steps.common import ParseError, pair_request, parse_object, string_field
from gra.models.backends.logprobs import token_probs, with_prefix

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
    logprobs: int = 0,
) -> ChatRequest:
    req = pair_request(
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
    return dataclasses.replace(req, logprobs=logprobs) if logprobs else req


def parse(adjudicator: str, text: str, logprobs: dict[str, Any] | None = None) -> Adjudication:
    """An unreadable reply is recorded (``ok=False``) and counts as drop.

    With ``logprobs`` (the response's ``{"content": [...]}``), ``p_keep`` is the
    probability of "keep" against "drop" where the decision was written: the mass of
    the top tokens that begin each word, renormalised over the two."""
    try:
        obj = parse_object(text)
        decision = string_field(obj, "decision").lower()
        if decision not in ("keep", "drop"):
            raise ParseError(f"'decision' = {decision!r}, expected keep or drop")
        reason = string_field(obj, "reason", required=False)
    except ParseError as e:
        return Adjudication(adjudicator, ok=False, keep=False, reason=f"unreadable: {e}", raw=text)
    return Adjudication(
        adjudicator,
        ok=True,
        keep=decision == "keep",
        reason=reason,
        raw=text,
        p_keep=p_keep((logprobs or {}).get("content") or []),
    )


_DECISION_BEFORE = re.compile(r'"decision"\s*:\s*"$')


def p_keep(entries: list[dict[str, Any]]) -> float | None:
    for before, e in with_prefix(entries) or []:
        if _DECISION_BEFORE.search(before) and e["token"]:
            mass = {"keep": 0.0, "drop": 0.0}
            for piece, p in token_probs(e).items():
                word = piece.strip().lower()
                for w in mass:
                    if word and w.startswith(word):
                        mass[w] += p
            total = mass["keep"] + mass["drop"]
            return round(mass["keep"] / total, 4) if total > 0 else None
    return None
