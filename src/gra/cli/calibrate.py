"""``gra calibrate LABELED --config C``: fit the calibrated verdict to your own labels."""

from __future__ import annotations

from pathlib import Path

import click

from gra.cli.common import ProgressLine


@click.command("calibrate")
@click.argument("labeled", type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Council config whose judges to calibrate; the weights are written into it "
    "(unless --out) [default: built-in council, written to --out].",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write the calibrated config here instead of over --config.",
)
@click.option(
    "--precision",
    type=click.FloatRange(0.0, 1.0, min_open=True),
    default=0.8,
    show_default=True,
    help="Precision of accept to aim for on the labeled pairs; sets aggregate.accept_p.",
)
@click.option(
    "--rubric/--no-rubric",
    default=False,
    help="Also fit a weight for the reviewers' six-dimension rubric (costs a review each).",
)
@click.option(
    "--store",
    type=click.Path(path_type=Path),
    help="Model-call store: a re-run answers from it [default: LABELED with .calls.sqlite].",
)
@click.option(
    "--signals",
    "signals_out",
    type=click.Path(path_type=Path),
    help="Also write each fitted pair's id, label, signals and p(good) here (JSONL).",
)
def command(labeled, config_path, out, precision, rubric, store, signals_out):
    """Fit aggregate.weights, bias and accept_p to LABELED pairs (JSONL with instruction,
    input, response and label good/bad) and write them into the config.

    The pairs the cheap checks reject are left out of the fit (the verdict never sees
    them). The numbers printed are measured on the labeled pairs themselves; score a
    held-out part with gra review to see how the weights do on new data."""
    from gra.api import sidecar
    from gra.config import load_config
    from gra.core.errors import UserError
    from gra.curate.calibrate import calibrate, label_of, write_config
    from gra.io.datasets import check_dataset_path, load_samples
    from gra.io.formats import write_jsonl_atomic
    from gra.synthesis.run import check_models

    check_dataset_path(labeled)
    if out is None and config_path is None:
        raise UserError("give --out FILE (or --config FILE to update it)", "gra calibrate")
    target = out or config_path
    cfg = load_config(config_path)
    samples = load_samples(labeled)
    for s in samples:
        label_of(s)  # every line labeled, before any model loads
    a = cfg.aggregate
    check_models(cfg, a.judges + a.loss_models + (cfg.review.models if rubric else []))
    store_path = store or sidecar(labeled, ".calls.sqlite")
    progress = ProgressLine("calibrate")
    try:
        cal = calibrate(
            samples, cfg, store_path, precision=precision, rubric=rubric,
            progress=progress.update,
        )  # fmt: skip
    finally:
        progress.done()
    write_config(cal, config_path, target)
    if signals_out:
        write_jsonl_atomic(signals_out, cal.pairs)
    out_of = ", ".join(f"{n} {k}" for k, n in cal.checked_out.items())
    click.echo(
        f"calibrated on {cal.fitted['good']} good / {cal.fitted['bad']} bad pairs "
        f"({cal.rows} labeled; the cheap checks rejected {out_of})"
    )
    click.echo(f"weights: {', '.join(f'{k} {v:+.3f}' for k, v in cal.weights.items())}; "
               f"bias {cal.bias:+.3f}")  # fmt: skip
    click.echo(
        f"on these pairs: AUROC {cal.auroc:.3f}; accept at p(good) >= {cal.accept_p}: "
        f"precision {cal.precision:.2f}, recall {cal.recall:.2f}"
    )
    click.echo(f"config: {target}")
