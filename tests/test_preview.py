"""gra synth --preview K: K candidates end to end, no run directory, everything decided
about each shown; rich on a terminal, plain when piped."""

from __future__ import annotations

import io

from gra.cli.preview import rows, show
from gra.config import load_config
from gra.core.records import Seed
from gra.synthesis.preview import preview
from tests.fakes import FakeLoader
from tests.runs import assert_user_error, run_gra

SEEDS = [
    Seed(f"s:{d}{i}", f"Seed task {d} number {i} about {d}.", f"Answer {i}.", d)
    for d in ("math", "code")
    for i in range(3)
]
ONE_JUDGE = {"rule": "calibrated", "judges": ["qwen2.5-coder-0.5b"], "loss_models": [],
             "weights": {"yes:qwen2.5-coder-0.5b": 1.0}, "bias": 0.0, "accept_p": 0.5}  # fmt: skip


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def items(tmp_path, k=2, score=9):
    cfg = load_config(data={"aggregate": ONE_JUDGE})
    return preview(cfg, SEEDS, k, loader=FakeLoader(score=lambda r: score))


def test_preview_runs_k_candidates_and_keeps_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = items(tmp_path)
    assert [i.candidate.idx for i in got] == [0, 1]
    assert all(i.candidate.state == "accepted" for i in got)
    assert all(len(i.seeds) == 3 and i.checks_run > 10 for i in got)
    assert got[0].judges == {"qwen2.5-coder-0.5b": 0.9}
    assert list(tmp_path.iterdir()) == []  # no run directory, no store left behind


def test_plain_when_piped_every_decision_on_a_labelled_line(tmp_path):
    out = io.StringIO()
    show(items(tmp_path, score=2), out)
    text = out.getvalue()
    assert text.count("=== candidate") == 2 and "\x1b[" not in text
    for label in ("seed:", "instruction:", "response:", "checks: all", "judge: qwen2.5-coder-0.5b",
                  "aggregate: p(good) 0.20 < 0.5", "decision: rejected"):  # fmt: skip
        assert label in text, label


def test_rich_on_a_terminal_and_model_text_is_never_markup(tmp_path):
    got = items(tmp_path, k=1)
    got[0].candidate.response = "[bold red]not markup[/] and [link]"
    out = Tty()
    show(got, out)
    text = out.getvalue()
    assert "candidate 1 of 1" in text and "[bold red]not markup[/]" in text
    assert ("response", "[bold red]not markup[/] and [link]") in rows(got[0])


def test_preview_argument_errors_are_one_line(tmp_path):
    assert_user_error(run_gra("synth", "--preview", "2"), "--preview")
    seeds = tmp_path / "s.jsonl"
    seeds.write_text('{"instruction": "i", "response": "r"}\n')
    p = run_gra("synth", seeds, "--preview", "2", "--out", tmp_path / "run")
    assert_user_error(p, "--preview")
    assert not (tmp_path / "run").exists()
