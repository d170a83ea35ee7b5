"""Tests for gra.io.formats: converters, atomic JSONL writing and export paths."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gra.io.formats import (
    FORMATS,
    convert,
    export,
    to_alpaca,
    to_openai,
    to_sharegpt,
    write_jsonl_atomic,
)

REC = {
    "id": "seeds:3#1",
    "instruction": "Summarise the text.",
    "input": "Cats sleep a lot.",
    "response": "Cats are sleepy.",
    "domain": "general",
}
REC_NO_INPUT = {
    "id": "seeds:4#0",
    "instruction": "Name a prime number.",
    "input": "",
    "response": "7",
    "domain": "math",
}
REC_MISSING_INPUT = {"id": "x", "instruction": "Say hi.", "response": "Hi!", "domain": "chat"}


def test_formats_tuple() -> None:
    assert FORMATS == ("gra", "alpaca", "sharegpt", "openai")


def test_alpaca() -> None:
    assert to_alpaca(REC) == {
        "instruction": "Summarise the text.",
        "input": "Cats sleep a lot.",
        "output": "Cats are sleepy.",
    }
    assert to_alpaca(REC_NO_INPUT) == {
        "instruction": "Name a prime number.",
        "input": "",
        "output": "7",
    }
    assert to_alpaca(REC_MISSING_INPUT) == {"instruction": "Say hi.", "input": "", "output": "Hi!"}


def test_sharegpt() -> None:
    assert to_sharegpt(REC) == {
        "id": "seeds:3#1",
        "conversations": [
            {"from": "human", "value": "Summarise the text.\n\nCats sleep a lot."},
            {"from": "gpt", "value": "Cats are sleepy."},
        ],
    }
    assert to_sharegpt(REC_NO_INPUT) == {
        "id": "seeds:4#0",
        "conversations": [
            {"from": "human", "value": "Name a prime number."},
            {"from": "gpt", "value": "7"},
        ],
    }
    assert to_sharegpt(REC_MISSING_INPUT)["conversations"][0]["value"] == "Say hi."


def test_openai() -> None:
    assert to_openai(REC) == {
        "messages": [
            {"role": "user", "content": "Summarise the text.\n\nCats sleep a lot."},
            {"role": "assistant", "content": "Cats are sleepy."},
        ]
    }
    assert to_openai(REC_NO_INPUT) == {
        "messages": [
            {"role": "user", "content": "Name a prime number."},
            {"role": "assistant", "content": "7"},
        ]
    }


def test_gra_is_unchanged() -> None:
    assert convert(REC, "gra") == REC
    assert convert(REC_NO_INPUT, "alpaca") == to_alpaca(REC_NO_INPUT)
    with pytest.raises(ValueError):
        convert(REC, "csv")


def test_write_jsonl_atomic_counts_and_content(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    assert write_jsonl_atomic(out, [REC, REC_NO_INPUT]) == 2
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x) for x in lines] == [REC, REC_NO_INPUT]
    assert write_jsonl_atomic(out, []) == 0
    assert out.read_text(encoding="utf-8") == ""
    assert [p.name for p in tmp_path.iterdir()] == ["out.jsonl"]  # no temp files left


def test_write_jsonl_atomic_keeps_old_file_on_error(tmp_path: Path) -> None:
    out = tmp_path / "data.jsonl"
    write_jsonl_atomic(out, [REC])
    before = out.read_bytes()

    def boom() -> Iterator[dict]:
        yield REC_NO_INPUT
        yield REC_NO_INPUT
        raise RuntimeError("crash midway")

    with pytest.raises(RuntimeError, match="crash midway"):
        write_jsonl_atomic(out, boom())
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["data.jsonl"]


def test_write_jsonl_atomic_unicode_roundtrip(tmp_path: Path) -> None:
    rec = {
        "id": "u1",
        "instruction": "Traduis « bonjour » en japonais 🇯🇵",
        "input": "Ελληνικά, русский, 中文, emoji 😀, nul-free",
        "response": "こんにちは",
    }
    out = tmp_path / "u.jsonl"
    write_jsonl_atomic(out, [rec])
    raw = out.read_bytes().decode("utf-8")
    assert "こんにちは" in raw and "\\u" not in raw  # written as UTF-8, not escaped
    assert json.loads(raw) == rec


@pytest.mark.parametrize(
    "fmt,name",
    [
        ("gra", "data.jsonl"),
        ("alpaca", "data.alpaca.jsonl"),
        ("sharegpt", "data.sharegpt.jsonl"),
        ("openai", "data.openai.jsonl"),
    ],
)
def test_export(tmp_path: Path, fmt: str, name: str) -> None:
    path = export([REC, REC_NO_INPUT], tmp_path, fmt)
    assert path == tmp_path / name
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    assert rows == [convert(REC, fmt), convert(REC_NO_INPUT, fmt)]


def test_export_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown export format"):
        export([REC], tmp_path, "xml")
    assert list(tmp_path.iterdir()) == []
