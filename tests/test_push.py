"""gra push: what would be uploaded (files, card, repo type), with the Hub client replaced
at its API boundary; offline and without a token, one line and nothing uploaded."""

from __future__ import annotations

import io
import os

import pyarrow.parquet as pq
import pytest
import yaml

from gra.core.errors import UserError
from gra.synthesis import push as hub
from tests.runs import assert_user_error, run_gra
from tests.test_card import finished_run


class FakeHub:
    def __init__(self, fail: Exception | None = None):
        self.fail = fail
        self.repos: list[dict] = []
        self.commits: list[dict] = []

    def create_repo(self, repo_id, **kw):
        self.repos.append({"repo_id": repo_id, **kw})
        return f"https://huggingface.co/datasets/{repo_id}"

    def create_commit(self, repo_id, operations, **kw):
        if self.fail:
            raise self.fail
        files = {}
        for op in operations:
            with open(op.path_or_fileobj, "rb") as f:
                files[op.path_in_repo] = f.read()
        self.commits.append({"repo_id": repo_id, "files": files, **kw})


@pytest.fixture
def fake_hub(monkeypatch):
    api = FakeHub()
    seen_tokens = []
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")

    def factory(token):
        seen_tokens.append(token)
        return api

    monkeypatch.setattr(hub, "hub_api", factory)
    api.tokens = seen_tokens
    return api


def test_push_uploads_parquet_data_the_card_and_the_report_in_one_commit(tmp_path, fake_hub):
    run_dir, _ = finished_run(tmp_path)
    (run_dir / "report.html").write_text("<html>report</html>")
    up = hub.push(run_dir, "someone/tiny-data", private=True)
    assert fake_hub.repos == [
        {"repo_id": "someone/tiny-data", "repo_type": "dataset", "private": True, "exist_ok": True}
    ]
    assert len(fake_hub.commits) == 1 and fake_hub.commits[0]["repo_type"] == "dataset"
    files = fake_hub.commits[0]["files"]
    assert set(files) == {hub.PARQUET_PATH, "README.md", "report.html", "summary.json",
                          "config.yaml", "seeds.jsonl"}  # fmt: skip
    table = pq.read_table(io.BytesIO(files[hub.PARQUET_PATH]))
    assert table.num_rows == 3 and "instruction" in table.column_names
    card = files["README.md"].decode()
    meta = yaml.safe_load(card.split("---\n")[1])
    assert meta["configs"][0]["data_files"] == [{"split": "train", "path": hub.PARQUET_PATH}]
    assert 'load_dataset("someone/tiny-data"' in card
    assert fake_hub.tokens == ["hf_test_token_not_real"]
    assert up.url == "https://huggingface.co/datasets/someone/tiny-data"
    # the token is nowhere in what was sent
    assert not any(b"hf_test_token_not_real" in body for body in files.values())


def test_push_jsonl_sends_data_jsonl(tmp_path, fake_hub):
    run_dir, _ = finished_run(tmp_path)
    hub.push(run_dir, "someone/tiny-data", fmt="jsonl")
    files = fake_hub.commits[0]["files"]
    assert files["data.jsonl"] == (run_dir / "data.jsonl").read_bytes()
    assert hub.PARQUET_PATH not in files


def test_a_hub_failure_is_one_line_and_nothing_is_uploaded(tmp_path, fake_hub):
    run_dir, _ = finished_run(tmp_path)
    fake_hub.fail = ConnectionError("Connection refused")
    with pytest.raises(UserError, match="nothing was uploaded") as e:
        hub.push(run_dir, "someone/tiny-data")
    assert e.value.where == "someone/tiny-data" and "\n" not in str(e.value)
    assert fake_hub.commits == []


def test_bad_arguments_fail_before_any_hub_call(tmp_path, fake_hub):
    run_dir, _ = finished_run(tmp_path)
    with pytest.raises(UserError, match="OWNER/NAME"):
        hub.push(run_dir, "no-owner")
    with pytest.raises(UserError, match="no summary.json"):
        hub.push(tmp_path, "someone/x")
    assert fake_hub.repos == []


def test_cli_offline_and_without_a_token(tmp_path):
    run_dir, _ = finished_run(tmp_path)
    env_keep = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    os.environ.clear()
    os.environ.update({**env_keep, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"})
    try:
        assert_user_error(run_gra("push", run_dir, "someone/x"), "no Hugging Face token")
        os.environ["HF_TOKEN"] = "hf_test_token_not_real"
        p = run_gra("push", run_dir, "someone/x")
        assert_user_error(p, "someone/x", "nothing was uploaded")
        assert "hf_test_token_not_real" not in p.stderr + p.stdout
    finally:
        os.environ.clear()
        os.environ.update(env_keep)
