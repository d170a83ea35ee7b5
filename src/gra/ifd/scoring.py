"""IFD (Instruction-Following Difficulty) scores from a small model.

IFD(x) = PPL(response | instruction) / PPL(response)  (Cherry LLM, Superfiltering);
the "loss" variant is the ratio of the mean token losses instead. Both come from
two passes per sample, each summarised as a :class:`ResponseLoss`:

    cond   = scorer.losses([(instruction, response)])   # conditioned
    direct = scorer.losses([(None, response)])          # the response alone
    ifd(cond, direct, "ppl")

Scorers: an embedded GGUF model (``EmbeddedScorer``, llama.cpp, batched with
shared-prefix reuse) or an OpenAI-compatible server returning prompt logprobs
(``ServerScorer`` in ``gra.ifd.server``). ``CachedScorer`` puts either behind an
SQLite file so that a re-run does no model work. The formats (``plain`` and
``chat``) and the skip rules are in ``gra.ifd.passes``; docs/selection.md
"IFD scoring" has the definitions.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from gra.core.errors import UserError
from gra.core.registry import Registry
from gra.core.store import Migration, SQLiteStore
from gra.ifd.loss import ResponseLoss
from gra.ifd.passes import (
    SKIP_EMPTY_INSTRUCTION,
    SKIP_EMPTY_RESPONSE,
    SKIP_SINGLE_TOKEN,
    SKIP_TOO_LONG,
    TEMPLATES,
    Prepared,
    check_template,
    precheck,
    skip_kind,
)

__all__ = [
    "SKIP_EMPTY_INSTRUCTION",
    "SKIP_EMPTY_RESPONSE",
    "SKIP_SINGLE_TOKEN",
    "SKIP_TOO_LONG",
    "SKIP_TOKENS_DIFFER",
    "TEMPLATES",
    "VARIANTS",
    "CachedScorer",
    "EmbeddedScorer",
    "LossScorer",
    "ResponseLoss",
    "ifd",
    "ifd_skip",
    "load_scorer",
    "skip_kind",
]

VARIANTS = ("ppl", "loss")
# ifd_skip's reason when the two passes scored different numbers of tokens (a server
# that tokenized the response differently after the instruction).
SKIP_TOKENS_DIFFER = "response tokens differ between the passes"


def ifd_skip(cond: ResponseLoss, direct: ResponseLoss, variant: str = "ppl") -> str:
    """Why no IFD exists for this pair ("" when it does)."""
    if cond.skip:
        return cond.skip
    if direct.skip:
        return direct.skip
    if cond.n_tokens != direct.n_tokens:
        return f"{SKIP_TOKENS_DIFFER}: {cond.n_tokens} vs {direct.n_tokens}"
    if variant == "loss" and direct.sum_nll <= 0.0:
        return "zero loss without the instruction"
    return ""


def ifd(cond: ResponseLoss, direct: ResponseLoss, variant: str = "ppl") -> float | None:
    """IFD of one sample: "ppl" = PPL(r | i) / PPL(r) = exp(mean_cond - mean_direct);
    "loss" (Cherry's code) = mean_cond / mean_direct. None when ``ifd_skip`` gives a
    reason (either pass skipped, different token counts)."""
    if variant not in VARIANTS:
        raise UserError(f"unknown IFD variant {variant!r}; use one of {', '.join(VARIANTS)}")
    if ifd_skip(cond, direct, variant):
        return None
    if variant == "ppl":
        return math.exp(cond.mean_nll - direct.mean_nll)
    return cond.mean_nll / direct.mean_nll


class LossScorer(Protocol):
    model_id: str  # stable id of the model (gra.council.caller.model_id's)
    template: str  # "chat" | "plain"
    numerics: str  # settings besides the model that change the numbers ("" if none)
    n_ctx: int | None  # the context skips were decided against (None: the server's)

    def losses(self, items: Sequence[tuple[str | None, str]]) -> list[ResponseLoss]:
        """Each item: (instruction, response), or (None, response) for the direct pass.
        Order preserved."""
        ...

    def close(self) -> None: ...


class EmbeddedScorer:
    """A GGUF model run in-process (see ``gra.ifd.embedded``). The model loads on the
    first pass that needs it, so a fully cached run never loads it."""

    def __init__(
        self,
        spec: str,
        template: str = "chat",
        n_ctx: int = 2048,
        *,
        n_batch: int = 512,
        n_ubatch: int = 48,
        n_threads: int = 0,
        flash_attn: bool = True,
        max_seqs: int = 64,
    ):
        from gra.config import ModelSettings
        from gra.models.loading import model_id

        self.spec = spec
        self.template = check_template(template)
        self.n_ctx = n_ctx
        self.model_id = model_id(ModelSettings(source=spec, weights="shipped"))
        # Settings that change the numbers (see gra.ifd.embedded): flash attention off
        # (~0.3 % of a summed loss on SmolLM2), ubatches from 64 tokens on.
        changes = ([] if flash_attn else ["flash_attn=off"]) + (
            [f"n_ubatch={n_ubatch}"] if n_ubatch >= 64 else []
        )
        self.numerics = ",".join(changes)
        self._kw: dict[str, Any] = dict(
            n_batch=n_batch,
            n_ubatch=n_ubatch,
            n_threads=n_threads,
            flash_attn=flash_attn,
            max_seqs=max_seqs,
        )
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            from gra.ifd.embedded import EmbeddedEngine
            from gra.models.cpu_probe import check_runs
            from gra.models.registry import resolve

            path = resolve(self.spec)
            # extra buffer types stay on unless this model crashes with them here
            extra = check_runs(self.spec, path, self._kw["n_threads"], self._kw["flash_attn"])
            self._engine = EmbeddedEngine(
                path, self.template, self.n_ctx, extra_buffers=extra, **self._kw
            )
        return self._engine

    def losses(self, items: Sequence[tuple[str | None, str]]) -> list[ResponseLoss]:
        out: list[ResponseLoss | None] = [None] * len(items)
        todo: list[int] = []
        for i, (instruction, response) in enumerate(items):
            reason = precheck(instruction, response)
            if reason:
                out[i] = ResponseLoss.skipped(reason)
            else:
                todo.append(i)
        if todo:
            layout = self.engine.layout
            preps: dict[Prepared, list[int]] = {}  # identical passes scored once
            for i in todo:
                p = layout.prepare(*items[i])
                if isinstance(p, str):
                    out[i] = ResponseLoss.skipped(p)
                else:
                    preps.setdefault(p, []).append(i)
            keys = list(preps)
            for p, (n, total) in zip(keys, self.engine.score(keys), strict=True):
                for i in preps[p]:
                    out[i] = ResponseLoss(n, total)
        return [r for r in out if r is not None]

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def load_scorer(
    spec: str,
    template: str = "chat",
    n_ctx: int = 2048,
    *,
    model: str = "",
    api_key_env: str = "",
    start_text: str | None = None,
    tokenizer: str = "",
    concurrency: int = 4,
    timeout_s: float = 120.0,
    kind: str = "",
    **embedded: Any,
) -> LossScorer:
    """An embedded model (registry name, .gguf path, hf:OWNER/REPO/FILE) or an
    OpenAI-compatible server (``http(s)://HOST:PORT/v1``; ``model`` is the server's
    name for it). ``embedded`` takes EmbeddedScorer's keywords (n_batch, flash_attn,
    n_threads, max_seqs); ``start_text``/``tokenizer`` are the server's (see
    ``gra.ifd.server.ServerScorer``). ``kind`` picks a scorer of ``SCORERS`` by name
    (default: ``openai`` for a URL, else ``embedded``)."""
    kind = kind or ("openai" if spec.startswith(("http://", "https://")) else "embedded")
    options = {
        "model": model,
        "api_key_env": api_key_env,
        "start_text": start_text,
        "tokenizer": tokenizer,
        "concurrency": concurrency,
        "timeout_s": timeout_s,
    }
    return SCORERS.get(kind, "IFD scorer")(spec, template, n_ctx, options, embedded)


#: IFD scorers by kind: each makes a LossScorer from (spec, template, n_ctx, the server
#: options, the embedded options). Register one to add a scorer (``load_scorer(kind=...)``).
SCORERS: Registry[Callable[..., LossScorer]] = Registry("IFD scorer")


@SCORERS.register("openai")
def _server(spec: str, template: str, n_ctx: int, options: dict, embedded: dict) -> LossScorer:
    from gra.ifd.server import ServerScorer

    return ServerScorer(spec, template=template, **options)


@SCORERS.register("embedded")
def _embedded(spec: str, template: str, n_ctx: int, options: dict, embedded: dict) -> LossScorer:
    return EmbeddedScorer(spec, template, n_ctx, **embedded)


# ---- the score cache ----------------------------------------------------------------

_CACHE_SCHEMA = """
CREATE TABLE IF NOT EXISTS ifd_losses (
    model TEXT NOT NULL,
    template TEXT NOT NULL,
    instruction TEXT NOT NULL,
    response TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    sum_nll REAL NOT NULL,
    skip TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (model, template, instruction, response)
) WITHOUT ROWID;
"""


class LossCacheFile(SQLiteStore):
    """The IFD score cache's SQLite file (gra.core.store: locked, migrated on open)."""

    MIGRATIONS = (Migration("ifd_losses", _CACHE_SCHEMA),)
    KIND = "IFD score cache"


def default_cache_path() -> Path:
    from gra.models.registry import cache_dir

    return cache_dir() / "ifd-scores.sqlite"


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedScorer:
    """``scorer`` behind an SQLite file keyed by (model id [+ numerics], template,
    sha256 of the exact instruction text or "<none>", sha256 of the response).

    Misses are scored in chunks of ``commit_every`` passes and committed after each,
    so an interrupted run keeps all but the last chunk. A cached "longer than the
    context" skip counts only for the same n_ctx. ``hits``/``misses`` count passes.
    """

    def __init__(
        self,
        scorer: LossScorer,
        path: str | Path | None = None,
        commit_every: int = 64,
        busy_hint: str = "or give this command its own --cache FILE",
    ):
        self.scorer = scorer
        self.path = Path(path) if path is not None else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.commit_every = max(1, commit_every)
        # one process per cache file (gra.core.lock): a second one would score the same passes
        self.file = LossCacheFile(self.path, busy_hint=busy_hint)
        self.db = self.file.db
        numerics = getattr(scorer, "numerics", "")
        self.model_key = f"{scorer.model_id}|{numerics}" if numerics else scorer.model_id
        self.hits = 0
        self.misses = 0

    @property
    def model_id(self) -> str:
        return self.scorer.model_id

    @property
    def template(self) -> str:
        return self.scorer.template

    @property
    def numerics(self) -> str:
        return getattr(self.scorer, "numerics", "")

    @property
    def n_ctx(self) -> int | None:
        return getattr(self.scorer, "n_ctx", None)

    def _key(self, item: tuple[str | None, str]) -> tuple[str, str, str, str]:
        instruction, response = item
        ins = "<none>" if instruction is None else _sha(instruction)
        return (self.model_key, self.scorer.template, ins, _sha(response))

    def _usable(self, row: tuple[int, float, str]) -> bool:
        skip = row[2]
        if skip_kind(skip) != SKIP_TOO_LONG:
            return True
        return skip.endswith(f"n_ctx {self.n_ctx}")

    def losses(self, items: Sequence[tuple[str | None, str]]) -> list[ResponseLoss]:
        keys = [self._key(it) for it in items]
        found: dict[tuple[str, str, str, str], ResponseLoss] = {}
        for key in dict.fromkeys(keys):
            row = self.db.execute(
                "SELECT n_tokens, sum_nll, skip FROM ifd_losses "
                "WHERE model=? AND template=? AND instruction=? AND response=?",
                key,
            ).fetchone()
            if row is not None and self._usable(row):
                found[key] = ResponseLoss(int(row[0]), float(row[1]), str(row[2]))
        missing: dict[tuple[str, str, str, str], tuple[str | None, str]] = {}
        for key, item in zip(keys, items, strict=True):
            if key not in found:
                missing.setdefault(key, item)
        self.hits += len(keys) - sum(1 for k in keys if k in missing)
        self.misses += len(missing)
        todo = list(missing.items())
        for s in range(0, len(todo), self.commit_every):
            chunk = todo[s : s + self.commit_every]
            got = self.scorer.losses([item for _, item in chunk])
            now = time.time()
            self.db.execute("BEGIN")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO ifd_losses VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (*k, r.n_tokens, r.sum_nll, r.skip, now)
                        for (k, _), r in zip(chunk, got, strict=True)
                    ],
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            for (k, _), r in zip(chunk, got, strict=True):
                found[k] = r
        return [found[k] for k in keys]

    def close(self) -> None:
        self.file.close()
        self.scorer.close()
