"""``gra diversity``: lexical and embedding diversity per file and per generator model."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from gra.cli.common import field_options, fields_of, flag_terms, ray_options
from gra.core.errors import UserError
from gra.io.datasets import TEXT_FIELDS

DEFAULT_BLEU_SAMPLE = (
    500  # the same as gra.curate.diversity's (kept here so --help imports no numpy)
)
DEFAULT_EMBED_SAMPLE = 2000
FIELDS = TEXT_FIELDS
NO_GENERATOR = "(no generator)"


def _check_json_path(path: str | None) -> None:
    if path is None or path == "-":
        return
    p = Path(path).expanduser()
    if p.is_dir():
        raise UserError("is a directory; give a file path for the JSON report", "--json")
    if not p.parent.is_dir():
        raise UserError(f"directory {p.parent} does not exist; create it first", "--json")


def _fmt(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def render(result: dict[str, Any]) -> Any:
    """The report as a rich table (rows as in ``result["results"]``)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    settings = result["settings"]
    embedded = settings["embedder"] is not None
    table = Table(title="diversity", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("data", overflow="fold")
    for col in ("n", "dist-1", "dist-2", "dist-3", "self-BLEU", "BLEU n", "gzip x"):
        table.add_column(col, justify="right")
    if embedded:
        for col in ("cos dist", "Vendi", "emb n"):
            table.add_column(col, justify="right")
    for r in result["results"]:
        cells = [
            r["label"] if r["generator"] is None else f"  [{r['generator'] or NO_GENERATOR}]",
            str(r["n"]),
            _fmt(r["distinct_1"], 3),
            _fmt(r["distinct_2"], 3),
            _fmt(r["distinct_3"], 3),
            _fmt(r["self_bleu"], 3),
            str(r["self_bleu_sample"]),
            _fmt(r["compression_ratio"], 2),
        ]
        if embedded:
            cells += [_fmt(r["cosine_distance"], 3), _fmt(r["vendi"], 1), str(r["embed_sample"])]
        table.add_row(*(Text(c) for c in cells))  # Text: "[name]" is no markup
    return table


def _caption(result: dict[str, Any]) -> str:
    s = result["settings"]
    bleu_n = "every sample" if s["bleu_sample"] == 0 else f"up to {s['bleu_sample']}"
    lines = [
        f"measured on: {s['field']}; tokens: lowercase words; seed {s['seed']}",
        f"self-BLEU: BLEU-4 of each sampled text vs the others, random sample of {bleu_n} "
        "(BLEU n); lower = more diverse",
        "gzip x: bytes / gzip bytes (level 9); lower = more diverse",
    ]
    if s["embedder"] is not None:
        emb_n = "every sample" if s["embed_sample"] == 0 else f"up to {s['embed_sample']}"
        lines.append(
            f"cos dist, Vendi: {s['embedder']} embeddings of a random sample of {emb_n} "
            "(emb n); higher = more diverse"
        )
    else:
        lines.append("embedding metrics skipped (--no-embeddings)")
    return "\n".join(lines)


@click.command("diversity")
@field_options
@click.argument("data", nargs=-1, required=True)
@click.option(
    "--field",
    type=click.Choice(FIELDS),
    default="text",
    show_default=True,
    help="Text measured: instruction + response, the instruction (with any input) or the response.",
)
@click.option(
    "--bleu-sample",
    type=int,
    default=DEFAULT_BLEU_SAMPLE,
    show_default=True,
    help="Self-BLEU on a random sample of this many texts per row (0: all; time and memory "
    "grow with it).",
)
@click.option(
    "--embed-sample",
    type=int,
    default=DEFAULT_EMBED_SAMPLE,
    show_default=True,
    help="Embed a random sample of this many texts per row (0: all).",
)
@click.option("--embedder", metavar="NAME", help="Embedding model [default: gra's default].")
@click.option(
    "--no-embeddings", is_flag=True, help="Skip cosine distance and Vendi (no embedding model)."
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the samples.")
@click.option(
    "--json",
    "json_path",
    metavar="PATH",
    help="Also write the full report as JSON to PATH ('-': print JSON only, no table).",
)
@ray_options("the diversity report runs", workers=True)
def command(
    data: tuple[str, ...],
    field: str,
    bleu_sample: int,
    embed_sample: int,
    embedder: str | None,
    no_embeddings: bool,
    seed: int,
    json_path: str | None,
    executor: str,
    ray_address: str | None,
    workers: int,
    **field_kw,
) -> None:
    """Diversity of DATA files (.jsonl/.json): per file and, for gra output, per generator.

    distinct-1/2/3, self-BLEU, gzip compression ratio and, from embeddings, mean
    pairwise cosine distance and the Vendi score. With --executor ray, n-grams are
    counted and the samples embedded on the cluster; the report is the same.
    """
    import gra

    if embedder is not None and no_embeddings:
        raise UserError("give --embedder NAME or --no-embeddings, not both", "--embedder")
    _check_json_path(json_path)
    progress = (lambda msg: click.echo(f"gra: {msg}", err=True)) if sys.stderr.isatty() else None
    with flag_terms():
        result = gra.diversity(
            *data,
            fields=fields_of(field_kw),
            field=field,
            bleu_sample=bleu_sample,
            embed_sample=embed_sample,
            embedder=False if no_embeddings else embedder,
            seed=seed,
            progress=progress,
            executor=executor,
            ray_address=ray_address,
            workers=workers,
        )
    text = json.dumps(result, indent=2, ensure_ascii=False)
    if json_path == "-":
        click.echo(text)
        return
    from rich.console import Console

    # piped or logged: room for every column instead of rich's 80-column default
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(render(result))
    console.print(_caption(result), soft_wrap=True, markup=False, highlight=False)
    if json_path is not None:
        try:
            Path(json_path).expanduser().write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            raise UserError(f"cannot write ({e.strerror or e})", json_path) from None
        console.print(f"report: {json_path}", soft_wrap=True, markup=False, highlight=False)
