"""``gra review DATA --out VERDICTS``: the council's verdict on each sample of a dataset."""

from __future__ import annotations

from pathlib import Path

import click

from gra.cli.common import ProgressLine, check_out_path, sidecar_path
from gra.core.errors import UserError


@click.command("review")
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Verdicts JSONL to write (one line per input sample, same order).",
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
def command(data, out, config_path, stages, store, cache):
    """Review each sample of DATA (gra, Alpaca, ShareGPT or messages JSONL).

    Each output line keeps the input's fields and adds: verdict (accept or reject),
    score (higher is better; rank by it), reasons, decided_by, the reviews with
    per-dimension scores and how they were made (logprobs or sampled), the
    aggregate and any adjudication. OUT with .summary.json gets the counts and the
    review tokens spent per sample and per accepted sample.
    """
    from gra.config import check_stages, load_config
    from gra.curate.review import review_samples, summarize
    from gra.io.datasets import check_dataset_path, load_samples
    from gra.io.formats import write_json_atomic, write_jsonl_atomic
    from gra.synth.run import check_models

    check_dataset_path(data)
    check_out_path(out, data)
    cfg = load_config(config_path)
    if stages is not None:
        try:
            cfg.review.stages = check_stages([s.strip() for s in stages.split(",") if s.strip()])
        except ValueError as e:
            raise UserError(str(e), "--stages") from None
    samples = load_samples(data)
    names = []
    if "council" in cfg.review.stages:
        names += cfg.judging_models("adjudicator" in cfg.review.stages)
    if "mismatch" in cfg.review.stages and "mismatch" not in cfg.checks.disabled:
        names.append(cfg.checks.mismatch_model)
    check_models(cfg, names)

    progress = ProgressLine("review")
    store_path = store or sidecar_path(out, ".calls.sqlite")
    store_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        judged = review_samples(samples, cfg, store_path, cache, progress.update)
    finally:
        progress.done()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl_atomic(out, (j.record() for j in judged))
    summary = {"data": str(data), "stages": cfg.review.stages, **summarize(judged)}
    write_json_atomic(sidecar_path(out, ".summary.json"), summary)
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
