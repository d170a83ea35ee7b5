"""``gra dedup DATA --out OUT``: exact, MinHash and (optionally) embedding duplicates."""

from __future__ import annotations

import time
from pathlib import Path

import click

from gra.cli.common import ProgressLine, check_out_path, fraction_option, sidecar_path
from gra.core.errors import UserError


@click.command("dedup")
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="Deduplicated JSONL to write."
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
def command(data, out, field, jaccard, ngram, num_perm, cosine, embedder, report):
    """Remove duplicate samples from DATA (gra, Alpaca, ShareGPT or messages JSONL).

    The first sample of each duplicate group is kept; the report lists, for each
    kept id, the ids dropped as its duplicates, by which stage and how similar.
    """
    from gra.curate.dedup import DedupOptions, DedupStats, Removal, dedup_samples
    from gra.io.datasets import check_dataset_path, read_samples
    from gra.io.formats import write_json_atomic, write_jsonl_atomic

    check_dataset_path(data)
    check_out_path(out, data)
    report = report or sidecar_path(out, ".dedup.json")
    check_out_path(report, data, "--report")
    embed = None
    if cosine > 0:
        from gra.curate.embed import DEFAULT_EMBEDDER, load_embedder

        embed = load_embedder(embedder or DEFAULT_EMBEDDER).embed
    elif embedder:
        raise UserError("--embedder is used only with --cosine; add --cosine 0.9", "--embedder")

    opts = DedupOptions(field=field, jaccard=jaccard, ngram=ngram, num_perm=num_perm, cosine=cosine)
    removals: list[Removal] = []
    stats = DedupStats()
    progress = ProgressLine("dedup")
    t0 = time.perf_counter()

    def kept():
        for s in dedup_samples(read_samples(data), opts, removals, stats, embed):
            progress.update(f"{stats.read} read, {stats.read - stats.kept} removed")
            yield s.record

    write_jsonl_atomic(out, kept())
    progress.done()
    wall = time.perf_counter() - t0
    groups: dict[str, list[dict]] = {}
    for r in removals:
        groups.setdefault(r.kept, []).append(
            {"id": r.dropped, "method": r.method, "similarity": r.similarity}
        )
    summary = {
        "input": str(data),
        "output": str(out),
        "field": field,
        "stages": {
            "exact": True,
            "minhash": {"jaccard": jaccard, "ngram": ngram, "num_perm": num_perm}
            if jaccard
            else None,
            "cosine": {"threshold": cosine, "embedder": embedder or "default"} if cosine else None,
        },
        "read": stats.read,
        "kept": stats.kept,
        "removed": stats.removed,
        "wall_time_s": round(wall, 3),
        "groups": [{"kept": k, "dropped": v} for k, v in groups.items()],
    }
    write_json_atomic(report, summary)
    removed = stats.read - stats.kept
    parts = ", ".join(f"{n} {m}" for m, n in stats.removed.items() if n)
    click.echo(
        f"kept {stats.kept} of {stats.read} samples; removed {removed}"
        + (f" ({parts})" if parts else "")
        + f" in {wall:.1f}s"
    )
    click.echo(f"output: {out}")
    click.echo(f"report: {report}")
