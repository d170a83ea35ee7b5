"""A model call as data: the request (hashed into the store's key), the response (tokens
and latency for the store), and the failure a backend raises. Every layer that stores,
replays or makes calls shares these; the backends that answer them live in
``gra.models.backends``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ChatRequest:
    messages: tuple[tuple[str, str], ...]  # (role, content)
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int = 0
    json_schema: str | None = None  # canonical JSON text of the schema, or None
    logprobs: int = 0  # top logprobs per generated token to return (0: none)

    def message_dicts(self) -> list[dict[str, str]]:
        """The messages as OpenAI-style ``{"role", "content"}`` dicts."""
        return [{"role": r, "content": c} for r, c in self.messages]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["messages"] = self.message_dicts()
        d["json_schema"] = json.loads(self.json_schema) if self.json_schema else None
        return d

    def key(self, model_id: str) -> str:
        """Stable hash of the request and the model that answers it."""
        d = {**asdict(self), "model": model_id}  # the schema stays text: its key order matters
        payload = json.dumps(d, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class ChatResponse:
    text: str
    finish_reason: str = "stop"  # stop | length | error
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChatResponse:
        return cls(**d)


class CallFailed(Exception):
    """A request that got no usable answer (after any retries the backend makes).

    ``retryable`` says whether the same request may succeed later (server
    down, timeout, 5xx); ``down`` whether the model itself looks unreachable.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        down: bool = False,
        attempts: list[str] | None = None,
    ):
        super().__init__(message)
        self.retryable = retryable
        self.down = down
        self.attempts = attempts or [message]  # each failed try, in order
