"""IFD's losses from an OpenAI-compatible server that returns prompt logprobs.

One ``/v1/completions`` request per pass: ``echo: true, logprobs: 1, max_tokens: 1,
temperature: 0``; the prompt is the pass's text (``gra.ifd.passes``) and the
response's log-probabilities are the last prompt entries of
``choices[0].logprobs.token_logprobs``. They are found from the end: the echoed
``text_offset`` values are character offsets, so the response starts at the entry
``len(response)`` characters before the end of the prompt (servers disagree on
where offsets start -- llama-cpp-python leaves out special tokens -- but not on
their differences). A token straddling that boundary, or a missing logprob, skips
the pass with its reason; a response tokenized into a different number of tokens
after the instruction than alone makes ``ifd()`` return None.

Formats: ``plain`` sends ``start_text + instruction + "\\n" + response`` and
``start_text + "\\n" + response``; ``start_text`` defaults to the text of the
model's start token when ``tokenizer`` names the model's GGUF (or an embedded model)
and that model adds no BOS itself, and to "" otherwise (the server adds BOS if the
model wants one).
``chat`` needs ``tokenizer``: the chat template is rendered here, as for the
embedded engine, and sent as a raw prompt (special tokens as text; servers parse
them in completion prompts).

llama-cpp-python's server (0.3.x) aligns echoed logprobs with their tokens only
when the prompt starts with the BOS token (otherwise each value is the
probability of a token at its own position): give ``start_text``/``tokenizer`` for
models that do not add BOS (SmolLM2: ``<|im_start|>``). It also returns no logprob
for the first token after BOS, which the plain format's "\\n" absorbs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from gra.core.errors import ModelUnavailable, UserError
from gra.ifd.loss import ResponseLoss
from gra.ifd.passes import (
    SEP,
    SKIP_SINGLE_TOKEN,
    SKIP_TOO_LONG,
    ChatParts,
    chat_parts,
    check_template,
    precheck,
    start_token,
)

SKIP_NO_BOUNDARY = "response boundary inside a server token"
SKIP_NO_LOGPROB = "server gave no logprob for a response token"


def _vocab_llm(spec: str) -> Any:
    """A vocabulary-only Llama for a model spec (weights are not loaded)."""
    from llama_cpp import Llama

    from gra.models.registry import resolve

    path = resolve(spec)
    try:
        return Llama(model_path=str(path), vocab_only=True, verbose=False)
    except (ValueError, RuntimeError) as e:
        raise ModelUnavailable(f"cannot read the tokenizer of {path}: {e}", where=spec) from None


def _start_text(llm: Any) -> str:
    """The text of the plain format's start token, for the server to parse, unless the
    model adds BOS itself (then the server does, as llama.cpp does here)."""
    import llama_cpp

    if llama_cpp.llama_vocab_get_add_bos(llama_cpp.llama_model_get_vocab(llm.model)):
        return ""
    start = start_token(llm)
    return llm.detokenize(start, special=True).decode("utf-8") if start else ""


class ServerScorer:
    def __init__(
        self,
        base_url: str,
        *,
        model: str = "",
        template: str = "plain",
        api_key_env: str = "",
        start_text: str | None = None,
        tokenizer: str = "",
        concurrency: int = 4,
        timeout_s: float = 120.0,
        max_retries: int = 3,
    ):
        from gra.config import ModelSettings
        from gra.models.loading import model_id

        self.base_url = base_url.rstrip("/")
        self.model = model
        self.template = check_template(template)
        self.model_id = model_id(
            ModelSettings(backend="openai", base_url=self.base_url, model=model)
        )
        self.numerics = ""
        self.n_ctx: int | None = None
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.requests = 0  # HTTP requests sent (tests)
        self._parts: ChatParts | None = None
        llm = _vocab_llm(tokenizer) if tokenizer else None
        try:
            if template == "chat":
                if llm is None:
                    raise UserError(
                        "template 'chat' with a server needs tokenizer= (the model's GGUF or "
                        "embedded name) to render its chat template; or use template 'plain'"
                    )
                self._parts = chat_parts(llm)
            if start_text is None:
                start_text = _start_text(llm) if llm is not None else ""
            self.start_text = start_text
        finally:
            if llm is not None:
                llm.close()
        headers = {}
        if api_key_env:
            key = os.environ.get(api_key_env)
            if not key:
                raise ModelUnavailable(
                    f"environment variable {api_key_env} is not set; export it with the API key"
                )
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s)

    def prompt(self, instruction: str | None, response: str) -> str:
        if self._parts is not None:
            p = self._parts
            prefix = p.direct if instruction is None else p.head + instruction + p.mid
            return prefix + response
        return self.start_text + (instruction or "") + SEP + response

    def losses(self, items: Sequence[tuple[str | None, str]]) -> list[ResponseLoss]:
        if self.concurrency == 1 or len(items) <= 1:
            return [self._one(ins, resp) for ins, resp in items]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(lambda it: self._one(*it), items))

    def _one(self, instruction: str | None, response: str) -> ResponseLoss:
        reason = precheck(instruction, response)
        if reason:
            return ResponseLoss.skipped(reason)
        body = {
            "prompt": self.prompt(instruction, response),
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        if self.model:
            body["model"] = self.model
        data = self._post(body)
        if isinstance(data, str):
            return ResponseLoss.skipped(data)
        return _response_loss(data, response)

    def _post(self, body: dict[str, Any]) -> dict[str, Any] | str:
        """The JSON reply, or a "longer than the context" skip reason."""
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(min(8.0, 0.5 * 2**attempt))
            self.requests += 1
            try:
                r = self._client.post("/completions", json=body)
            except httpx.HTTPError as e:
                last = f"{type(e).__name__}: {e}"
                continue
            if r.status_code == 200:
                try:
                    return r.json()
                except ValueError:
                    last = "a reply that is not JSON"
                    continue
            text = r.text[:300]
            if r.status_code in (400, 413, 422) and "context" in text.lower():
                return f"{SKIP_TOO_LONG}: the server refused it ({' '.join(text.split())[:120]})"
            if r.status_code == 429 or r.status_code >= 500:
                last = f"HTTP {r.status_code}"
                continue
            raise UserError(f"HTTP {r.status_code}: {' '.join(text.split())[:200]}", self.base_url)
        raise UserError(
            f"no usable reply after {self.max_retries + 1} tries ({last})", where=self.base_url
        )

    def close(self) -> None:
        self._client.close()


def _response_loss(data: dict[str, Any], response: str) -> ResponseLoss:
    """The response's tokens' losses from an echoed /v1/completions reply."""
    try:
        choice = data["choices"][0]
        lp = choice["logprobs"]
        offsets: list[int] = list(lp["text_offset"])
        values: list[float | None] = list(lp["token_logprobs"])
        pieces: list[str] = list(lp["tokens"])
    except (KeyError, IndexError, TypeError):
        raise UserError("the server's reply has no echoed logprobs (echo + logprobs)") from None
    usage = data.get("usage") or {}
    generated = int(usage.get("completion_tokens") or 0)
    m = len(values) - generated  # prompt entries
    if m <= 0:
        return ResponseLoss.skipped(SKIP_NO_BOUNDARY)
    end = offsets[m] if generated and m < len(offsets) else offsets[m - 1] + len(pieces[m - 1])
    start = end - len(response)
    first = next((i for i in range(m) if offsets[i] >= start), m)
    if first >= m or offsets[first] != start:
        return ResponseLoss.skipped(SKIP_NO_BOUNDARY)
    scored = values[first:m]
    if len(scored) < 2:
        return ResponseLoss.skipped(SKIP_SINGLE_TOKEN)
    if any(v is None for v in scored):
        return ResponseLoss.skipped(SKIP_NO_LOGPROB)
    return ResponseLoss(len(scored), -float(sum(float(v) for v in scored if v is not None)))
