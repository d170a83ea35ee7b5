"""The one protocol every backend speaks: chat completion, optional JSON schema.

Requests and responses are plain data (``gra.core.calls``) so they can be hashed into a
cache key and stored.
"""

from __future__ import annotations

from typing import Protocol

from gra.core.calls import CallFailed, ChatRequest, ChatResponse

__all__ = ["Backend", "CallFailed", "ChatRequest", "ChatResponse"]


class Backend(Protocol):
    """A loaded model. ``model_id`` names the exact weights (used in cache keys).

    ``max_concurrency`` is how many requests the executor may have in flight on
    this backend at once: 1 for a plain llama.cpp context, the number of parallel
    sequences for a batching backend, the configured limit for a server.
    """

    model_id: str
    max_concurrency: int

    async def chat(self, request: ChatRequest) -> ChatResponse:
        """Answer one request. Raises ``CallFailed`` when it cannot be answered."""
        ...

    def close(self) -> None: ...
