"""Generator: a new instruction (JSON), then its response (plain chat).

Two ways to get the instruction (``generation.mode``): ``paper`` (the default) invents a
new one from k same-domain seeds and their keywords and summaries, as the GRA paper
does; ``evolve`` rewrites ONE seed by a named change, Evol-Instruct style. On the
embedded council half of the paper's instructions were no task at all; evolve cut that
share (50% to 38% on the same 150 plans) but copied seeds and had more answers wrong, so
its raw good rate was no higher (benchmarks/data/README.md)."""

from __future__ import annotations

from gra.core.calls import ChatRequest
from gra.core.records import Seed
from gra.core.templates import load
from gra.council.steps.common import parse_object, request, string_field

INSTRUCTION_PROMPT = load("generate")
EVOLVE_PROMPT = load("evolve")
RESPONSE_PROMPT = load("respond")
#: what ``evolve`` changes in a seed, one picked per candidate
CHANGES = (
    "its numbers or quantities",
    "the subject or the objects it is about",
    "one requirement or constraint (add, remove or tighten one)",
    "the question asked about the same topic",
)
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


def build_evolved(
    seed_instruction: str, change: str, *, max_tokens: int, temperature: float, seed: int
) -> ChatRequest:
    return request(
        EVOLVE_PROMPT,
        {"seed": seed_instruction, "change": change},
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
