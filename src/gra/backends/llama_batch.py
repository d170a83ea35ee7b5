"""Embedded backend that decodes several requests together (llama.cpp batched decoding).

One worker thread owns a llama context with ``n_parallel`` independent sequences
and runs a continuous-batching loop:

* waiting requests are admitted while a sequence slot is free; their prompts are
  formatted and tokenized exactly as ``Llama.create_chat_completion`` does;
* each step builds ONE ``llama_decode`` batch holding the last sampled token of
  every generating sequence plus as many prompt tokens of newly admitted ones as
  fit in ``n_batch``;
* every sequence then samples from its own row of logits with its own sampler
  chain (grammar, top-k/top-p/min-p, temperature, seeded dist; greedy at
  temperature 0), the same chain llama-cpp-python builds for one request;
* a finished sequence's KV cells are cleared and its slot reused at once.

On a CPU, decoding one token at a time leaves most of the arithmetic units idle
waiting for weights; a batch of tokens reuses each weight row for every
sequence, so total tokens/s grows with the number of active sequences until the
matrix multiplications become compute bound.

Each sequence has its own KV stream (``kv_unified=False``), so its attention
only sees its own cells at the same cell positions as in a one-sequence context.
With this, a sequence's logits do not depend on what else is in the batch, and
with flash attention off (as ``Llama`` uses it) they equal ``LlamaCppBackend``'s:
greedy and same-seed sampled outputs match token for token on the CPU build.
"""

from __future__ import annotations

import asyncio
import collections
import ctypes
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from ..errors import ModelUnavailable
from .base import CallFailed, ChatRequest, ChatResponse

# The sampler settings ``Llama.create_chat_completion`` uses when not told otherwise
# (and so ``LlamaCppBackend`` uses); kept identical so both embedded backends draw
# from the same distribution and a seed means the same thing on either.
TOP_K = 40
MIN_P = 0.05

_PIECE_BUF = 64  # bytes; the longest token piece in common vocabularies is far shorter


@dataclass
class _Job:
    """A request waiting for, or holding, a sequence slot."""

    request: ChatRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[ChatResponse]


@dataclass
class _Seq:
    """One request being answered in sequence slot ``seq_id``."""

    job: _Job
    seq_id: int
    prompt: list[int]
    max_tokens: int
    stop: list[bytes]  # stop strings from the chat format (e.g. the EOS token's text)
    sampler: Any  # llama_sampler_p, freed by the worker
    admitted: float
    n_past: int = 0  # tokens of this sequence already in the KV cache
    next_token: int = -1  # sampled but not yet decoded; -1 while reading the prompt
    logits_row: int = -1  # batch index of this sequence's last token in the current batch
    completion: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)  # pieces of ``completion``
    stop_checked: int = 0  # bytes of ``text`` already searched for stop strings
    utf8_pending: int = 0  # create_completion's ``multibyte_fix`` counter


class _PromptReady(Exception):
    """Raised by ``_FormatOnly.create_completion`` to hand the chat handler's call back."""

    def __init__(self, kwargs: dict[str, Any]):
        super().__init__("prompt ready")
        self.kwargs = kwargs


class _FormatOnly:
    """Stands in for ``Llama`` inside a llama-cpp-python chat handler.

    A chat handler renders the model's chat template, tokenizes the prompt (deciding
    about BOS), turns ``response_format`` into a grammar and collects stop strings,
    then calls ``llama.create_completion``. Running the model's own handler against
    this stand-in gives us exactly what ``create_chat_completion`` would decode, without
    decoding: ``create_completion`` raises with its arguments instead.
    """

    verbose = False

    def __init__(self, llm: Any):
        self._llm = llm

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return self._llm.tokenize(text, add_bos=add_bos, special=special)

    def create_completion(self, **kwargs: Any) -> NoReturn:
        raise _PromptReady(kwargs)


class BatchedLlamaBackend:
    """A GGUF model answering up to ``n_parallel`` requests at once in one llama context.

    ``n_ctx`` is the context of EACH sequence (prompt plus completion); the context
    allocated holds ``n_ctx * n_parallel`` cells. ``n_batch`` bounds the tokens of one
    ``llama_decode`` call (decode tokens plus prompt chunks); ``flash_attn`` trades
    bit-equality with ``LlamaCppBackend`` for a little speed.
    """

    def __init__(
        self,
        model_id: str,
        path: Path,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_parallel: int = 4,
        *,
        n_batch: int = 512,
        flash_attn: bool = False,
    ):
        try:
            import llama_cpp
            from llama_cpp import Llama, llama_chat_format
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ModelUnavailable(f"llama-cpp-python is not importable ({e})") from None
        if n_parallel < 1:
            raise ValueError("n_parallel must be at least 1")
        self._C = llama_cpp
        self.model_id = model_id
        self.path = path
        self.max_concurrency = n_parallel
        self.n_parallel = n_parallel
        threads = n_threads or os.cpu_count() or 1
        self._n_batch = max(n_batch, n_parallel)
        self._chunk = min(n_batch, n_ctx)  # prompt chunk, as Llama's n_batch = min(n_ctx, 512)
        self._llm: Any = None
        self._ctx: Any = None
        self._batch: Any = None
        try:
            # The high-level object loads the weights (mmapped once), and gives the
            # tokenizer and the chat handler create_chat_completion would use. Its own
            # context is never decoded with, so it is kept tiny.
            self._llm = Llama(
                model_path=str(path),
                n_ctx=256,
                n_batch=64,
                n_threads=threads,
                verbose=False,
            )
            params = llama_cpp.llama_context_default_params()
            # Without kv_unified, llama.cpp splits n_ctx evenly: n_ctx_seq = n_ctx / n_seq_max,
            # each sequence in its own KV stream (attention never scans other sequences).
            params.n_ctx = n_ctx * n_parallel
            params.n_seq_max = n_parallel
            params.kv_unified = False
            params.n_batch = self._n_batch
            params.n_ubatch = self._n_batch
            params.n_threads = threads
            params.n_threads_batch = threads
            params.flash_attn_type = (
                llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
                if flash_attn
                else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
            )
            self._ctx = llama_cpp.llama_init_from_model(self._llm.model, params)
            if not self._ctx:
                raise RuntimeError("llama_init_from_model failed")
        except (ValueError, RuntimeError) as e:
            self._free_native()
            one_line = " ".join(str(e).split())[:200]
            raise ModelUnavailable(
                f"llama.cpp could not load {path}: {one_line}", model_id
            ) from None
        self.n_ctx_seq = int(llama_cpp.llama_n_ctx_seq(self._ctx))
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(self._n_batch, 0, 1)
        self._piece = ctypes.create_string_buffer(_PIECE_BUF)
        # The handler create_chat_completion picks (Llama.create_chat_completion's rule).
        llm = self._llm
        self._handler = (
            llm.chat_handler
            or llm._chat_handlers.get(llm.chat_format)
            or llama_chat_format.get_chat_completion_handler(llm.chat_format)
        )

        self._cond = threading.Condition()
        self._waiting: collections.deque[_Job] = collections.deque()
        self._closing = False
        self._worker = threading.Thread(
            target=self._run, name=f"llama-batch:{model_id}", daemon=True
        )
        self._worker.start()

    # ---- caller side (any thread / event loop) ----------------------------------

    async def chat(self, request: ChatRequest) -> ChatResponse:
        loop = asyncio.get_running_loop()
        job = _Job(request, loop, loop.create_future())
        with self._cond:
            if self._closing:
                raise CallFailed("backend is closed", retryable=False)
            self._waiting.append(job)
            self._cond.notify()
        return await job.future

    def close(self) -> None:
        worker = getattr(self, "_worker", None)
        if worker is None:
            return
        with self._cond:
            self._closing = True
            self._cond.notify()
        worker.join()
        self._worker = None
        self._free_native()

    def _free_native(self) -> None:
        C = self._C
        if self._batch is not None:
            C.llama_batch_free(self._batch)
            self._batch = None
        if self._ctx is not None:
            C.llama_free(self._ctx)
            self._ctx = None
        if self._llm is not None:
            self._llm.close()
            self._llm = None

    # ---- worker thread: the only one touching the llama context -----------------

    def _run(self) -> None:
        active: dict[int, _Seq] = {}  # seq_id -> sequence, in admission order
        try:
            while True:
                with self._cond:
                    while not self._closing and not self._waiting and not active:
                        self._cond.wait()
                    if self._closing:
                        break
                    admitted = []
                    while self._waiting and len(active) + len(admitted) < self.n_parallel:
                        admitted.append(self._waiting.popleft())
                for job in admitted:
                    self._admit(job, active)
                self._drop_cancelled(active)
                if not active:
                    continue
                try:
                    self._step(active)
                except Exception as e:  # not tied to one request: fail the batch, go on
                    err = _failed(e)
                    for seq in list(active.values()):
                        del active[seq.seq_id]
                        self._release(seq)
                        self._resolve(seq.job, err)
        finally:
            closed = CallFailed("backend closed", retryable=True)
            for seq in active.values():
                self._release(seq)
                self._resolve(seq.job, closed)
            with self._cond:
                left, self._waiting = list(self._waiting), collections.deque()
            for job in left:
                self._resolve(job, closed)

    def _admit(self, job: _Job, active: dict[int, _Seq]) -> None:
        if job.future.cancelled():
            return
        t0 = time.perf_counter()
        try:
            seq = self._prepare(job, t0)
        except _TooLong as e:
            self._resolve(
                job,
                ChatResponse(
                    text="",
                    finish_reason="error",
                    prompt_tokens=e.n_prompt,
                    latency_s=time.perf_counter() - t0,
                    extra={"error": str(e)[:300]},
                ),
            )
            return
        except Exception as e:  # a bad template, schema or grammar: this request only
            self._resolve(job, _failed(e))
            return
        seq.seq_id = min(i for i in range(self.n_parallel) if i not in active)
        active[seq.seq_id] = seq

    def _prepare(self, job: _Job, admitted: float) -> _Seq:
        """Format, tokenize and build the sampler for one request (seq_id set by caller)."""
        r = job.request
        kwargs: dict[str, Any] = {
            "llama": _FormatOnly(self._llm),
            "messages": [{"role": role, "content": c} for role, c in r.messages],
        }
        if r.json_schema:
            kwargs["response_format"] = {"type": "json_object", "schema": json.loads(r.json_schema)}
        try:
            self._handler(**kwargs)
        except _PromptReady as ready:
            call = ready.kwargs
        else:
            raise RuntimeError("the chat handler did not produce a prompt")
        prompt = list(call["prompt"])
        if not prompt:
            raise ValueError("the chat template produced an empty prompt")
        if len(prompt) >= self.n_ctx_seq:  # the check and message of Llama._create_completion
            raise _TooLong(
                f"Requested tokens ({len(prompt)}) exceed context window of {self.n_ctx_seq}",
                len(prompt),
            )
        max_tokens = r.max_tokens if r.max_tokens > 0 else self.n_ctx_seq - len(prompt)
        if max_tokens + len(prompt) >= self.n_ctx_seq:
            max_tokens = self.n_ctx_seq - len(prompt)
        stop = call.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        sampler = self._sampler(r, call.get("grammar"))
        return _Seq(
            job=job,
            seq_id=-1,
            prompt=prompt,
            max_tokens=max_tokens,
            stop=[s.encode("utf-8") for s in stop if s],
            sampler=sampler,
            admitted=admitted,
        )

    def _sampler(self, r: ChatRequest, grammar: Any) -> Any:
        """The chain ``Llama._init_sampler`` builds for these settings (penalties are off)."""
        C = self._C
        chain = C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
        if grammar is not None:
            # LlamaGrammar keeps the GBNF text and root rule in these attributes.
            g = C.llama_sampler_init_grammar(
                self._vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
            )
            if not g:
                C.llama_sampler_free(chain)
                raise ValueError("llama.cpp rejected the grammar for the JSON schema")
            C.llama_sampler_chain_add(chain, g)
        if r.temperature < 0:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_dist(r.seed))
        elif r.temperature == 0:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_greedy())
        else:
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_k(TOP_K))
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_top_p(r.top_p, 1))
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_min_p(MIN_P, 1))
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_temp(r.temperature))
            C.llama_sampler_chain_add(chain, C.llama_sampler_init_dist(r.seed))
        return chain

    def _drop_cancelled(self, active: dict[int, _Seq]) -> None:
        # Reading Future.cancelled() from this thread is a benign race: at worst a
        # cancelled request runs one more step.
        for seq in [s for s in active.values() if s.job.future.cancelled()]:
            del active[seq.seq_id]
            self._release(seq)

    def _step(self, active: dict[int, _Seq]) -> None:
        """One round: a token for every generating sequence, then a prompt chunk for
        every sequence still reading its prompt.

        How tokens are grouped matters for the numbers, not just for speed. llama.cpp
        splits a multi-sequence batch into ubatches holding the same number of tokens
        of each sequence (and, without a unified KV cache, only consecutive sequence
        ids), and a token evaluated as its sequence's only token in a ubatch takes
        other CPU kernels (vector dot products instead of tiled GEMM) than one among
        several, which rounds differently; through 4-bit activations that can change
        logits by ~0.5. ``Llama`` decodes a generated token alone and a prompt in
        chunks of ``n_batch``. So we do the same: all generating sequences together,
        one token each (in seq-id order, which keeps them in as few ubatches as
        possible), and each prompt chunk in a llama_decode of its own. A sequence's
        logits are then bit-identical to a one-sequence context's, whatever else runs.
        """
        generating = sorted(
            (s for s in active.values() if s.next_token >= 0), key=lambda s: s.seq_id
        )
        if generating:
            self._decode(active, [(s, [s.next_token]) for s in generating])
        for seq in [s for s in active.values() if s.next_token < 0]:
            self._decode(active, [(seq, seq.prompt[seq.n_past : seq.n_past + self._chunk])])

    def _decode(self, active: dict[int, _Seq], items: list[tuple[_Seq, list[int]]]) -> None:
        """Evaluate ``tokens`` for each ``(sequence, tokens)`` in one llama_decode, then
        sample the sequences whose prompt is now complete (or that are generating)."""
        C, b = self._C, self._batch
        n = 0
        for seq, tokens in items:
            for j, token in enumerate(tokens):
                b.token[n] = token
                b.pos[n] = seq.n_past + j
                b.n_seq_id[n] = 1
                b.seq_id[n][0] = seq.seq_id
                b.logits[n] = j == len(tokens) - 1  # as Llama.eval: each chunk's last token
                n += 1
            seq.logits_row = n - 1
        b.n_tokens = n
        rc = C.llama_decode(self._ctx, b)
        if rc != 0:
            # Not (fully) evaluated: fail the requests in it and free their cells, so the
            # others go on with a clean cache.
            err = CallFailed(f"llama_decode failed (code {rc})", retryable=False)
            for seq, _ in items:
                del active[seq.seq_id]
                self._release(seq)
                self._resolve(seq.job, err)
            return
        for seq, tokens in items:
            seq.n_past += len(tokens)
            seq.next_token = -1
            if seq.n_past < len(seq.prompt):
                continue  # a prompt chunk with more to come
            try:
                reply = self._sample(seq)
            except Exception as e:  # a failure of one request does not stop the others
                reply = _failed(e)
            if reply is not None:
                del active[seq.seq_id]
                self._release(seq)
                self._resolve(seq.job, reply)

    def _sample(self, seq: _Seq) -> ChatResponse | None:
        """Sample this sequence's next token; its response if it is finished, else None.

        Mirrors the stopping rules of ``Llama._create_completion``: end-of-generation
        token (not counted), then (unless the text ends inside a UTF-8 character)
        stop strings, then ``max_tokens``.
        """
        C = self._C
        token = int(C.llama_sampler_sample(seq.sampler, self._ctx, seq.logits_row))
        if C.llama_vocab_is_eog(self._vocab, token):
            return self._finish(seq, "stop")
        seq.completion.append(token)
        n = C.llama_token_to_piece(self._vocab, token, self._piece, _PIECE_BUF, 0, False)
        seq.text += self._piece.raw[: max(n, 0)]
        seq.utf8_pending = _utf8_pending(bytes(seq.text[-3:]), seq.utf8_pending)
        if seq.utf8_pending > 0:
            # create_completion skips the stop and length checks for this token (it
            # would cut a character in half), so may return more than max_tokens.
            seq.utf8_pending -= 1
        else:
            if seq.stop:
                longest = max(len(s) for s in seq.stop)
                window = bytes(seq.text[max(0, seq.stop_checked - longest + 1) :])
                seq.stop_checked = len(seq.text)
                if any(s in window for s in seq.stop):
                    return self._finish(seq, "stop", stopped=True)
            if len(seq.completion) >= seq.max_tokens:
                return self._finish(seq, "length")
        if seq.n_past + 1 >= self.n_ctx_seq:  # no cell left for the next token
            return self._finish(seq, "length")
        seq.next_token = token
        return None

    def _finish(self, seq: _Seq, reason: str, stopped: bool = False) -> ChatResponse:
        text = self._llm.detokenize(seq.completion, prev_tokens=seq.prompt)
        if stopped:  # cut at the first stop string present, as create_completion does
            first = next((s for s in seq.stop if s in text), None)
            if first is not None:
                text = text[: text.index(first)]
        return ChatResponse(
            text=text.decode("utf-8", errors="ignore"),
            finish_reason=reason,
            prompt_tokens=len(seq.prompt),
            completion_tokens=len(seq.completion),
            # Service time: from admission to a sequence slot (after any wait in the
            # queue), the analogue of LlamaCppBackend timing from taking its lock.
            latency_s=time.perf_counter() - seq.admitted,
        )

    def _release(self, seq: _Seq) -> None:
        C = self._C
        if seq.seq_id >= 0:
            C.llama_memory_seq_rm(self._mem, seq.seq_id, -1, -1)
        if seq.sampler is not None:
            C.llama_sampler_free(seq.sampler)
            seq.sampler = None

    @staticmethod
    def _resolve(job: _Job, outcome: ChatResponse | BaseException) -> None:
        """Complete the caller's future from the worker thread."""

        def settle() -> None:
            if job.future.done():  # cancelled meanwhile
                return
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

        try:
            job.loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the caller's event loop is closed: nobody is waiting
            pass


class _TooLong(Exception):
    def __init__(self, message: str, n_prompt: int):
        super().__init__(message)
        self.n_prompt = n_prompt


def _failed(e: BaseException) -> CallFailed:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return CallFailed(f"{type(e).__name__}: {first[:200]}", retryable=False)


def _utf8_pending(tail: bytes, pending: int) -> int:
    """``Llama._create_completion``'s incomplete-UTF-8 test on the text's last 3 bytes.

    Copied rule for rule (quirks included) so both embedded backends stop on the
    same token: a lead byte of an n-byte character k bytes from the end, with
    n > k, sets the counter to n - k.
    """
    for i, byte in enumerate(tail):
        k = 3 - i
        for num, pattern in ((2, 0xC0), (3, 0xE0), (4, 0xF0)):
            if num > k and byte & pattern == pattern:
                pending = num - k
    return pending
