"""``gra select DATA --out OUT``: keep the samples a small model rates best."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gra.cli.common import ProgressLine, check_out_path, sidecar_path
from gra.core.errors import UserError


@click.command("select")
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Selected JSONL.")
@click.option(
    "--method",
    type=click.Choice(["ifd", "judge", "none"]),
    default="ifd",
    show_default=True,
    help="Score to rank by: IFD from a small model, a judge score, or none (file order).",
)
@click.option("--top-n", type=click.IntRange(min=0), help="Keep this many samples.")
@click.option(
    "--top-percent", type=click.FloatRange(0, 100), help="Keep this share of the samples."
)
@click.option(
    "--diversity",
    type=click.Choice(["none", "deita", "facility"]),
    default="none",
    show_default=True,
    help="deita: skip samples too close to a selected one; facility: cover the data.",
)
@click.option(
    "--tau",
    type=click.FloatRange(-1, 1),
    default=0.9,
    show_default=True,
    help="deita: largest cosine similarity to a selected sample.",
)
@click.option("--embedder", help="Embedding model for --diversity [default: gra's default].")
# ifd
@click.option("--scorer", default="smollm2-135m", show_default=True, help="ifd: the scoring model.")
@click.option(
    "--template",
    type=click.Choice(["plain", "chat"]),
    default="plain",
    show_default=True,
    help='ifd: "instruction\\nresponse" (the papers) or the model\'s chat template.',
)
@click.option(
    "--variant",
    type=click.Choice(["ppl", "loss"]),
    default="ppl",
    show_default=True,
    help="ifd: ratio of perplexities, or of mean token losses (Cherry).",
)
@click.option(
    "--max-ifd", type=float, default=1.0, show_default=True, help="ifd: drop IFD >= this."
)
@click.option(
    "--guard",
    type=click.FloatRange(min=0),
    default=None,
    help="ifd: drop a pair whose own instruction explains the response no better than "
    "another's (loss ratio >= this; 0 = off) [default: 0.9].",
)
@click.option(
    "--checks/--no-checks",
    default=True,
    show_default=True,
    help="Drop samples the cheap checks reject (empty, refusal, repetition, truncation, "
    "broken format) before scoring.",
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    help="Cache of IFD losses or reviewer calls (SQLite) [default: in gra's cache directory].",
)
# judge
@click.option("--min-score", type=float, help="judge: drop samples scored below this.")
@click.option(
    "--score-field", help="judge: dotted path of the score [default: score, then the council mean]."
)
@click.option(
    "--reviewer",
    "reviewers",
    multiple=True,
    help="judge: score with this reviewer model instead (repeatable; see --config).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Council config for reviewer models and sampling settings.",
)
@click.option(
    "--scores",
    "scores_path",
    type=click.Path(path_type=Path),
    help="Every sample's scores and why it was dropped [default: OUT with .scores.jsonl].",
)
def command(
    data,
    out,
    method,
    top_n,
    top_percent,
    diversity,
    tau,
    embedder,
    scorer,
    template,
    variant,
    max_ifd,
    guard,
    checks,
    cache,
    min_score,
    score_field,
    reviewers,
    config_path,
    scores_path,
):
    """Select samples from DATA (gra, Alpaca, ShareGPT or messages JSONL) by IFD or a
    judge score, optionally for diversity; write them with their scores to OUT."""
    from gra.curate.select import GUARD_DEFAULT, Scored, SelectOptions, check_drops, choose
    from gra.io.datasets import check_dataset_path, load_samples
    from gra.io.formats import write_jsonl_atomic

    check_dataset_path(data)
    check_out_path(out, data)
    scores_path = scores_path or sidecar_path(out, ".scores.jsonl")
    check_out_path(scores_path, data, "--scores")
    if top_n is not None and top_percent is not None:
        raise UserError("give --top-n or --top-percent, not both", "--top-n")
    if method != "judge" and (min_score is not None or score_field or reviewers):
        raise UserError("--min-score, --score-field and --reviewer need --method judge", "--method")
    if method != "ifd" and guard is not None:
        raise UserError("--guard applies to --method ifd", "--guard")
    if score_field and reviewers:
        raise UserError("give --score-field or --reviewer, not both", "--reviewer")
    if diversity == "none" and embedder:
        raise UserError("--embedder is used with --diversity deita or facility", "--embedder")
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

    samples = load_samples(data)
    t0 = time.perf_counter()
    progress = ProgressLine("select")
    dropped = check_drops(samples) if checks else [None] * len(samples)
    if method == "ifd":
        scored = _ifd(samples, opts, scorer, template, cache, progress, dropped)
    elif method == "judge":
        scored = _judge(
            samples, opts, score_field, list(reviewers), config_path, cache, progress, dropped
        )
    else:
        scored = [
            Scored.dropped(s, d) if d else Scored(s) for s, d in zip(samples, dropped, strict=True)
        ]
    progress.done()
    picked = choose(scored, opts, embed)
    rank = {i: r for r, i in enumerate(picked, start=1)}

    def annotated(i: int) -> dict:
        sc = scored[i]
        return {
            **sc.sample.record,
            "gra_scores": {"method": method, "score": sc.score, "rank": rank.get(i), **sc.detail},
        }

    write_jsonl_atomic(
        scores_path,
        (
            {
                "id": sc.sample.id,
                "selected": i in rank,
                "rank": rank.get(i),
                "score": sc.score,
                "dropped": sc.drop or (None if i in rank else "outside the budget"),
                **sc.detail,
            }
            for i, sc in enumerate(scored)
        ),
    )
    write_jsonl_atomic(out, (annotated(i) for i in sorted(rank)))
    wall = time.perf_counter() - t0
    eligible = sum(1 for sc in scored if not sc.drop)
    click.echo(
        f"selected {len(picked)} of {len(samples)} samples ({eligible} eligible after "
        f"{method} filters) in {wall:.1f}s"
    )
    reasons: dict[str, int] = {}
    for sc in scored:
        if sc.outcome is not None:
            key = _reason_kind(sc.outcome, opts)
            reasons[key] = reasons.get(key, 0) + 1
    for why, n in sorted(reasons.items(), key=lambda x: -x[1]):
        click.echo(f"  dropped {n}: {why}")
    click.echo(f"output: {out}")
    click.echo(f"scores: {scores_path}")


def _reason_kind(outcome, opts) -> str:
    """A drop's summary line, by its code (no per-sample numbers)."""
    lines = {
        "ifd_max": f"IFD >= {opts.max_ifd:g}",
        "mismatch_guard": f"mismatch guard (own/other instruction loss >= {opts.guard:g})",
        "judge_min": f"judge score < {opts.min_score:g}",
    }
    if outcome.stage == "checks":
        return f"cheap check: {outcome.code}"
    return lines.get(outcome.code, outcome.detail)


def _ifd(samples, opts, scorer_spec, template, cache, progress, dropped):
    from gra.curate.select import score_ifd
    from gra.ifd.scoring import CachedScorer, default_cache_path, ifd, load_scorer

    scorer = CachedScorer(
        load_scorer(scorer_spec, template=template), cache or default_cache_path()
    )
    try:
        return score_ifd(
            samples,
            scorer.losses,
            opts,
            ifd,
            progress=lambda n: progress.update(f"{n}/{len(samples)} scored"),
            dropped=dropped,
        )
    finally:
        close = getattr(scorer, "close", None)
        if close:
            close()


def _judge(samples, opts, score_field, reviewers, config_path, cache, progress, dropped):
    from gra.config import load_config
    from gra.core.records import Outcome
    from gra.curate.judge import read_score, review_scores
    from gra.curate.select import Scored
    from gra.models.registry import cache_dir
    from gra.synth.run import check_models

    keep = [s for s, d in zip(samples, dropped, strict=True) if not d]
    if reviewers:  # only what the cheap checks let through costs reviewer tokens
        cfg = load_config(config_path)
        check_models(cfg, reviewers)
        judged = review_scores(
            keep,
            cfg,
            reviewers,
            cache or cache_dir() / "select-calls.sqlite",
            on_done=lambda n: progress.update(f"{n}/{len(keep)} reviewed"),
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
