"""Helpers shared by the dataset commands: output paths, options, a progress line."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

import click

from gra.core.errors import UserError


def check_out_path(out: Path, data: Path, option: str = "--out") -> None:
    """An output path must not be the input (it is read while the output is written)
    nor a directory; its directory is created when written."""
    if out.exists() and out.is_dir():
        raise UserError("is a directory; give a file path", f"{option} {out}")
    if out.exists() and Path(data).exists() and out.resolve() == Path(data).resolve():
        raise UserError("is the input file; write to a new file", f"{option} {out}")


def sidecar_path(out: Path, suffix: str) -> Path:
    """``sel.jsonl`` -> ``sel<suffix>`` (e.g. ``sel.dedup.json``) next to it."""
    stem = out.name[: -len(".jsonl")] if out.name.endswith(".jsonl") else out.stem
    return out.with_name(stem + suffix)


def fraction_option(name: str, default: float, help_text: str) -> Callable[[Any], Any]:
    """A float option in [0, 1]."""
    return click.option(
        name, type=click.FloatRange(0.0, 1.0), default=default, show_default=True, help=help_text
    )


class ProgressLine:
    """One status line on stderr: redrawn in place on a terminal (at most 4 times a
    second), a plain line every 10 s otherwise."""

    def __init__(self, label: str, stream: TextIO | None = None):
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.25 if self.tty else 10.0
        self.t0 = self.last = time.perf_counter()
        self.shown = False

    def update(self, text: str) -> None:
        now = time.perf_counter()
        if now - self.last < self.every:
            return
        self.last = now
        line = f"gra {self.label}: {text} ({now - self.t0:.0f}s)"
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = True

    def done(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\r\033[K")
            self.stream.flush()
