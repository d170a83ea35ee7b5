"""How an embedded model runs on this CPU: whether llama.cpp crashes, and what is fastest.

Two things about llama.cpp on a CPU cannot be read from the CPU's flags:

* **Crashes.** llama.cpp built for the CPU it runs on (``-march=native``, the default
  for llama-cpp-python's source build) takes CPU-specific paths. On CPUs that report
  AMX its AMX path has crashed the whole process (SIGSEGV in
  ``ggml_backend_amx_mul_mat``); turning llama.cpp's *extra buffer types* off
  (``use_extra_bufts``: AMX tiles and repacked weights) avoids it.
* **Speed.** Which weight file (the shipped one or a converted bf16 / q8_0 copy),
  extra buffer types on or off, and how many sequences per batch give the most
  tokens/s depends on the CPU and on llama.cpp's build: on one AVX512-BF16 machine
  bf16 weights decoded 8 sequences 1.3x faster than the shipped Q4_1, on another
  (AMX, extra buffer types off) 0.84x as fast.

So before an embedded model is first used, gra *measures*: each trial -- one weight
file, extra buffer types on or off, N sequences answering short chat requests
together -- runs in a subprocess (``python -m gra.models.cpu_probe``), where a crash kills
only the trial. Settings left at ``auto`` (``models.NAME.weights``,
``extra_buffers``, ``concurrency: 0``) take the fastest trial that ran; settings
given explicitly are still run once, so a crash is reported as one line (model, CPU
feature, the setting that avoids it) instead of a dead process.

Results are cached in ``$GRA_CACHE_DIR/probe/``, one JSON file per model and machine
fingerprint (CPU model and flags, llama-cpp-python's version and build features,
threads, flash attention): a new CPU or a rebuilt llama.cpp measures again. The
first use of a model costs about half a minute (SmolLM2: 6 weight/buffer trials at
8 sequences, then 3 more sequence counts); later runs read the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gra.core.errors import ModelUnavailable

PROBE_VERSION = 1
#: sequences per batch ``concurrency: 0`` (auto) chooses from
SEQS = (1, 4, 8, 16)
#: the batch size weight types and buffer types are compared at
COMPARE_AT = 8
#: the fewest sequences within this share of the fastest wins (fewer candidates in
#: flight, less KV memory, for at most 10% of the throughput)
CLOSE_ENOUGH = 0.9
#: extra buffer types stay on (llama.cpp's default) unless off measures this much faster
KEEP_DEFAULT = 1.05
TRIAL_TOKENS = 48  # completion tokens per request in a trial
TRIAL_TIMEOUT_S = 300
#: Test hook: "extra_buffers" makes a trial crash (SIGSEGV) when extra buffer types
#: are on -- as the AMX path does -- and "always" makes every trial crash.
FAULT_ENV = "GRA_PROBE_FAULT"

_PROMPTS = (
    "Write a short poem about the sea at night.",
    "Explain in two sentences what a hash table is.",
    "List three uses of baking soda around the house.",
    "Give a Python function that reverses a string, with one example.",
    "What is 17 times 23? Show the steps.",
    "Summarize the plot of Romeo and Juliet in three sentences.",
    "Describe how a bicycle gear system works.",
    "Suggest a name for a bakery and say why it fits.",
)


class CpuCrash(ModelUnavailable):
    """llama.cpp crashes on this CPU with every setting gra may change."""


@dataclass(frozen=True)
class Choice:
    """What an embedded model runs with here."""

    weights: str  # shipped | bf16 | f16 | q8_0
    extra_buffers: bool
    concurrency: int
    tokens_per_s: float | None  # measured for this choice


# the CPU --------------------------------------------------------------------------


def cpu_flags() -> list[str]:
    """The CPU's feature flags (Linux: /proc/cpuinfo), sorted; [] where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return sorted(set(value.split()))
    return []


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def suspect_feature(flags: list[str] | None = None) -> str:
    """The CPU feature to name when llama.cpp crashes: AMX where the CPU has it (the
    known crash), else the widest SIMD set llama.cpp builds for."""
    flags = cpu_flags() if flags is None else flags
    amx = [f for f in flags if f.startswith("amx")]
    if amx:
        return "AMX: " + " ".join(amx)
    avx512 = [f for f in ("avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni") if f in flags]
    if avx512:
        return "AVX512: " + " ".join(avx512)
    for flag, name in (("avx2", "AVX2"), ("asimd", "NEON")):
        if flag in flags:
            return name
    return cpu_name() or "unknown CPU"


def _llama_build() -> tuple[str, str]:
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
    return llama_cpp.__version__, info


# the cache ------------------------------------------------------------------------


class Probe:
    """The trials of one model on this machine, run on demand and cached."""

    def __init__(self, name: str, source_id: str, threads: int, flash_attn: bool):
        from gra.models.registry import cache_dir

        self.name = name
        self.threads = threads
        self.flash_attn = flash_attn
        version, build = _llama_build()
        self.machine = {
            "probe": PROBE_VERSION,
            "cpu": cpu_name(),
            "flags": cpu_flags(),
            "llama_cpp_python": version,
            "llama_cpp_build": build,
            "model": source_id,
            "threads": threads,
            "flash_attn": flash_attn,
            "fault": os.environ.get(FAULT_ENV, ""),
        }
        digest = hashlib.sha256(json.dumps(self.machine, sort_keys=True).encode()).hexdigest()
        safe = "".join(c if c.isalnum() or c in "-._" else "_" for c in name)[:60]
        self.path = cache_dir() / "probe" / f"{safe}-{digest[:16]}.json"
        self.trials: dict[str, dict[str, Any]] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("machine") == self.machine:
                self.trials = data.get("trials", {})
        except (OSError, ValueError):
            pass

    @staticmethod
    def key(weights: str, extra: bool, seqs: int, mode: str = "chat") -> str:
        return f"{mode}|{weights}|{'on' if extra else 'off'}|{seqs}"

    def get(self, weights: str, extra: bool, seqs: int, mode: str = "chat") -> dict | None:
        return self.trials.get(self.key(weights, extra, seqs, mode))

    def run(
        self, weights: str, path: Path, extra: bool, seqs: list[int], mode: str = "chat"
    ) -> None:
        """Measure what is not cached yet: one subprocess for ``seqs`` on one file."""
        todo = [n for n in seqs if self.get(weights, extra, n, mode) is None]
        if not todo:
            return
        results = run_trial(path, extra, todo, self.threads, self.flash_attn, mode)
        for n in todo:
            self.trials[self.key(weights, extra, n, mode)] = results[n]
        # a crash or a measurement is kept; an error (a failed load, a time-out) may
        # not happen again, so it is only kept for this process
        if any("error" not in r for r in results.values()):
            self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        data = {"machine": self.machine, "trials": self.trials}
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.path)


# running one trial ---------------------------------------------------------------


def run_trial(
    path: Path, extra: bool, seqs: list[int], threads: int, flash_attn: bool, mode: str = "chat"
) -> dict[int, dict[str, Any]]:
    """Run ``seqs`` on ``path`` in a subprocess: per N, {"tokens_per_s": x}, or
    {"crashed": "SIGSEGV"} when the process died by a signal, or {"error": text}."""
    args = {
        "path": str(path),
        "extra_buffers": extra,
        "seqs": seqs,
        "threads": threads,
        "flash_attn": flash_attn,
        "mode": mode,
    }
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])  # the directory that holds gra/
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "gra.models.cpu_probe", json.dumps(args)],
            capture_output=True,
            text=True,
            timeout=TRIAL_TIMEOUT_S,
            env=env,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return {n: {"error": f"timed out after {TRIAL_TIMEOUT_S} s"} for n in seqs}
    if proc.returncode < 0:
        try:
            name = signal.Signals(-proc.returncode).name
        except ValueError:
            name = f"signal {-proc.returncode}"
        return {n: {"crashed": name} for n in seqs}
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        why = lines[-1][:300] if lines else f"exit code {proc.returncode}"
        return {n: {"error": why} for n in seqs}
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    return {n: found[str(n)] for n in seqs}


def _trial_main(args: dict[str, Any]) -> dict[str, Any]:
    """In the subprocess: load the model as gra does, answer N requests at once."""
    fault = os.environ.get(FAULT_ENV, "")
    if fault == "always" or (fault == "extra_buffers" and args["extra_buffers"]):
        import ctypes

        ctypes.string_at(0)  # a real SIGSEGV, as llama.cpp's AMX path gives
    path = Path(args["path"])
    if args["mode"] == "embed":
        from gra.models.backends.native import load_llama

        llm = load_llama(
            path, extra_buffers=args["extra_buffers"], embedding=True, n_ctx=256, verbose=False
        )
        t0 = time.perf_counter()
        llm.embed(list(_PROMPTS))
        wall = time.perf_counter() - t0
        return {str(n): {"tokens_per_s": round(len(_PROMPTS) / wall, 2)} for n in args["seqs"]}
    return {str(n): {"tokens_per_s": round(_chat_speed(args, n), 2)} for n in args["seqs"]}


def _chat_speed(args: dict[str, Any], n: int) -> float:
    import asyncio

    from gra.core.calls import ChatRequest

    kw = dict(n_ctx=512, n_threads=args["threads"], flash_attn=args["flash_attn"])
    kw["extra_buffers"] = args["extra_buffers"]
    if n == 1:
        from gra.models.backends.llama_cpp import LlamaCppBackend

        backend: Any = LlamaCppBackend("probe", Path(args["path"]), **kw)
    else:
        from gra.models.backends.llama_batch import BatchedLlamaBackend

        backend = BatchedLlamaBackend("probe", Path(args["path"]), n_parallel=n, **kw)
    reqs = [
        ChatRequest(
            messages=(("user", _PROMPTS[i % len(_PROMPTS)]),),
            max_tokens=TRIAL_TOKENS,
            temperature=0.7,
            seed=i,
        )
        for i in range(n)
    ]

    async def together(batch: list[ChatRequest]) -> int:
        replies = await asyncio.gather(*(backend.chat(r) for r in batch))
        # a reply that ends at once (a base model's end-of-turn) still took a decode step
        return sum(max(1, r.completion_tokens) for r in replies)

    try:
        asyncio.run(together([ChatRequest(messages=(("user", "Hi"),), max_tokens=4)]))
        t0 = time.perf_counter()
        tokens = asyncio.run(together(reqs))
        return tokens / (time.perf_counter() - t0)
    finally:
        backend.close()


# choosing ------------------------------------------------------------------------


def _speed(trial: dict | None) -> float | None:
    return trial.get("tokens_per_s") if trial else None


def _say(message: str) -> None:
    print(f"gra: {message}", file=sys.stderr, flush=True)


def choose(name: str, settings: Any) -> Choice:
    """What model ``name`` (``settings``: its ``ModelSettings``, backend embedded) runs
    with on this machine: each ``auto`` setting measured, every setting run once.
    Raises ``CpuCrash`` (one line) when no allowed combination runs."""
    from gra.models.registry import cache_dir, resolve, source_id
    from gra.models.weights import NO_BATCH_KERNEL, converted, gguf_file_type

    source = resolve(settings.source)
    threads = settings.n_threads or os.cpu_count() or 1
    probe = Probe(name, source_id(settings.source), threads, settings.flash_attn)
    if settings.weights == "auto":
        weights = ["shipped"]
        if gguf_file_type(source) in NO_BATCH_KERNEL:
            weights += ["bf16", "q8_0"]
    else:
        weights = [settings.weights]
    extras = [True, False] if settings.extra_buffers == "auto" else [settings.extra_buffers == "on"]
    seqs = list(SEQS) if settings.concurrency == 0 else [settings.concurrency]
    compare_at = COMPARE_AT if COMPARE_AT in seqs else seqs[0]

    def path_of(w: str) -> Path:
        if w == "shipped":
            return source
        return converted(source, w, source_id(settings.source), cache_dir())

    combos = [(w, x) for w in weights for x in extras]
    measuring = any(probe.get(w, x, compare_at) is None for w, x in combos)
    if measuring:
        what = "whether it runs" if len(combos) == 1 and len(seqs) == 1 else "what runs fastest"
        _say(f"{name}: measuring {what} on this CPU (once; cached in {probe.path.parent})")
    for w, x in combos:  # weights and buffer types, compared at one batch size
        probe.run(w, path_of(w), x, [compare_at])
    # a trial that ran (even at 0 tokens/s: the model wrote nothing) is not a crash
    ran = [(w, x) for w, x in combos if _speed(probe.get(w, x, compare_at)) is not None]
    if not ran:
        raise _crash_error(f"models.{name}", probe, combos, compare_at)

    def score(combo: tuple[str, bool]) -> float:
        # llama.cpp's default (extra buffer types on) wins unless off is clearly faster:
        # where they hold no tensor the two differ by noise only
        tps = _speed(probe.get(combo[0], combo[1], compare_at)) or 0.0
        return tps * (KEEP_DEFAULT if combo[1] else 1.0)

    best_w, best_x = max(ran, key=score)
    if len(seqs) > 1:  # then the batch size, for the winner (and the shipped file alone)
        probe.run(best_w, path_of(best_w), best_x, seqs)
        if best_w != "shipped" and 1 in seqs and "shipped" in weights:
            probe.run("shipped", source, best_x, [1])
    options = []  # (seqs, tokens/s, weights)
    for n in seqs:
        for w in dict.fromkeys([best_w, "shipped"]):
            tps = _speed(probe.get(w, best_x, n))
            if tps is not None and (w == best_w or n == 1):
                options.append((n, tps, w))
    top = max(tps for _, tps, _ in options)
    n, tps, w = min((o for o in options if o[1] >= CLOSE_ENOUGH * top), key=lambda o: o[0])
    choice = Choice(w, best_x, n, tps)
    if measuring:
        _say(
            f"{name}: {w} weights, extra buffer types {'on' if best_x else 'off'}, "
            f"{n} sequence{'s' if n > 1 else ''} per batch ({tps:.0f} tok/s measured)"
        )
    return choice


def check_runs(name: str, path: Path, threads: int, flash_attn: bool, mode: str = "chat") -> bool:
    """For loaders without tuning (IFD scorer, GGUF embedder): whether extra buffer
    types may stay on for ``path``. Raises ``CpuCrash`` when it runs with neither."""
    from gra.models.registry import source_id

    threads = threads or os.cpu_count() or 1
    probe = Probe(name, source_id(str(path)), threads, flash_attn)
    if probe.get("shipped", True, 1, mode) is None:
        _say(f"{name}: checking that it runs on this CPU (once; cached in {probe.path.parent})")
    for extra in (True, False):
        probe.run("shipped", path, extra, [1], mode)
        if _speed(probe.get("shipped", extra, 1, mode)) is not None:
            return extra
    raise _crash_error(name, probe, [("shipped", True), ("shipped", False)], 1, mode)


def _crash_error(where: str, probe: Probe, combos: list, n: int, mode: str = "chat") -> CpuCrash:
    """One line for ``where`` (``models.NAME``, or the model spec of a loader without
    settings): what crashed, on which CPU feature, and what avoids it."""
    trials = [probe.get(w, x, n, mode) or {} for w, x in combos]
    crashed = [t["crashed"] for t in trials if t.get("crashed")]
    feature = suspect_feature(probe.machine["flags"])
    if not crashed:  # nothing died: it failed to load or run (the error says why)
        why = next((t["error"] for t in trials if t.get("error")), "no trial ran")
        return CpuCrash(f"cannot run on this CPU ({feature}): {why}", where)
    tried = {x for _, x in combos}
    if tried == {True}:  # only "on" was allowed: off is the setting that avoids it
        return CpuCrash(
            f"llama.cpp crashed ({crashed[0]}) running this model on this CPU ({feature}) "
            f"with extra buffer types on; set {where}.extra_buffers: off (or auto)",
            where,
        )
    states = " and ".join(s for s, x in (("on", True), ("off", False)) if x in tried)
    return CpuCrash(
        f"llama.cpp crashed ({crashed[0]}) running this model on this CPU ({feature}) "
        f"with extra buffer types {states}; rebuild llama-cpp-python for a generic CPU: "
        "CMAKE_ARGS='-DGGML_NATIVE=OFF' pip install --force-reinstall --no-cache-dir "
        "llama-cpp-python (docs/backends.md)",
        where,
    )


if __name__ == "__main__":
    print(json.dumps(_trial_main(json.loads(sys.argv[1]))))
