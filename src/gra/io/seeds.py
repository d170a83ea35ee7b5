"""Load seed examples from JSON Lines, JSON or CSV files.

A seed is an instruction with a good response, optionally with an ``input``
(Alpaca-style context), a ``domain`` and an ``id``. Common field names from
public datasets are accepted as aliases (see ``ALIASES``).

Every problem with the file is a ``UserError`` with a one-line message. Its
``where`` is ``path:LINE`` for JSON Lines and CSV (the physical line a record
starts on) and ``path`` for JSON, whose messages start with ``item N:``.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gra.core.errors import UserError
from gra.core.records import Seed
from gra.io.hf import hf_rows, is_hf_spec, is_saved_dataset
from gra.io.parquet import is_parquet, read_rows

#: Accepted names for each field, canonical name first.
ALIASES: dict[str, tuple[str, ...]] = {
    "instruction": ("instruction", "prompt", "question"),
    "response": ("response", "output", "answer", "completion"),
    "input": ("input", "context"),
    "domain": ("domain", "category"),
    "id": ("id",),
}
REQUIRED = ("instruction", "response")
SUFFIXES = (".jsonl", ".json", ".csv")

_MAX_NAMES = 12  # field names listed in a message before "..."
_LEADING_BLANK_LINES = re.compile(r"\A(?:[ \t]*\r?\n)+")


@dataclass(frozen=True)
class _Loc:
    """Where a record sits: a physical line (JSONL, CSV) or a 1-based item (JSON)."""

    path: str
    kind: str  # "line" | "item"
    n: int

    @property
    def label(self) -> str:
        return f"{self.kind} {self.n}"

    def error(self, message: str) -> UserError:
        if self.kind in ("item", "row"):
            return UserError(f"{self.label}: {message}", self.path)
        return UserError(message, f"{self.path}:{self.n}")


Record = tuple[_Loc, dict[str, Any]]


def load_seeds(path: str | Path, default_domain: str = "general") -> list[Seed]:
    """Read seeds from a ``.jsonl``, ``.json``, ``.csv`` or ``.parquet`` file, in file order.

    ``instruction`` and ``response`` must be non-empty strings; ``input``,
    ``domain`` (default ``default_domain``) and ``id`` (string or integer,
    default ``"<file stem>:<line or item number>"``) are optional. Ids must be
    unique. Text is stripped of surrounding whitespace (``input`` keeps the
    indentation of its first line). A UTF-8 byte order mark is accepted.
    Raises ``UserError`` for anything wrong with the file.
    """
    where = str(path)
    p = Path(path).expanduser()
    if is_hf_spec(path) or is_saved_dataset(p):
        rows = hf_rows(where if is_hf_spec(path) else p, where)
        located = (_object_at(_Loc(where, "row", n), row) for _, n, row in rows)
        seeds = _collect(located, p.stem, default_domain)
        if not seeds:
            raise UserError("no seeds in the dataset; it needs instruction and response", where)
        return seeds
    if not p.exists():
        raise UserError("seed file not found; check the path", where)
    if p.is_dir():
        raise UserError(
            "is a directory; give the path of a seed file (.jsonl, .json or .csv)", where
        )
    if not p.is_file():
        raise UserError("is not a regular file; give the path of a seed file", where)
    if is_parquet(p):
        located = (_object_at(_Loc(where, "row", n), row) for _, n, row in read_rows(p, where))
        seeds = _collect(located, p.stem, default_domain)
        if not seeds:
            raise UserError("no seeds in file; add rows with instruction and response", where)
        return seeds
    reader = _READERS.get(p.suffix.lower())
    if reader is None:
        kind = f'"{p.suffix}"' if p.suffix else "no extension"
        raise UserError(
            f"unsupported seed file type ({kind}); use .jsonl, .json or .csv (or .parquet)", where
        )

    text = _read_text(p, where)
    if not text.strip():
        raise UserError(f"seed file is empty; {_HOW_TO[reader]}", where)

    seeds = _collect(reader(text, where), p.stem, default_domain)
    if not seeds:
        raise UserError(f"no seeds in file; {_HOW_TO[reader]}", where)
    return seeds


def seeds_from_records(
    records: Iterable[dict[str, Any] | Seed], where: str = "seeds", default_domain: str = "general"
) -> list[Seed]:
    """Seeds from in-memory records (dicts with the fields of a seed file, or Seeds), checked
    as a file is; errors name ``where`` and the item number."""
    located: list[Record] = []
    for n, record in enumerate(records, start=1):
        loc = _Loc(where, "item", n)
        if isinstance(record, Seed):
            record = record.to_dict()
        located.append(_object_at(loc, record))
    seeds = _collect(located, "seed", default_domain)
    if not seeds:
        raise UserError("no seeds given", where)
    return seeds


def _collect(records: Iterable[Record], stem: str, default_domain: str) -> list[Seed]:
    seeds: list[Seed] = []
    seen: dict[str, _Loc] = {}
    for loc, record in records:
        seed = _to_seed(record, loc, stem, default_domain)
        first = seen.get(seed.id)
        if first is not None:
            raise loc.error(
                f"duplicate id {_q(seed.id)}, already used by {first.label}; "
                "give every seed a unique id"
            )
        seen[seed.id] = loc
        seeds.append(seed)
    return seeds


def seed_domains(seeds: Iterable[Seed]) -> dict[str, list[Seed]]:
    """Group seeds by domain; domains and seeds keep their file order."""
    groups: dict[str, list[Seed]] = {}
    for seed in seeds:
        groups.setdefault(seed.domain, []).append(seed)
    return groups


# ---------------------------------------------------------------- reading


def _read_text(p: Path, where: str) -> str:
    try:
        data = p.read_bytes()
    except OSError as e:
        raise UserError(
            f"cannot read seed file ({e.strerror or e}); check its permissions", where
        ) from None
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise UserError("file is UTF-16; save it as UTF-8", f"{where}:1") from None
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise UserError(
            f"not valid UTF-8 (byte 0x{data[e.start]:02x} at byte column {column}); "
            "save the file as UTF-8",
            f"{where}:{line}",
        ) from None


def _object_at(loc: _Loc, value: object) -> tuple[_Loc, Record]:
    if not isinstance(value, dict):
        raise loc.error(
            f'expected a JSON object with "instruction" and "response", got {_describe(value)}'
        )
    return loc, value


def json_line(line: str, where: str, first: bool) -> Any:
    """One JSON Lines record; a UserError at ``where`` (``path:LINE``) if it is not
    JSON (``first``: the file's first record, where a pretty-printed file shows)."""
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        hint = "each line must be one complete JSON object"
        if first and line.strip() in ("{", "["):
            hint = "a pretty-printed file should be named .json, not .jsonl"
        raise UserError(f"not valid JSON ({e.msg} at column {e.colno}); {hint}", where) from None


def _read_jsonl(text: str, path: str) -> Iterator[Record]:
    first = True
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        value = json_line(line, f"{path}:{n}", first)
        first = False
        yield _object_at(_Loc(path, "line", n), value)


def _read_json(text: str, path: str) -> Iterator[Record]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        hint = "fix the syntax"
        if e.msg == "Extra data":
            hint = "a file with one object per line should be named .jsonl"
        raise UserError(
            f"not valid JSON ({e.msg} at column {e.colno}); {hint}", f"{path}:{e.lineno}"
        ) from None
    items = value
    if isinstance(value, dict):
        key = next((k for k in ("seeds", "data") if k in value), None)
        if key is None:
            raise UserError(
                'expected a list of seed objects, or an object with the list under "seeds" '
                f'or "data"; got an object with keys {_names(value)}',
                path,
            )
        items = value[key]
        if not isinstance(items, list):
            raise UserError(f'"{key}" must be a list of seed objects, not {_describe(items)}', path)
    elif not isinstance(value, list):
        raise UserError(f"expected a list of seed objects, got {_describe(value)}", path)
    for n, item in enumerate(items, start=1):
        yield _object_at(_Loc(path, "item", n), item)


def _read_csv(text: str, path: str) -> Iterator[Record]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    header_line = 0
    end = 0  # last physical line consumed so far
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue  # blank line, or a row of empty cells
            if header is None:
                header, header_line = [c.strip().lower() for c in row], start
                _check_header(header, _Loc(path, "line", start))
                continue
            loc = _Loc(path, "line", start)
            if len(row) != len(header):
                raise loc.error(
                    f"row has {len(row)} fields but the header (line {header_line}) has "
                    f"{len(header)}; quote fields that contain commas or line breaks"
                )
            yield loc, {name: cell for name, cell in zip(header, row, strict=True) if name}
    except csv.Error as e:
        raise UserError(
            f"malformed CSV ({e}); check the quoting", f"{path}:{reader.line_num}"
        ) from None


def _check_header(header: list[str], loc: _Loc) -> None:
    names = [h for h in header if h]
    for name in names:
        if names.count(name) > 1:
            raise loc.error(f"header repeats the column {_q(name)}; give each column one name")
    for field in REQUIRED:
        if not any(alias in names for alias in ALIASES[field]):
            raise loc.error(
                f"header has no {_q(field)} column{_also(field)}; columns found: "
                f"{_names(names)}; rename or add the column"
            )


_Reader = Callable[[str, str], Iterator[Record]]
_READERS: dict[str, _Reader] = {".jsonl": _read_jsonl, ".json": _read_json, ".csv": _read_csv}
_HOW_TO: dict[_Reader, str] = {
    _read_jsonl: 'add one JSON object per line, like {"instruction": "...", "response": "..."}',
    _read_json: 'add a list of objects, like [{"instruction": "...", "response": "..."}]',
    _read_csv: "add a header row (instruction,response) and one row per seed",
}


# ---------------------------------------------------------------- fields


def _to_seed(record: dict[str, Any], loc: _Loc, stem: str, default_domain: str) -> Seed:
    instruction = _required(record, "instruction", loc)
    response = _required(record, "response", loc)
    input_text = _optional(record, "input", loc)
    input_text = _LEADING_BLANK_LINES.sub("", input_text.rstrip())
    domain = _optional(record, "domain", loc).strip() or default_domain
    return Seed(
        id=_seed_id(record, loc) or f"{stem}:{loc.n}",
        instruction=instruction,
        response=response,
        domain=domain,
        input=input_text,
    )


def _find(record: dict[str, Any], field: str) -> tuple[str, Any] | None:
    for alias in ALIASES[field]:
        if alias in record:
            return alias, record[alias]
    return None


def _required(record: dict[str, Any], field: str, loc: _Loc) -> str:
    found = _find(record, field)
    if found is None:
        raise loc.error(
            f"missing required field {_q(field)}{_also(field)}; fields present: "
            f"{_names(record)}; add it or rename the field that holds it"
        )
    key, value = found
    text = _string(key, value, loc).strip()
    if not text:
        raise loc.error(f"{_q(key)} is empty; write the text or remove this record")
    return text


def _optional(record: dict[str, Any], field: str, loc: _Loc) -> str:
    found = _find(record, field)
    if found is None or found[1] is None:
        return ""
    return _string(*found, loc)


def _string(key: str, value: Any, loc: _Loc) -> str:
    if not isinstance(value, str):
        raise loc.error(
            f"{_q(key)} must be a string, not {_describe(value)}; write it as text in quotes"
        )
    return value


def _seed_id(record: dict[str, Any], loc: _Loc) -> str | None:
    value = record.get("id")
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    raise loc.error(
        f'"id" must be a string or an integer, not {_describe(value)}; fix it or remove it'
    )


# ---------------------------------------------------------------- messages


def _q(text: str) -> str:
    """Quote a name for a one-line message (newlines and quotes escaped)."""
    return json.dumps(text, ensure_ascii=False)


def _names(names: Iterable[str]) -> str:
    listed = list(names)
    if not listed:
        return "none"
    shown = ", ".join(_q(n) for n in listed[:_MAX_NAMES])
    return shown + (", ..." if len(listed) > _MAX_NAMES else "")


def _also(field: str) -> str:
    aliases = ALIASES[field][1:]
    return f" (or {', '.join(_q(a) for a in aliases)})" if aliases else ""


def _describe(value: Any) -> str:
    """Name a JSON value's type for a message, with a short preview for scalars."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        preview = value if len(value) <= 30 else value[:27] + "..."
        return f"a string ({_q(preview)})"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
