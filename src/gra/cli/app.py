"""The ``gra`` command line: a thin layer over the library."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import click

from gra.cli.common import ray_options
from gra.core.errors import UserError
from gra.core.version import __version__
from gra.io.formats import EXPORTS


@click.group()
@click.version_option(__version__, prog_name="gra")
@click.option(
    "-v", "--verbose", is_flag=True, help="Debug logging (request bodies and prompts included)."
)
def cli(verbose: bool) -> None:
    """Build training data for large models with a council of small ones."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="gra: %(levelname)s: %(name)s: %(message)s" if verbose else "gra: %(message)s",
    )
    if not verbose:  # third-party chatter (one line per HTTP request) stays out
        logging.getLogger("httpx").setLevel(logging.WARNING)


@cli.command()
@click.argument("seeds", required=False, type=click.Path(path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    help="Council config (YAML or TOML); defaults are used for anything left out.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="New run directory [default: runs/synth-DATE-TIME].",
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    metavar="RUN_DIR",
    help="Continue a stopped run in RUN_DIR (SEEDS and --config are taken from it).",
)
@click.option("--n", "target", type=int, help="Accepted samples wanted [default: 100].")
@click.option(
    "--max-candidates", type=int, help="Stop after this many candidates [default: 10 x n + 10]."
)
@click.option(
    "--max-tokens", type=int, help="Stop once the run used this many tokens [0: no limit]."
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(EXPORTS[1:]),
    help="Also write data.FORMAT.jsonl, or data.parquet for parquet (repeatable).",
)
@click.option(
    "--no-report", is_flag=True, help="Do not write RUN_DIR/report.html at the end (gra report)."
)
@click.option(
    "--preview",
    type=click.IntRange(min=1),
    metavar="K",
    help="Run K candidates end to end without a run directory and show everything decided "
    "about each (seeds, checks, judges, reviews, decision); nothing is kept.",
)
@ray_options("each candidate runs", workers=True)
def synth(
    seeds, config_path, out, resume, target, max_candidates, max_tokens, formats, no_report,
    preview, executor, ray_address, workers,
):  # fmt: skip
    """Generate, review, adjudicate and deduplicate new samples from SEEDS."""
    import gra
    from gra.cli.common import flag_terms
    from gra.core.lock import Busy

    if preview is not None:
        if resume is not None or out is not None or seeds is None:
            raise UserError("give SEEDS (and --config) with --preview, not --out or --resume",
                            "--preview")  # fmt: skip
        from gra.cli.preview import show

        show(gra.preview(seeds, preview, config=config_path))
        return

    if resume is not None:
        if seeds is not None or config_path is not None or out is not None:
            raise UserError(
                "give either SEEDS (a new run) or --resume RUN_DIR, not both", "--resume"
            )
        run_dir = resume
    else:
        if seeds is None:
            raise UserError(
                "missing SEEDS file (or --resume RUN_DIR to continue a run)", "gra synth"
            )
        run_dir = out or Path("runs") / time.strftime("synth-%Y%m%d-%H%M%S")
    limits = {"n": target, "max_candidates": max_candidates, "max_tokens": max_tokens}
    where = {"executor": executor, "ray_address": ray_address, "workers": workers}
    # a new run into a directory that holds another run's files fails; never touch those
    ours = resume is not None or not (run_dir / "summary.json").exists()
    try:
        with flag_terms(n="--n", formats="--format"):
            if resume is not None:
                result = gra.resume(run_dir, **limits, formats=formats, **where)
            else:
                result = gra.synth(
                    seeds, run_dir, config=config_path, **limits, formats=formats, **where
                )
    except Busy:  # another process runs it: leave its files alone
        raise
    except UserError:
        # the run stopped on an error after saving what it had: report that too
        if ours and not no_report and (run_dir / "summary.json").is_file():
            _write_report(run_dir)
        raise
    s = result.summary
    c = s["counts"]
    if s.get("task") == "preference":
        p = s["preference"]
        words = {"no_accepted": "no response accepted", "small_margin": "margin too small"}
        why = ", ".join(f"{n} {words.get(code, code)}" for code, n in p["no_pair"].items())
        click.echo(
            f"{result.stop_reason}: {p['pairs']} preference pairs from {c['candidates']} "
            f"instructions (no pair: {why or 'none'}; {c['duplicates']} duplicates) "
            f"in {s['wall_time_s']:.0f}s"
        )
    else:
        click.echo(
            f"{result.stop_reason}: {c['accepted']} accepted of {c['candidates']} candidates "
            f"({c['rejected_by_council']} rejected by the council, {c['adjudicated']} "
            f"adjudicated, {c['duplicates']} duplicates) in {s['wall_time_s']:.0f}s"
        )
    click.echo(f"output: {run_dir / 'data.jsonl'}")
    click.echo(f"summary: {run_dir / 'summary.json'}")
    if result.interrupted and not no_report:
        click.echo(f"report: not written (interrupted); write it with: gra report {run_dir}")
    elif not no_report:
        _write_report(run_dir)
    if result.interrupted or s["status"] != "complete":
        click.echo(f"continue with: gra synth --resume {run_dir}")
    if result.interrupted:
        sys.exit(130)


def _write_report(run_dir: Path) -> None:
    """Write RUN_DIR/report.html and print its path; a failure is one warning line, since
    the run's data is already saved."""
    try:
        from gra.cli.report import tty_progress
        from gra.report import build_report

        path = build_report(run_dir, progress=tty_progress())
    except Exception as e:  # noqa: BLE001 - never lose a finished run to its report
        click.echo(
            f"gra: warning: report not written ({type(e).__name__}: {e}); "
            f"try again with: gra report {run_dir}",
            err=True,
        )
        return
    click.echo(f"report: {path}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def models(as_json: bool) -> None:
    """List the embedded models: what is available and what is installed."""
    from gra.models.registry import cache_dir, describe

    rows = describe()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="embedded models")
    for col in ("name", "status", "description"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["name"], r["status"], r["description"])
    console = Console()
    console.print(table)
    missing = [r for r in rows if r["status"] != "installed"]
    for r in missing:
        console.print(f"install {r['name']}: {r['install']}", soft_wrap=True)
    console.print(
        f"also usable: a path to any .gguf file, or hf:OWNER/REPO/FILE.gguf (cache: {cache_dir()})",
        soft_wrap=True,
    )


def _register_dataset_commands() -> None:
    import importlib
    import pkgutil

    from gra import cli as commands

    for mod in sorted(m.name for m in pkgutil.iter_modules(commands.__path__)):
        command = getattr(importlib.import_module(f"{commands.__name__}.{mod}"), "command", None)
        if isinstance(command, click.Command):
            cli.add_command(command)


_register_dataset_commands()


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="gra", standalone_mode=False)
    except UserError as e:
        click.echo(f"gra: error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("gra: aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        click.echo(f"gra: error: {e.format_message()} (see gra --help)", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
