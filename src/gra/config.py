"""The council config: every knob of the method, with a documented default.

A config file (YAML or TOML) overrides any subset of the defaults below.
Unknown keys, wrong types and out-of-range values are user errors that name
the file and the setting. ``examples/council.yaml`` spells out the defaults
(a test keeps it equal to this module).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gra.checks import check_names
from gra.core.errors import UserError
from gra.models.loading import BACKENDS
from gra.models.registry import EMBEDDED
from gra.models.settings import ModelSettings
from gra.models.weights import CHOICES as WEIGHT_CHOICES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


# the calibrated verdict's defaults: fitted by `gra calibrate` on benchmarks/data
# (docs/review.md, "The calibrated verdict")
DEFAULT_JUDGES = ("qwen2.5-coder-0.5b", "smollm2-135m")
DEFAULT_LOSS_MODELS = ("qwen2.5-coder-0.5b",)
DEFAULT_WEIGHTS = {
    "yes:qwen2.5-coder-0.5b": 1.0642,
    "yes:smollm2-135m": 0.4717,
    "loss:qwen2.5-coder-0.5b": -2.2211,
    "words": -1.0484,
    "code": 0.5324,
    "question": 0.7383,
}
DEFAULT_BIAS = 0.4228
DEFAULT_ACCEPT_P = 0.3935
#: signals gra.council.verdict computes from the text alone (no model)
BASE_SIGNALS = ("words", "code", "question")


@dataclass
class TaggingSettings:
    model: str = "smollm2-135m"
    max_tokens: int = 120
    tag_outputs: bool = True  # keywords/summary for each accepted sample


@dataclass
class GenerationSettings:
    models: list[str] = field(default_factory=lambda: ["qwen2.5-coder-0.5b", "smollm2-135m"])
    # paper: invent a new task from k seeds and their keywords/summaries, as in the GRA
    # paper | evolve: rewrite ONE same-domain seed by a named change (numbers, subject, a
    # requirement, the question asked). Measured on the embedded council, evolve did not
    # raise the raw good rate (benchmarks/data/README.md), so paper stays the default
    mode: str = "paper"
    # who answers the new instruction: self (the model that wrote it, as in the paper) |
    # auto (the first of generation.models: list the strongest first) | a model name
    responder: str = "self"
    # random | round_robin (per candidate) | adaptive: a bandit per domain on accepted
    # samples per token spent (gra.synthesis.routing), after `warmup` picks of evidence
    # per (domain, model): its picks in the domain plus half of those elsewhere
    pick: str = "random"
    warmup: int = 3
    domains: str = "round_robin"  # round_robin | random (per candidate)
    examples: int = 3  # k same-domain seeds shown to the generator
    temperature: float = 0.9
    instruction_max_tokens: int = 160
    response_max_tokens: int = 400


@dataclass
class ReviewSettings:
    models: list[str] = field(default_factory=lambda: ["qwen2.5-coder-0.5b", "smollm2-135m"])
    reviewers: int = 2  # reviews per candidate, at most (see sure_margin)
    temperature: float = 0.2
    max_tokens: int = 220
    # top tokens per position asked of the backend: scores become the expectation over
    # the score tokens (sum of s * p(s)) where it returns them; 0 = the written digits
    logprobs: int = 10
    # stop asking reviewers once every review so far is this far beyond a threshold
    # (>= aggregate.accept_mean + m or < aggregate.reject_mean - m); negative = ask all
    sure_margin: float = 0.5
    # a model that writes asserts for a response's Python functions (from the task, not the
    # code); the pair is rejected when one fails in the sandbox. "" = off: with the embedded
    # models the asserts fail as many right answers as wrong ones (docs/review.md)
    code_tester: str = ""
    # gra review's stages, in this order: checks, mismatch, council, adjudicator
    # (gra synth always runs the text checks, the council and the adjudicator)
    stages: list[str] = field(
        default_factory=lambda: ["checks", "mismatch", "council", "adjudicator"]
    )


@dataclass
class AggregateSettings:
    # calibrated: p(good) from weighed signals (gra.council.verdict; fit them on your labels with
    # `gra calibrate`) | mean_std: the paper's rule over the reviewers' rubric scores
    # (mean and spread -> accept / reject / adjudicate, thresholds below)
    rule: str = "calibrated"
    # calibrated rule: models asked for a one-token yes/no judgement (signal yes:MODEL)
    judges: list[str] = field(default_factory=lambda: list(DEFAULT_JUDGES))
    # calibrated rule: models whose mean token loss of the response after its instruction
    # is a signal (loss:MODEL; gra.council.loss_signal)
    loss_models: list[str] = field(default_factory=lambda: list(DEFAULT_LOSS_MODELS))
    # calibrated rule: signal -> weight, and the bias (fitted by gra calibrate on
    # benchmarks/data; docs/review.md); a "rubric" weight other than 0 also asks the reviewers
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    bias: float = DEFAULT_BIAS
    accept_p: float = DEFAULT_ACCEPT_P  # calibrated rule: accept when p(good) >= this
    # mean_std rule: calibrated on the embedded council's logprob-expected scores
    # (benchmarks/review_quality.py, docs/review.md); 7B-class reviewers score higher: raise
    # both (e.g. 7 / 5)
    accept_mean: float = 3.0  # mean >= this (and agreement) -> accept
    reject_mean: float = 2.0  # mean < this (and agreement) -> reject; between -> adjudicate
    max_std: float = 1.5  # std > this -> reviewers disagree -> adjudicate
    min_valid_reviews: int = 1  # fewer parsed reviews -> adjudicate


@dataclass
class AdjudicationSettings:
    models: list[str] = field(default_factory=lambda: ["qwen2.5-coder-0.5b", "smollm2-135m"])
    temperature: float = 0.2
    max_tokens: int = 200


@dataclass
class DedupSettings:
    threshold: float = 0.7  # Jaccard of word 3-gram shingles; >= is a duplicate
    ngram: int = 3
    num_perm: int = 128
    field: str = "instruction"  # instruction | instruction+response


@dataclass
class ChecksSettings:
    # cheap checks turned off, by name ("refusal", "format:max_words") or group ("format");
    # every check and its name: docs/review.md
    disabled: list[str] = field(default_factory=list)
    # the "mismatch" check (gra review): a small model's loss of the response after its own
    # instruction vs after another sample's; own/other >= mismatch_ratio, or IFD >=
    # mismatch_max_ifd (0 = off), flags a response to a different instruction
    mismatch_model: str = "smollm2-135m"
    mismatch_ratio: float = 0.95
    mismatch_max_ifd: float = 1.0


@dataclass
class ExecutorSettings:
    # candidates in flight at once (on Ray: on each worker); 0 = auto: twice the summed
    # concurrency of the models in use, so every model has work queued while candidates
    # wait on each other
    concurrency: int = 0


@dataclass
class CardSettings:
    # the run directory's dataset card (README.md): its license (a Hugging Face license id,
    # e.g. apache-2.0, cc-by-4.0; "other" when unsure) and its name (default: the run's
    # directory name)
    license: str = "other"
    name: str = ""


@dataclass
class PreferenceSettings:
    # task: preference -- k responses per instruction, each checked and scored by the council
    # (the same score as gra review's); a pair when the best passes the accept rule and the
    # worst is at least min_margin below it (scores 1-10; a response a cheap check rejected
    # scores 0). Response i comes from generation.models in turn, starting with the
    # instruction's writer, at temperatures[i] (default: generation.temperature)
    k: int = 3
    min_margin: float = 1.0
    temperatures: list[float] = field(default_factory=list)


@dataclass
class Config:
    seed: int = 0
    # sft: instruction-response samples | preference: chosen/rejected pairs (docs/preference.md)
    task: str = "sft"
    models: dict[str, ModelSettings] = field(
        # the embedded council decodes several sequences per model together (batched
        # backend): how many, on which weights, is measured on the machine (auto)
        default_factory=lambda: {
            name: ModelSettings(source=name, concurrency=0, n_ctx=2048)
            for name in ("qwen2.5-coder-0.5b", "smollm2-135m")
        }
    )
    tagging: TaggingSettings = field(default_factory=TaggingSettings)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    review: ReviewSettings = field(default_factory=ReviewSettings)
    aggregate: AggregateSettings = field(default_factory=AggregateSettings)
    adjudication: AdjudicationSettings = field(default_factory=AdjudicationSettings)
    checks: ChecksSettings = field(default_factory=ChecksSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    card: CardSettings = field(default_factory=CardSettings)
    preference: PreferenceSettings = field(default_factory=PreferenceSettings)

    def model_names(self) -> list[str]:
        """Every model some role uses, in first-use order."""
        names = [self.tagging.model, *self.generation.models, *self.review.models]
        names += self.adjudication.models
        if self.aggregate.rule == "calibrated":
            names += self.aggregate.judges + self.aggregate.loss_models
        if self.review.code_tester:
            names.append(self.review.code_tester)
        if self.generation.responder not in ("auto", "self"):
            names.append(self.generation.responder)
        return list(dict.fromkeys(names))

    def judging_models(self, adjudicate: bool = True) -> list[str]:
        """The models the council asks: the judges (and the reviewers when the rubric has
        a weight) under the calibrated rule; reviewers and adjudicators under mean_std."""
        a = self.aggregate
        if a.rule == "calibrated":
            names = [*a.judges, *(self.review.models if a.weights.get("rubric") else [])]
        else:
            names = [*self.review.models, *(self.adjudication.models if adjudicate else [])]
        if self.review.code_tester:
            names.append(self.review.code_tester)
        return list(dict.fromkeys(names))

    def responder(self, generator: str) -> str:
        """The model that answers an instruction written by ``generator``."""
        r = self.generation.responder
        if r == "self":
            return generator
        return self.generation.models[0] if r == "auto" else r

    def candidates_in_flight(self) -> int:
        if self.executor.concurrency:
            return self.executor.concurrency
        distinct = {}
        for name in self.model_names():
            m = self.model(name)
            # (0, auto, is resolved before a run; 8 stands in for it until then)
            distinct[(m.backend, m.source, m.base_url, m.model)] = m.concurrency or 8
        return max(2, 2 * sum(distinct.values()))

    def model(self, name: str) -> ModelSettings:
        return self.models.get(name) or ModelSettings(source=name)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


#: gra review's stages, in run order (gra.curate.review).
STAGES = ("checks", "mismatch", "council", "adjudicator")


def check_stages(stages: list[str]) -> list[str]:
    """The stages in run order; ValueError for unknown names or an adjudicator
    without a council."""
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown stage {unknown[0]!r} (known: {', '.join(STAGES)})")
    if "adjudicator" in stages and "council" not in stages:
        raise ValueError("the adjudicator decides what the council leaves open: add 'council'")
    return [s for s in STAGES if s in stages]


#: List settings that may be empty (every other list must name at least one item).
MAY_BE_EMPTY = {
    "checks.disabled",
    "review.stages",
    "aggregate.judges",
    "aggregate.loss_models",
    "preference.temperatures",
}

CHOICES = {
    "generation.pick": ("random", "round_robin", "adaptive"),
    "generation.mode": ("evolve", "paper"),
    "aggregate.rule": ("calibrated", "mean_std"),
    "generation.domains": ("random", "round_robin"),
    "dedup.field": ("instruction", "instruction+response"),
    "structured_output": ("auto", "json_schema", "json_object", "guided_json", "none"),
    "weights": WEIGHT_CHOICES,
    "extra_buffers": ("auto", "on", "off"),
}


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _build(cls: type, data: Any, where: str, path: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"setting '{path or 'top level'}' must be a mapping", where)
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in names:
            raise UserError(
                f"unknown setting '{full}'; known here: {', '.join(sorted(names))}", where
            )
        kwargs[key] = _coerce(hints[key], value, where, full)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, where: str, path: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where, path)
    if origin is dict:
        _, vt = typing.get_args(tp)
        if not isinstance(value, dict):
            raise UserError(f"setting '{path}' must be a mapping of name -> settings", where)
        out = {}
        for k, v in value.items():
            if dataclasses.is_dataclass(vt):
                if isinstance(v, str):  # shorthand: name: source
                    v = {"source": v}
                v = v or {}
            out[str(k)] = _coerce(vt, v, where, f"{path}.{k}")
        return out
    if origin is list:
        (it,) = typing.get_args(tp)
        if not isinstance(value, list) or not (value or path in MAY_BE_EMPTY):
            raise UserError(f"setting '{path}' must be a non-empty list", where)
        return [_coerce(it, v, where, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        raise TypeError(f"unsupported config type {tp}")  # pragma: no cover
    ok = isinstance(value, tp) and not (tp is int and isinstance(value, bool))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise UserError(
            f"setting '{path}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}",
            where,
        )
    return value


def _check(cfg: Config, where: str) -> None:
    def bad(path: str, msg: str) -> UserError:
        return UserError(f"setting '{path}' {msg}", where)

    for path, allowed in CHOICES.items():
        if "." not in path:
            continue
        section, key = path.split(".")
        value = getattr(getattr(cfg, section), key)
        if value not in allowed:
            raise bad(path, f"must be one of {', '.join(allowed)}, got {value!r}")
    for name, m in cfg.models.items():
        if m.backend not in BACKENDS:
            known = ", ".join(BACKENDS.names())
            raise bad(f"models.{name}.backend", f"must be one of {known}")
        for key in ("structured_output", "weights", "extra_buffers"):
            if getattr(m, key) not in CHOICES[key]:
                raise bad(f"models.{name}.{key}", f"must be one of {', '.join(CHOICES[key])}")
        if m.backend == "openai":
            if not m.base_url.startswith(("http://", "https://")):
                raise bad(f"models.{name}.base_url", "must be an http(s) URL ending in /v1")
            m.model = m.model or name
        elif not m.source:
            m.source = name
        if m.n_ctx < 256:
            raise bad(f"models.{name}.n_ctx", "must be at least 256")
        if m.concurrency < 0 or (m.concurrency == 0 and m.backend == "openai"):
            raise bad(
                f"models.{name}.concurrency",
                "must be > 0" + ("" if m.backend == "openai" else " (or 0: measured, auto)"),
            )
        for key in ("timeout_s", "down_after"):
            if getattr(m, key) <= 0:
                raise bad(f"models.{name}.{key}", "must be > 0")
        if m.max_retries < 0 or m.retry_backoff_s < 0:
            raise bad(f"models.{name}.max_retries", "and retry_backoff_s must be >= 0")
    for i, name in enumerate(cfg.checks.disabled):
        try:
            check_names([name])
        except ValueError as e:
            raise bad(f"checks.disabled[{i}]", str(e)) from None
    a = cfg.aggregate
    for key in ("accept_mean", "reject_mean"):
        if not 1.0 <= getattr(a, key) <= 10.0:
            raise bad(f"aggregate.{key}", "must be between 1 and 10")
    if a.reject_mean > a.accept_mean:
        raise bad("aggregate.reject_mean", "must not exceed aggregate.accept_mean")
    if a.max_std < 0:
        raise bad("aggregate.max_std", "must be >= 0")
    if not 0.0 < a.accept_p < 1.0:
        raise bad("aggregate.accept_p", "must be between 0 and 1 (a probability)")
    signals = {*BASE_SIGNALS, "rubric", *(f"yes:{m}" for m in a.judges)}
    signals |= {f"loss:{m}" for m in a.loss_models}
    for name in a.weights:
        if name not in signals:
            raise bad(
                f"aggregate.weights.{name}",
                f"is no signal of this config (known: {', '.join(sorted(signals))}); "
                "a yes:MODEL signal needs MODEL in aggregate.judges, loss:MODEL in "
                "aggregate.loss_models",
            )
    try:
        check_stages(cfg.review.stages)
    except ValueError as e:
        raise bad("review.stages", str(e)) from None
    if not 0.0 < cfg.checks.mismatch_ratio or cfg.checks.mismatch_max_ifd < 0:
        raise bad("checks.mismatch_ratio", "and mismatch_max_ifd must be > 0 (max_ifd 0 = off)")
    if not 0 <= cfg.review.logprobs <= 20:
        raise bad("review.logprobs", "must be between 0 (off) and 20 (the OpenAI API's limit)")
    positive = {
        "review.reviewers": cfg.review.reviewers,
        "generation.examples": cfg.generation.examples,
        "aggregate.min_valid_reviews": a.min_valid_reviews,
        "dedup.ngram": cfg.dedup.ngram,
        "dedup.num_perm": cfg.dedup.num_perm,
    }
    for section in ("tagging", "review", "adjudication"):
        positive[f"{section}.max_tokens"] = getattr(cfg, section).max_tokens
    positive["generation.instruction_max_tokens"] = cfg.generation.instruction_max_tokens
    positive["generation.response_max_tokens"] = cfg.generation.response_max_tokens
    for path, value in positive.items():
        if value < 1:
            raise bad(path, "must be >= 1")
    if cfg.executor.concurrency < 0:
        raise bad("executor.concurrency", "must be >= 0 (0 = auto)")
    if cfg.task not in ("sft", "preference"):
        raise bad("task", f"must be one of sft, preference, got {cfg.task!r}")
    if cfg.preference.k < 2:
        raise bad("preference.k", "must be >= 2 (a pair needs two responses)")
    if cfg.preference.min_margin < 0:
        raise bad("preference.min_margin", "must be >= 0")
    if any(not 0.0 <= t <= 2.0 for t in cfg.preference.temperatures):
        raise bad("preference.temperatures", "must each be between 0 and 2")
    if cfg.generation.warmup < 0:
        raise bad("generation.warmup", "must be >= 0 (picks per domain and model first)")
    if a.min_valid_reviews > cfg.review.reviewers:
        raise bad("aggregate.min_valid_reviews", "must not exceed review.reviewers")
    if not 0.0 < cfg.dedup.threshold <= 1.0:
        raise bad("dedup.threshold", "must be in (0, 1]")
    for section in ("generation", "review", "adjudication"):
        t = getattr(cfg, section).temperature
        if not 0.0 <= t <= 2.0:
            raise bad(f"{section}.temperature", "must be between 0 and 2")
    for name in cfg.model_names():
        if name in cfg.models or name in EMBEDDED:
            continue
        if name.startswith("hf:") or name.endswith(".gguf"):
            continue
        raise UserError(
            f"model '{name}' is used by a role but not defined; add it under 'models:' "
            f"or use one of {', '.join(EMBEDDED)}",
            where,
        )


def read_config_file(path: Path) -> dict[str, Any]:
    where = str(path)
    if not path.is_file():
        raise UserError("config file not found", where)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"not UTF-8 (byte {e.start}); save the config as UTF-8", where) from None
    if path.suffix.lower() == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise UserError(f"invalid TOML: {e}", where) from None
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            problem = getattr(e, "problem", None) or "invalid YAML"
            if mark is not None:
                where = f"{path}:{mark.line + 1}"
            raise UserError(f"invalid YAML: {problem}", where) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError("the config must be a mapping of settings", where)
    return data


def load_config(path: str | Path | None = None, data: dict[str, Any] | None = None) -> Config:
    """Defaults, overridden by a config file and then by ``data`` (e.g. a run snapshot)."""
    where = str(path) if path else "config"
    merged: dict[str, Any] = {}
    if path is not None:
        merged = read_config_file(Path(path))
    if data:
        merged = _deep_merge(merged, data)
    cfg = _build(Config, merged, where, "")
    _check(cfg, where)
    return cfg


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out
