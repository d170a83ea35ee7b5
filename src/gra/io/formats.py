"""Export formats for gra output records, and a crash-safe JSONL writer.

A gra record is a dict with at least ``instruction``, ``response`` and ``id``
(optionally ``input`` and ``domain``). ``gra`` exports records unchanged; the
other formats keep only the instruction/input/response content.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

__all__ = [
    "CONVERTERS",
    "EXPORTS",
    "FORMATS",
    "PREFERENCE_FORMATS",
    "convert",
    "export",
    "export_path",
    "to_alpaca",
    "to_gra",
    "to_openai",
    "to_trl",
    "to_ultrafeedback",
    "to_sharegpt",
    "write_json_atomic",
    "write_jsonl_atomic",
    "write_records_atomic",
]

FORMATS = ("gra", "alpaca", "sharegpt", "openai")  # record shapes
#: the shapes of a preference run's pairs (``task: preference``)
PREFERENCE_FORMATS = ("trl", "ultrafeedback")
#: what a run can export (``gra synth --format``): the shapes as JSONL, and the gra records
#: as one Parquet file (``data.parquet``)
EXPORTS = (*FORMATS, *PREFERENCE_FORMATS, "parquet")

Record = dict[str, Any]


def _user_turn(r: Record) -> str:
    """Instruction, plus a blank line and the input when there is one."""
    inp = r.get("input") or ""
    return f"{r['instruction']}\n\n{inp}" if inp else r["instruction"]


def to_gra(r: Record) -> Record:
    """The record unchanged (a shallow copy)."""
    return dict(r)


def to_alpaca(r: Record) -> Record:
    """Alpaca: ``{"instruction", "input", "output"}``."""
    return {"instruction": r["instruction"], "input": r.get("input") or "", "output": r["response"]}


def to_sharegpt(r: Record) -> Record:
    """ShareGPT: ``{"id", "conversations": [human, gpt]}``."""
    return {
        "id": r["id"],
        "conversations": [
            {"from": "human", "value": _user_turn(r)},
            {"from": "gpt", "value": r["response"]},
        ],
    }


def to_openai(r: Record) -> Record:
    """OpenAI chat fine-tuning: ``{"messages": [user, assistant]}``."""
    return {
        "messages": [
            {"role": "user", "content": _user_turn(r)},
            {"role": "assistant", "content": r["response"]},
        ]
    }


def to_trl(r: Record) -> Record:
    """TRL's conversational preference format: ``prompt``, ``chosen`` and ``rejected`` as
    message lists (the DPO, ORPO and KTO trainers read it)."""
    return {
        "prompt": [{"role": "user", "content": r["prompt"]}],
        "chosen": [{"role": "assistant", "content": r["chosen"]}],
        "rejected": [{"role": "assistant", "content": r["rejected"]}],
    }


def to_ultrafeedback(r: Record) -> Record:
    """UltraFeedback's shape: the instruction and every completion with its rating (the
    council's 1-10 score; 0 and the check's name when a cheap check rejected it)."""
    return {
        "source": "gra",
        "instruction": r["prompt"],
        "completions": [
            {
                "model": x["model"],
                "response": x["text"],
                "overall_score": x["score"],
                "rejected_by_check": x["check"],
                "temperature": x["temperature"],
            }
            for x in r["provenance"]["responses"]
        ],
    }


CONVERTERS: dict[str, Callable[[Record], Record]] = {
    "gra": to_gra,
    "alpaca": to_alpaca,
    "sharegpt": to_sharegpt,
    "openai": to_openai,
    "trl": to_trl,
    "ultrafeedback": to_ultrafeedback,
}


def _check_fmt(fmt: str, allowed: tuple[str, ...] = FORMATS) -> None:
    if fmt not in allowed:
        raise ValueError(f"unknown export format {fmt!r}; choose one of: {', '.join(allowed)}")


def convert(r: Record, fmt: str) -> Record:
    """Convert one record to ``fmt`` (one of ``FORMATS``)."""
    _check_fmt(fmt)
    return CONVERTERS[fmt](r)


def export_path(run_dir: Path, fmt: str) -> Path:
    """Where ``export`` writes ``fmt``: ``data.jsonl`` for gra, ``data.parquet`` for
    parquet, else ``data.<fmt>.jsonl``."""
    _check_fmt(fmt, EXPORTS)
    names = {"gra": "data.jsonl", "parquet": "data.parquet"}
    return Path(run_dir) / names.get(fmt, f"data.{fmt}.jsonl")


def write_jsonl_atomic(path: str | os.PathLike[str], records: Iterable[Record]) -> int:
    """Write ``records`` as UTF-8 JSONL, atomically; returns the number written.

    Writes to a temporary file in the same directory, fsyncs it and then
    ``os.replace``s it over ``path``, so an error or crash midway leaves any
    existing file at ``path`` untouched.
    """

    def lines() -> Iterable[str]:
        for rec in records:
            yield json.dumps(rec, ensure_ascii=False) + "\n"

    return _write_atomic(Path(path), lines())


def write_records_atomic(path: str | os.PathLike[str], records: Iterable[Record]) -> int:
    """Write records as Parquet when ``path`` ends in ``.parquet``, else as JSONL; both
    atomically. Returns the number written."""
    from gra.io.parquet import is_parquet, write_parquet_atomic

    if is_parquet(path):
        return write_parquet_atomic(path, records)
    return write_jsonl_atomic(path, records)


def write_json_atomic(path: str | os.PathLike[str], value: Any) -> None:
    """Write one JSON document (indented), atomically, as ``write_jsonl_atomic``."""
    _write_atomic(Path(path), [json.dumps(value, indent=2, ensure_ascii=False) + "\n"])


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` (UTF-8), atomically, as ``write_jsonl_atomic``."""
    _write_atomic(Path(path), [text])


def _write_atomic(path: Path, chunks: Iterable[str]) -> int:
    """Write the chunks to a temporary file, fsync, rename over ``path``; the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for chunk in chunks:
                f.write(chunk)
                count += 1
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return count


def _fsync_dir(directory: Path) -> None:
    """Persist a rename on POSIX; a no-op where directories cannot be opened."""
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def export(records: list[Record], run_dir: Path, fmt: str) -> Path:
    """Write ``records`` converted to ``fmt`` under ``run_dir``; returns the file path."""
    out = export_path(run_dir, fmt)
    convert_one = CONVERTERS.get(fmt, to_gra)
    write_records_atomic(out, (convert_one(r) for r in records))
    return out
