"""Start and stop real server processes on 127.0.0.1 for the backend tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

#: Six tiny seeds in two domains, for synth runs against the fake server.
SEEDS = "".join(
    json.dumps(
        {"instruction": f"Task {d} {i}: explain idea {i} of {d}.", "response": "x y z", "domain": d}
    )
    + "\n"
    for d in ("math", "code")
    for i in range(3)
)


def server_council(port: int, in_flight: int = 4, **settings: object) -> dict:
    """Every role on one OpenAI-compatible model ``srv`` at ``port`` (``settings`` are
    added to its model settings), ``in_flight`` candidates at once."""
    srv = {"backend": "openai", "base_url": f"http://127.0.0.1:{port}/v1", **settings}
    roles = {"models": ["srv"]}
    return {
        "models": {"srv": srv},
        "tagging": {"model": "srv"},
        "generation": roles,
        "review": roles,
        "adjudication": roles,
        "aggregate": {"rule": "mean_std"},  # reviewers and adjudicator, all on the server
        "executor": {"concurrency": in_flight},
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("server did not come up")


def start_fake(port: int, script: str = "", key: str = "", delay: float = 0.0) -> subprocess.Popen:
    cmd = [
        sys.executable,
        str(ROOT / "tests" / "fake_openai_server.py"),
        str(port),
        "--script",
        script,
        "--key",
        key,
        "--delay",
        str(delay),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port, proc)
    return proc


def start_llama_server(
    port: int, model_path: Path, log: Path, *, n_ctx: int = 4096, extra: Sequence[str] = ()
) -> subprocess.Popen:
    """llama-cpp-python's server on ``model_path`` (alias ``smollm2``), once it answers;
    ``extra``: more server arguments."""
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model_path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--model_alias",
        "smollm2",
        *extra,
    ]
    out = open(log, "ab")
    proc = subprocess.Popen(cmd, stdout=out, stderr=out)
    wait_ready(port, proc)
    return proc


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
