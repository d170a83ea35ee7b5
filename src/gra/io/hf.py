"""Records from Hugging Face ``datasets``: a ``save_to_disk`` directory, or
``hf:datasets/OWNER/NAME[:split]`` loaded with ``datasets.load_dataset`` (the Hub's cache
first; offline and not cached, one line). Rows are read one at a time; a null field reads
as absent, as in Parquet."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gra.core.errors import UserError

PREFIX = "hf:datasets/"


def is_hf_spec(path: object) -> bool:
    # (a path type drops the trailing slash of a bare "hf:datasets/")
    return str(path).startswith(PREFIX) or str(path) == PREFIX.rstrip("/")


def is_saved_dataset(p: Path) -> bool:
    """A directory ``Dataset.save_to_disk`` or ``DatasetDict.save_to_disk`` wrote."""
    return p.is_dir() and any(
        (p / name).is_file() for name in ("dataset_info.json", "state.json", "dataset_dict.json")
    )


def _datasets(where: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise UserError(
            "reading Hugging Face datasets needs the datasets package: pip install datasets",
            where,
        ) from None
    return datasets


def check_spec(spec: str) -> None:
    name = spec[len(PREFIX) :].partition(":")[0]
    if name.count("/") > 1 or not name or not all(name.split("/")):
        raise UserError("give a Hub dataset as hf:datasets/OWNER/NAME[:split]", spec)


def open_dataset(source: str | Path, where: str) -> Any:
    """The ``datasets.Dataset`` behind a spec or a saved directory (one split). The Hub
    client's retry warnings stay out of the output (``gra -v`` shows them)."""
    with _quiet():
        return _open(source, where)


@contextmanager
def _quiet() -> Iterator[None]:
    """The Hub client's and datasets' own loggers at ERROR while loading (not with -v)."""
    if logging.getLogger().level <= logging.DEBUG:
        yield
        return
    from datasets.utils import logging as ds_logging
    from huggingface_hub.utils import logging as hub_logging

    before = (hub_logging.get_verbosity(), ds_logging.get_verbosity())
    hub_logging.set_verbosity_error()
    ds_logging.set_verbosity_error()
    try:
        yield
    finally:
        hub_logging.set_verbosity(before[0])
        ds_logging.set_verbosity(before[1])


def _open(source: str | Path, where: str) -> Any:
    datasets = _datasets(where)
    if is_hf_spec(source):
        check_spec(str(source))
        name, _, split = str(source)[len(PREFIX) :].partition(":")
        try:
            return datasets.load_dataset(name, split=split or "train")
        except Exception as e:  # noqa: BLE001 - offline, not found, no such split: one line
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UserError(f"cannot load the dataset ({first})", where) from None
    try:
        ds = datasets.load_from_disk(str(source))
    except Exception as e:  # noqa: BLE001 - not a saved dataset: one line
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(f"cannot read the saved dataset ({first})", where) from None
    if isinstance(ds, datasets.DatasetDict):
        if "train" in ds:
            return ds["train"]
        if len(ds) == 1:
            return next(iter(ds.values()))
        raise UserError(
            f"holds splits {', '.join(ds)}; save one split (ds[SPLIT].save_to_disk)", where
        )
    return ds


def hf_rows(source: str | Path, where: str) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(where, row number from 1, the row as a dict) for every row."""
    ds = open_dataset(source, where)
    for n, row in enumerate(ds, start=1):
        yield f"{where}: row {n}", n, {k: v for k, v in row.items() if v is not None}
