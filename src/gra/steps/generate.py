"""Generator: a new instruction for a domain from k same-domain seeds (JSON), then
its response (plain chat) by the same model."""

from __future__ import annotations

from ..backends.base import ChatRequest
from ..records import Seed
from ..templates import load
from .common import parse_object, request, string_field

INSTRUCTION_PROMPT = load("generate")
RESPONSE_PROMPT = load("respond")
SCHEMA = {
    "type": "object",
    "properties": {"instruction": {"type": "string"}},
    "required": ["instruction"],
}


def build_instruction(
    domain: str, examples: list[Seed], *, max_tokens: int, temperature: float, seed: int
) -> ChatRequest:
    variables = {
        "domain": domain,
        "examples": [
            {"instruction": s.instruction, "keywords": s.keywords, "summary": s.summary}
            for s in examples
        ],
    }
    return request(
        INSTRUCTION_PROMPT,
        variables,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        schema=SCHEMA,
    )


def parse_instruction(text: str) -> str:
    return string_field(parse_object(text), "instruction")


def build_response(
    instruction: str, input_text: str, *, max_tokens: int, temperature: float, seed: int
) -> ChatRequest:
    return request(
        RESPONSE_PROMPT,
        {"instruction": instruction, "input": input_text},
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
    )
