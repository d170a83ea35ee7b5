"""A scripted backend: answers each role from the request's schema, no model needed."""

from __future__ import annotations

import json
import math
import threading

from gra.core.records import DIMENSIONS
from gra.models.backends.base import ChatRequest, ChatResponse


def scripted_reply(
    user: str,
    schema: dict | None,
    n: int,
    score: int = 8,
    adjudicate: str = "keep",
    broken_reviews: bool = False,
) -> str:
    """What a well-behaved council member would answer, chosen by the request's schema."""
    props = (schema or {}).get("properties", {})
    if "keywords" in props:
        return json.dumps({"summary": "A task.", "keywords": ["k1", "k2"]})
    if "instruction" in props:
        # a distinct instruction per call so dedup does not fire by accident
        words = " ".join(f"w{n}x{i}" for i in range(8))
        return json.dumps({"instruction": f"Explain topic {words} in detail."})
    if "critique" in props:
        if broken_reviews:
            return '{"critique": "cut off'
        return json.dumps({"critique": "ok", **{d: score for d in DIMENSIONS}})
    if "decision" in props:
        return json.dumps({"reason": "because", "decision": adjudicate})
    return f"An answer to: {user}"


def judge_reply(score: float, logprobs: int) -> ChatResponse:
    """A yes/no judge that agrees with the rubric score: p(Yes) = score / 10."""
    p = min(max(score / 10, 0.01), 0.99)
    word = "Yes" if p >= 0.5 else "No"
    extra = {}
    if logprobs:
        top = [
            {"token": "Yes", "logprob": math.log(p)},
            {"token": "No", "logprob": math.log(1 - p)},
        ]
        extra = {"logprobs": {"content": [{"token": word, "logprob": 0.0, "top_logprobs": top}]}}
    return ChatResponse(word, "stop", prompt_tokens=10, completion_tokens=1, latency_s=0.001,
                        extra=extra)  # fmt: skip


class FakeBackend:
    max_concurrency = 1

    def __init__(self, model_id: str, score=lambda req: 8, adjudicate="keep", broken_reviews=False):
        self.model_id = model_id
        self.score = score
        self.adjudicate = adjudicate
        self.broken_reviews = broken_reviews
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    async def chat(self, req: ChatRequest) -> ChatResponse:
        with self._lock:
            self.requests.append(req)
            n = len(self.requests)
        if "assert statements" in req.messages[-1][1]:  # the Tester: asserts for add()
            text = "```python\nassert add(2, 3) == 5\nassert add(0, 0) == 0\nprint('hi')\n```"
            return ChatResponse(text, "stop", prompt_tokens=10, completion_tokens=9, latency_s=0)
        if req.messages[-1][1].rstrip().endswith("Answer Yes or No."):
            return judge_reply(self.score(req), req.logprobs)
        schema = json.loads(req.json_schema) if req.json_schema else None
        text = scripted_reply(
            req.messages[-1][1], schema, n, self.score(req), self.adjudicate, self.broken_reviews
        )
        return ChatResponse(text, "stop", prompt_tokens=10, completion_tokens=5, latency_s=0.001)

    def close(self) -> None:
        pass


class FakeLoader:
    """Loads FakeBackends and remembers how many times each model was loaded."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.loads: list[str] = []
        self.backends: dict[str, FakeBackend] = {}

    def __call__(self, settings):
        self.loads.append(settings.source)
        b = FakeBackend(f"fake:{settings.source}", **self.kwargs)
        self.backends[settings.source] = b
        return b
