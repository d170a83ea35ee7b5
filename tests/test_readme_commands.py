"""README's command blocks stay true: every `gra` line names a real command and real
options, and the ones that need no network and run in seconds are run, in a directory that
holds what they name (a finished run, data, shards)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from gra.cli.app import cli
from gra.io.parquet import write_parquet_atomic

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_RUN = ROOT / "tests" / "fixtures" / "run_before_refactor"


def readme_commands() -> list[str]:
    """Every `gra ...` command in README's sh blocks, continuations joined, comments cut."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("gra "):
                out.append(line)
    return out


def words(command: str) -> list[str]:
    """The command's words with [optional parts] opened and a|b alternatives at their first."""
    plain = command.replace("[", " ").replace("]", " ").replace("...", " ")
    return [w.split("|")[0] for w in shlex.split(plain)]


def test_every_readme_command_names_real_options():
    commands = readme_commands()
    assert len(commands) >= 12
    for command in commands:
        argv = words(command)[1:]
        sub = cli.commands.get(argv[0])
        assert sub is not None, f"README: no command {argv[0]!r}: {command}"
        options = {o: p for p in sub.params if isinstance(p, click.Option) for o in p.opts}
        options |= {
            o: p for p in sub.params if isinstance(p, click.Option) for o in p.secondary_opts
        }
        for i, w in enumerate(argv):
            if not w.startswith("--"):
                continue
            assert w in options or w == "--help", f"README: {argv[0]} has no {w}: {command}"
            p = options[w]
            if isinstance(p.type, click.Choice) and i + 1 < len(argv):
                assert argv[i + 1] in p.type.choices, f"README: {w} {argv[i + 1]}: {command}"


# the commands run as they are written (placeholders filled by the sandbox below)
RUNNABLE = {
    "gra models": False,
    "gra report RUN_DIR": False,
    "gra dedup data.jsonl --out unique.jsonl": False,
    "gra dedup shards/ --out unique.parquet": False,
    "gra diversity runs/demo-*/data.jsonl examples/seeds.jsonl": True,  # MiniLM embeddings
    "gra synth SEEDS.jsonl --preview 3": True,
    "gra select data.jsonl --out top.jsonl --top-percent 10": True,
}


def sandbox(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURE_RUN, tmp_path / "RUN_DIR")
    shutil.copytree(FIXTURE_RUN, tmp_path / "runs" / "demo-1")
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "seeds.jsonl", tmp_path / "examples" / "seeds.jsonl")
    shutil.copy(ROOT / "examples" / "seeds.jsonl", tmp_path / "SEEDS.jsonl")
    rows = [json.loads(x) for x in (ROOT / "examples" / "seeds.jsonl").read_text().splitlines()]
    data = [{"id": str(i), **r} for i, r in enumerate(rows[:12] + rows[:3])]  # 3 exact copies
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))
    (tmp_path / "shards").mkdir()
    write_parquet_atomic(tmp_path / "shards" / "part-0.parquet", data[:8])
    write_parquet_atomic(tmp_path / "shards" / "part-1.parquet", data[8:])
    return tmp_path


def run_readme(command: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run a README command in ``cwd`` as a shell would (globs expanded)."""
    argv = []
    for w in shlex.split(command)[1:]:
        argv += sorted(str(p.relative_to(cwd)) for p in cwd.glob(w)) if "*" in w else [w]
    return subprocess.run([sys.executable, "-m", "gra", *argv], cwd=cwd, capture_output=True,
                          text=True, timeout=600)  # fmt: skip


@pytest.mark.parametrize("command", [c for c, model in RUNNABLE.items() if not model])
def test_readme_commands_run(tmp_path, command):
    assert command in readme_commands(), f"no longer in README: {command}"
    p = run_readme(command, sandbox(tmp_path))
    assert p.returncode == 0, p.stderr


@pytest.mark.model
@pytest.mark.parametrize("command", [c for c, model in RUNNABLE.items() if model])
def test_readme_commands_with_models_run(tmp_path, command):
    assert command in readme_commands(), f"no longer in README: {command}"
    p = run_readme(command, sandbox(tmp_path))
    assert p.returncode == 0, p.stderr
