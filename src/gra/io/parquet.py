"""Parquet in and out: a ``.parquet`` file, or a directory of shards, read row by row;
records written as one Parquet file, atomically.

Rows are read in batches (``iter_batches``), so a large file streams; a null field reads
as absent (one file has one set of columns, a JSONL record only the fields it has).
Columns keep their Arrow types (strings, numbers, lists, structs): ``conversations`` and
``messages`` read as lists of dicts, as in JSONL. On writing, a column whose values Arrow
cannot give one type (a string in one record, an object in another), or that Parquet
cannot store (an object that is always empty), is written as JSON text.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gra.core.errors import UserError

BATCH_ROWS = 1024


def is_parquet(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() == ".parquet"


def shard_files(directory: Path, where: str) -> list[Path]:
    """The data shards of a directory, in name order: every ``*.parquet``, or else every
    ``*.jsonl`` (one kind only)."""
    for suffix in (".parquet", ".jsonl"):
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() == suffix and p.is_file())
        if files:
            return files
    raise UserError("directory holds no .parquet or .jsonl shards", where)


def read_rows(path: Path, where: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(where, row number from 1, the row as a dict) for every row of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        f = pq.ParquetFile(path)
    except (OSError, pa.ArrowException) as e:
        raise UserError(f"not a readable Parquet file ({e})", where) from None
    n = 0
    with f:
        for batch in f.iter_batches(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                n += 1
                # a column another row has is null here: the field is absent, as in JSONL
                yield f"{where}: row {n}", n, {k: v for k, v in row.items() if v is not None}


def write_parquet_atomic(path: str | os.PathLike[str], records: Iterable[dict[str, Any]]) -> int:
    """Write ``records`` as one Parquet file, atomically (a temporary file renamed over
    ``path``); returns the number of rows. The records are held in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(records)
    columns: dict[str, None] = {}
    for r in rows:
        columns.update(dict.fromkeys(r))
    arrays = {name: _column([r.get(name) for r in rows], pa) for name in columns}
    table = pa.table(arrays) if arrays else pa.table({})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return len(rows)


def _column(values: list[Any], pa: Any) -> Any:
    try:
        array = pa.array(values)
        if not _writable(array.type, pa):
            raise TypeError("an empty struct or null-only list has no Parquet type")
        return array
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
        return pa.array(
            [None if v is None else json.dumps(v, ensure_ascii=False) for v in values],
            type=pa.string(),
        )


def _writable(t: Any, pa: Any) -> bool:
    """Whether Parquet can store type ``t``: no struct without fields inside it."""
    if pa.types.is_struct(t):
        return t.num_fields > 0 and all(_writable(t.field(i).type, pa) for i in range(t.num_fields))
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _writable(t.value_type, pa)
    if pa.types.is_map(t):
        return _writable(t.key_type, pa) and _writable(t.item_type, pa)
    return True
