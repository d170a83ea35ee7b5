"""A Judge's yes/no verdict on one pair, read as a probability: p(Yes) / (p(Yes) + p(No))
at the first token of a one-token reply (the top ``LOGPROBS`` tokens, case and spaces
folded). Scoring the probability rather than the sampled word ranks pairs: on the labeled
sets it separates good pairs from bad ones better than the six-dimension rubric
(docs/review.md). A backend that returns no logprobs gives 1.0 or 0.0 from the word it
wrote, and 0.5 when it wrote neither.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from gra.core.calls import ChatRequest
from gra.core.templates import load
from gra.council.steps.common import request

PROMPT = load("judge")
LOGPROBS = 20


def build(instruction: str, input_text: str, response: str, *, seed: int) -> ChatRequest:
    req = request(
        PROMPT,
        {"instruction": instruction, "input": input_text, "response": response},
        max_tokens=1,
        temperature=0.0,
        seed=seed,
    )
    return dataclasses.replace(req, logprobs=LOGPROBS)


def p_yes(text: str, logprobs: dict[str, Any] | None) -> float:
    """p(Yes) among Yes/No at the first token; the written word when no logprobs came."""
    content = (logprobs or {}).get("content") or []
    yes = no = 0.0
    if content:
        for t in content[0].get("top_logprobs") or []:
            word = t["token"].strip().lower()
            if word == "yes":
                yes += math.exp(t["logprob"])
            elif word == "no":
                no += math.exp(t["logprob"])
    if yes + no > 0:
        return round(yes / (yes + no), 6)
    word = text.strip().lower()
    return 1.0 if word.startswith("yes") else 0.0 if word.startswith("no") else 0.5
