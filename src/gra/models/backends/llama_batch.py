"""Embedded backend that decodes several requests together (llama.cpp batched decoding).

One worker thread owns a llama context holding ``n_parallel`` sequences, each in its
own KV stream, and runs a continuous-batching loop. Each round it

* admits waiting requests into free sequence slots; their prompts are formatted and
  tokenized by llama-cpp-python's own chat handler, exactly as
  ``Llama.create_chat_completion`` does;
* decodes one token for every generating sequence in ONE ``llama_decode`` call, then
  evaluates a prompt chunk for each newly admitted sequence;
* samples each sequence from its own logits with its own sampler chain (the chain
  ``Llama`` builds for one request: JSON-schema grammar, top-k/top-p/min-p,
  temperature, seeded dist; greedy at temperature 0);
* answers finished sequences (end-of-generation token, stop string or max_tokens) and
  frees their slot for the next request.

Why it is faster: on a CPU a one-token decode streams every weight for a single dot
product per row; a batch of tokens reuses each weight row for all sequences, so the
total tokens/s grows with the number of sequences until the multiplications become
compute bound (see ``benchmarks/embedded_batching.py``).

Numerics: with the grouping rules of ``_step``, a sequence's logits are bit-identical
to a one-sequence context's (so to ``LlamaCppBackend``'s, greedy and same-seed outputs
included) whatever else is in the batch -- provided the model's weight matrices take
the same CPU kernel for one token as for several. SmolLM2 (Q4_1) does. Qwen2.5
(Q5_0/Q8_0 matrices, which get llamafile's tiled GEMM only from 2 tokens up) does not:
its batched outputs are close to, but not the same as, one-at-a-time outputs, and a
sequence's tokens depend (in rounding) on whether it was decoded alone or with others.
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

import numpy as np

from gra.core.errors import ModelUnavailable
from gra.models.backends.base import CallFailed, ChatRequest, ChatResponse
from gra.models.backends.logprobs import as_extra, token_entry
from gra.models.backends.native import load_weights

# Sampler settings ``Llama.create_chat_completion`` uses when not told otherwise (and
# so ``LlamaCppBackend`` uses): the same here, so a seed means the same on both.
TOP_K = 40
MIN_P = 0.05

# Copy another slot's KV stream only if that saves evaluating at least this many
# prompt tokens (a copy moves the whole stream: n_ctx cells of every layer).
_MIN_COPY_TOKENS = 16

_PIECE_BUF = 64  # bytes; the longest token piece in common vocabularies is far shorter


@dataclass
class _Job:
    """A request waiting for a sequence slot."""

    request: ChatRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[ChatResponse]


@dataclass
class _Seq:
    """A request being answered in sequence slot ``seq_id``."""

    job: _Job
    prompt: list[int]
    max_tokens: int
    stop: list[bytes]  # stop strings from the chat format (e.g. the EOS token's text)
    sampler: Any  # llama_sampler_p, freed by the worker
    admitted: float
    seq_id: int = -1
    started: bool = False  # whether prompt evaluation has begun (prefix reuse decided)
    n_past: int = 0  # tokens of this sequence in the KV cache
    next_token: int = -1  # sampled, not yet decoded; -1 while the prompt is evaluated
    logits_row: int = -1  # batch index of this sequence's last token in the current batch
    completion: list[int] = field(default_factory=list)
    text: bytearray = field(default_factory=bytearray)  # pieces of ``completion``
    stop_checked: int = 0  # bytes of ``text`` already searched for stop strings
    utf8_pending: int = 0  # create_completion's ``multibyte_fix`` counter
    logprobs: list[dict[str, Any]] = field(default_factory=list)  # when the request asks


class PromptReady(Exception):
    """Raised by ``FormatOnly.create_completion`` to hand back the handler's call."""

    def __init__(self, kwargs: dict[str, Any]):
        super().__init__("prompt ready")
        self.kwargs = kwargs


class FormatOnly:
    """Stands in for ``Llama`` inside a llama-cpp-python chat handler.

    A chat handler renders the model's chat template, tokenizes the prompt (deciding
    about BOS), turns ``response_format`` into a grammar and collects stop strings,
    then calls ``llama.create_completion``. Running the model's own handler against
    this stand-in yields exactly what ``create_chat_completion`` would evaluate:
    ``create_completion`` raises with its arguments instead of decoding.
    """

    verbose = False

    def __init__(self, llm: Any):
        self._llm = llm

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        return self._llm.tokenize(text, add_bos=add_bos, special=special)

    def create_completion(self, **kwargs: Any) -> NoReturn:
        raise PromptReady(kwargs)


class _TooLong(Exception):
    def __init__(self, message: str, n_prompt: int):
        super().__init__(message)
        self.n_prompt = n_prompt


class BatchedLlamaBackend:
    """A GGUF model answering up to ``n_parallel`` requests at once in one llama context.

    ``n_ctx`` is the context of EACH sequence (prompt plus completion): the context
    holds ``n_ctx * n_parallel`` cells. ``n_batch`` is the prompt chunk size and the
    largest llama_decode (as in ``Llama``). ``flash_attn`` is off by default, as in
    ``Llama``: then outputs are bit-identical to ``Llama``'s for SmolLM2. gra's config
    turns it on for both embedded backends (``models.NAME.flash_attn``): decoding is
    faster on a CPU, batched or not, but the flash-attention kernel rounds differently
    when several sequences share a step, so long answers drift from ``Llama``'s (19
    of 32 256-token answers identical in one measurement, 48 of 48 128-token ones).
    """

    def __init__(
        self,
        model_id: str,
        path: Path,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_parallel: int = 8,
        *,
        n_batch: int = 512,
        flash_attn: bool = False,
        extra_buffers: bool = True,
    ):
        try:
            import llama_cpp
            from llama_cpp import llama_chat_format
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ModelUnavailable(f"llama-cpp-python is not importable ({e})") from None
        if n_parallel < 1:
            raise ValueError("n_parallel must be at least 1")
        self._C = llama_cpp
        self.model_id = model_id
        self.path = path
        self.n_parallel = n_parallel
        self.max_concurrency = n_parallel
        threads = n_threads or os.cpu_count() or 1
        self._chunk = min(n_batch, n_ctx)  # Llama's n_batch is min(n_ctx, n_batch) too
        batch_size = max(self._chunk, n_parallel)
        self._llm: Any = None
        self._ctx: Any = None
        self._batch: Any = None
        try:
            self._llm = load_weights(path, threads, extra_buffers=extra_buffers)
            params = llama_cpp.llama_context_default_params()
            # Without kv_unified, llama.cpp gives each of the n_seq_max sequences its own
            # KV stream of n_ctx / n_seq_max cells: attention never scans other sequences
            # and a sequence's cells sit where they would in a one-sequence context.
            params.n_ctx = n_ctx * n_parallel
            params.n_seq_max = n_parallel
            params.kv_unified = False
            params.n_batch = params.n_ubatch = batch_size
            params.n_threads = params.n_threads_batch = threads
            params.flash_attn_type = flash_attn_type(llama_cpp, flash_attn)
            self._ctx = llama_cpp.llama_init_from_model(self._llm.model, params)
            if not self._ctx:
                raise RuntimeError(f"cannot allocate a context for {n_parallel} x {n_ctx} tokens")
        except (ValueError, RuntimeError) as e:
            self._free_native()
            one_line = " ".join(str(e).split())[:200]
            raise ModelUnavailable(
                f"llama.cpp could not load {path}: {one_line}", model_id
            ) from None
        self.n_ctx_seq = int(llama_cpp.llama_n_ctx_seq(self._ctx))
        self._vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(batch_size, 0, 1)
        self._piece = ctypes.create_string_buffer(_PIECE_BUF)
        llm = self._llm  # the handler Llama.create_chat_completion would pick:
        self._handler = (
            llm.chat_handler
            or llm._chat_handlers.get(llm.chat_format)
            or llama_chat_format.get_chat_completion_handler(llm.chat_format)
        )
        # Per slot, the prompt tokens whose evaluated KV cells it holds (worker only).
        self._cached: list[list[int]] = [[] for _ in range(n_parallel)]

        self._cond = threading.Condition()
        self._waiting: collections.deque[_Job] = collections.deque()
        self._closing = False
        self._worker: threading.Thread | None = threading.Thread(
            target=self._run, name=f"llama-batch:{model_id}", daemon=True
        )
        self._worker.start()

    # ---- caller side -------------------------------------------------------------

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
        """Stop the worker (requests still queued or running fail), free the model."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if self._worker is not None:
            self._worker.join()
            self._worker = None
        self._free_native()

    def _free_native(self) -> None:
        free_native(self._C, self._batch, self._ctx, self._llm)
        self._batch = self._ctx = self._llm = None

    # ---- worker thread: the only one touching the llama context -------------------

    def _run(self) -> None:
        active: dict[int, _Seq] = {}  # seq_id -> sequence
        try:
            while True:
                with self._cond:
                    while not self._closing and not self._waiting and not active:
                        self._cond.wait()
                    if self._closing:
                        return
                    n_free = self.n_parallel - len(active)
                    admitted = [
                        self._waiting.popleft() for _ in range(min(n_free, len(self._waiting)))
                    ]
                for job in admitted:
                    self._admit(job, active)
                for seq in [s for s in active.values() if s.job.future.cancelled()]:
                    # Reading Future.cancelled() here is a benign race: at worst a
                    # cancelled request runs one more round.
                    self._retire(seq, active, None)
                if not active:
                    continue
                try:
                    self._step(active)
                except Exception as e:  # not tied to one request: fail those running
                    err = _failed(e)
                    for seq in list(active.values()):
                        self._retire(seq, active, err)
        finally:
            closed = CallFailed("backend closed", retryable=True)
            for seq in list(active.values()):
                self._retire(seq, active, closed)
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
            reply = ChatResponse(
                text="",
                finish_reason="error",
                prompt_tokens=e.n_prompt,
                latency_s=time.perf_counter() - t0,
                extra={"error": str(e)[:300]},
            )
            self._resolve(job, reply)
            return
        except Exception as e:  # a bad template, schema or grammar: this request only
            self._resolve(job, _failed(e))
            return
        # The lowest free slot: generating ids are best kept consecutive (_compact). A
        # prefix of the prompt held by another slot is copied over in _reuse_prefix.
        seq.seq_id = min(i for i in range(self.n_parallel) if i not in active)
        active[seq.seq_id] = seq

    def _prepare(self, job: _Job, admitted: float) -> _Seq:
        """Format, tokenize and build the sampler for one request."""
        r = job.request
        kwargs: dict[str, Any] = {
            "llama": FormatOnly(self._llm),
            "messages": [{"role": role, "content": c} for role, c in r.messages],
        }
        if r.json_schema:
            kwargs["response_format"] = {"type": "json_object", "schema": json.loads(r.json_schema)}
        try:
            self._handler(**kwargs)
        except PromptReady as ready:
            call = ready.kwargs
        else:
            raise RuntimeError("the chat handler did not produce a prompt")
        prompt = list(call["prompt"])
        if not prompt:
            raise ValueError("the chat template produced an empty prompt")
        if len(prompt) >= self.n_ctx_seq:  # Llama._create_completion's check and message
            raise _TooLong(
                f"Requested tokens ({len(prompt)}) exceed context window of {self.n_ctx_seq}",
                len(prompt),
            )
        max_tokens = r.max_tokens if r.max_tokens > 0 else self.n_ctx_seq - len(prompt)
        if max_tokens + len(prompt) >= self.n_ctx_seq:
            max_tokens = self.n_ctx_seq - len(prompt)
        stop = call.get("stop") or []
        stop = [stop] if isinstance(stop, str) else stop
        return _Seq(
            job=job,
            prompt=prompt,
            max_tokens=max_tokens,
            stop=[s.encode("utf-8") for s in stop if s],
            sampler=self._sampler(r, call.get("grammar")),
            admitted=admitted,
        )

    def _sampler(self, r: ChatRequest, grammar: Any) -> Any:
        """The chain ``Llama._init_sampler`` builds for these settings (its repetition
        penalties and typical-p are neutral at create_chat_completion's defaults)."""
        C = self._C
        chain = C.llama_sampler_chain_init(C.llama_sampler_chain_default_params())
        if grammar is not None:  # a LlamaGrammar: GBNF text and root rule
            g = C.llama_sampler_init_grammar(
                self._vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
            )
            if not g:
                C.llama_sampler_free(chain)
                raise ValueError("llama.cpp rejected the grammar made from the JSON schema")
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

    def _step(self, active: dict[int, _Seq]) -> None:
        """One round: a token for every generating sequence, then one prompt chunk for
        every sequence still reading its prompt.

        How tokens are grouped matters for the numbers, not just for speed. llama.cpp
        splits a batch into ubatches holding the same number of tokens of each
        sequence (and, without a unified KV cache, only consecutive sequence ids).
        A token that is its sequence's only one in a ubatch goes through other CPU
        kernels than one among several (without flash attention, the f16 attention
        products: a vector dot product for one query, llamafile's tiled GEMM from two
        up); the rounding differs, and through 8-bit activation quantization that
        moved SmolLM2's logits by up to 0.6. ``Llama`` evaluates a prompt in chunks of
        n_batch and each generated token alone. So do we: generating sequences one
        token each, and each prompt chunk in a llama_decode of its own (sharing a
        ubatch with another sequence could cut it into uneven pieces, down to 1).
        """
        self._compact(active)
        generating = sorted(
            (s for s in active.values() if s.next_token >= 0), key=lambda s: s.seq_id
        )
        if generating:
            self._decode(active, [(s, [s.next_token]) for s in generating])
        for seq in [s for s in active.values() if s.next_token < 0]:
            if not seq.started:
                self._reuse_prefix(seq)
                seq.started = True
            # Chunk boundaries at multiples of the chunk size from position 0, as Llama.eval.
            end = min(len(seq.prompt), (seq.n_past // self._chunk + 1) * self._chunk)
            self._decode(active, [(seq, seq.prompt[seq.n_past : end])])

    def _reusable(self, slot: int, prompt: list[int]) -> int:
        """How many leading tokens of ``prompt`` can be kept from ``slot``'s KV cells.

        Like ``Llama.generate`` we reuse the longest common prefix with an earlier
        prompt, but leave at least 2 tokens to evaluate and never a 1-token piece
        before a chunk boundary: a token evaluated alone rounds differently (_step).
        """
        n = 0
        for a, b in zip(self._cached[slot], prompt, strict=False):
            if a != b:
                break
            n += 1
        n = min(n, len(prompt) - 2)
        if n % self._chunk == self._chunk - 1:
            n -= 1
        return max(n, 0)

    def _reuse_prefix(self, seq: _Seq) -> None:
        """Before a sequence's first prompt chunk, keep the evaluated prefix of its prompt
        in its slot, or copy a longer one from another slot (a request admitted in the
        same round, or a finished one's), and drop its other cells."""
        C = self._C
        own = self._reusable(seq.seq_id, seq.prompt)
        src = max(range(self.n_parallel), key=lambda i: self._reusable(i, seq.prompt))
        reuse = self._reusable(src, seq.prompt)
        if src != seq.seq_id and reuse >= own + _MIN_COPY_TOKENS:
            # Copies the whole stream when the next llama_decode starts; that is this
            # sequence's first chunk, so the source is still as it is now.
            C.llama_memory_seq_rm(self._mem, seq.seq_id, -1, -1)
            C.llama_memory_seq_cp(self._mem, src, seq.seq_id, -1, -1)
        else:
            reuse = own
        if not C.llama_memory_seq_rm(self._mem, seq.seq_id, reuse, -1):
            C.llama_memory_seq_rm(self._mem, seq.seq_id, -1, -1)
            reuse = 0
        seq.n_past = reuse
        self._cached[seq.seq_id] = seq.prompt[:reuse]

    def _compact(self, active: dict[int, _Seq]) -> None:
        """Keep the ids of generating sequences consecutive.

        Without a unified KV cache llama.cpp puts only consecutive sequence ids in one
        ubatch, and each ubatch is a full pass over the weights: ids {0, 2, 3} cost two
        passes a step. When a sequence finishes and no request takes its slot, the
        highest generating sequence moves into the hole: its KV stream is copied once
        (bit for bit, inside the next llama_decode) instead of an extra pass per step.
        """
        C = self._C
        while True:
            ids = sorted(s.seq_id for s in active.values() if s.next_token >= 0)
            holes = [i for i in range(ids[0] + 1, ids[-1]) if i not in active] if ids else []
            if not holes:
                return
            seq, dst = active.pop(ids[-1]), holes[0]
            C.llama_memory_seq_rm(self._mem, dst, -1, -1)
            C.llama_memory_seq_cp(self._mem, seq.seq_id, dst, -1, -1)
            C.llama_memory_seq_rm(self._mem, seq.seq_id, -1, -1)
            self._cached[dst], self._cached[seq.seq_id] = self._cached[seq.seq_id], []
            seq.seq_id = dst
            active[dst] = seq

    def _decode(self, active: dict[int, _Seq], items: list[tuple[_Seq, list[int]]]) -> None:
        """Evaluate each ``(sequence, tokens)`` in one llama_decode, then sample every
        sequence whose prompt is complete."""
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
            # Not (fully) evaluated: fail these requests and free their cells; the
            # others go on.
            err = CallFailed(f"llama_decode failed (code {rc})", retryable=False)
            for seq, _ in items:
                self._retire(seq, active, err)
            return
        for seq, tokens in items:
            seq.n_past += len(tokens)
            if seq.next_token < 0:
                self._cached[seq.seq_id] = seq.prompt[: seq.n_past]
                if seq.n_past < len(seq.prompt):
                    continue  # more prompt chunks to come
            try:
                reply = self._sample(seq)
            except Exception as e:  # a failure of one request does not stop the others
                self._retire(seq, active, _failed(e))
                continue
            if reply is not None:
                self._retire(seq, active, reply)

    def _sample(self, seq: _Seq) -> ChatResponse | None:
        """Sample the sequence's next token; its reply if it is finished, else None.

        Stops as ``Llama._create_completion`` does: on an end-of-generation token (not
        counted), then, unless the text ends inside a UTF-8 character, on a stop string
        or at ``max_tokens``.
        """
        C = self._C
        k = seq.job.request.logprobs
        if k:  # the raw logits, read before the sampler chain sees them
            ptr = C.llama_get_logits_ith(self._ctx, seq.logits_row)
            logits = np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()
        token = int(C.llama_sampler_sample(seq.sampler, self._ctx, seq.logits_row))
        if C.llama_vocab_is_eog(self._vocab, token):
            return self._reply(seq, "stop")
        seq.completion.append(token)
        seq.text += self._piece_bytes(token)
        if k:
            seq.logprobs.append(token_entry(logits, token, k, self._piece_text))
        seq.utf8_pending = _utf8_pending(bytes(seq.text[-3:]), seq.utf8_pending)
        if seq.utf8_pending > 0:
            # create_completion skips the stop and length checks for this token (not to
            # cut a character), so it may return more than max_tokens tokens.
            seq.utf8_pending -= 1
        else:
            if seq.stop:
                longest = max(len(s) for s in seq.stop)
                window = bytes(seq.text[max(0, seq.stop_checked - longest + 1) :])
                seq.stop_checked = len(seq.text)
                if any(s in window for s in seq.stop):
                    return self._reply(seq, "stop", stopped=True)
            if len(seq.completion) >= seq.max_tokens:
                return self._reply(seq, "length")
        if seq.n_past + 1 >= self.n_ctx_seq:  # no cell left for the next token
            return self._reply(seq, "length")
        seq.next_token = token
        return None

    def _piece_bytes(self, token: int) -> bytes:
        n = self._C.llama_token_to_piece(self._vocab, token, self._piece, _PIECE_BUF, 0, False)
        return self._piece.raw[: max(n, 0)]

    def _piece_text(self, token: int) -> str:
        return self._piece_bytes(token).decode("utf-8", errors="replace")

    def _reply(self, seq: _Seq, reason: str, stopped: bool = False) -> ChatResponse:
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
            # Service time, from admission to a sequence slot (not counting the wait
            # in the queue): the analogue of LlamaCppBackend timing from its lock.
            latency_s=time.perf_counter() - seq.admitted,
            extra=as_extra(seq.logprobs) if seq.job.request.logprobs else {},
        )

    def _retire(
        self, seq: _Seq, active: dict[int, _Seq], outcome: ChatResponse | BaseException | None
    ) -> None:
        """Take a sequence out of its slot and settle its caller's future (``None``:
        cancelled, nobody waits). After a normal reply the prompt's cells stay, for a
        later request sharing a prefix; generated tokens' cells never do (evaluated one
        at a time, they differ in rounding from the same text evaluated in a prompt)."""
        C = self._C
        active.pop(seq.seq_id, None)
        keep = len(seq.prompt) if isinstance(outcome, ChatResponse) else 0
        C.llama_memory_seq_rm(self._mem, seq.seq_id, keep, -1)
        self._cached[seq.seq_id] = seq.prompt[:keep]
        if seq.sampler is not None:
            C.llama_sampler_free(seq.sampler)
            seq.sampler = None
        if outcome is not None:
            self._resolve(seq.job, outcome)

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


def flash_attn_type(C: Any, on: bool) -> int:
    """llama.cpp's context setting for flash attention on or off (never "auto")."""
    return C.LLAMA_FLASH_ATTN_TYPE_ENABLED if on else C.LLAMA_FLASH_ATTN_TYPE_DISABLED


def free_native(C: Any, batch: Any, ctx: Any, llm: Any) -> None:
    """Free a llama batch, then its context, then close the ``Llama`` holding the
    weights (each may be None: a constructor that failed half-way)."""
    if batch is not None:
        C.llama_batch_free(batch)
    if ctx is not None:
        C.llama_free(ctx)
    if llm is not None:
        llm.close()


def _failed(e: BaseException) -> CallFailed:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return CallFailed(f"{type(e).__name__}: {first[:200]}", retryable=False)


def _utf8_pending(tail: bytes, pending: int) -> int:
    """``Llama._create_completion``'s incomplete-UTF-8 test on the text's last 3 bytes.

    Copied rule for rule (quirks included) so both embedded backends stop on the same
    token: a lead byte of an n-byte character k bytes from the end (n > k) sets the
    counter to n - k.
    """
    for i, byte in enumerate(tail):
        k = 3 - i
        for num, pattern in ((2, 0xC0), (3, 0xE0), (4, 0xF0)):
            if num > k and byte & pattern == pattern:
                pending = num - k
    return pending
