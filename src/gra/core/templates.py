"""Prompt templates: versioned text files under ``gra/prompts/``.

A template file starts with ``key: value`` header lines (``version`` is
required), then one section per chat message, each opened by
``=== system`` / ``=== user`` / ``=== assistant``. Sections are Jinja2
templates rendered with strict undefined variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import jinja2

_ENV = jinja2.Environment(
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=False,
    autoescape=False,
)
_SECTION = re.compile(r"^=== (system|user|assistant)\s*$", re.M)


@dataclass(frozen=True)
class Prompt:
    name: str
    version: int
    description: str
    sections: tuple[tuple[str, jinja2.Template], ...]

    @property
    def id(self) -> str:
        """``name@version``, recorded with every call for provenance."""
        return f"{self.name}@{self.version}"

    def render(self, **variables) -> tuple[tuple[str, str], ...]:
        return tuple(
            (role, re.sub(r"\n{3,}", "\n\n", t.render(**variables)).strip())
            for role, t in self.sections
        )


def parse(name: str, text: str) -> Prompt:
    parts = _SECTION.split(text)
    header, rest = parts[0], parts[1:]
    meta = {}
    for line in header.strip().splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"prompt {name}: bad header line {line!r}")
        meta[key.strip()] = value.strip()
    if "version" not in meta or not rest:
        raise ValueError(f"prompt {name}: needs a 'version:' header and at least one section")
    sections = tuple(
        (rest[i], _ENV.from_string(rest[i + 1].strip("\n"))) for i in range(0, len(rest), 2)
    )
    return Prompt(name, int(meta["version"]), meta.get("description", ""), sections)


def source(name: str) -> str:
    """The text of template file ``name`` as shipped (header and sections)."""
    return resources.files("gra").joinpath("prompts", f"{name}.txt").read_text(encoding="utf-8")


@cache
def load(name: str) -> Prompt:
    return parse(name, source(name))
