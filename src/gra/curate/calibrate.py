"""Fit the calibrated verdict (gra.council.verdict) to labeled pairs: ``gra calibrate``.

Every labeled pair goes through what ``gra review`` would do with the config's council:
the cheap checks, then the judges (and the reviewers, with ``rubric``). The pairs the
checks reject never reach the verdict, so they are left out of the fit. On the rest a
logistic regression learns one weight per signal, and ``accept_p`` becomes the lowest
threshold at which the accepted labeled pairs reach the asked-for precision. The result
is written into the config's ``aggregate`` section (rule ``calibrated``).

Labels: a ``label`` field per line, ``good`` / ``bad`` (also true/false, 1/0, accept /
reject). The fit is scored on the pairs it was fitted on; hold some labeled pairs back
and ``gra review`` them to see how it does on new data (docs/review.md does both).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gra.config import BASE_SIGNALS, Config
from gra.core.errors import UserError
from gra.council import verdict
from gra.io.datasets import Sample
from gra.io.formats import write_text_atomic

GOOD = {"good", "true", "1", "accept", "yes"}
BAD = {"bad", "false", "0", "reject", "no"}


def label_of(s: Sample) -> int:
    """1 for good, 0 for bad; a UserError naming the line otherwise."""
    raw = s.record.get("label")
    value = str(raw).strip().lower() if raw is not None else ""
    if value in GOOD:
        return 1
    if value in BAD:
        return 0
    raise UserError(
        f"'label' must be good or bad (or true/false, 1/0), got {raw!r}; "
        "label every line of the calibration file",
        s.where or "calibration data",
    )


@dataclass
class Calibration:
    weights: dict[str, float]
    bias: float
    accept_p: float
    judges: list[str]
    loss_models: list[str] = field(default_factory=list)
    rows: int = 0  # labeled pairs read
    checked_out: dict[str, int] = field(default_factory=dict)  # good / bad the checks rejected
    fitted: dict[str, int] = field(default_factory=dict)  # good / bad the fit saw
    auroc: float = float("nan")  # of p(good), on the fitted pairs
    precision: float = float("nan")  # of accept at accept_p, on the fitted pairs
    recall: float = float("nan")
    # per fitted pair: id, label (1 good / 0 bad), its signals and p(good)
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def section(self) -> dict[str, Any]:
        """The ``aggregate`` settings to write."""
        return {
            "rule": "calibrated",
            "judges": list(self.judges),
            "loss_models": list(self.loss_models),
            "weights": dict(self.weights),
            "bias": self.bias,
            "accept_p": self.accept_p,
        }


def calibrate(
    samples: Sequence[Sample],
    cfg: Config,
    store_path: Path,
    *,
    precision: float = 0.8,
    rubric: bool = False,
    l2: float = 1.0,
    progress: Callable[[str], None] | None = None,
    loader: Callable[..., Any] | None = None,
) -> Calibration:
    from gra.curate.review import review_samples

    labels = [label_of(s) for s in samples]
    run = copy.deepcopy(cfg)
    run.review.stages = ["checks", "council"]
    run.aggregate.rule = "calibrated"
    names = [f"yes:{m}" for m in run.aggregate.judges]
    names += [f"loss:{m}" for m in run.aggregate.loss_models]
    names += ["rubric"] if rubric else []
    names += list(BASE_SIGNALS)
    # a signal is computed when it has a weight; the value does not change the signals
    run.aggregate.weights = dict.fromkeys(names, 1.0)
    judged = review_samples(samples, run, store_path, progress=progress, loader=loader)
    xs, ys, ids = [], [], []
    checked_out = {"good": 0, "bad": 0}
    for j, y in zip(judged, labels, strict=True):
        agg = j.candidate.aggregate if j.candidate else None
        if agg is None or not agg.signals:
            checked_out["good" if y else "bad"] += 1
            continue
        xs.append(agg.signals)
        ys.append(y)
        ids.append(j.sample.id)
    if len(set(ys)) < 2:
        raise UserError(
            f"the pairs that pass the cheap checks are all {'good' if ys and ys[0] else 'bad'}"
            f" ({len(ys)} of {len(samples)}); calibrating needs good and bad pairs among them",
            "calibration data",
        )
    weights, bias = verdict.fit(xs, ys, names, l2=l2)
    scores = [verdict.p_good(x, weights, bias) for x in xs]
    accept_p = min(max(verdict.threshold_for(scores, ys, precision), 0.01), 0.99)
    accepted = [y for p, y in zip(scores, ys, strict=True) if p >= accept_p]
    return Calibration(
        weights=weights,
        bias=bias,
        accept_p=accept_p,
        judges=list(run.aggregate.judges),
        loss_models=list(run.aggregate.loss_models),
        rows=len(samples),
        checked_out=checked_out,
        fitted={"good": sum(ys), "bad": len(ys) - sum(ys)},
        auroc=verdict.auroc(
            [p for p, y in zip(scores, ys, strict=True) if y],
            [p for p, y in zip(scores, ys, strict=True) if not y],
        ),
        precision=sum(accepted) / len(accepted) if accepted else float("nan"),
        recall=sum(accepted) / sum(ys),
        pairs=[
            {"id": i, "label": y, "signals": x, "p_good": round(p, 4)}
            for i, y, x, p in zip(ids, ys, xs, scores, strict=True)
        ],
    )


def write_config(cal: Calibration, config_path: Path | None, out: Path) -> None:
    """``out`` = the config at ``config_path`` (or none) with its ``aggregate`` section
    updated; other settings are kept, YAML comments are not."""
    data: dict[str, Any] = {}
    if config_path is not None:
        from gra.config import read_config_file

        data = read_config_file(config_path)
    section = dict(data.get("aggregate") or {})
    section.update(cal.section())
    data["aggregate"] = section
    header = (
        "# aggregate: fitted by gra calibrate "
        f"({cal.fitted.get('good', 0)} good / {cal.fitted.get('bad', 0)} bad labeled pairs; "
        f"AUROC {cal.auroc:.3f}, precision {cal.precision:.2f} at p >= {cal.accept_p})\n"
    )
    write_text_atomic(out, header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
