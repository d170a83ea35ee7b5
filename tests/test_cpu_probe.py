"""The CPU probe: what `auto` measures and picks, that a crash costs a trial
process and not the run, that a model which cannot run here is one line (exit 2),
and the real trials on this machine's CPU."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from gra.config import Config, ModelSettings
from gra.council.pool import ModelPool
from gra.models import cpu_probe, weights
from gra.models.cpu_probe import CpuCrash, Probe, choose, run_trial
from gra.models.loading import model_id
from gra.models.registry import resolve
from tests.councils import fast_roles
from tests.runs import assert_user_error, synth_cmd
from tests.servers import SEEDS
from tests.test_weights import fake_gguf


class FakeTrials:
    """Stands in for run_trial: tokens/s from ``speed(weights, extra, n)``, or a crash."""

    def __init__(self, speed, crash=lambda extra: False):
        self.speed = speed
        self.crash = crash
        self.calls: list[tuple] = []

    def __call__(self, path, extra, seqs, threads, flash_attn, mode="chat"):
        w = path.stem if path.stem in ("bf16", "q8_0") else "shipped"
        self.calls.append((w, extra, tuple(seqs)))
        if self.crash(extra):
            return {n: {"crashed": "SIGSEGV"} for n in seqs}
        return {n: {"tokens_per_s": self.speed(w, extra, n)} for n in seqs}


@pytest.fixture
def q4_1(tmp_path, monkeypatch):
    """A Q4_1 file (no batched CPU kernel), conversions faked as named copies."""
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "m.gguf"
    fake_gguf(path, 3)

    def converted(src, target, source_id, cache):
        return tmp_path / f"{target}.gguf"

    monkeypatch.setattr(weights, "converted", converted)
    return path


def batching_pays(w, extra, n):
    """bf16 tiles over the batch; extra buffer types slightly faster; 16 barely beats 8."""
    table = {
        "shipped": {1: 100, 2: 130, 4: 160, 8: 200, 16: 205},
        "bf16": {1: 90, 2: 140, 4: 180, 8: 270, 16: 283},
        "q8_0": {1: 95, 2: 135, 4: 170, 8: 237.5, 16: 240},
    }
    return round(table[w][n] * (1.02 if extra else 1.0), 2)


def test_auto_measures_weights_buffers_and_batch_and_caches_it(q4_1, monkeypatch):
    trials = FakeTrials(batching_pays)
    monkeypatch.setattr(cpu_probe, "run_trial", trials)
    auto = ModelSettings(source=str(q4_1), concurrency=0)
    c = choose("m", auto)
    # compared at 8 sequences: bf16 (270) > q8_0 (237.5) > shipped (200); extra on wins
    assert (c.weights, c.extra_buffers) == ("bf16", True)
    # 16 sequences give 5% more than 8: the fewer sequences within 10% are kept
    assert c.concurrency == 8 and c.tokens_per_s == batching_pays("bf16", True, 8)
    compared = {(w, x) for w, x, seqs in trials.calls if seqs == (8,)}
    assert compared == {(w, x) for w in ("shipped", "bf16", "q8_0") for x in (True, False)}
    n = len(trials.calls)
    assert choose("m", auto) == c and len(trials.calls) == n  # cached: nothing runs again
    # what the run then loads: the measured file, and its id says so
    pool = ModelPool(Config(models={"m": auto}))
    assert pool.settings("m").concurrency == 8 and model_id(pool.settings("m")).endswith("+bf16")


def test_settings_given_are_kept_and_only_run_once(q4_1, monkeypatch):
    trials = FakeTrials(batching_pays)
    monkeypatch.setattr(cpu_probe, "run_trial", trials)
    fixed = ModelSettings(source=str(q4_1), concurrency=4, weights="q8_0", extra_buffers="off")
    c = choose("m", fixed)
    assert (c.weights, c.extra_buffers, c.concurrency) == ("q8_0", False, 4)
    assert trials.calls == [("q8_0", False, (4,))]


def test_a_type_with_batched_kernels_is_not_converted(tmp_path, monkeypatch):
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path / "cache"))
    q4_k = tmp_path / "k.gguf"
    fake_gguf(q4_k, 15)
    trials = FakeTrials(lambda w, x, n: {1: 30, 4: 60, 8: 100, 16: 150}[n])
    monkeypatch.setattr(cpu_probe, "run_trial", trials)
    c = choose("k", ModelSettings(source=str(q4_k), concurrency=0, extra_buffers="on"))
    assert {w for w, _, _ in trials.calls} == {"shipped"}
    assert (c.weights, c.concurrency) == ("shipped", 16)  # 16 is 1.5x 8: batching pays


def test_when_batching_does_not_pay_one_at_a_time_on_the_shipped_file_wins(q4_1, monkeypatch):
    # as on a CPU whose bf16 path is slow: nothing batched beats one at a time by 10%
    def flat(w, extra, n):
        return {"shipped": 84.0, "bf16": 58.0, "q8_0": 70.0}[w] * (1.05 if n > 1 else 1)

    monkeypatch.setattr(cpu_probe, "run_trial", FakeTrials(flat))
    c = choose("m", ModelSettings(source=str(q4_1), concurrency=0))
    assert (c.weights, c.concurrency) == ("shipped", 1)


def test_a_model_that_writes_nothing_still_runs(q4_1, monkeypatch):
    # Gemma-3-270M base answers a chat prompt with its end-of-turn at once: 0 tokens/s
    # measured is a trial that ran, not a crash
    monkeypatch.setattr(cpu_probe, "run_trial", FakeTrials(lambda w, extra, n: 0.0))
    c = choose("m", ModelSettings(source=str(q4_1), concurrency=0))
    assert c.weights == "shipped" and c.concurrency >= 1


def test_a_crash_with_extra_buffer_types_turns_them_off(q4_1, monkeypatch):
    trials = FakeTrials(batching_pays, crash=lambda extra: extra)
    monkeypatch.setattr(cpu_probe, "run_trial", trials)
    c = choose("m", ModelSettings(source=str(q4_1), concurrency=0))
    assert c.extra_buffers is False and c.weights == "bf16"
    cached = json.loads(next((q4_1.parent / "cache" / "probe").glob("m-*.json")).read_text())
    assert cached["trials"]["chat|bf16|on|8"] == {"crashed": "SIGSEGV"}
    assert cached["trials"]["chat|bf16|off|8"]["tokens_per_s"] > 0


@pytest.mark.parametrize(
    "extra, words",
    [
        ("on", ["models.m.extra_buffers: off"]),
        ("auto", ["extra buffer types on and off", "GGML_NATIVE=OFF"]),
        ("off", ["extra buffer types off;", "GGML_NATIVE=OFF"]),
    ],
)
def test_a_model_that_crashes_is_one_line_naming_model_feature_and_setting(
    q4_1, monkeypatch, extra, words
):
    crash = (lambda x: x) if extra == "on" else (lambda x: True)
    monkeypatch.setattr(cpu_probe, "run_trial", FakeTrials(batching_pays, crash))
    amx = ["avx512f", "amx_bf16", "amx_int8", "amx_tile", "avx2"]
    monkeypatch.setattr(cpu_probe, "cpu_flags", lambda: amx)
    with pytest.raises(CpuCrash) as e:
        choose("m", ModelSettings(source=str(q4_1), concurrency=2, extra_buffers=extra))
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith("models.m: llama.cpp crashed (SIGSEGV)")
    assert "this CPU (AMX: amx_bf16 amx_int8 amx_tile)" in msg
    for w in words:
        assert w in msg


def test_a_new_cpu_or_llama_build_measures_again(q4_1, monkeypatch):
    trials = FakeTrials(batching_pays)
    monkeypatch.setattr(cpu_probe, "run_trial", trials)
    s = ModelSettings(source=str(q4_1), concurrency=2, weights="shipped", extra_buffers="on")
    choose("m", s)
    choose("m", s)
    assert len(trials.calls) == 1
    monkeypatch.setattr(cpu_probe, "cpu_flags", lambda: ["amx_tile", "avx512f"])
    choose("m", s)
    assert len(trials.calls) == 2


# real trial processes on this machine's CPU -------------------------------------


@pytest.mark.model
def test_a_crashing_trial_is_a_dead_process_not_a_dead_caller(monkeypatch):
    """GRA_PROBE_FAULT makes the trial process segfault where extra buffer types are on,
    as llama.cpp's AMX path does; the caller reads the signal and carries on."""
    path = resolve("smollm2-135m")
    monkeypatch.setenv(cpu_probe.FAULT_ENV, "extra_buffers")
    assert run_trial(path, True, [1], 2, True) == {1: {"crashed": "SIGSEGV"}}
    off = run_trial(path, False, [1, 2], 2, True)
    assert off[1]["tokens_per_s"] > 0 and off[2]["tokens_per_s"] > 0


@pytest.mark.model
def test_auto_runs_on_this_cpu(tmp_path, monkeypatch):
    """The real probe on the CPU at hand: whatever it picks ran, and a crash (an AMX
    machine) is never the pick."""
    monkeypatch.setenv("GRA_CACHE_DIR", str(tmp_path))
    s = ModelSettings(source="smollm2-135m", concurrency=2, weights="shipped", n_ctx=512)
    c = choose("smollm2-135m", s)
    probe = Probe("smollm2-135m", model_id(s), os.cpu_count() or 1, True)
    on, off = probe.get("shipped", True, 2), probe.get("shipped", False, 2)
    assert on is not None and off is not None
    picked = on if c.extra_buffers else off
    assert picked["tokens_per_s"] > 0 and c.tokens_per_s == picked["tokens_per_s"]
    flags = cpu_probe.cpu_flags()
    print(f"cpu: {cpu_probe.cpu_name()}; amx: {[f for f in flags if f.startswith('amx')]}")
    print(f"extra buffer types on: {on}, off: {off}; picked {c}")


def _embedded_council(tmp_path) -> tuple:
    council = {
        "models": {
            "smollm2-135m": {"concurrency": 2, "weights": "shipped", "n_ctx": 1024},
        },
        **fast_roles("smollm2-135m"),
    }
    (tmp_path / "c.yaml").write_text(json.dumps(council))
    (tmp_path / "seeds.jsonl").write_text(SEEDS)
    env = {**os.environ, "GRA_CACHE_DIR": str(tmp_path / "cache")}
    return tmp_path / "seeds.jsonl", tmp_path / "c.yaml", env


@pytest.mark.model
def test_synth_runs_with_extra_buffers_off_where_they_crash(tmp_path):
    seeds, cfg, env = _embedded_council(tmp_path)
    env["GRA_PROBE_FAULT"] = "extra_buffers"
    p = subprocess.run(
        synth_cmd(seeds, cfg, tmp_path / "run", "--n", 1, "--no-report"),
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert p.returncode == 0, p.stderr
    assert "smollm2-135m: shipped weights, extra buffer types off, 2 sequences" in p.stderr
    assert len((tmp_path / "run" / "data.jsonl").read_text().splitlines()) == 1
    trials = json.loads(next((tmp_path / "cache" / "probe").glob("*.json")).read_text())
    assert trials["trials"]["chat|shipped|on|2"] == {"crashed": "SIGSEGV"}


@pytest.mark.model
def test_synth_on_a_cpu_where_nothing_runs_is_one_line_and_exit_2(tmp_path):
    seeds, cfg, env = _embedded_council(tmp_path)
    env["GRA_PROBE_FAULT"] = "always"
    p = subprocess.run(
        synth_cmd(seeds, cfg, tmp_path / "run", "--n", 1),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("gra: error:")]
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    assert_user_error(
        subprocess.CompletedProcess(p.args, p.returncode, "", lines[0] + "\n"),
        "models.smollm2-135m: llama.cpp crashed (SIGSEGV)",
        "this CPU (",
        "GGML_NATIVE=OFF",
    )
    assert p.returncode == 2
    assert not (tmp_path / "run").exists()  # nothing laid out for a run that cannot start


@pytest.mark.parametrize("off_gain, expected", [(1.03, True), (1.10, False)])
def test_extra_buffer_types_stay_on_unless_off_is_clearly_faster(
    q4_1, monkeypatch, off_gain, expected
):
    # where they hold no tensor, on and off differ by noise: llama.cpp's default stays
    def speed(w, extra, n):
        return 100.0 if extra else 100.0 * off_gain

    monkeypatch.setattr(cpu_probe, "run_trial", FakeTrials(speed))
    s = ModelSettings(source=str(q4_1), concurrency=8, weights="shipped")
    assert choose("m", s).extra_buffers is expected


def test_loaders_without_settings_only_check_that_the_model_runs(q4_1, monkeypatch):
    """The IFD scorer and a gguf: embedder: extra buffer types on, off if they crash,
    one line naming the model when nothing runs."""
    trials = FakeTrials(batching_pays, crash=lambda extra: extra)
    monkeypatch.setattr(cpu_probe, "run_trial", trials)
    assert cpu_probe.check_runs("scorer.gguf", q4_1, 2, True) is False
    assert trials.calls == [("shipped", True, (1,)), ("shipped", False, (1,))]
    assert cpu_probe.check_runs("scorer.gguf", q4_1, 2, True) is False  # cached
    assert len(trials.calls) == 2
    monkeypatch.setattr(cpu_probe, "run_trial", FakeTrials(batching_pays, lambda x: True))
    with pytest.raises(CpuCrash, match=r"^other\.gguf: llama.cpp crashed \(SIGSEGV\)"):
        cpu_probe.check_runs("other.gguf", q4_1, 2, True)
