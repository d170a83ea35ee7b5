"""gra from Python: the functions ``import gra`` gives (README, "From Python").

Each takes paths or in-memory records, and ``config=`` as a path, a dict of settings or a
``Config``. Each writes its output files only when ``out`` is given, and returns what it
made. A problem with the arguments or the data is a ``UserError`` naming the argument,
file or setting (the CLI prints it as one line and names its flag instead).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gra.config import Config
from gra.config import load_config as _load_config_file
from gra.core.errors import UserError
from gra.core.records import Seed
from gra.io.datasets import Sample

PathLike = str | os.PathLike
Records = Iterable[dict[str, Any] | Sample]


def load_config(config: PathLike | dict[str, Any] | Config | None = None) -> Config:
    """A config from a YAML/TOML file, a dict of settings (over the defaults), a Config
    (returned as it is) or None (the defaults)."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return _load_config_file(data=config)
    if config is None:
        return _load_config_file()
    return _load_config_file(Path(config))


# ------------------------------------------------------------------ gra synth


def synth(
    seeds: PathLike | Iterable[dict[str, Any] | Seed],
    out: PathLike | None = None,
    *,
    n: int | None = None,
    config: PathLike | dict[str, Any] | Config | None = None,
    max_candidates: int | None = None,
    max_tokens: int | None = None,
    formats: Iterable[str] = (),
    report: bool = False,
    progress_stream: Any = None,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int = 2,
):
    """Run ``gra synth``: generate, check, judge and deduplicate new samples from
    ``seeds`` into the new run directory ``out`` (default ``runs/synth-DATE-TIME``).
    Returns the ``RunResult`` (``run_dir``, ``stop_reason``, ``summary``;
    ``run_dir / "data.jsonl"`` holds the accepted samples). ``report``: also write
    ``report.html``. ``executor="ray"`` runs the candidates on ``workers`` Ray actors
    (of the cluster at ``ray_address``; docs/ray.md)."""
    from gra.synthesis.run import RunOptions, create_run

    opts = RunOptions(n, max_candidates, max_tokens, list(formats), executor, ray_address, workers)
    seeds_arg = _seed_source(seeds)  # a file stays a path: the run records where it came from
    cfg: Path | Config | None
    if config is None or _is_path(config):
        cfg = Path(config) if config is not None else None
    else:
        cfg = load_config(config)
    run_dir = Path(out) if out is not None else Path("runs") / time.strftime("synth-%Y%m%d-%H%M%S")
    create_run(seeds_arg, cfg, run_dir, opts)
    return _execute(run_dir, opts, report, progress_stream)


def _seed_source(seeds: PathLike | Iterable[dict[str, Any] | Seed]) -> Path | list[Seed]:
    """A seed file's path, or in-memory seeds checked as a file's are."""
    from gra.io.seeds import seeds_from_records

    return Path(seeds) if _is_path(seeds) else seeds_from_records(seeds, where="seeds")


def preview(
    seeds: PathLike | Iterable[dict[str, Any] | Seed],
    k: int = 3,
    *,
    config: PathLike | dict[str, Any] | Config | None = None,
):
    """Run the first ``k`` candidates of a run end to end, without a run directory
    (``gra synth --preview K``); one ``PreviewItem`` each: the candidate, the seeds it was
    shown, every check that fired, each judge's p(Yes)."""
    from gra.io.seeds import load_seeds
    from gra.synthesis.preview import preview as run_preview
    from gra.synthesis.run import check_models

    source = _seed_source(seeds)
    seed_list = load_seeds(source) if isinstance(source, Path) else source
    cfg = load_config(config)
    check_models(cfg)
    return run_preview(cfg, seed_list, k)


def resume(
    run_dir: PathLike,
    *,
    n: int | None = None,
    max_candidates: int | None = None,
    max_tokens: int | None = None,
    formats: Iterable[str] = (),
    report: bool = False,
    progress_stream: Any = None,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int = 2,
):
    """Continue the run in ``run_dir`` (``gra synth --resume``); ``n`` raises its target.
    The executor may differ from the one the run started on."""
    from gra.synthesis.run import RunOptions

    opts = RunOptions(n, max_candidates, max_tokens, list(formats), executor, ray_address, workers)
    return _execute(Path(run_dir), opts, report, progress_stream)


def _execute(run_dir: Path, opts, report: bool, progress_stream: Any):
    from gra.synthesis.run import execute

    result = execute(run_dir, opts, progress_stream=progress_stream)
    if report and not result.interrupted:
        result.report = build_report(run_dir)
    return result


def build_report(run_dir: PathLike, out: PathLike | None = None, **kwargs: Any) -> Path:
    """Write ``RUN_DIR/report.html`` (or ``out``): funnel, scores, agreement, acceptance,
    diversity, an embedding map, usage and a sample browser. ``embeddings=False`` skips
    the embedding model; see ``gra.report.build_report`` for the rest."""
    from gra.report import build_report as build

    return build(run_dir, out, **kwargs)


# ------------------------------------------------------------------ datasets


def _samples(
    data: PathLike | Records, name: str = "data", fields: dict[str, str] | None = None
) -> list[Sample]:
    from gra.io.datasets import load_samples, samples_from_records

    if _is_path(data):
        return load_samples(data, _fields(fields))  # checks the path first
    return samples_from_records(data, where=name, fields=_fields(fields))


def _fields(fields: dict[str, str] | None) -> dict[str, str] | None:
    """A column mapping, checked: gra's field name -> the dataset's column name."""
    from gra.io.datasets import MAPPABLE

    if not fields:
        return None
    unknown = [k for k in fields if k not in MAPPABLE]
    if unknown:
        raise UserError(f"can map {', '.join(MAPPABLE)}, not {unknown[0]!r}", "fields")
    return {k: v for k, v in fields.items() if v}


def _is_path(data: Any) -> bool:
    return isinstance(data, (str, os.PathLike))


def _check_out(out: PathLike | None, data: Any, name: str) -> Path | None:
    """An output path must not be the input nor a directory."""
    if out is None:
        return None
    out = Path(out)
    if out.is_dir():
        raise UserError("is a directory; give a file path", f"{name} {out}")
    if (
        _is_path(data)
        and out.exists()
        and Path(data).exists()
        and out.resolve() == Path(data).resolve()
    ):
        raise UserError("is the input file; write to a new file", f"{name} {out}")
    return out


def sidecar(out: Path, suffix: str) -> Path:
    """``sel.jsonl`` -> ``sel<suffix>`` (e.g. ``sel.dedup.json``) next to it."""
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.stem
    return out.with_name(stem + suffix)


@dataclass
class ReviewResult:
    # one verdict line per input sample, in order (on Ray with an ``out``: empty, the
    # verdicts streamed to the file or shards and are not held here)
    records: list[dict[str, Any]]
    summary: dict[str, Any]
    out: Path | None = None
    summary_path: Path | None = None


def review(
    data: PathLike | Records,
    out: PathLike | None = None,
    *,
    fields: dict[str, str] | None = None,
    config: PathLike | dict[str, Any] | Config | None = None,
    stages: Iterable[str] | None = None,
    store: PathLike | None = None,
    cache: PathLike | None = None,
    progress: Callable[[str], None] | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int = 2,
) -> ReviewResult:
    """The council's verdict on each sample (``gra review``). ``stages`` overrides
    ``review.stages``; ``store`` is the model-call store (default ``OUT`` with
    ``.calls.sqlite``, or a file in gra's cache directory without ``out``).
    ``executor="ray"``: a file or directory is read and reviewed on Ray Data, the model
    stages in actor pools of ``workers`` actors, and the verdicts stream to ``out`` (a
    directory, given without an extension, gets JSONL shards); in-memory records are
    read here and only the council runs on Ray (docs/ray.md)."""
    from gra.config import check_stages
    from gra.curate.review import review_samples, summarize
    from gra.io.formats import write_json_atomic, write_records_atomic
    from gra.models.registry import cache_dir
    from gra.synthesis.run import check_models

    on_ray = _ray_workers(executor, ray_address, workers)
    streamed = on_ray is not None and _is_path(data)  # read and reviewed on Ray Data
    out = _check_shards_out(out, data) if streamed else _check_out(out, data, "out")
    cfg = load_config(config)
    if stages is not None:
        try:
            cfg.review.stages = check_stages([s.strip() for s in stages if s.strip()])
        except ValueError as e:
            raise UserError(str(e), "stages") from None
    samples = [] if streamed else _samples(data, fields=fields)
    names = []
    if "council" in cfg.review.stages:
        names += cfg.judging_models("adjudicator" in cfg.review.stages)
    if "mismatch" in cfg.review.stages and "mismatch" not in cfg.checks.disabled:
        names.append(cfg.checks.mismatch_model)
    check_models(cfg, names)
    if store is not None:
        store_path = Path(store)
    elif out is not None:
        store_path = sidecar(out, ".calls.sqlite")
    else:
        store_path = cache_dir() / "review-calls.sqlite"
    store_path.parent.mkdir(parents=True, exist_ok=True)
    where = str(data) if _is_path(data) else "records"
    records: list[dict[str, Any]] = []
    if streamed:
        counts = _review_on_ray(data, out, fields, cfg, store_path, on_ray, records, progress)
    else:
        judged = review_samples(
            samples, cfg, store_path, Path(cache) if cache else None, progress, ray=on_ray
        )  # fmt: skip
        records = [j.record() for j in judged]
        counts = summarize(judged)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_records_atomic(out, records)
    summary = {"data": where, "stages": cfg.review.stages, **counts}
    result = ReviewResult(records, summary)
    if out is not None:
        result.out, result.summary_path = out, sidecar(out, ".summary.json")
        write_json_atomic(result.summary_path, summary)
    return result


def _review_on_ray(data, out, fields, cfg, store_path, on_ray, records, progress) -> dict:
    """``review`` of a file or directory on Ray Data (``gra.curate.ray_review``): verdicts
    streamed to ``out`` (a file, or a directory of shards), or into ``records``."""
    from gra.curate.ray_review import review_on_ray, write_shards
    from gra.executors.ray_actors import ray_session
    from gra.io.formats import write_jsonl_atomic, write_records_atomic

    def write(rows: Iterator[dict[str, Any]]) -> None:
        if out is None:
            records.extend(rows)
        elif out.suffix == "":
            write_shards(out, rows, write_jsonl_atomic)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            write_records_atomic(out, rows)

    with ray_session(on_ray.address) as ray:
        return review_on_ray(
            ray, data, _fields(fields), cfg, store_path, workers=on_ray.workers, write=write,
            progress=progress,
        )  # fmt: skip


def _check_shards_out(out: PathLike | None, data: Any) -> Path | None:
    """A file, or (no extension) a new or empty directory for shards (Ray)."""
    if out is not None and Path(out).suffix == "":
        out = Path(out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UserError("exists and is not an empty directory; give a new one", f"out {out}")
        return out
    return _check_out(out, data, "out")


@dataclass
class SelectResult:
    selected: list[dict[str, Any]]  # the chosen samples' records, each with ``gra_scores``
    scores: list[dict[str, Any]]  # every sample: score, rank, why it was dropped
    eligible: int
    dropped: dict[str, int] = field(default_factory=dict)  # summary line -> samples
    out: Path | None = None
    scores_path: Path | None = None


def select(
    data: PathLike | Records,
    out: PathLike | None = None,
    *,
    fields: dict[str, str] | None = None,
    method: str = "ifd",
    top_n: int | None = None,
    top_percent: float | None = None,
    diversity: str = "none",
    tau: float = 0.9,
    embedder: str | None = None,
    scorer: str = "smollm2-135m",
    template: str = "plain",
    variant: str = "ppl",
    max_ifd: float = 1.0,
    guard: float | None = None,
    checks: bool = True,
    cache: PathLike | None = None,
    min_score: float | None = None,
    score_field: str | None = None,
    reviewers: Iterable[str] = (),
    config: PathLike | dict[str, Any] | Config | None = None,
    scores: PathLike | None = None,
    progress: Callable[[str], None] | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int = 2,
) -> SelectResult:
    """Score samples with a small model (``method``: ``ifd``, ``judge`` or ``none``),
    drop what the filters reject, rank, and choose ``top_n`` / ``top_percent`` of them,
    optionally for diversity (``deita``, ``facility``) -- ``gra select``.
    ``executor="ray"``: the ``reviewers``' calls run on ``workers`` Ray actors."""
    from gra.curate.select import GUARD_DEFAULT, Scored, SelectOptions, check_drops, choose
    from gra.io.formats import write_jsonl_atomic, write_records_atomic

    reviewers = list(reviewers)
    out = _check_out(out, data, "out")
    scores_path = _check_out(
        scores if scores is not None else (sidecar(out, ".scores.jsonl") if out else None),
        data,
        "scores",
    )
    if method not in ("ifd", "judge", "none"):
        raise UserError("must be ifd, judge or none", "method")
    if diversity not in ("none", "deita", "facility"):
        raise UserError("must be none, deita or facility", "diversity")
    if top_n is not None and top_percent is not None:
        raise UserError("give top_n or top_percent, not both", "top_n")
    if method != "judge" and (min_score is not None or score_field or reviewers):
        raise UserError("min_score, score_field and reviewers need method judge", "method")
    if method != "ifd" and guard is not None:
        raise UserError("applies to method ifd", "guard")
    if score_field and reviewers:
        raise UserError("give score_field or reviewers, not both", "reviewers")
    if diversity == "none" and embedder:
        raise UserError("is used with diversity deita or facility", "embedder")
    on_ray = _ray_workers(executor, ray_address, workers)
    if on_ray is not None and method != "ifd" and not reviewers:
        raise UserError("runs the model work: use it with method ifd, or judge with reviewers",
                        "executor")  # fmt: skip
    opts = SelectOptions(
        method=method,
        variant=variant,
        max_ifd=max_ifd,
        guard=GUARD_DEFAULT if guard is None else guard,
        min_score=min_score,
        top_n=top_n,
        top_percent=top_percent,
        diversity=diversity,
        tau=tau,
        checks=checks,
    )
    embed = None
    if diversity != "none":  # load it now: a missing model fails before any scoring
        from gra.curate.embed import DEFAULT_EMBEDDER, load_embedder

        embed = load_embedder(embedder or DEFAULT_EMBEDDER).embed
    samples = _samples(data, fields=fields)
    say = progress or (lambda text: None)
    dropped = check_drops(samples) if checks else [None] * len(samples)
    if method == "ifd":
        scored = _select_ifd(samples, opts, scorer, template, cache, say, dropped, on_ray)
    elif method == "judge":
        scored = _select_judge(
            samples, opts, score_field, reviewers, config, cache, say, dropped, on_ray
        )  # fmt: skip
    else:
        scored = [
            Scored.dropped(s, d) if d else Scored(s) for s, d in zip(samples, dropped, strict=True)
        ]
    picked = choose(scored, opts, embed)
    rank = {i: r for r, i in enumerate(picked, start=1)}
    rows = [
        {
            "id": sc.sample.id,
            "selected": i in rank,
            "rank": rank.get(i),
            "score": sc.score,
            "dropped": sc.drop or (None if i in rank else "outside the budget"),
            **sc.detail,
        }
        for i, sc in enumerate(scored)
    ]
    selected = [
        {
            **scored[i].sample.record,
            "gra_scores": {
                "method": method,
                "score": scored[i].score,
                "rank": rank[i],
                **scored[i].detail,
            },
        }  # fmt: skip
        for i in sorted(rank)
    ]
    reasons: Counter = Counter()
    for sc in scored:
        if sc.outcome is not None:
            reasons[_drop_line(sc.outcome, opts)] += 1
    result = SelectResult(
        selected, rows, sum(1 for sc in scored if not sc.drop), dict(reasons.most_common())
    )
    if out is not None and scores_path is not None:
        write_jsonl_atomic(scores_path, rows)
        write_records_atomic(out, selected)
        result.out, result.scores_path = out, scores_path
    return result


def _drop_line(outcome, opts) -> str:
    """A drop's summary line, by its code (no per-sample numbers)."""
    lines = {
        "ifd_max": f"IFD >= {opts.max_ifd:g}",
        "mismatch_guard": f"mismatch guard (own/other instruction loss >= {opts.guard:g})",
        "judge_min": f"judge score < {opts.min_score:g}" if opts.min_score is not None else "",
    }
    if outcome.stage == "checks":
        return f"cheap check: {outcome.code}"
    return lines.get(outcome.code) or outcome.detail


def _select_ifd(samples, opts, scorer_spec, template, cache, say, dropped, ray=None):
    """IFD scores; with ``ray``, the passes the cache lacks run on Ray Data's actor pool
    (``gra.ifd.ray_scorer``), a few thousand at a time."""
    from gra.curate.select import score_ifd
    from gra.ifd.scoring import CachedScorer, default_cache_path, ifd, load_scorer

    path = Path(cache) if cache else default_cache_path()

    def run(model, chunk: int, commit_every: int):
        scorer = CachedScorer(model, path, commit_every=commit_every)
        try:
            return score_ifd(samples, scorer.losses, opts, ifd, chunk=chunk,
                             progress=lambda n: say(f"{n}/{len(samples)} scored"),
                             dropped=dropped)  # fmt: skip
        finally:
            scorer.close()

    if ray is None:
        return run(load_scorer(scorer_spec, template=template), 32, 64)
    from gra.executors.ray_actors import ray_session
    from gra.ifd.ray_scorer import RayScorer

    with ray_session(ray.address) as r:
        return run(RayScorer(r, scorer_spec, template, ray.workers), 1024, 4096)


def _select_judge(samples, opts, score_field, reviewers, config, cache, say, dropped, ray=None):
    from gra.core.records import Outcome
    from gra.curate.judge import read_score, review_scores
    from gra.curate.select import Scored
    from gra.models.registry import cache_dir
    from gra.synthesis.run import check_models

    keep = [s for s, d in zip(samples, dropped, strict=True) if not d]
    if reviewers:
        cfg = load_config(config)
        check_models(cfg, reviewers)
        judged = review_scores(
            keep,
            cfg,
            reviewers,
            Path(cache) if cache else cache_dir() / "select-calls.sqlite",
            on_done=lambda n: say(f"{n}/{len(keep)} reviewed"),
            ray=ray,
        )
    else:
        judged = [read_score(s, score_field) for s in keep]
    found = iter(judged)
    out = []
    for s, d in zip(samples, dropped, strict=True):
        if d:
            out.append(Scored.dropped(s, d))
            continue
        j = next(found)
        detail = {"judge_source": j.source, **({"reviews": j.reviews} if j.reviews else {})}
        if j.score is None:
            drop = Outcome("select", "not_scored", f"not scored: {j.skip}")
        elif opts.min_score is not None and j.score < opts.min_score:
            drop = Outcome("select", "judge_min", f"judge score {j.score:g} < {opts.min_score:g}")
        else:
            out.append(Scored(s, j.score, detail))
            continue
        out.append(Scored.dropped(s, drop, j.score, detail))
    return out


@dataclass
class DedupResult:
    kept: list[dict[str, Any]]  # the records kept, in input order
    summary: dict[str, Any]  # stages, counts and, per kept id, the ids dropped as its copies
    out: Path | None = None
    report_path: Path | None = None


def _ray_workers(executor: str, address: str | None, workers: int):
    """``OnRay`` for ``executor="ray"`` (Ray installed, checked now), None for ``local``:
    the dataset commands' model work runs on Ray Data's actor pool."""
    from gra.executors.choose import on_ray

    return on_ray(executor, address, workers, data=True)


def _on_ray(executor: str, data: Any) -> bool:
    """True for ``executor="ray"`` (on a data file or directory); False for ``local``."""
    ray = _ray_workers(executor, None, 1) is not None
    if ray and not _is_path(data):
        raise UserError("Ray reads data from a file or a directory of shards, not records",
                        "executor")  # fmt: skip
    return ray


def dedup(
    data: PathLike | Records,
    out: PathLike | None = None,
    *,
    fields: dict[str, str] | None = None,
    field: str = "instruction",
    jaccard: float = 0.7,
    ngram: int = 3,
    num_perm: int = 128,
    cosine: float = 0.0,
    embedder: str | None = None,
    report: PathLike | None = None,
    progress: Callable[[str], None] | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> DedupResult:
    """Remove duplicates (``gra dedup``): exact, MinHash near-duplicates (``jaccard``; 0 =
    off) and, with ``cosine`` > 0, embedding neighbours. The first of each group is kept.
    With ``out`` the kept records stream to it (the input is never held in memory) and the
    report goes to ``report`` (default ``OUT`` with ``.dedup.json``). ``executor="ray"``:
    the same on Ray Data (the cluster at ``ray_address``; ``data`` a file or a directory of
    shards; ``out`` may be a directory, written as shards; docs/ray.md)."""
    from gra.curate.dedup import DedupOptions, DedupStats, Removal, dedup_samples
    from gra.io.datasets import check_dataset_path, read_samples, samples_from_records
    from gra.io.formats import write_json_atomic, write_records_atomic

    if _on_ray(executor, data):
        out = _check_shards_out(out, data)
    else:
        out = _check_out(out, data, "out")
    report_path = _check_out(
        report if report is not None else (sidecar(out, ".dedup.json") if out else None),
        data,
        "report",
    )
    embed = None
    if cosine > 0:
        from gra.curate.embed import DEFAULT_EMBEDDER, load_embedder

        embed = load_embedder(embedder or DEFAULT_EMBEDDER).embed
    elif embedder:
        raise UserError("is used only with cosine > 0; add cosine 0.9", "embedder")
    opts = DedupOptions(field=field, jaccard=jaccard, ngram=ngram, num_perm=num_perm, cosine=cosine)
    t0 = time.perf_counter()
    if _on_ray(executor, data):
        if cosine > 0:
            raise UserError("the cosine stage runs on one machine; leave out --executor ray",
                            "cosine")  # fmt: skip
        from gra.curate.ray_data import dedup_on_ray
        from gra.executors.ray_actors import ray_session

        with ray_session(ray_address) as ray:
            stats, removals, kept = dedup_on_ray(
                ray, data, out, opts, _fields(fields), write_records_atomic, progress
            )
    else:
        if _is_path(data):
            check_dataset_path(data)
            source: Iterable[Sample] = read_samples(data, _fields(fields))
        else:
            source = samples_from_records(data, where="data", fields=_fields(fields))
        removals: list[Removal] = []
        stats = DedupStats()
        kept = []

        def records() -> Iterator[dict[str, Any]]:
            for s in dedup_samples(source, opts, removals, stats, embed):
                if progress:
                    progress(f"{stats.read} read, {stats.read - stats.kept} removed")
                yield s.record

        if out is not None:
            write_records_atomic(out, records())
        else:
            kept = list(records())
    groups: dict[str, list[dict]] = {}
    for r in removals:
        groups.setdefault(r.kept, []).append(
            {"id": r.dropped, "method": r.method, "similarity": r.similarity}
        )
    summary = {
        "input": str(data) if _is_path(data) else "records",
        "output": str(out) if out is not None else None,
        "field": field,
        "stages": {
            "exact": True,
            "minhash": {"jaccard": jaccard, "ngram": ngram, "num_perm": num_perm}
            if jaccard
            else None,
            "cosine": {"threshold": cosine, "embedder": embedder or "default"} if cosine else None,
        },
        "read": stats.read,
        "kept": stats.kept,
        "removed": stats.removed,
        "wall_time_s": round(time.perf_counter() - t0, 3),
        "groups": [{"kept": k, "dropped": v} for k, v in groups.items()],
    }
    result = DedupResult(kept, summary)
    if out is not None and report_path is not None:
        write_json_atomic(report_path, summary)
        result.out, result.report_path = out, report_path
    return result


def diversity(
    *data: PathLike | Records,
    fields: dict[str, str] | None = None,
    field: str = "text",
    bleu_sample: int = 500,
    embed_sample: int = 2000,
    embedder: str | None | bool = None,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
    executor: str = "local",
    ray_address: str | None = None,
    workers: int = 2,
) -> dict[str, Any]:
    """Diversity of each dataset (``gra diversity``): distinct-n, self-BLEU, gzip ratio
    and, with an embedder, cosine distance and the Vendi score; for gra output also per
    generator. ``embedder``: a name, None (gra's default) or False (no embeddings).
    ``executor="ray"``: the same report on Ray Data (the cluster at ``ray_address``; each
    ``data`` a file or a directory of shards): n-grams are counted on the cluster, the
    texts stream through this process in input order for the gzip ratio and the samples,
    and ``workers`` Ray actors embed the samples (docs/ray.md)."""
    from gra.curate.diversity import report
    from gra.io.datasets import check_dataset_path

    for size, name in ((bleu_sample, "bleu_sample"), (embed_sample, "embed_sample")):
        if size < 0 or size == 1:
            raise UserError(f"must be 0 (every sample) or at least 2, got {size}", name)
    if field not in ("text", "instruction", "response"):
        raise UserError("must be text, instruction or response", "field")
    on_ray = _ray_workers(executor, ray_address, workers) is not None
    for d in data:  # a missing file fails now, before the embedder loads
        if on_ray:
            _on_ray(executor, d)  # records are refused
        if _is_path(d):
            check_dataset_path(d)
    model = None
    if embedder is not False:
        from gra.curate.embed import DEFAULT_EMBEDDER, load_embedder

        model = load_embedder(embedder or DEFAULT_EMBEDDER)
    if on_ray:
        from gra.curate.ray_diversity import report_on_ray
        from gra.executors.ray_actors import ray_session

        files = [check_dataset_path(d) for d in data]
        with ray_session(ray_address) as ray:
            return report_on_ray(ray, files, fields=_fields(fields), field=field,
                                 bleu_sample=bleu_sample, embed_sample=embed_sample, seed=seed,
                                 embedder=model, workers=workers, progress=progress)  # fmt: skip
    with _as_files(data, _fields(fields)) as paths:
        return report(paths, field=field, bleu_sample=bleu_sample, embed_sample=embed_sample,
                      seed=seed, embedder=model, progress=progress)  # fmt: skip


@contextmanager
def _as_files(
    data: Iterable[PathLike | Records], fields: dict[str, str] | None
) -> Iterator[list[Path]]:
    """Files as they are; in-memory records, Hugging Face datasets and anything read with
    a column mapping written to a temporary JSONL each (named after its source)."""
    from gra.io.datasets import check_dataset_path, read_samples, samples_from_records
    from gra.io.formats import write_jsonl_atomic
    from gra.io.hf import is_hf_spec, is_saved_dataset

    with tempfile.TemporaryDirectory(prefix="gra-") as tmp:
        paths = []
        for k, d in enumerate(data):
            if _is_path(d):
                p = check_dataset_path(d)
                if not (fields or is_hf_spec(d) or is_saved_dataset(p)):
                    paths.append(p)
                    continue
                samples: Iterable[Sample] = read_samples(d, fields)
                name = Path(str(d).replace(":", "_")).name
            else:
                samples = samples_from_records(d, f"data[{k}]", fields)
                name = f"records-{k}"
            out = Path(tmp) / str(k) / f"{name}.jsonl"
            write_jsonl_atomic(out, (_plain(s) for s in samples))
            paths.append(out)
        yield paths


def _plain(s: Sample) -> dict[str, Any]:
    """A sample as a gra record: its fields under gra's names, its generator kept."""
    record = {"id": s.id, "instruction": s.instruction, "input": s.input, "response": s.response}
    if s.generator:
        record["provenance"] = {"generator": s.generator}
    return record
