"""Read instruction/response samples from any common dataset file, streaming.

``gra select``, ``gra dedup``, ``gra diversity`` and ``gra review`` work on gra's own
output and on a user's data alike. Accepted shapes, per record:

- flat fields, as in gra's ``data.jsonl``, Alpaca or our seed files: ``instruction``
  (or ``prompt``, ``question``), optional ``input``, and ``response`` (or ``output``,
  ``answer``, ``completion``);
- ShareGPT: ``conversations``: ``[{"from": "human"|"gpt"|"system", "value": ...}]``;
- OpenAI chat: ``messages``: ``[{"role": "user"|"assistant"|"system", "content": ...}]``.

For a conversation the sample is its last user turn and the assistant turn that
answers it; earlier turns stay in ``record`` (and in any output written from it).

Files are ``.jsonl`` (read line by line, so memory does not grow with the file) or
``.json`` (a list, or an object with the list under ``data``). Every problem is a
``UserError`` naming ``path:LINE`` (``path`` and ``item N`` for ``.json``).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gra.core.errors import UserError
from gra.io.hf import check_spec, hf_rows, is_hf_spec, is_saved_dataset
from gra.io.parquet import is_parquet, read_rows, shard_files
from gra.io.seeds import ALIASES, _describe, _names, _q, json_line

__all__ = [
    "TEXT_FIELDS",
    "Sample",
    "check_dataset_path",
    "load_samples",
    "read_samples",
    "sample_text",
]

_USER = {"human", "user"}
_ASSISTANT = {"gpt", "assistant", "model", "bot"}


def user_prompt(instruction: str, input_text: str) -> str:
    """Instruction and input as one user turn (the instruction alone when no input)."""
    return f"{instruction}\n\n{input_text}" if input_text else instruction


@dataclass
class Sample:
    """One instruction/response pair and where it came from.

    ``instruction`` includes nothing but the instruction; ``input`` is Alpaca's
    context (empty when absent); ``prompt`` joins them as a user turn would.
    ``record`` is the original JSON object, kept so outputs carry every field.
    """

    id: str
    instruction: str
    response: str
    input: str = ""
    domain: str = ""
    generator: str = ""
    where: str = ""
    record: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def prompt(self) -> str:
        return user_prompt(self.instruction, self.input)

    @property
    def text(self) -> str:
        """Instruction, input and response as one text (for n-gram and embedding work)."""
        return f"{self.prompt}\n{self.response}"


#: The parts of a sample a command can measure or compare.
TEXT_FIELDS = ("text", "instruction", "response")


def sample_text(sample: Sample, field: str) -> str:
    """``text`` (instruction, input and response), ``instruction`` (the user turn:
    instruction and any Alpaca input) or ``response``."""
    if field == "text":
        return sample.text
    if field == "instruction":
        return sample.prompt
    if field == "response":
        return sample.response
    raise ValueError(f"field must be one of {', '.join(TEXT_FIELDS)}, got {field!r}")


def check_dataset_path(path: str | Path) -> Path:
    """The path, if it names a readable ``.jsonl``, ``.json`` or ``.parquet`` file or a
    directory of ``.parquet`` (or ``.jsonl``) shards; else a UserError."""
    where = str(path)
    if is_hf_spec(path):
        check_spec(where)
        return Path(where)
    p = Path(path).expanduser()
    if not p.exists():
        raise UserError("data file not found; check the path", where)
    if is_saved_dataset(p):
        return p
    if p.is_dir():
        shard_files(p, where)
        return p
    if p.suffix.lower() not in (".jsonl", ".json", ".parquet"):
        kind = f'"{p.suffix}"' if p.suffix else "no extension"
        raise UserError(
            f"unsupported data file type ({kind}); use .jsonl, .json, .parquet or a directory "
            "of .parquet shards",
            where,
        )
    return p


def _objects(p: Path, path: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """Every record of a data file or of each shard of a directory, in order."""
    if is_hf_spec(path) or is_saved_dataset(p):
        for where, n, row in hf_rows(path if is_hf_spec(path) else p, path):
            yield where, n, _object(row, where)
    elif p.is_dir():
        for shard in shard_files(p, path):
            yield from _objects(shard, str(shard))
    elif is_parquet(p):
        for where, n, row in read_rows(p, path):
            yield where, n, _object(row, where)
    elif p.suffix.lower() == ".jsonl":
        yield from _jsonl_objects(p, path)
    else:
        yield from _json_objects(p, path)


def read_samples(path: str | Path, fields: dict[str, str] | None = None) -> Iterator[Sample]:
    """Yield the file's samples in order. Ids default to ``<file stem>:<line>``;
    a repeated id is an error (outputs and score caches are keyed by id). ``fields`` maps
    gra's names (instruction, input, response, id) to the dataset's column names."""
    p = check_dataset_path(path)
    seen: dict[str, str] = {}
    empty = True
    for where, n, obj in _objects(p, str(path)):
        empty = False
        if fields:
            obj = mapped(obj, fields, where)
        stem = Path(where.split(":")[0]).stem if p.is_dir() else p.stem
        sample = _to_sample(obj, where, f"{stem}:{n}")
        first = seen.get(sample.id)
        if first is not None:
            raise UserError(
                f"duplicate id {_q(sample.id)}, first seen at {first}; give every sample "
                "a unique id (or drop the ids to number samples by line)",
                where,
            )
        seen[sample.id] = where
        yield sample
    if empty:
        raise UserError("data file has no records; add one JSON object per line", str(path))


def load_samples(path: str | Path, fields: dict[str, str] | None = None) -> list[Sample]:
    """All samples of a file, as a list (see ``read_samples``)."""
    return list(read_samples(path, fields))


#: the fields a column mapping may rename
MAPPABLE = ("instruction", "input", "response", "id")


def mapped(obj: dict[str, Any], fields: dict[str, str], where: str) -> dict[str, Any]:
    """``obj`` with gra's fields read from the columns ``fields`` names (the record keeps
    its own columns too)."""
    out = dict(obj)
    for ours, theirs in fields.items():
        if theirs not in obj:
            if ours == "input":
                continue  # an optional field: absent is empty
            raise UserError(
                f'no "{theirs}" column (given as the {ours} field); columns here: {_names(obj)}',
                where,
            )
        out[ours] = obj[theirs]
    return out


# ---------------------------------------------------------------- reading


def _jsonl_objects(p: Path, path: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    try:
        f = p.open("rb")
    except OSError as e:
        raise UserError(f"cannot read ({e.strerror or e}); check its permissions", path) from None
    with f:
        first = True
        for n, raw in enumerate(f, start=1):
            if n == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            where = f"{path}:{n}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise UserError("not valid UTF-8; save the file as UTF-8", where) from None
            if not line.strip():
                continue
            value = json_line(line, where, first)
            first = False
            yield where, n, _object(value, where)


def _json_objects(p: Path, path: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise UserError(f"cannot read ({e.strerror or e}); check its permissions", path) from None
    except UnicodeDecodeError:
        raise UserError("not valid UTF-8; save the file as UTF-8", path) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        hint = "a file with one object per line should be named .jsonl"
        hint = hint if e.msg == "Extra data" else "fix the syntax"
        raise UserError(f"not valid JSON ({e.msg}); {hint}", f"{path}:{e.lineno}") from None
    if isinstance(value, dict) and isinstance(value.get("data"), list):
        value = value["data"]
    if not isinstance(value, list):
        raise UserError(
            f'expected a list of sample objects (or {{"data": [...]}}), got {_describe(value)}',
            path,
        )
    for n, item in enumerate(value, start=1):
        yield f"{path}: item {n}", n, _object(item, f"{path}: item {n}")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise UserError(
            "expected a JSON object with instruction and response (or conversations, or "
            f"messages), got {_describe(value)}",
            where,
        )
    return value


# ---------------------------------------------------------------- fields


def samples_from_records(
    records: Iterable[dict[str, Any] | Sample],
    where: str = "records",
    fields: dict[str, str] | None = None,
) -> list[Sample]:
    """Samples from in-memory records (dicts in any format ``read_samples`` reads, or
    Samples); errors name ``where`` and the item number."""
    out = []
    for n, obj in enumerate(records, start=1):
        if isinstance(obj, Sample):
            out.append(obj)
        else:
            at = f"{where}[{n - 1}]"
            obj = _object(obj, at)
            out.append(_to_sample(mapped(obj, fields, at) if fields else obj, at, str(n)))
    return out


def _to_sample(obj: dict[str, Any], where: str, default_id: str) -> Sample:
    if "conversations" in obj:
        instruction, response = _last_exchange(obj["conversations"], "from", "value", where)
        input_text = ""
    elif "messages" in obj:
        instruction, response = _last_exchange(obj["messages"], "role", "content", where)
        input_text = ""
    else:
        instruction = _field(obj, "instruction", where, required=True)
        response = _field(obj, "response", where, required=True)
        input_text = _field(obj, "input", where, required=False)
    sid = obj.get("id")
    if isinstance(sid, bool) or not isinstance(sid, (str, int, type(None))):
        raise UserError(f'"id" must be a string or an integer, not {_describe(sid)}', where)
    provenance = obj.get("provenance")
    generator = provenance.get("generator", "") if isinstance(provenance, dict) else ""
    domain = obj.get("domain") or obj.get("category") or ""
    return Sample(
        id=str(sid).strip() if sid is not None and str(sid).strip() else default_id,
        instruction=instruction,
        response=response,
        input=input_text,
        domain=domain if isinstance(domain, str) else "",
        generator=generator if isinstance(generator, str) else "",
        where=where,
        record=obj,
    )


def _field(obj: dict[str, Any], name: str, where: str, required: bool) -> str:
    for alias in ALIASES[name]:
        if alias in obj and obj[alias] is not None:
            value = obj[alias]
            if not isinstance(value, str):
                raise UserError(f"{_q(alias)} must be a string, not {_describe(value)}", where)
            return value.strip() if name != "input" else value.rstrip()
    if required:
        raise UserError(
            f"no {_q(name)} field (nor {', '.join(_q(a) for a in ALIASES[name][1:])}, "
            f'"conversations" or "messages"); fields present: {_names(obj)}',
            where,
        )
    return ""


def _last_exchange(turns: Any, role_key: str, text_key: str, where: str) -> tuple[str, str]:
    """The last user turn that an assistant turn answers, and that answer."""
    if not isinstance(turns, list):
        raise UserError(f"conversation must be a list of turns, not {_describe(turns)}", where)
    roles: list[tuple[str, str]] = []
    for i, turn in enumerate(turns, start=1):
        if not isinstance(turn, dict):
            raise UserError(f"turn {i} must be an object, not {_describe(turn)}", where)
        role, text = turn.get(role_key), turn.get(text_key)
        if not isinstance(role, str) or not isinstance(text, str):
            raise UserError(
                f"turn {i} needs string {_q(role_key)} and {_q(text_key)} fields", where
            )
        roles.append((role.lower(), text.strip()))
    for i in range(len(roles) - 1, 0, -1):
        if roles[i][0] in _ASSISTANT and roles[i - 1][0] in _USER:
            return roles[i - 1][1], roles[i][1]
    raise UserError(
        "conversation has no user turn followed by an assistant turn; "
        f"roles found: {_names(r for r, _ in roles)}",
        where,
    )
