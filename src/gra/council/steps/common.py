"""Helpers shared by steps: JSON schemas as request text, tolerant JSON parsing."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from gra.core.calls import ChatRequest
from gra.core.templates import Prompt


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema)


def request(
    prompt: Prompt,
    variables: dict[str, Any],
    *,
    max_tokens: int,
    temperature: float,
    seed: int,
    schema: dict[str, Any] | None = None,
) -> ChatRequest:
    return ChatRequest(
        messages=prompt.render(**variables),
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        json_schema=schema_text(schema) if schema else None,
    )


def pair_request(
    prompt: Prompt,
    instruction: str,
    input_text: str,
    response: str,
    *,
    schema: dict[str, Any],
    max_tokens: int,
    temperature: float,
    seed: int,
    **extra: Any,
) -> ChatRequest:
    """A request that shows one instruction-response pair (review, adjudicate)."""
    variables = {"instruction": instruction, "input": input_text, "response": response, **extra}
    return request(
        prompt,
        variables,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        schema=schema,
    )


def derive_seed(*parts: Any) -> int:
    """A stable 31-bit sampling seed from run seed, candidate index, role, ..."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.I)


class ParseError(ValueError):
    """A reply that is not the JSON object its schema asked for."""


def parse_object(text: str) -> dict[str, Any]:
    """The JSON object in a reply: the whole text, or the first {...} span in it."""
    s = _FENCE.sub("", text.strip())
    try:
        value = json.loads(s, strict=False)  # small models put raw newlines in strings
    except ValueError:
        start, end = s.find("{"), s.rfind("}")
        if start < 0 or end <= start:
            raise ParseError("no JSON object in reply") from None
        try:
            value = json.loads(s[start : end + 1], strict=False)
        except ValueError as e:
            raise ParseError(f"invalid JSON: {e.msg}") from None
    if not isinstance(value, dict):
        raise ParseError(f"expected a JSON object, got {type(value).__name__}")
    return value


def string_field(obj: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = obj.get(name, "")
    if not isinstance(value, str):
        raise ParseError(f"'{name}' is not a string")
    value = value.strip()
    if required and not value:
        raise ParseError(f"'{name}' is missing or empty")
    return value
