"""Helpers shared by the dataset commands: output paths, options, a progress line."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

import click

from gra.core.errors import UserError


@contextmanager
def flag_terms(**extra: str) -> Iterator[None]:
    """Call the library: a ``UserError`` that names one of its arguments (``top_n``) names
    the command's flag (``--top-n``) instead. ``extra`` maps arguments whose flag differs
    from their click name."""
    ctx = click.get_current_context()
    flags = {
        p.name: max(p.opts, key=len) for p in ctx.command.params if isinstance(p, click.Option)
    }
    flags |= {k.removesuffix("_path"): v for k, v in list(flags.items()) if k.endswith("_path")}
    flags |= extra
    try:
        yield
    except UserError as e:
        head, sep, rest = (e.where or "").partition(" ")
        if head not in flags:
            raise
        words = re.compile(r"\b(" + "|".join(map(re.escape, flags)) + r")\b")
        message = words.sub(lambda m: flags[m.group(1)], e.message)
        raise UserError(message, flags[head] + sep + rest) from None


def field_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--instruction-field, --input-field, --response-field, --id-field: the dataset's
    column names where they differ from gra's (passed on as ``fields``)."""
    for name in ("id", "response", "input", "instruction"):
        command = click.option(
            f"--{name}-field",
            f"{name}_field",
            metavar="COLUMN",
            help=f"The dataset's column that holds the {name} [default: {name}].",
        )(command)
    return command


def fields_of(kwargs: dict[str, Any]) -> dict[str, str]:
    """The column mapping the field options give (popped from ``kwargs``)."""
    names = ("instruction", "input", "response", "id")
    given = {n: kwargs.pop(f"{n}_field", None) for n in names}
    return {n: c for n, c in given.items() if c}


def fraction_option(name: str, default: float, help_text: str) -> Callable[[Any], Any]:
    """A float option in [0, 1]."""
    return click.option(
        name, type=click.FloatRange(0.0, 1.0), default=default, show_default=True, help=help_text
    )


def ray_options(
    what: str, workers: bool = False
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """--executor local|ray and --ray-address (and --workers, the Ray actors that load
    models); ``what`` says what runs on Ray."""

    def add(command: Callable[..., Any]) -> Callable[..., Any]:
        if workers:
            command = click.option(
                "--workers",
                type=click.IntRange(min=1),
                default=2,
                show_default=True,
                help="Ray actors (--executor ray); each loads its own embedded models.",
            )(command)
        command = click.option(
            "--ray-address",
            metavar="ADDR",
            help="The Ray cluster to join (e.g. auto, ray://HEAD:10001) [default: "
            "RAY_ADDRESS, or a Ray started on this machine].",
        )(command)
        return click.option(
            "--executor",
            type=click.Choice(["local", "ray"]),
            default="local",
            show_default=True,
            help=f"Where {what}: this process, or a Ray cluster (pip install "
            "'gra[ray]'; docs/ray.md).",
        )(command)

    return add


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
