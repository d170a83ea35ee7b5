"""``gra review DATA --out VERDICTS``: the council's verdict on each sample of a dataset."""

from __future__ import annotations

from pathlib import Path

import click

from gra.cli.common import ProgressLine, field_options, fields_of, flag_terms, ray_options


@click.command("review")
@field_options
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Verdicts JSONL (or .parquet) to write (one line per input sample, same order); "
    "with --executor ray, a directory (no extension) is written as JSONL shards.",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Council config (models, reviewers, thresholds, review.stages) [default: built-in].",
)
@click.option(
    "--stages",
    help="Comma-separated stages to run, overriding review.stages "
    "(checks, mismatch, council, adjudicator; '' = none).",
)
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    help="Model-call store: a re-run answers from it [default: OUT with .calls.sqlite].",
)
@click.option(
    "--cache",
    type=click.Path(path_type=Path),
    help="Cache of the mismatch stage's losses [default: in gra's cache directory].",
)
@ray_options("the review runs (Ray Data; docs/ray.md)", workers=True)
def command(
    data, out, config_path, stages, store, cache, executor, ray_address, workers, **field_kw
):  # fmt: skip
    """Review each sample of DATA (gra, Alpaca, ShareGPT or messages records in JSONL,
    JSON, Parquet or a directory of Parquet shards; an OUT ending in .parquet is Parquet).

    Each output line keeps the input's fields and adds: verdict (accept or reject),
    score (higher is better; rank by it), reasons, decided_by, the reviews with
    per-dimension scores and how they were made (logprobs or sampled), the
    aggregate and any adjudication. OUT with .summary.json gets the counts and the
    review tokens spent per sample and per accepted sample.
    """
    import gra

    progress = ProgressLine("review")
    try:
        with flag_terms():
            stage_list = None if stages is None else stages.split(",")
            r = gra.review(data, out, fields=fields_of(field_kw), config=config_path,
                           stages=stage_list, store=store, cache=cache,
                           progress=progress.update, executor=executor,
                           ray_address=ray_address, workers=workers)  # fmt: skip
    finally:
        progress.done()
    summary = r.summary
    per_acc = summary["review_tokens_per_accepted"]
    by = ", ".join(f"{n} by {k}" for k, n in sorted(summary["rejected_by"].items()))
    click.echo(
        f"reviewed {summary['samples']}: {summary['accepted']} accepted, "
        f"{summary['rejected']} rejected{f' ({by})' if by else ''}; "
        f"{summary['reviews']} reviews, {summary['adjudicated']} adjudicated; "
        f"review tokens {summary['review_tokens']} "
        f"({summary['review_tokens_per_sample']}/sample, {per_acc}/accepted)"
    )
    click.echo(f"verdicts: {out}")
