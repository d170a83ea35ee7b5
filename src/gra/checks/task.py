"""Checks for what small generators really write (benchmarks/data/README.md: half of the
raw pool was no task at all): the generation prompt leaking into the task, a task about
itself, a response that asks for input instead of answering, one that only restates the
task, and one far too short for what is asked.

None of these reads a list built from labeled examples: the leak check compares the task
with gra's own generation prompts, the others look for the *kind* of text (a request for
input, a statement about the task, no word the task did not already have).
"""

from __future__ import annotations

import functools
import re

from gra.checks.base import Sample

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("\u2019", "'"))


# --------------------------------------------------------------------------- prompt leak

LEAK_RUN = 4  # words in a row shared with a generation prompt's own instructions


@functools.cache
def _prompt_runs() -> frozenset[tuple[str, ...]]:
    """Word runs of the generation prompts' instructions: their text without template
    expressions and without the worked examples (a real task may well look like those)."""
    from gra.core.templates import source

    runs: set[tuple[str, ...]] = set()
    for name in ("generate", "evolve"):
        for line in source(name).split("=== ", 1)[1].splitlines():  # the sections, not the header
            if re.match(r"\s*(?:New task|Task|Example \{\{|system|user)\b", line):
                continue  # worked examples, the seed's own text, section markers
            line = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", " ", line)
            w = _words(line)
            runs.update(tuple(w[i : i + LEAK_RUN]) for i in range(len(w) - LEAK_RUN + 1))
    return frozenset(runs)


# what only the generator's prompt has: the examples it was shown, their keywords
_PROMPT_CONTEXT = re.compile(
    r"\b(?:the|these|those|above|given|previous|provided|same) (?:examples?|keywords?)\b"
    r"|\bexample \d\b|\bsame kind (?:as|of)\b|\bnew (?:request|task)s?\b",
    re.I,
)


def prompt_leak(s: Sample) -> str | None:
    """The task repeats the generation prompt's instructions or points at its context."""
    w = _words(s.instruction)
    runs = _prompt_runs()
    for i in range(len(w) - LEAK_RUN + 1):
        if tuple(w[i : i + LEAK_RUN]) in runs:
            return f"the task repeats the generation prompt: {' '.join(w[i : i + LEAK_RUN])!r}"
    m = _PROMPT_CONTEXT.search(s.instruction)
    if m:
        return f"the task points at the generation prompt's context: {m.group(0)!r}"
    return None


# --------------------------------------------------------------------------- no task

# a status report on a task, or a label on one -- not "Your task is to write ..."
_SELF_REFERENCE = re.compile(
    r"\b(?:task|request|prompt|assignment)s? (?:is|are|was|were|has been|have been) "
    r"(?:already |now )?(?:complete|completed|done|finished|over|accomplished|answered)\b"
    r"|\bthis is an? (?:new |next |different |sample |simple |short )?(?:task|request|prompt)\b"
    r"|\b(?:can't|cannot|can not|won't) (?:be )?answer(?:ed)?\b",
    re.I,
)


def task_about_itself(s: Sample) -> str | None:
    """The 'task' is a statement about a task ("Your current task is already complete.")."""
    m = _SELF_REFERENCE.search(s.instruction)
    return f"the task talks about itself: {m.group(0)!r}" if m else None


# --------------------------------------------------------------------------- deflection

_ASKS_FOR_INPUT = re.compile(
    r"\b(?:please|kindly) (?:provide|share|give|specify|clarify|tell me|send|paste)\b"
    r"|\b(?:could|can|would) you (?:please )?(?:provide|share|give me|specify|clarify|tell me"
    r" (?:more|which|what)|send|paste)\b"
    r"|\bwhat (?:would|do) you (?:like|want|need)\b"
    r"|\blet me know (?:what|which|the)\b"
    r"|\bi (?:need|would need|require) (?:more|additional|some) (?:information|details|context)\b"
    r"|\bwhat(?:'s| is) the (?:situation|context|topic|question)\?",
    re.I,
)
DEFLECTION_MAX_WORDS = 60  # a longer response that ends "let me know what else" answered
# tasks whose answer is itself addressed to someone, so it may well ask them for things
_WRITES_TO_SOMEONE = re.compile(
    r"\b(?:e-?mail|letter|message|note|memo|reply|text|dialogue|conversation|script|"
    r"question|questions|ask|asking|request|invitation|interview)\b",
    re.I,
)


def deflection(s: Sample) -> str | None:
    """The response asks for input it does not need instead of doing the task."""
    if len(s.words) > DEFLECTION_MAX_WORDS or s.blocks:
        return None
    if _WRITES_TO_SOMEONE.search(s.instruction):
        return None  # "Write an email asking for the report": asking is the answer
    m = _ASKS_FOR_INPUT.search(s.text)
    return f"asks for input instead of answering: {m.group(0)!r}" if m else None


# --------------------------------------------------------------------------- restates

_FUNCTION = set(
    "a an the is are was were be been being am do does did of to in on at by for with from as"
    " and or but not no yes it its this that these those there here than then so such what"
    " which who whom whose when where why how i you your yours we our he she they them his her"
    " their me my mine us can could will would shall should may might must has have had very"
    " also just only about into out up down over under again all any each some more most one"
    " same other".split()
)


def _stem(w: str) -> str:
    for suffix in ("ing", "ed", "es", "s", "e"):
        if len(w) > len(suffix) + 2 and w.endswith(suffix):
            return w[: -len(suffix)]
    return w


def _content(text: str) -> set[str]:
    """Content words (stemmed, letters only)."""
    return {_stem(w) for w in _words(text) if w not in _FUNCTION and w.isalpha()}


RESTATE_MIN_WORDS = 3  # content words: a shorter answer may be a pick ("Uma") or a label


def restates_task(s: Sample) -> str | None:
    """The response is a sentence that brings no word the task did not have ("The chemical
    formula for glucose is glucose."): nothing was answered. Not for tasks with an input
    (rewriting or extracting from it uses only its words), picks and labels (a few words),
    structured answers (JSON, lists, code) or answers with a number (a count may be a number
    the task has), which legitimately reuse the task's words."""
    if s.input_text.strip() or s.blocks or not s.has_content:
        return None
    if re.match(r"\s*[\[{]", s.text) or re.search(r"^\s*(?:[-*\u2022]|\d+[.)])\s", s.text, re.M):
        return None
    if re.search(r"\d", s.text):
        return None  # a number may be the answer even when the task has it ("... is 9")
    said = _content(s.text)
    if len(said) >= RESTATE_MIN_WORDS and not said - _content(s.instruction):
        return "the response only restates the task"
    return None


# --------------------------------------------------------------------------- no request

# verbs a task starts with (Self-Instruct's root verbs and their kin); a sentence that opens
# with one of these, or any question, makes the instruction a request
_TASK_VERBS = set(
    "add analyze analyse answer apply arrange balance brainstorm clarify complete conjugate"
    " cite critique elaborate expand group highlight justify map recall schedule shorten"
    " sketch spell teach walk thank congratulate invite greet apologize apologise persuade"
    " convince encourage introduce announce ask remind warn welcome return print output"
    " produce craft pitch market sell recommend argue defend prioritize prioritise budget"
    " schedule track measure buy cook bake clean store wash fold pack prepare fill sum"
    " multiply divide subtract factor simplify expand round approximate graph plot draw"
    " tell share offer propose invent name title caption tag rate grade score assess build"
    " calculate categorize change check"
    " choose classify combine compare compose compute condense construct continue convert"
    " correct count create debug decide define demonstrate derive describe design detect"
    " determine develop devise discuss draft draw edit estimate evaluate explain express"
    " extract fill find fix format generate give guess help identify illustrate implement"
    " improve include infer interpret invent label list make match modify name note optimize"
    " order organize outline paraphrase pick plan predict prepare prove provide put rank"
    " rate read recommend reformat refactor remove rephrase replace reply respond restate"
    " reverse review revise rewrite say select show simplify solve sort specify split state"
    " suggest summarize summarise tell test think transform translate turn use verify write"
    " let imagine consider assume pretend please".split()
)
# a request that is not an imperative: "I need ...", "Can you ...", "Your task is to ..."
_REQUEST = re.compile(
    r"\?|^\W*(?:how|what|why|which|who|whom|whose|when|where|is|are|can|does|do|should)\b"
    r"|\b(?:i(?:'d| would)? (?:like|want|need)|help me|can you|could you|would you"
    r"|(?:the|your|my) (?:task|job|goal) is to|you (?:are|will be) (?:asked|given)"
    r"|(?:you|we) (?:need|have)"
    r" to|you must|you should)\b",
    re.I,
)


def not_a_request(s: Sample) -> str | None:
    """The 'task' asks nothing: no question, no sentence opening with an order ("Write",
    "Explain", "List"), no "can you" / "I need" -- a statement, a tip, a fragment."""
    text = s.instruction.strip()
    if not text:
        return None  # empty_response / empty handle blank text
    if _REQUEST.search(text):
        return None
    for sent in re.split(r"(?<=[.!:;])\s+|\n+", text):
        w = _words(sent)
        unlabeled = _words(re.sub(r"^\W*\w+\s*:\s*", "", sent))  # "Task: Write" -> "write"
        for words in (w, unlabeled):
            if words and (
                words[0] in _TASK_VERBS
                or (
                    len(words) > 1
                    and words[0] in ("now", "then", "also")
                    and words[1] in _TASK_VERBS
                )
            ):
                return None
    return "the instruction asks nothing: no question and no request"


# --------------------------------------------------------------------------- missing input

# the task points at material ("this sentence", "the following code", "the text below")
_POINTS_AT = re.compile(
    r"\b(?:this|these|the following|the given|the provided|the above|the attached|my|the"
    r" previous)\s+(?:\w+\s+)?(?:sentences?|paragraphs?|text|passage|article|essay|story"
    r"|poem|code|snippet|function|program|script|email|letter|message|list|table|data"
    r"|dataset|numbers|facts|statements?|options|problem|puzzle|equation|document|work"
    r"|draft|report|review|question|scenario|words?)\b"
    r"|\b(?:text|passage|code|sentence|paragraph|list|table|data|article) (?:below|above)\b"
    r"|\bwhich of the following\b",
    re.I,
)


def missing_input(s: Sample) -> str | None:
    """The task works on material it never gives: "Rewrite this sentence." with no sentence,
    no input and nothing quoted or after a colon."""
    if s.input_text.strip():
        return None
    m = _POINTS_AT.search(s.instruction)
    if not m:
        return None
    rest = s.instruction[m.end() :]
    given = s.instruction[: m.start()]
    # the material may follow (after a colon, in quotes, a fence or a new line) or precede
    if re.search(r"[:\n]\s*\S|[\"'`\u201c\[(]\S|\d", rest) or re.search(
        r"[\"\u201c`]\S.*\S", given
    ):
        return None
    if m.group(0).lower().startswith("my ") and len(_words(s.instruction)) > 12:
        return None  # "my code" in a long task usually describes it ("my code sorts ...")
    return f"the task refers to material it does not give: {m.group(0)!r}"


# --------------------------------------------------------------------------- too short

# tasks that need more than a line: explain/describe/compare, a written piece, code, steps
_ASKS_FOR_LENGTH = re.compile(
    r"^\W*(?:explain|discuss|compare|analy[sz]e)\b"
    r"|\b(?:write|compose|draft|create|implement|develop)\b.{0,40}?\b(?:essay|story"
    r"|article|letter|blog|speech|function|program|script|class|guide|tutorial|report)\b"
    r"|\b(?:step[- ]by[- ]step|steps to)\b",
    re.I,
)
# a length or format limit the task sets makes a short answer right
_LIMITS_LENGTH = re.compile(
    r"\b(?:one|1|a single|two|2|three|3) (?:sentences?|words?|lines?)\b|\bin (?:a|one) "
    r"(?:sentence|word|line|phrase)\b|\bbrief(?:ly)?\b|\bshort\b|\bconcise\b|\bonly\b"
    r"|\bhaiku\b|\bat most\b|\bno more than\b|\bunder \d+\b|\bone-line\b|\btitle\b",
    re.I,
)
TOO_SHORT_WORDS = 6  # fewer words than this for a task of the kinds above


def too_short(s: Sample) -> str | None:
    """The answer is far too short for what is asked: an explanation, a written piece, code
    or steps answered in a line (and the task sets no length limit of its own)."""
    if s.blocks or not _ASKS_FOR_LENGTH.search(s.instruction):
        return None
    if _LIMITS_LENGTH.search(s.instruction):
        return None
    n = len(s.words)
    if 0 < n < TOO_SHORT_WORDS:
        return f"{n} words for a task that asks for an explanation, a piece of writing or code"
    return None


CHECKS = {
    "prompt_leak": prompt_leak,
    "task_about_itself": task_about_itself,
    "deflection": deflection,
    "restates_task": restates_task,
    "not_a_request": not_a_request,
    "missing_input": missing_input,
    "too_short": too_short,
}
DESCRIPTIONS = {
    "prompt_leak": "the task repeats gra's generation prompt or points at its examples/keywords",
    "task_about_itself": "the task is a statement about a task, not a task",
    "deflection": "the response asks for input it does not need instead of answering",
    "restates_task": "the response adds no word the task did not already have",
    "not_a_request": "the instruction asks nothing: a statement, a tip or a fragment",
    "missing_input": "the task works on material it never gives ('rewrite this sentence.')",
    "too_short": "an explanation, a piece of writing, code or steps answered in under "
    f"{TOO_SHORT_WORDS} words",
}
