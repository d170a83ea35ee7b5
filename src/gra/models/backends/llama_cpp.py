"""Embedded backend: a GGUF model loaded in-process with llama-cpp-python."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path

import numpy as np

from gra.core.errors import ModelUnavailable
from gra.models.backends.base import ChatRequest, ChatResponse
from gra.models.backends.logprobs import as_extra, token_entry
from gra.models.backends.native import load_llama


class LlamaCppBackend:
    """One loaded llama.cpp model. Calls are serialised: a llama context is not thread-safe."""

    max_concurrency = 1

    def __init__(
        self,
        model_id: str,
        path: Path,
        n_ctx: int = 4096,
        n_threads: int = 0,
        flash_attn: bool = False,
        extra_buffers: bool = True,
    ):
        try:
            import llama_cpp  # noqa: F401
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ModelUnavailable(f"llama-cpp-python is not importable ({e})") from None
        self.model_id = model_id
        self.path = path
        try:
            self._llm = load_llama(
                path,
                extra_buffers=extra_buffers,
                n_ctx=n_ctx,
                n_threads=n_threads or os.cpu_count() or 1,
                flash_attn=flash_attn,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise ModelUnavailable(f"llama.cpp could not load {path}: {e}", model_id) from None
        self._lock = threading.Lock()

    async def chat(self, request: ChatRequest) -> ChatResponse:
        return await asyncio.to_thread(self.chat_sync, request)

    def chat_sync(self, request: ChatRequest) -> ChatResponse:
        kwargs = {
            "messages": request.message_dicts(),
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "seed": request.seed,
        }
        if request.json_schema:
            kwargs["response_format"] = {
                "type": "json_object",
                "schema": json.loads(request.json_schema),
            }
        entries: list[dict] = []
        if request.logprobs:  # Llama needs logits_all for its own logprobs; read them here
            kwargs["logits_processor"] = self._recorder(request.logprobs, entries)
        with self._lock:
            t0 = time.perf_counter()
            try:
                out = self._llm.create_chat_completion(**kwargs)
            except ValueError as e:  # e.g. prompt longer than the context window
                return ChatResponse(
                    text="",
                    finish_reason="error",
                    latency_s=time.perf_counter() - t0,
                    extra={"error": str(e)[:300]},
                )
            latency = time.perf_counter() - t0
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        return ChatResponse(
            text=choice["message"].get("content") or "",
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            latency_s=latency,
            extra=as_extra(entries) if request.logprobs else {},
        )

    def _recorder(self, k: int, entries: list[dict]):
        """A logits processor that leaves the logits alone and, at each step, records
        the previous step's logits with the token sampled from them (now the last
        input id). The final token has no later step, so it gets no entry: it ends
        the reply (a closing brace, or the token cut off by max_tokens)."""
        llm = self._llm
        pending: list[np.ndarray] = []

        def piece(t: int) -> str:
            return llm.detokenize([t]).decode("utf-8", errors="replace")

        def record(input_ids, scores):
            if pending:
                entries.append(token_entry(pending.pop(), int(input_ids[-1]), k, piece))
            pending.append(np.array(scores, copy=True))
            return scores

        return [record]

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None
