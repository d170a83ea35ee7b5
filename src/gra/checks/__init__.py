"""Cheap checks: named reasons to reject an instruction/response pair before any reviewer
token is spent. Pure Python, no model; microseconds to a millisecond per sample.

>>> [r.name for r in run_checks("What is 15% of 240? Answer with only a number.", "",
...                             "15% of 240 is 36.")]
['format:only_number']

Every check is registered by name in :data:`CHECKS` and can be turned off, one by one
(``CheckSettings(disabled=frozenset({"refusal"}))``) or all format checks at once
(``"format"``); ``run_checks(..., enabled=[...])`` runs only the named ones.
See docs/review.md, "Cheap checks".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from gra.checks.arithmetic import CHECKS as ARITHMETIC_CHECKS
from gra.checks.arithmetic import DESCRIPTIONS as ARITHMETIC_DESCRIPTIONS
from gra.checks.base import CheckResult, CheckSettings, Sample
from gra.checks.code_run import CHECKS as CODE_RUN_CHECKS
from gra.checks.code_run import DESCRIPTIONS as CODE_RUN_DESCRIPTIONS
from gra.checks.constraints import Constraint, parse_constraints
from gra.checks.format import FORMAT_CHECKS
from gra.checks.task import CHECKS as TASK_CHECKS
from gra.checks.task import DESCRIPTIONS as TASK_DESCRIPTIONS
from gra.checks.text import (
    code_syntax,
    empty,
    empty_response,
    refusal,
    repetition,
    response_error,
    response_repeats_instruction,
    truncated,
)

__all__ = [
    "CHECKS",
    "DESCRIPTIONS",
    "MODEL_CHECKS",
    "CheckResult",
    "CheckSettings",
    "Constraint",
    "check_names",
    "parse_constraints",
    "run_checks",
]

Check = Callable[[Sample], "str | None"]

# name -> check; run in this order. The first four names are those of the synth pipeline's
# original checks (gra.council.steps.checks), so run summaries stay comparable.
CHECKS: dict[str, Check] = {
    "response_error": response_error,
    "empty_response": empty_response,
    "empty": empty,
    "refusal": refusal,
    "repetition": repetition,
    "truncated": truncated,
    "response_repeats_instruction": response_repeats_instruction,
    "code_syntax": code_syntax,
    **TASK_CHECKS,  # what small generators write: benchmarks/task_checks.py
    **ARITHMETIC_CHECKS,
    **CODE_RUN_CHECKS,
    **FORMAT_CHECKS,
}

DESCRIPTIONS: dict[str, str] = {
    "response_error": "the model call failed (finish_reason 'error')",
    "empty_response": "the response is blank",
    "empty": "near-empty: no letters or digits, an empty code block, only a lead-in "
    "('Sure!', 'Here is the code:'), or one or two words for an open-ended task",
    "refusal": "an unwarranted refusal ('I'm sorry, but I can't ...', 'As an AI language "
    "model, I cannot ...') near the start of a short response",
    "repetition": "degenerate looping: a word or phrase repeated back to back, the same "
    "line or sentence many times, list items or the whole answer repeated, a code line loop",
    "truncated": "cut short: finish_reason 'length', an unclosed code block or brackets, or "
    "prose that stops mid-sentence or mid-word",
    "response_repeats_instruction": "the response only repeats the instruction",
    "code_syntax": "a Python code block that does not parse",
    **TASK_DESCRIPTIONS,
    **ARITHMETIC_DESCRIPTIONS,
    **CODE_RUN_DESCRIPTIONS,
    "format:only_number": "asked for only a number, got more",
    "format:one_word": "asked for one word, got more",
    "format:only_answer": "asked for only the fraction / regex / name / formula / title, got "
    "a sentence or more",
    "format:yes_no": "asked to answer yes or no (or true/false), starts otherwise",
    "format:pattern": "asked for a format such as HH:MM or YYYY-MM-DD, does not match",
    "format:json": "asked for JSON (an object, an array, named keys, N items), invalid or "
    "different",
    "format:code_fence": "asked for a fenced code block, has none",
    "format:code_only": "asked for only code, has prose around it",
    "format:max_words": "asked for at most N words, has more",
    "format:min_words": "asked for at least N words, has fewer",
    "format:max_chars": "asked for at most N characters, has more",
    "format:sentences": "asked for N (at most N, N-M) sentences, has a different count",
    "format:paragraphs": "asked for N paragraphs, has a different count",
    "format:bullets": "asked for (N) bullet points, or for none, has a different count",
    "format:numbered": "asked for a numbered list (of N), has a different count",
    "format:item_count": "asked for N things ('give 3 tips') and answered with a list of "
    "another length",
    "format:comma_list": "asked for a comma-separated list (of N), got lines or another count",
    "format:lowercase": "asked for lowercase only, has capitals",
    "format:uppercase": "asked for capitals only, has lowercase",
    "format:starts_with": "asked to start with a quoted phrase, does not",
    "format:ends_with": "asked to end with a quoted phrase, does not",
    "format:table": "asked for a table, has none",
    "format:no_commas": "asked for no commas, has some",
    "format:quoted": "asked to wrap the response in double quotes, is not",
    "format:title": "asked for a title in <<double angle brackets>>, has none",
    "format:forbidden_words": "asked not to use a quoted word, uses it",
    "format:required_words": "asked to include quoted words, lacks one",
}

#: Checks that need a model: they run outside ``run_checks`` (``gra review``'s mismatch
#: stage, gra.curate.review) but are named, and turned off, like the others.
MODEL_CHECKS: dict[str, str] = {
    "mismatch": "a small model finds the response no likelier after its own instruction "
    "than after another sample's (a response to a different instruction)",
}

_DEFAULT_SETTINGS = CheckSettings()


def check_names(enabled: Iterable[str] | None = None) -> list[str]:
    """The registered names selected by ``enabled`` (names, or a group such as "format"),
    in run order; all of them when ``enabled`` is None. Unknown names raise ValueError."""
    if enabled is None:
        return list(CHECKS)
    wanted: set[str] = set()
    for name in enabled:
        group = name[:-2] if name.endswith(":*") else name
        if group in MODEL_CHECKS:
            continue
        members = [n for n in CHECKS if n == group or n.startswith(group + ":")]
        if not members:
            known = ", ".join([*CHECKS, *MODEL_CHECKS])
            raise ValueError(f"unknown cheap check {name!r} (known: {known})")
        wanted.update(members)
    return [n for n in CHECKS if n in wanted]


def run_checks(
    instruction: str,
    input_text: str,
    response: str,
    *,
    finish_reason: str | None = None,
    enabled: Iterable[str] | None = None,
    settings: CheckSettings | None = None,
) -> list[CheckResult]:
    """Every failing check, in registry order (an empty list: the pair passes)."""
    settings = settings or _DEFAULT_SETTINGS
    names = check_names(enabled)
    for name in settings.disabled:
        check_names([name])  # a misspelt name in `disabled` is an error, not a silent no-op
    sample = Sample(instruction, input_text, response, finish_reason, settings)
    results: list[CheckResult] = []
    for name in names:
        if settings.is_disabled(name):
            continue
        detail = CHECKS[name](sample)
        if detail:
            results.append(CheckResult(name, detail))
    return results
