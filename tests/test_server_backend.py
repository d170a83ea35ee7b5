"""The OpenAI-compatible backend against real processes: a fake server that
misbehaves on cue, and a server that goes away and comes back."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess

import pytest

from gra.models.backends.base import CallFailed, ChatRequest
from gra.models.backends.openai import OpenAIBackend
from tests.runs import gra_cmd, synth_cmd
from tests.servers import SEEDS, free_port, server_council, start_fake, stop


def council(port: int, in_flight: int = 4, **model) -> str:
    settings = {"concurrency": 4, "timeout_s": 1.0, "max_retries": 3, "retry_backoff_s": 0.05}
    return json.dumps(server_council(port, in_flight, **{**settings, **model}))


def synth(tmp_path, port, *args, env=None, in_flight=4, **model) -> subprocess.CompletedProcess:
    (tmp_path / "seeds.jsonl").write_text(SEEDS)
    (tmp_path / "c.yaml").write_text(council(port, in_flight, **model))
    cmd = synth_cmd(tmp_path / "seeds.jsonl", tmp_path / "c.yaml", tmp_path / "run", *args)
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})}
    )


def failures(tmp_path) -> list[tuple[str, int, str]]:
    db = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    try:
        return db.execute("SELECT error, recovered, key FROM failures ORDER BY rowid").fetchall()
    finally:
        db.close()


def test_faults_are_retried_recorded_and_the_run_carries_on(tmp_path):
    port = free_port()
    script = "500,ok,hang,ok,malformed,ok,truncated,ok,429,ok,reset"
    server = start_fake(port, script, key="sk-test-SECRET")
    try:
        p = synth(
            tmp_path,
            port,
            "--n",
            3,
            api_key_env="GRA_TEST_KEY",
            env={"GRA_TEST_KEY": "sk-test-SECRET"},
        )
    finally:
        stop(server)
    assert p.returncode == 0, p.stderr
    data = [json.loads(x) for x in (tmp_path / "run" / "data.jsonl").read_text().splitlines()]
    assert len(data) == 3
    errors = failures(tmp_path)
    kinds = " | ".join(e for e, _, _ in errors)
    for kind in (
        "HTTP 500",
        "timeout after 1s",
        "malformed response body",
        "connection broken mid-response",
        "HTTP 429",
    ):
        assert kind in kinds
    assert all(recovered == 1 for _, recovered, _ in errors)
    # nothing secret or private in the logs or the store
    assert "sk-test-SECRET" not in p.stderr + p.stdout
    assert b"sk-test-SECRET" not in (tmp_path / "run" / "run.sqlite").read_bytes()
    assert "Task math" not in p.stderr and "retry" in p.stderr  # warnings, no prompt text
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["failed_calls"] == {
        "failed_tries": len(errors),
        "calls_given_up": 0,
        "calls_recovered": len({k for _, _, k in errors}),
    }


def test_a_call_that_keeps_failing_fails_its_candidate_only(tmp_path):
    port = free_port()
    server = start_fake(port, "500,500,500,500")  # the first call gives up after 3 retries
    try:
        p = synth(tmp_path, port, "--n", 2, in_flight=1, concurrency=1)
    finally:
        stop(server)
    assert p.returncode == 0, p.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["counts"]["accepted"] == 2
    assert summary["failed_calls"] == {"failed_tries": 4, "calls_recovered": 0, "calls_given_up": 1}
    db = sqlite3.connect(tmp_path / "run" / "run.sqlite")
    reasons = [r for (r,) in db.execute("SELECT json_extract(record, '$.reason') FROM candidates")]
    db.close()
    assert sum("model call failed: HTTP 500 (gave up after 4 tries)" in r for r in reasons) == 1


def test_server_down_stops_cleanly_and_resume_finishes(tmp_path):
    port = free_port()  # nothing listens there yet
    p = synth(tmp_path, port, "--n", 2)
    assert p.returncode == 2
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("gra: error: models.srv: model is unreachable: cannot connect")
    assert f"gra synth --resume {tmp_path / 'run'}" in line and "Traceback" not in p.stderr
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "stopped"
    server = start_fake(port)
    try:
        r = subprocess.run(
            gra_cmd("synth", "--resume", tmp_path / "run"),
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        stop(server)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / "run" / "data.jsonl").read_text().splitlines()) == 2


def test_structured_output_falls_back_to_what_the_server_takes():
    schema = json.dumps({"type": "object", "properties": {"a": {"type": "string"}}})
    req = ChatRequest((("user", "hi"),), json_schema=schema, logprobs=3)
    b = OpenAIBackend("m", base_url="http://x/v1", model="m")
    assert (
        b.body(req, "json_schema")["response_format"]["json_schema"]["schema"]["type"] == "object"
    )
    assert b.body(req, "json_object")["response_format"] == {
        "type": "json_object",
        "schema": json.loads(schema),
    }
    assert b.body(req, "guided_json")["guided_json"] == json.loads(schema)
    body = b.body(req, "none")
    assert "response_format" not in body and "guided_json" not in body
    assert (body["logprobs"], body["top_logprobs"]) == (True, 3)


def test_missing_api_key_variable_is_a_user_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(Exception, match="NO_SUCH_KEY_VAR is not set"):
        OpenAIBackend("m", base_url="http://x/v1", model="m", api_key_env="NO_SUCH_KEY_VAR")


def test_client_error_is_not_retried():
    port = free_port()
    server = start_fake(port, key="right")
    try:
        b = OpenAIBackend(
            "m",
            base_url=f"http://127.0.0.1:{port}/v1",
            model="m",
            max_retries=3,
            retry_backoff_s=0.01,
        )

        async def go():
            try:
                await b.chat(ChatRequest((("user", "hi"),)))
            finally:
                await b.aclose()

        with pytest.raises(CallFailed, match="HTTP 401") as info:
            asyncio.run(go())
        assert info.value.retryable is False
    finally:
        stop(server)


def test_logprobs_are_passed_through():
    port = free_port()
    server = start_fake(port)
    try:
        b = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", model="m")

        async def go():
            try:
                return await b.chat(ChatRequest((("user", "hi"),), logprobs=3))
            finally:
                await b.aclose()

        reply = asyncio.run(go())
    finally:
        stop(server)
    top = reply.extra["logprobs"]["content"][0]["top_logprobs"]
    assert [t["token"] for t in top] == ["a", "b", "c"]


def test_a_server_that_refuses_logprobs_is_asked_without_them():
    port = free_port()
    server = start_fake(port, script="nologprobs")
    try:
        b = OpenAIBackend("m", base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=0)

        async def go():
            try:
                first = await b.chat(ChatRequest((("user", "hi"),), logprobs=3))
                second = await b.chat(ChatRequest((("user", "ho"),), logprobs=3))
                return first, second
            finally:
                await b.aclose()

        first, second = asyncio.run(go())
    finally:
        stop(server)
    assert first.text and "logprobs" not in first.extra  # answered, without logprobs
    assert "logprobs" not in b.body(ChatRequest((("user", "x"),), logprobs=3), "none")
    assert second.text
