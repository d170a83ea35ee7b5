"""Seed tagging: keywords and a one-line summary per example, by a small model."""

from __future__ import annotations

from typing import Any

from gra.core.calls import ChatRequest
from gra.core.templates import load
from gra.council.steps.common import ParseError, parse_object, request, string_field

PROMPT = load("tag")
SCHEMA = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "minLength": 8, "maxLength": 160},
        "keywords": {
            "type": "array",
            "items": {"type": "string", "minLength": 2, "maxLength": 32},
            "minItems": 2,
            "maxItems": 6,
        },
    },
    "required": ["summary", "keywords"],
}


def build(item: dict[str, Any], *, max_tokens: int, seed: int) -> ChatRequest:
    variables = {
        "instruction": item["instruction"],
        "input": item.get("input", ""),
        "response": item["response"],
    }
    return request(
        PROMPT, variables, max_tokens=max_tokens, temperature=0.0, seed=seed, schema=SCHEMA
    )


def parse(text: str) -> tuple[list[str], str]:
    obj = parse_object(text)
    words = obj.get("keywords")
    if not isinstance(words, list):
        raise ParseError("'keywords' is not a list")
    keywords = list(dict.fromkeys(w.strip() for w in words if isinstance(w, str) and w.strip()))
    summary = string_field(obj, "summary", required=False)
    return keywords[:6], (summary.splitlines() or [""])[0]
