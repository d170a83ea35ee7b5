"""Shared types of the cheap checks: results, settings, and the per-sample context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import cached_property

from gra.checks.constraints import Constraint, parse_constraints
from gra.checks.normalize import ALNUM, normalize_quotes


@dataclass(frozen=True)
class CheckResult:
    """One failed check: its registered name and one line on what was seen."""

    name: str
    detail: str


@dataclass
class CheckSettings:
    """Thresholds of the cheap checks. Every default is documented in docs/review.md."""

    # checks turned off by name ("refusal", "format:max_words", or "format" for all format:*)
    disabled: frozenset[str] = field(default_factory=frozenset)

    # empty: a response with at most this many words is tested for being only a lead-in
    # ("Sure!", "Here is the answer:"); an open-ended task ("explain", "write an essay")
    # answered with fewer than min_words_open_task words is too short
    lead_in_max_words: int = 10
    min_words_open_task: int = 3

    # refusal: the refusal must start within the first refusal_window_chars characters; a
    # response longer than refusal_max_words words is taken as an answer with a disclaimer
    refusal_window_chars: int = 220
    refusal_max_words: int = 70

    # repetition
    max_word_run: int = 5  # the same word this many times in a row ("the the the the the")
    phrase_copies_short: int = 4  # a 2-4 token phrase repeated back to back this many times
    phrase_copies_long: int = 3  # a 5-12 token phrase (a short line) repeated back to back
    numeric_copies: int = 8  # a loop of numbers and punctuation only needs this many copies
    max_phrase_tokens: int = 12
    ngram: int = 8  # long repeats: share of tokens whose n-gram already occurred earlier
    max_repeated_share: float = 0.3
    max_repeated_share_verse: float = 0.75  # ... when a song or poem with a refrain is asked for
    min_tokens_for_share: int = 24
    max_line_repeats: int = 3  # the same line (>= 4 words) this many times anywhere
    max_line_repeats_verse: int = 5  # ... when a song or poem with a refrain is asked for
    max_code_line_run: int = 3  # the same code line (>= 8 chars) this many times in a row

    # truncation: a last prose line at least this long must end with punctuation
    prose_min_words: int = 8

    # format constraints
    only_answer_max_words: int = 8  # "answer with only the name": at most this many words
    word_limit_slack: float = 0.0  # share over an explicit "at most N words" still accepted
    approx_word_slack: float = 0.25  # "in N words" (no "at most"): share over N accepted

    @classmethod
    def from_mapping(cls, values: dict) -> CheckSettings:
        """Settings from a config mapping; unknown keys raise ValueError naming the key."""
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"unknown cheap-check setting {key!r}")
            if key == "disabled":
                value = frozenset([value] if isinstance(value, str) else value)
            kwargs[key] = value
        return cls(**kwargs)

    def is_disabled(self, name: str) -> bool:
        if name in self.disabled:
            return True
        group = name.split(":", 1)[0]
        return group != name and (group in self.disabled or f"{group}:*" in self.disabled)


# --------------------------------------------------------------------------- text helpers

FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[ \t]*([\w+#.-]*)[^\n]*$", re.M)
WORD = re.compile(r"[^\W_]+(?:['’.-][^\W_]+)*")


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    code: str
    closed: bool
    start: int  # offset of the opening fence
    end: int  # offset just after the closing fence (len(text) when unclosed)


def code_blocks(text: str) -> list[CodeBlock]:
    """Fenced code blocks (``` or ~~~ at the start of a line); an open block runs to the end."""
    blocks: list[CodeBlock] = []
    pos = 0
    while True:
        m = FENCE.search(text, pos)
        if not m:
            return blocks
        fence = m.group(1)
        body_start = m.end() + 1
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$", re.M)
        c = close.search(text, body_start) if body_start <= len(text) else None
        if c is None:
            # a fence closed on the same line as its code ("```x = 1```") is rare; treat the
            # rest as code
            body = text[body_start:] if body_start <= len(text) else ""
            blocks.append(CodeBlock(m.group(2).lower(), body, False, m.start(), len(text)))
            return blocks
        body = text[body_start : c.start()].rstrip("\n")
        blocks.append(CodeBlock(m.group(2).lower(), body, True, m.start(), c.end()))
        pos = c.end()


def strip_code(text: str, blocks: list[CodeBlock]) -> str:
    """The text with every fenced block replaced by a blank line."""
    out, pos = [], 0
    for b in blocks:
        out.append(text[pos : b.start])
        out.append("\n\n")
        pos = b.end
    out.append(text[pos:])
    return "".join(out)


class Sample:
    """One instruction/response pair with lazily computed views shared by the checks."""

    def __init__(
        self,
        instruction: str,
        input_text: str,
        response: str,
        finish_reason: str | None,
        settings: CheckSettings,
    ) -> None:
        self.instruction = instruction or ""
        self.input_text = input_text or ""
        self.response = response or ""
        self.finish_reason = finish_reason
        self.settings = settings
        self.text = self.response.strip()

    @cached_property
    def blocks(self) -> list[CodeBlock]:
        return code_blocks(self.text)

    @cached_property
    def prose(self) -> str:
        """The response outside fenced code blocks."""
        return strip_code(self.text, self.blocks)

    @cached_property
    def words(self) -> list[str]:
        """Whitespace-separated tokens that hold a letter or digit."""
        return [w for w in self.text.split() if ALNUM.search(w)]

    @cached_property
    def has_content(self) -> bool:
        return ALNUM.search(self.text) is not None

    @cached_property
    def instruction_lc(self) -> str:
        return normalize_quotes(self.instruction).lower()

    @cached_property
    def constraints(self) -> list[Constraint]:
        return parse_constraints(self.instruction)
