"""``gra push RUN_DIR REPO_ID``: a run to a Hugging Face dataset repository."""

from __future__ import annotations

from pathlib import Path

import click

from gra.cli.common import flag_terms


@click.command("push")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "jsonl"]),
    default="parquet",
    show_default=True,
    help="How the accepted samples are uploaded.",
)
def command(run_dir, repo_id, private, fmt):
    """Upload RUN_DIR's data, dataset card (README.md) and report to the Hugging Face
    dataset repository REPO_ID (OWNER/NAME), in one commit.

    The token comes from HF_TOKEN or the Hub's login cache (hf auth login); it is never
    printed or stored. Offline, or when the Hub refuses, nothing is uploaded.
    """
    from gra.synthesis.push import push

    with flag_terms(fmt="--format"):
        up = push(run_dir, repo_id, private=private, fmt=fmt)
    for path in up.files:
        click.echo(f"uploaded: {path}")
    click.echo(f"dataset: {up.url}")
