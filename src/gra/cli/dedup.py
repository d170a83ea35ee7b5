"""``gra dedup DATA --out OUT``: exact, MinHash and (optionally) embedding duplicates."""

from __future__ import annotations

from pathlib import Path

import click

from gra.cli.common import (
    ProgressLine,
    field_options,
    fields_of,
    flag_terms,
    fraction_option,
    ray_options,
)


@click.command("dedup")
@field_options
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    required=True,
    help="Deduplicated JSONL (or .parquet) to write; with --executor ray, a directory "
    "(no extension) is written as JSONL shards.",
)
@click.option(
    "--field",
    type=click.Choice(["instruction", "response", "text"]),
    default="instruction",
    show_default=True,
    help="What is compared: the instruction (with its input), the response, or both.",
)
@fraction_option(
    "--jaccard", 0.7, "MinHash stage: word-shingle Jaccard that counts as a duplicate (0 = off)."
)
@click.option(
    "--ngram", type=click.IntRange(1, 10), default=3, show_default=True, help="Words per shingle."
)
@click.option(
    "--num-perm",
    type=click.IntRange(8, 1024),
    default=128,
    show_default=True,
    help="MinHash permutations.",
)
@fraction_option(
    "--cosine",
    0.0,
    "Embedding stage: cosine that counts as a duplicate (0 = off; the paper uses 0.9).",
)
@click.option(
    "--embedder", default=None, help="Embedding model for --cosine [default: gra's default]."
)
@click.option(
    "--report",
    type=click.Path(path_type=Path),
    help="JSON report of what was removed and why [default: OUT with .dedup.json].",
)
@ray_options("the dedup runs")
def command(
    data, out, field, jaccard, ngram, num_perm, cosine, embedder, report, executor, ray_address,
    **field_kw,
):  # fmt: skip
    """Remove duplicate samples from DATA (gra, Alpaca, ShareGPT or messages records in JSONL,
    JSON, Parquet or a directory of Parquet shards; an OUT ending in .parquet is Parquet).

    The first sample of each duplicate group is kept; the report lists, for each
    kept id, the ids dropped as its duplicates, by which stage and how similar.
    """
    import gra

    progress = ProgressLine("dedup")
    try:
        with flag_terms():
            r = gra.dedup(data, out, fields=fields_of(field_kw), field=field, jaccard=jaccard,
                          ngram=ngram, num_perm=num_perm, cosine=cosine, embedder=embedder,
                          report=report, progress=progress.update, executor=executor,
                          ray_address=ray_address)  # fmt: skip
    finally:
        progress.done()
    s = r.summary
    removed = s["read"] - s["kept"]
    parts = ", ".join(f"{n} {m}" for m, n in s["removed"].items() if n)
    click.echo(
        f"kept {s['kept']} of {s['read']} samples; removed {removed}"
        + (f" ({parts})" if parts else "")
        + f" in {s['wall_time_s']:.1f}s"
    )
    click.echo(f"output: {r.out}")
    click.echo(f"report: {r.report_path}")
