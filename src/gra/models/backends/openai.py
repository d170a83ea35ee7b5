"""Any OpenAI-compatible ``/v1/chat/completions`` server: vLLM, llama.cpp's
server, SGLang, Ollama, llama-cpp-python's server, hosted APIs.

Requests are issued concurrently up to ``concurrency``; 429, 5xx, timeouts,
refused connections and broken or truncated bodies are retried with
exponential backoff and full jitter. Logs above DEBUG carry the model name,
the status and the error kind only: never a request body, a prompt or a key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import time
from typing import Any

import httpx

from gra.core.errors import ModelUnavailable
from gra.models.backends.base import CallFailed, ChatRequest, ChatResponse

log = logging.getLogger("gra.models.backends.openai")

# Ways to ask for schema-constrained output, tried in this order by "auto".
STRUCTURED_MODES = ("json_schema", "json_object", "guided_json", "none")
BACKOFF_CAP_S = 30.0


class OpenAIBackend:
    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        model: str,
        api_key_env: str = "",
        concurrency: int = 8,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        retry_backoff_s: float = 1.0,
        structured_output: str = "auto",
    ):
        self.name = name
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.model_id = f"openai:{self.base_url}:{model}"
        self.max_concurrency = concurrency
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.timeout_s = timeout_s
        self._logprobs = True  # until the server refuses them
        self._modes = list(STRUCTURED_MODES if structured_output == "auto" else [structured_output])
        headers = {}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ModelUnavailable(
                    f"environment variable {api_key_env} is not set; export it with the API key",
                    where=f"models.{name}.api_key_env",
                )
            headers["Authorization"] = f"Bearer {key}"
        self._client: httpx.AsyncClient | None = None
        self._headers = headers

    # -- request body ---------------------------------------------------------
    def body(self, req: ChatRequest, mode: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": req.message_dicts(),
            "max_tokens": req.max_tokens,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "seed": req.seed,
        }
        if req.logprobs and self._logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = req.logprobs
        if req.json_schema:
            schema = json.loads(req.json_schema)
            if mode == "json_schema":
                body["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {"name": "reply", "schema": schema, "strict": True},
                }
            elif mode == "json_object":  # llama-cpp-python and llama.cpp servers read "schema"
                body["response_format"] = {"type": "json_object", "schema": schema}
            elif mode == "guided_json":  # vLLM's extra parameter
                body["guided_json"] = schema
        return body

    # -- calls ----------------------------------------------------------------
    def _http(self) -> httpx.AsyncClient:
        # created lazily, inside the running event loop that will use it
        if self._client is None:
            limits = httpx.Limits(
                max_connections=self.max_concurrency,
                max_keepalive_connections=self.max_concurrency,
            )
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                limits=limits,
                timeout=httpx.Timeout(self.timeout_s),
            )
        return self._client

    async def chat(self, request: ChatRequest) -> ChatResponse:
        attempts: list[str] = []
        refused = 0
        while True:
            mode = self._modes[0]
            t0 = time.perf_counter()
            try:
                reply = await self._once(request, mode)
            except _NoLogprobs as e:
                if self._logprobs:
                    self._logprobs = False
                    log.warning(
                        "%s: server refused logprobs (%s); asking without them: reviewers' "
                        "scores are the digits they write",
                        self.name,
                        e,
                    )
                continue
            except _Unsupported as e:
                if self._modes[0] != mode:  # another request switched modes already
                    continue
                if len(self._modes) == 1:
                    raise CallFailed(str(e), retryable=False) from None
                log.warning(
                    "%s: server refused structured output mode %s (%s); trying %s",
                    self.name,
                    mode,
                    e,
                    self._modes[1],
                )
                self._modes.pop(0)
                continue
            except _Retryable as e:
                attempts.append(str(e))
                refused += e.refused
                if len(attempts) > self.max_retries:
                    down = refused == len(attempts)
                    raise CallFailed(
                        f"{e} (gave up after {len(attempts)} tries)",
                        retryable=True,
                        down=down,
                        attempts=attempts,
                    ) from None
                delay = random.uniform(
                    0, min(BACKOFF_CAP_S, self.retry_backoff_s * 2 ** (len(attempts) - 1))
                )
                if e.retry_after is not None:
                    delay = max(delay, min(e.retry_after, BACKOFF_CAP_S))
                log.warning(
                    "%s: %s; retry %d/%d in %.1fs",
                    self.name,
                    e,
                    len(attempts),
                    self.max_retries,
                    delay,
                )
                await asyncio.sleep(delay)
                continue
            reply.latency_s = time.perf_counter() - t0
            if attempts:
                reply.extra["failed_attempts"] = attempts
            return reply

    async def _once(self, req: ChatRequest, mode: str) -> ChatResponse:
        body = self.body(req, mode)
        log.debug("%s: POST /chat/completions %s", self.name, json.dumps(body)[:2000])
        try:
            r = await self._http().post("/chat/completions", json=body)
        except httpx.TimeoutException:
            raise _Retryable(f"timeout after {self.timeout_s:g}s") from None
        except httpx.ConnectError as e:
            raise _Retryable(
                f"cannot connect to {self.base_url} ({_short(e)})", refused=1
            ) from None
        except httpx.TransportError as e:
            raise _Retryable(f"connection broken mid-response ({type(e).__name__})") from None
        if r.status_code >= 400 and req.logprobs and self._logprobs and "logprob" in r.text[:2000]:
            # e.g. llama-cpp-python's server without logits_all: a 500 naming logprobs
            raise _NoLogprobs(f"HTTP {r.status_code}: {_first_line(r.text)}")
        if r.status_code >= 400 and req.json_schema and mode != "none":
            # a server that does not take this way of asking for JSON says so in a 400/422
            # (llama-cpp-python's server: a 500 naming response_format)
            if r.status_code in (400, 422, 500) and any(
                w in r.text[:2000] for w in ("response_format", "json_schema", "guided_json")
            ):
                raise _Unsupported(f"HTTP {r.status_code} for structured output mode {mode}")
        if r.status_code == 429 or r.status_code >= 500:
            raise _Retryable(f"HTTP {r.status_code}", retry_after=_retry_after(r))
        if r.status_code >= 400:
            raise CallFailed(f"HTTP {r.status_code}: {_first_line(r.text)}", retryable=False)
        try:
            data = r.json()
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise _Retryable("malformed response body (not an OpenAI chat completion)") from None
        usage = data.get("usage") or {}
        extra: dict[str, Any] = {"structured_output": mode} if req.json_schema else {}
        if choice.get("logprobs"):
            extra["logprobs"] = choice["logprobs"]
        return ChatResponse(
            text=text,
            finish_reason=choice.get("finish_reason") or "stop",
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            extra=extra,
        )

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def close(self) -> None:
        """Nothing to do outside the event loop: ``aclose`` closes the connections."""
        self._client = None


class _Retryable(Exception):
    def __init__(self, message: str, refused: int = 0, retry_after: float | None = None):
        super().__init__(message)
        self.refused = refused
        self.retry_after = retry_after


class _Unsupported(Exception):
    pass


class _NoLogprobs(Exception):
    """The server refuses top logprobs (it answers the same request without them)."""


def _retry_after(r: httpx.Response) -> float | None:
    try:
        return float(r.headers["retry-after"])
    except (KeyError, ValueError):
        return None


def _short(e: Exception) -> str:
    return _first_line(str(e)) or type(e).__name__


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:200] if text.strip() else ""
