"""Weight conversion for batched decoding: the GGUF type reader, the one-time
conversion into the cache, and which type a model's settings run."""

from __future__ import annotations

import asyncio
import struct

import pytest

from gra.config import ModelSettings, load_config
from gra.core.errors import ModelUnavailable, UserError
from gra.models import weights
from gra.models.backends.base import ChatRequest
from gra.models.loading import load_backend, model_id, weight_type
from gra.models.registry import EMBEDDED, resolve


def _string(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def fake_gguf(path, file_type: int | None) -> None:
    """A GGUF header with a string array and a float before general.file_type."""
    kvs = [
        _string("general.name") + struct.pack("<I", 8) + _string("tiny"),
        _string("tokenizer.ggml.tokens")
        + struct.pack("<IIQ", 9, 8, 3)
        + b"".join(_string(t) for t in ("<s>", "a", "bb")),
        _string("tokenizer.ggml.scores") + struct.pack("<IIQ", 9, 6, 3) + b"\0" * 12,
        _string("general.alignment") + struct.pack("<II", 4, 32),
    ]
    if file_type is not None:
        kvs.append(_string("general.file_type") + struct.pack("<II", 4, file_type))
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))


def test_file_type_is_read_past_arrays_of_strings(tmp_path):
    for ft in (3, 15, 32):
        fake_gguf(tmp_path / "m.gguf", ft)
        assert weights.gguf_file_type(tmp_path / "m.gguf") == ft
    fake_gguf(tmp_path / "m.gguf", None)
    assert weights.gguf_file_type(tmp_path / "m.gguf") is None
    fake_gguf(tmp_path / "m.gguf", 3)
    data = (tmp_path / "m.gguf").read_bytes()
    (tmp_path / "cut.gguf").write_bytes(data[:40])
    assert weights.gguf_file_type(tmp_path / "cut.gguf") is None
    (tmp_path / "text.gguf").write_text("not a model\n")
    assert weights.gguf_file_type(tmp_path / "text.gguf") is None
    assert weights.gguf_file_type(tmp_path / "missing.gguf") is None


def test_the_weight_type_run_is_named_in_the_model_id(tmp_path):
    # (what ``auto`` picks is measured: tests/test_cpu_probe.py)
    q4_1, q4_k = tmp_path / "q4_1.gguf", tmp_path / "q4_k.gguf"
    fake_gguf(q4_1, 3)
    fake_gguf(q4_k, 15)
    for target in ("bf16", "q8_0"):
        batched = ModelSettings(source=str(q4_1), concurrency=8, weights=target)
        assert weight_type(batched) == target
        assert model_id(batched).endswith(f":{q4_1.stat().st_size}+{target}")
    one = ModelSettings(source=str(q4_1), concurrency=1, weights="shipped")
    assert weight_type(one) == "shipped" and "+" not in model_id(one)
    chosen = ModelSettings(source=str(q4_k), concurrency=1, weights="q8_0")
    assert weight_type(chosen) == "q8_0" and model_id(chosen).endswith("+q8_0")
    assert weights.gguf_file_type(resolve("smollm2-135m")) == 3  # the embedded SmolLM2: Q4_1


def test_unknown_weight_type_names_the_setting(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("models:\n  smollm2-135m:\n    weights: q4_1\n")
    with pytest.raises(UserError, match=r"models\.smollm2-135m\.weights.*auto, shipped"):
        load_config(cfg)


def test_conversion_happens_once_and_leaves_no_partial_file(tmp_path):
    src = resolve("smollm2-135m")
    sid = model_id(ModelSettings(source="smollm2-135m"))
    out = weights.converted(src, "q8_0", sid, tmp_path)
    assert weights.gguf_file_type(out) == 7
    stamp = out.stat().st_mtime_ns
    assert weights.converted(src, "q8_0", sid, tmp_path) == out
    assert out.stat().st_mtime_ns == stamp
    assert [p.name for p in (tmp_path / "models").iterdir()] == [out.name]

    broken = tmp_path / "broken.gguf"
    broken.write_text("not a model\n")
    with pytest.raises(ModelUnavailable, match="weights: shipped in the config"):
        weights.converted(broken, "bf16", "file:broken", tmp_path)
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [out.name]


@pytest.mark.model
def test_batched_backend_runs_the_converted_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path))
    target = "q8_0"  # runs on every CPU (bf16 wants AVX512-BF16 to be fast)
    settings = ModelSettings(source="smollm2-135m", concurrency=2, n_ctx=512, weights=target)
    assert weight_type(settings) == target
    backend = load_backend(settings)
    try:
        assert backend.model_id == f"smollm2-135m@{EMBEDDED['smollm2-135m'].sha256[:16]}+{target}"

        async def ask_two():
            req = ChatRequest(
                messages=(("user", "What is the capital of France?"),),
                max_tokens=12,
                temperature=0.0,
            )
            return await asyncio.gather(backend.chat(req), backend.chat(req))

        replies = asyncio.run(ask_two())
    finally:
        backend.close()
    assert all(r.text.strip() for r in replies)
    assert replies[0].text == replies[1].text  # greedy
    (converted,) = (tmp_path / "models").glob(f"*.{target}.gguf")
    assert weights.gguf_file_type(converted) == weights.TARGETS[target]
