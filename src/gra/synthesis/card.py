"""The run directory's dataset card (``README.md``): a run directory is a Hugging Face
dataset that ``datasets.load_dataset(RUN_DIR)`` reads.

The YAML front matter names the data file (``configs`` / ``data_files``), the license
(``card.license`` in the config), the task category, the size category and the tags. The
body gives the council (models, backends, thresholds, prompt versions), the funnel and
acceptance, lexical diversity against the seeds, and how to reproduce the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from gra.config import Config
from gra.core.store import Store

CARD_NAME = "README.md"

_SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
          (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))  # fmt: skip


def size_category(n: int) -> str:
    return next((name for limit, name in _SIZES if n < limit), "10M<n<100M")


def front_matter(cfg: Config, accepted: int, run_name: str) -> dict[str, Any]:
    return {
        "configs": [
            {"config_name": "default", "data_files": [{"split": "train", "path": "data.jsonl"}]}
        ],
        "license": cfg.card.license,
        "task_categories": ["text-generation"],
        "size_categories": [size_category(accepted)],
        "tags": ["synthetic", "gra", *(["preference", "dpo"] if cfg.task == "preference" else [])],
        "pretty_name": cfg.card.name or run_name,
    }


def render_card(
    run_dir: Path, cfg: Config, summary: dict[str, Any], store: Store, diversity: dict | None
) -> str:
    """The card's text (front matter + Markdown)."""
    c = summary["counts"]
    name = cfg.card.name or run_dir.resolve().name
    meta = yaml.safe_dump(front_matter(cfg, c["accepted"], name), sort_keys=False)
    lines = [f"---\n{meta}---", "", f"# {name}", ""]
    what = (
        "preference pairs (prompt, chosen, rejected: the council's best-scored accepted "
        "response over its worst; docs/preference.md in gra)"
        if cfg.task == "preference"
        else "instruction-response pairs"
    )
    lines += [
        f"{c['accepted']} {what} written by a council of small language "
        "models with [gra](https://pypi.org/project/gra/) (Generator, Reviewers, Adjudicator: "
        'Gao et al., ACL 2025, "GRA"). Every sample carries its provenance: the generator, '
        "the seeds it grew from, each model call and the council's verdict.",
        "",
        "```python",
        "from datasets import load_dataset",
        f'ds = load_dataset("path/to/{run_dir.resolve().name}", split="train")'
        "  # or its Hub repo id, once pushed",
        "```",
        "",
        "## The council",
        "",
        "| role | models |",
        "|---|---|",
        f"| generators | {', '.join(cfg.generation.models)} (mode `{cfg.generation.mode}`, "
        f"responder `{cfg.generation.responder}`) |",
    ]
    a = cfg.aggregate
    if a.rule == "calibrated":
        lines.append(f"| judges (one-token yes/no) | {', '.join(a.judges) or '–'} |")
        lines.append(f"| response loss | {', '.join(a.loss_models) or '–'} |")
        rule = f"calibrated: accept when p(good) ≥ {a.accept_p}"
    else:
        reviewers = f"{', '.join(cfg.review.models)} ({cfg.review.reviewers} per pair)"
        lines.append(f"| reviewers | {reviewers} |")
        lines.append(f"| adjudicators | {', '.join(cfg.adjudication.models)} |")
        rule = (
            f"mean/std: accept mean ≥ {a.accept_mean}, reject mean < {a.reject_mean}, "
            f"adjudicate when std > {a.max_std}"
        )
    lines += ["", f"Verdict: {rule}. Near-duplicates (Jaccard ≥ {cfg.dedup.threshold} on the "
              f"{cfg.dedup.field}) are dropped.", ""]  # fmt: skip
    lines += ["| model | backend | source or server |", "|---|---|---|"]
    for m in cfg.model_names():
        s = cfg.model(m)
        where = s.base_url if s.backend != "embedded" else s.source
        lines.append(f"| {m} | {s.backend} | {where} |")
    prompts = [p for (p,) in store.db.execute("SELECT DISTINCT prompt FROM calls ORDER BY prompt")]
    lines += ["", f"Prompt versions: {', '.join(f'`{p}`' for p in prompts) or '–'}.", ""]
    lines += [
        "## How the candidates fared",
        "",
        "| stage | candidates |",
        "|---|---:|",
        f"| finished | {c['candidates']} |",
        f"| rejected by the cheap checks | {c['cheap_check_rejected']} |",
        f"| judged by the council | {c['reviewed']} |",
        f"| duplicates | {c['duplicates']} |",
        f"| accepted | {c['accepted']} |",
        f"| cancelled at the target | {c.get('cancelled_at_target', 0)} |",
        "",
        f"Acceptance: {c['accepted']} of {c['candidates']} finished candidates. Stop reason: "
        f"{summary.get('stop_reason', '–')}.",
        "",
        "| generator | candidates | accepted | rate |",
        "|---|---:|---:|---:|",
    ]
    for g, r in summary.get("acceptance_by_generator", {}).items():
        lines.append(f"| {g} | {r['candidates']} | {r['accepted']} | {r['rate']:.1%} |")
    lines += ["", "## Diversity against the seeds", ""]
    if diversity:
        lines += ["| data | n | distinct-2 | self-BLEU | gzip ratio |", "|---|---:|---:|---:|---:|"]
        for row in diversity["results"]:
            if row.get("generator") is None:
                lines.append(
                    f"| {Path(row['label']).name} | {row['n']} | {_f(row['distinct_2'])} | "
                    f"{_f(row['self_bleu'])} | {_f(row['compression_ratio'], 2)} |"
                )
        lines += ["", "Higher distinct-2, lower self-BLEU and gzip ratio: more diverse."]
    else:
        lines.append("No accepted samples to measure.")
    opts = store.get_meta("options") or {}
    lines += [
        "",
        "## Reproduce",
        "",
        "This directory holds the seeds (`seeds.jsonl`) and the full config (`config.yaml`) "
        "the run used. Every random choice derives from the config's seed, so the same "
        "command makes the same plan (domains, generators, example seeds); the answers of "
        "batched embedded models can still differ from run to run:",
        "",
        "```sh",
        f"gra synth seeds.jsonl --config config.yaml --n {opts.get('target', c['accepted'])} "
        f"--max-candidates {opts.get('max_candidates', c['candidates'])}",
        "```",
        "",
        "With the run directory and its call store (`run.sqlite`), `gra synth --resume "
        "RUN_DIR --n LARGER` continues this run and answers every stored call from the "
        "store.",
        "",
    ]
    return "\n".join(lines)


def _f(x: float | None, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}f}"


def write_card(run_dir: Path, summary: dict[str, Any], store: Store) -> Path:
    """Write ``RUN_DIR/README.md`` (atomically) from the run's config, summary and store."""
    from gra.config import load_config
    from gra.curate.diversity import report
    from gra.io.formats import write_text_atomic

    cfg = load_config(run_dir / "config.yaml")
    diversity = None  # (of samples; a preference run's rows are pairs)
    if summary["counts"]["accepted"] >= 2 and cfg.task != "preference":
        diversity = report(
            [run_dir / "data.jsonl", run_dir / "seeds.jsonl"], field="text", bleu_sample=200
        )
    path = run_dir / CARD_NAME
    write_text_atomic(path, render_card(run_dir, cfg, summary, store, diversity))
    return path
