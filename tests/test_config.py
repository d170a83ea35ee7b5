"""Config: defaults, overrides, and one-line errors naming the file and setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from gra.config import Config, load_config
from gra.core.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "c.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def error(path: Path) -> UserError:
    with pytest.raises(UserError) as info:
        load_config(path)
    assert "\n" not in str(info.value)
    return info.value


def test_documented_council_equals_the_defaults():
    assert load_config(ROOT / "examples" / "council.yaml").to_dict() == Config().to_dict()
    assert load_config(None).to_dict() == Config().to_dict()


def test_documented_council_spells_out_every_setting():
    import yaml

    def keys(d: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in d.items():
            out.add(prefix + k)
            if isinstance(v, dict) and k != "models":
                out |= keys(v, prefix + k + ".")
        return out

    written = yaml.safe_load((ROOT / "examples" / "council.yaml").read_text())
    assert keys(Config().to_dict()) - keys(written) == set()


def test_partial_override_keeps_other_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "aggregate:\n  accept_mean: 8\nreview:\n  reviewers: 3\n"))
    assert cfg.aggregate.accept_mean == 8.0 and isinstance(cfg.aggregate.accept_mean, float)
    assert cfg.aggregate.reject_mean == 2.0 and cfg.review.reviewers == 3


def test_toml_config(tmp_path):
    cfg = load_config(write(tmp_path, "[dedup]\nthreshold = 0.8\n", "c.toml"))
    assert cfg.dedup.threshold == 0.8


def test_model_shorthand_and_custom_gguf(tmp_path):
    cfg = load_config(
        write(tmp_path, "models:\n  mine: /x/m.gguf\ngeneration:\n  models: [mine]\n")
    )
    assert cfg.model("mine").source == "/x/m.gguf"
    assert cfg.model("smollm2-135m").source == "smollm2-135m"


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("review:\n  reviewrs: 2\n", "c.yaml", "unknown setting 'review.reviewrs'"),
        ("review:\n  reviewers: two\n", "c.yaml", "'review.reviewers' must be int"),
        ("aggregate:\n  accept_mean: 11\n", "c.yaml", "'aggregate.accept_mean'"),
        ("aggregate:\n  reject_mean: 4\n", "c.yaml", "must not exceed aggregate.accept_mean"),
        ("generation:\n  pick: best\n", "c.yaml", "one of random, round_robin"),
        ("generation:\n  models: []\n", "c.yaml", "non-empty list"),
        ("generation:\n  models: [gpt-9]\n", "c.yaml", "model 'gpt-9' is used by a role"),
        ("dedup:\n  threshold: 0\n", "c.yaml", "'dedup.threshold' must be in (0, 1]"),
        ("review: [1, 2\n", "c.yaml:2", "invalid YAML"),
        ("- 1\n- 2\n", "c.yaml", "must be a mapping"),
        ("review:\n  reviewers: true\n", "c.yaml", "must be int"),
    ],
)
def test_bad_configs_name_file_and_setting(tmp_path, text, where, words):
    e = error(write(tmp_path, text))
    assert e.where.endswith(where) and words in e.message


def test_missing_and_non_utf8_config(tmp_path):
    assert "not found" in error(tmp_path / "nope.yaml").message
    p = tmp_path / "bad.yaml"
    p.write_bytes(b"seed: \xff\n")
    assert "UTF-8" in error(p).message


def test_server_council_example_loads():
    cfg = load_config(ROOT / "examples" / "council-vllm.yaml")
    hosted = cfg.model("hosted")
    assert (hosted.backend, hosted.api_key_env, hosted.concurrency) == (
        "openai",
        "EXAMPLE_API_KEY",
        4,
    )
    assert cfg.model("qwen7b").model == "Qwen/Qwen2.5-7B-Instruct"
    assert cfg.candidates_in_flight() == 64


def test_auto_candidates_in_flight_is_twice_the_models_concurrency(tmp_path):
    cfg = load_config(data={"models": {"smollm2-135m": {"concurrency": 4}}})
    assert cfg.candidates_in_flight() == 2 * (4 + 1)  # smollm2 4 + qwen 1


@pytest.mark.parametrize(
    "model, words",
    [
        ({"backend": "openai"}, "models.m.base_url"),
        (
            {"backend": "openai", "base_url": "http://x/v1", "structured_output": "xml"},
            "models.m.structured_output",
        ),
        ({"backend": "triton"}, "models.m.backend"),
        ({"concurrency": -1}, "models.m.concurrency"),
        (
            {"backend": "openai", "base_url": "http://x/v1", "concurrency": 0},
            "models.m.concurrency",
        ),
    ],
)
def test_bad_model_settings(tmp_path, model, words):
    import json

    e = error(write(tmp_path, json.dumps({"models": {"m": model}, "tagging": {"model": "m"}})))
    assert words in e.message
