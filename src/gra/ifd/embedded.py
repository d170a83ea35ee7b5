"""IFD's losses from an embedded GGUF model: llama.cpp's low-level API, batched.

Passes are packed into rounds (up to ``n_batch`` new cells and ``max_seqs`` passes,
each its own sequence id in one unified KV cache); logits are computed only at the
positions that predict response tokens (the last response token is never even
evaluated), and shared prefixes are evaluated once:

* *anchors*: the prefix every conditioned pass starts with (the chat template's
  system part and user header; the start token in plain) and the whole prefix of
  every direct pass stay in the cache for the scorer's lifetime; a pass takes their
  cells (``llama_memory_seq_cp``: in a unified cache that only tags cells) and is
  evaluated from where it differs (at the latest from the token that predicts its
  first response token);
* *within a round* passes are sorted by tokens and a pass shares the cells of its
  common prefix with the one before it (one cell, several sequence ids): the same
  instruction with several responses is evaluated once.

Numbers. llama.cpp's CPU flash-attention kernel computes each query row on its own
while a ubatch holds fewer than 64 tokens; from 64 on it switches to a kernel whose
rounding depends on the ubatch (SmolLM2's logits move by up to ~0.7, IFD values by
1-5 %). So every llama_decode here holds at most ``n_ubatch`` (48) cells, cut by us
into spans of nearly equal size (a 1-token ubatch at the end of a longer decode
also rounded differently with 2 threads). With flash attention (gra's default) and
SmolLM2's Q4_1 weights, a pass then gets the very logits of one-token-at-a-time
evaluation, bit for bit, whatever else is in its round (tests/test_ifd.py checks
both). Without flash attention one query and several take different attention
kernels (up to ~1 in a logit). Weight types that llamafile's tiled GEMM takes
(Q8_0, Q5_0, Q4_0: the embedded Qwen2.5) round differently for different ubatch
sizes whatever we do: measured on Qwen2.5-Coder-0.5B, IFD within ~1e-2 of
token-by-token evaluation and within ~3e-3 between two batch compositions.

A pass's cells lie in position order (anchor cells first, then cells placed in
round order), so the kernel accumulates keys in the same order as in a
one-sequence context.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gra.core.errors import ModelUnavailable
from gra.ifd.passes import Prepared, TokenLayout, check_template
from gra.models.backends.llama_batch import flash_attn_type, free_native
from gra.models.backends.native import load_weights

# llama.cpp's LLAMA_MAX_SEQ is 256; anchors take two ids.
MAX_SEQS = 254
# Cells per llama_decode: below 64, where llama.cpp's CPU flash attention switches
# to a kernel whose rounding depends on the ubatch (see the module docstring).
UBATCH = 48


@dataclass
class _Pass:
    """A prepared pass being evaluated."""

    prep: Prepared
    anchor_len: int = 0  # leading tokens whose cells come from the anchor
    shared: int = 0  # leading tokens whose cells are the previous pass's (same batch)
    seq: int = -1
    sum_nll: float = 0.0

    @property
    def n_eval(self) -> int:
        """Tokens evaluated (the last response token is only a target)."""
        return len(self.prep.tokens) - 1

    @property
    def first_out(self) -> int:
        """First position whose logits are needed (it predicts the first response token)."""
        return len(self.prep.tokens) - 1 - self.prep.n_score


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def log_sum_exp(rows: np.ndarray) -> np.ndarray:
    """log(sum(exp(row))) of each float32 logits row over the full vocabulary, with
    float64 sums; -log p(t) = lse - row[t]."""
    out = np.empty(len(rows), dtype=np.float64)
    for s in range(0, len(rows), 32):
        r = rows[s : s + 32]
        m = r.max(axis=1)
        e = np.exp(r - m[:, None])
        out[s : s + 32] = m.astype(np.float64) + np.log(e.sum(axis=1, dtype=np.float64))
    return out


class EmbeddedEngine:
    """One GGUF model, one llama context; scores prepared passes (not thread-safe)."""

    def __init__(
        self,
        path: Path,
        template: str,
        n_ctx: int = 2048,
        *,
        n_batch: int = 512,
        n_ubatch: int = UBATCH,
        n_threads: int = 0,
        flash_attn: bool = True,
        max_seqs: int = 64,
        extra_buffers: bool = True,
    ):
        try:
            import llama_cpp
        except ImportError as e:  # pragma: no cover - a declared dependency
            raise ModelUnavailable(f"llama-cpp-python is not importable ({e})") from None
        self._C = llama_cpp
        threads = n_threads or os.cpu_count() or 1
        self.n_batch = n_batch
        self.max_seqs = max(1, min(max_seqs, MAX_SEQS))
        self._llm: Any = None
        self._ctx: Any = None
        self._batch: Any = None
        try:
            self._llm = load_weights(path, threads, extra_buffers=extra_buffers)
            self.layout = TokenLayout(self._llm, check_template(template), n_ctx)
            n_anchor = sum(len(a) for a in self.layout.anchors)
            params = llama_cpp.llama_context_default_params()
            # One unified cache: anchors, then at most one batch of passes (n_batch new
            # cells), or one long pass evaluated alone (n_ctx).
            params.n_ctx = n_anchor + max(n_ctx, n_batch) + 1
            params.n_seq_max = self.max_seqs + len(self.layout.anchors)
            params.kv_unified = True
            # We cut every round into llama_decode calls of at most n_ubatch cells
            # ourselves (_spans), so llama.cpp never splits one further.
            # (llama.cpp wants n_batch >= n_seq_max.)
            self.n_ubatch = max(2, n_ubatch)
            params.n_ubatch = self.n_ubatch
            params.n_batch = max(self.n_ubatch, params.n_seq_max)
            params.n_threads = params.n_threads_batch = threads
            params.flash_attn_type = flash_attn_type(llama_cpp, flash_attn)
            self._ctx = llama_cpp.llama_init_from_model(self._llm.model, params)
            if not self._ctx:
                raise RuntimeError("cannot allocate a llama context")
        except (ValueError, RuntimeError) as e:
            self.close()
            one_line = " ".join(str(e).split())[:200]
            raise ModelUnavailable(f"llama.cpp could not load {path}: {one_line}") from None
        vocab = llama_cpp.llama_model_get_vocab(self._llm.model)
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
        self._mem = llama_cpp.llama_get_memory(self._ctx)
        self._batch = llama_cpp.llama_batch_init(self.n_ubatch, 0, params.n_seq_max)
        # Counters for tests and the benchmark: llama_decode calls, cells evaluated,
        # logits rows read, seconds inside llama_decode and in the numpy log-softmax.
        self.decode_calls = 0
        self.tokens_evaluated = 0
        self.logits_rows = 0
        self.decode_s = 0.0
        self.softmax_s = 0.0
        # (pass, position of the scored token, its nll) of every scored token, if a list
        self.trace: list[tuple[Prepared, int, float]] | None = None
        # The anchors go first into the empty cache: their cells precede every pass's.
        for k, tokens in enumerate(self.layout.anchors):
            for s, e in self._spans(len(tokens)):
                self._decode([(tokens[p], p, (k,), False) for p in range(s, e)])

    def close(self) -> None:
        free_native(self._C, self._batch, self._ctx, self._llm)
        self._batch = self._ctx = self._llm = None

    # ---- scoring ------------------------------------------------------------------

    def score(self, preps: Sequence[Prepared]) -> list[tuple[int, float]]:
        """(n_tokens, sum_nll) of each prepared pass, in order."""
        passes = [_Pass(p) for p in preps]
        order = sorted(range(len(passes)), key=lambda i: (preps[i].anchor, preps[i].tokens))
        batch: list[_Pass] = []
        n_new = 0
        for i in order:
            ps = passes[i]
            self._plan_anchor(ps)
            prev = batch[-1] if batch else None
            share = self._sharable(prev, ps) if prev is not None else 0
            new = ps.n_eval - max(ps.anchor_len, share)
            if batch and (n_new + new > self.n_batch or len(batch) >= self.max_seqs):
                self._run(batch)
                batch, n_new = [], 0
                share, new = 0, ps.n_eval - ps.anchor_len
            if new > self.n_batch:  # a long pass: alone, in chunks
                self._run([ps])
                continue
            ps.shared = share
            batch.append(ps)
            n_new += new
        if batch:
            self._run(batch)
        return [(p.prep.n_score, p.sum_nll) for p in passes]

    def _plan_anchor(self, ps: _Pass) -> None:
        anchor = self.layout.anchors[ps.prep.anchor]
        n = min(_lcp(anchor, ps.prep.tokens), ps.first_out)
        ps.anchor_len = n if n > 0 else 0

    @staticmethod
    def _sharable(prev: _Pass, ps: _Pass) -> int:
        """Leading positions of ``ps`` that can be ``prev``'s cells: the common prefix
        beyond the anchor part, when both take the same anchor part."""
        if prev.prep.anchor != ps.prep.anchor or prev.anchor_len != ps.anchor_len:
            return 0
        n = min(_lcp(prev.prep.tokens, ps.prep.tokens), prev.n_eval, ps.n_eval)
        return n if n > ps.anchor_len else 0

    def _run(self, batch: list[_Pass]) -> None:
        """Evaluate a batch of passes and fill in their sums."""
        C = self._C
        n_anchors = len(self.layout.anchors)
        for j, ps in enumerate(batch):
            ps.seq = n_anchors + j
            if ps.anchor_len:
                C.llama_memory_seq_cp(self._mem, ps.prep.anchor, ps.seq, 0, ps.anchor_len)
        # Cells to evaluate, in batch order: each pass's positions from where its
        # shared part ends, tagged with every later pass sharing that position.
        cells: list[tuple[int, int, tuple[int, ...], bool]] = []
        owners: list[list[int]] = []  # indices into batch, per cell
        for j, ps in enumerate(batch):
            start = max(ps.anchor_len, ps.shared)
            for p in range(start, ps.n_eval):
                group = [j]
                k = j + 1
                while k < len(batch) and batch[k].shared > p:
                    group.append(k)
                    k += 1
                need = any(p >= batch[g].first_out for g in group)
                cells.append((ps.prep.tokens[p], p, tuple(batch[g].seq for g in group), need))
                owners.append(group)
        # Decode in ubatch-sized spans; each logits row once, spread to every pass
        # that shares its cell.
        sums = np.zeros(len(batch), dtype=np.float64)
        for s, e in self._spans(len(cells)):
            chunk = cells[s:e]
            logits = self._decode(chunk)
            row_of, pass_of, target_of, pos_of = [], [], [], []
            r = 0
            for (_, p, _, need), group in zip(chunk, owners[s:e], strict=True):
                if not need:
                    continue
                for g in group:
                    if p >= batch[g].first_out:
                        row_of.append(r)
                        pass_of.append(g)
                        target_of.append(batch[g].prep.tokens[p + 1])
                        pos_of.append(p)
                r += 1
            if r:
                t0 = time.perf_counter()
                lse = log_sum_exp(logits)
                rows = np.asarray(row_of)
                nll = lse[rows] - logits[rows, np.asarray(target_of)].astype(np.float64)
                sums += np.bincount(np.asarray(pass_of), weights=nll, minlength=len(batch))
                self.softmax_s += time.perf_counter() - t0
                if self.trace is not None:
                    for g, p, x in zip(pass_of, pos_of, nll, strict=True):
                        self.trace.append((batch[g].prep, p + 1, float(x)))
        for ps, total in zip(batch, sums, strict=True):
            ps.sum_nll = float(total)
        for ps in batch:
            C.llama_memory_seq_rm(self._mem, ps.seq, -1, -1)

    def _spans(self, n: int) -> list[tuple[int, int]]:
        """[start, end) of the llama_decode calls for n cells: as few as n_ubatch
        allows, of nearly equal size. (Letting llama.cpp split 481 cells into
        10 x 48 + 1 rounded the lone last token differently with 2 threads.)"""
        if n <= 0:
            return []
        k = -(-n // self.n_ubatch)
        bounds = [n * i // k for i in range(k + 1)]
        return list(zip(bounds[:-1], bounds[1:], strict=True))

    def _decode(self, cells: list[tuple[int, int, tuple[int, ...], bool]]) -> np.ndarray:
        """One llama_decode of (token, position, sequence ids, wants logits) cells;
        returns the logits rows (a view valid until the next decode)."""
        C, b = self._C, self._batch
        n_out = 0
        for i, (token, pos, seqs, need) in enumerate(cells):
            b.token[i] = token
            b.pos[i] = pos
            b.n_seq_id[i] = len(seqs)
            row = b.seq_id[i]
            for k, sq in enumerate(seqs):
                row[k] = sq
            b.logits[i] = need
            n_out += need
        b.n_tokens = len(cells)
        t0 = time.perf_counter()
        rc = C.llama_decode(self._ctx, b)
        self.decode_s += time.perf_counter() - t0
        if rc != 0:
            raise RuntimeError(f"llama_decode failed (code {rc})")
        self.decode_calls += 1
        self.tokens_evaluated += len(cells)
        self.logits_rows += n_out
        if not n_out:
            return np.empty((0, self.n_vocab), dtype=np.float32)
        ptr = C.llama_get_logits(self._ctx)
        return np.ctypeslib.as_array(ptr, shape=(n_out, self.n_vocab))
