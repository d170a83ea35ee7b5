"""A scripted backend: answers each role from the request's schema, no model needed."""

from __future__ import annotations

import json
import threading

from gra.backends.base import ChatRequest, ChatResponse
from gra.records import DIMENSIONS


class FakeBackend:
    max_concurrency = 1

    def __init__(self, model_id: str, score=lambda req: 8, adjudicate="keep", broken_reviews=False):
        self.model_id = model_id
        self.score = score
        self.adjudicate = adjudicate
        self.broken_reviews = broken_reviews
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    def chat(self, req: ChatRequest) -> ChatResponse:
        with self._lock:
            self.requests.append(req)
            n = len(self.requests)
        props = json.loads(req.json_schema)["properties"] if req.json_schema else {}
        user = req.messages[-1][1]
        if "keywords" in props:
            text = json.dumps({"summary": "A task.", "keywords": ["k1", "k2"]})
        elif "instruction" in props:
            # a distinct instruction per call so dedup does not fire by accident
            words = " ".join(f"w{n}x{i}" for i in range(8))
            text = json.dumps({"instruction": f"Explain topic {words} in detail."})
        elif "critique" in props:
            if self.broken_reviews:
                text = '{"critique": "cut off'
            else:
                s = self.score(req)
                text = json.dumps({"critique": "ok", **{d: s for d in DIMENSIONS}})
        elif "decision" in props:
            text = json.dumps({"reason": "because", "decision": self.adjudicate})
        else:
            text = f"An answer to: {user}"
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
