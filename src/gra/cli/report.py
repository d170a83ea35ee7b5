"""``gra report``: one self-contained HTML page about a synth run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from gra.core.errors import UserError

DEFAULT_MAP_POINTS = 2000  # the same as gra.report.data's (kept here so --help imports no numpy)


def tty_progress() -> Callable[[str], None] | None:
    """A line on stderr per slow step, when stderr is a terminal."""
    if not sys.stderr.isatty():
        return None
    return lambda msg: click.echo(f"gra report: {msg}", err=True)


@click.command("report")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Where to write the page [default: RUN_DIR/report.html].",
)
@click.option(
    "--no-embeddings",
    is_flag=True,
    help="Skip the embedding map, cosine distance and Vendi (no embedding model).",
)
@click.option("--embedder", metavar="NAME", help="Embedding model [default: gra's default].")
@click.option(
    "--map-points",
    type=int,
    default=DEFAULT_MAP_POINTS,
    show_default=True,
    help="At most this many seeds + accepted samples on the map (a random sample beyond).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
def command(
    run_dir: Path,
    out: Path | None,
    no_embeddings: bool,
    embedder: str | None,
    map_points: int,
    seed: int,
) -> None:
    """Write RUN_DIR/report.html: funnel, scores, reviewer agreement, acceptance,
    diversity, an embedding map, usage and a sample browser, in one HTML file that
    opens offline. Works on a finished, stopped or still-running run."""
    from gra.report import build_report

    if embedder is not None and no_embeddings:
        raise UserError("give --embedder NAME or --no-embeddings, not both", "--embedder")
    if map_points < 2:
        raise UserError(f"must be at least 2, got {map_points}", "--map-points")
    if not run_dir.is_dir():
        raise UserError("no such run directory", str(run_dir))
    path = build_report(
        run_dir,
        out,
        embeddings=not no_embeddings,
        embedder_name=embedder,
        max_points=map_points,
        seed=seed,
        progress=tty_progress(),
    )
    click.echo(f"report: {path}")
