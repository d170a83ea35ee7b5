"""``gra select DATA --out OUT``: keep the samples a small model rates best."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gra.cli.common import ProgressLine, field_options, fields_of, flag_terms, ray_options


@click.command("select")
@field_options
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
@ray_options("the model work runs (IFD passes; --reviewers' calls)", workers=True)
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
    executor,
    ray_address,
    workers,
    **field_kw,
):
    """Select samples from DATA by IFD or a judge score, optionally for diversity; write
    them with their scores to OUT.

    DATA: gra, Alpaca, ShareGPT or messages records in JSONL, JSON, Parquet or a directory
    of Parquet shards; an OUT ending in .parquet is Parquet."""
    import gra

    progress = ProgressLine("select")
    t0 = time.perf_counter()
    try:
        with flag_terms(reviewers="--reviewer", scores="--scores"):
            r = gra.select(
                data, out, fields=fields_of(field_kw), method=method, top_n=top_n,
                top_percent=top_percent, diversity=diversity, tau=tau, embedder=embedder,
                scorer=scorer, template=template, variant=variant, max_ifd=max_ifd, guard=guard,
                checks=checks, cache=cache, min_score=min_score, score_field=score_field,
                reviewers=reviewers, config=config_path, scores=scores_path,
                progress=progress.update, executor=executor, ray_address=ray_address,
                workers=workers,
            )  # fmt: skip
    finally:
        progress.done()
    wall = time.perf_counter() - t0
    click.echo(
        f"selected {len(r.selected)} of {len(r.scores)} samples ({r.eligible} eligible after "
        f"{method} filters) in {wall:.1f}s"
    )
    for why, n in r.dropped.items():
        click.echo(f"  dropped {n}: {why}")
    click.echo(f"output: {r.out}")
    click.echo(f"scores: {r.scores_path}")
