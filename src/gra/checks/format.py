"""The format checks: each ``format:KIND`` fires only when the instruction states a
constraint of that kind (``constraints.parse_constraints``) and the response breaks it."""

from __future__ import annotations

import json
import math
import re

from gra.checks.base import Sample
from gra.checks.constraints import Constraint
from gra.checks.normalize import ALNUM, normalize_quotes

# --------------------------------------------------------------------------- helpers

_NUMBER = re.compile(
    r"[-+−]?[$€£¥]?\s?(?:\d{1,3}(?:[,\s]\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?\s?"
    r"(?:%|°\s?[CFK]?|percent)?|[-+−]?\.\d+|[-+−]?\d+\s*/\s*\d+"
)
_WRAP = re.compile(r"^[\s*_`\"'“”‘’«»(\[]+|[\s*_`\"'“”‘’«»)\].!]+$")


def _bare(text: str) -> str:
    """The answer without wrapping quotes, emphasis, brackets or a final period."""
    t = text.strip()
    for _ in range(3):
        t = _WRAP.sub("", t)
    t = re.sub(r"^\$+|\$+$", "", t) if t.count("$") >= 2 else t  # $42$ math
    t = re.sub(r"^\\boxed\{(.*)\}$", r"\1", t)
    return t.strip()


def _show(text: str, n: int = 50) -> str:
    t = " ".join(text.split())
    return repr(t if len(t) <= n else t[: n - 3] + "...")


_ABBREV = re.compile(
    r"\b(?:mr|mrs|ms|dr|prof|st|jr|sr|vs|etc|e\.g|i\.e|a\.m|p\.m|u\.s|u\.k|no|approx|inc|ltd|"
    r"co|fig|vol|dept|est|ca|cf|al|min|max|sec|hr|hrs|mt|ft|oz|lb|lbs|jan|feb|mar|apr|jun|jul|"
    r"aug|sep|sept|oct|nov|dec)\.",
    re.I,
)


def count_sentences(text: str) -> int:
    """Sentences of prose: ends at . ! ? (not after an abbreviation or an initial) and at line
    breaks; a line of one or two words without end punctuation (a greeting, a name, a
    heading) is not a sentence."""
    t = _ABBREV.sub("ABBR", text)
    t = re.sub(r"\b([A-Z])\.(?=\s+[A-Z])", r"\1", t)  # initials: J. K. Rowling
    parts = re.split(r"(?<=[.!?])[\"'”’)\]]*\s+|\n+", t)
    n = 0
    for p in parts:
        p = p.strip()
        if not ALNUM.search(p):
            continue
        if len(p.split()) <= 2 and p[-1] not in ".!?":
            continue
        if re.match(r"^(?:subject|re|to|from|dear|hi|hello)\b[^.!?]*[:,]$", p, re.I):
            continue
        n += 1
    return n


_LIST_LINE = re.compile(r"^\s*(?:[-*•+–]|\d+[.)])\s+\S")
_BULLET_LINE = re.compile(r"^ ?[-*•+–] +\S")
_NUMBERED_STRICT = re.compile(
    r"^ ?(?:#{1,6}\s*|\*\*|__)?(?:\d+[.)]|(?:step|tip|day|idea|reason|option|way|item|"
    r"point|rule|part)\s+\d+\s*[:.)-])\s*\S",
    re.I,
)


def _list_counts(prose: str) -> tuple[int, int]:
    lines = prose.splitlines()
    bullets = sum(1 for ln in lines if _BULLET_LINE.match(ln))
    numbered = sum(1 for ln in lines if _NUMBERED_STRICT.match(ln))
    return bullets, numbered


def _json_candidate(s: Sample) -> tuple[str, str]:
    """(text to parse, problem) — a response that is one fenced block counts as its content."""
    if s.blocks:
        b = s.blocks[0]
        outside = ALNUM.search(s.prose) is not None
        if len(s.blocks) == 1 and b.closed and b.lang in ("", "json", "jsonc", "javascript"):
            return b.code, ("text around the JSON block" if outside else "")
    return s.text, ""


def _format_regex(fmt: str) -> str:
    f = fmt.lower()
    ampm = ""
    if re.search(r"am/pm|am|pm", f):
        ampm = r"\s*(?:am|pm|a\.m\.|p\.m\.)"
        f = re.sub(r"\s*(?:am/pm|am|pm)", "", f)
    out = ""
    for tok in re.findall(r"yyyy|yy|mm|dd|hh|h|ss|[^a-z]", f):
        out += {
            "yyyy": r"\d{4}", "yy": r"\d{2}", "mm": r"\d{2}", "dd": r"\d{2}", "hh": r"\d{2}",
            "h": r"\d{1,2}", "ss": r"\d{2}",
        }.get(tok, re.escape(tok))  # fmt: skip
    return out + ampm


# --------------------------------------------------------------------------- checks


def _of(s: Sample, kind: str) -> list[Constraint]:
    if not s.has_content:
        return []
    return [c for c in s.constraints if c.kind == kind]


def check_only_number(s: Sample) -> str | None:
    for c in _of(s, "only_number"):
        if not _NUMBER.fullmatch(_bare(s.text)):
            return f"asks for only a number ({c.phrase!r}), got {_show(s.text)}"
    return None


def check_one_word(s: Sample) -> str | None:
    for c in _of(s, "one_word"):
        bare = _bare(s.text)
        if len(bare.split()) != 1:
            return f"asks for one word ({c.phrase!r}), got {len(bare.split())} words"
    return None


def check_only_answer(s: Sample) -> str | None:
    st = s.settings
    for c in _of(s, "only_answer"):
        bare = _bare(s.text)
        what = c.args.get("what")
        words = bare.split()
        if what == "fraction":
            if not re.fullmatch(r"[-−]?\d+\s*/\s*\d+|[-−]?\d+\s+\d+\s*/\s*\d+", bare):
                return f"asks for only a fraction, got {_show(s.text)}"
        elif what == "regex":
            rx = re.sub(r"^/(.*)/[a-z]*$", r"\1", bare) if bare.startswith("/") else bare
            if "\n" in bare or len(words) > 2:
                return f"asks for only the regex, got {len(words)} words"
            try:
                re.compile(rx)
            except re.error as e:
                return f"the regex does not compile: {e}"
        else:
            limit = (
                max(st.only_answer_max_words, 15) if what == "title" else (st.only_answer_max_words)
            )
            obj = c.args.get("obj", "answer")
            if "\n" in bare:
                return f"asks for only the {obj}, got {bare.count(chr(10)) + 1} lines"
            if len(words) > limit:
                return f"asks for only the {obj}, got {len(words)} words"
            if (
                what != "title"
                and len(words) >= 4
                and re.search(
                    r"\b(?:is|are|was|were|equals|means|would be|will be|should be|has|have)\b",
                    bare,
                    re.I,
                )
            ):
                return f"asks for only the {obj}, got a sentence: {_show(s.text)}"
    return None


def check_yes_no(s: Sample) -> str | None:
    for c in _of(s, "yes_no"):
        bare = _bare(s.text)
        first = re.split(r"[\s.,!:;]", bare, maxsplit=1)[0].lower()
        options = ("true", "false") if "true" in c.phrase else ("yes", "no")
        if first not in options:
            return f"asks to answer {options[0]!r} or {options[1]!r}, starts {_show(s.text, 30)}"
        if c.args.get("exact") and len(bare.split()) > 1:
            return f"asks for only {options[0]!r} or {options[1]!r}, got {len(bare.split())} words"
    return None


def check_pattern(s: Sample) -> str | None:
    for c in _of(s, "pattern"):
        rx = _format_regex(c.args["format"])
        bare = _bare(s.text)
        if c.args.get("exact"):
            if not re.fullmatch(rx, bare, re.I):
                return f"asks for only {c.args['format'].upper()}, got {_show(s.text)}"
        elif not re.search(rx, s.text, re.I):
            return f"asks for the format {c.args['format'].upper()}, none in the response"
    return None


def check_json(s: Sample) -> str | None:
    for c in _of(s, "json"):
        raw, problem = _json_candidate(s)
        if problem:
            return problem
        try:
            obj = json.loads(raw)
        except ValueError as e:
            return f"asks for JSON, the response does not parse: {str(e).split(':')[0]}"
        want = c.args.get("type")
        if want == "array" and not isinstance(obj, list):
            return f"asks for a JSON array, got a JSON {type(obj).__name__}"
        if want == "object" and not isinstance(obj, dict):
            if not (isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj)):
                return f"asks for a JSON object, got a JSON {type(obj).__name__}"
        if isinstance(obj, list):
            if c.args.get("of") == "string" and not all(isinstance(x, str) for x in obj):
                return "asks for a JSON array of strings, not every item is a string"
            if c.args.get("count") and len(obj) != c.args["count"]:
                return f"asks for {c.args['count']} JSON items, has {len(obj)}"
        keys = c.args.get("keys")
        if keys:
            dicts = (
                [obj]
                if isinstance(obj, dict)
                else [x for x in obj if isinstance(x, dict)]
                if isinstance(obj, list)
                else []
            )
            if not dicts:
                return f"asks for JSON with the keys {', '.join(keys)}, got no JSON object"
            for d in dicts:
                have = {str(k).lower() for k in d}
                missing = [k for k in keys if k.lower() not in have]
                if missing:
                    return (
                        f"JSON lacks the key(s) {', '.join(missing)} (has {', '.join(map(str, d))})"
                    )
    return None


def check_code_fence(s: Sample) -> str | None:
    for _c in _of(s, "code_fence"):
        if not any(b.closed and ALNUM.search(b.code) for b in s.blocks):
            if any(not b.closed for b in s.blocks):
                return None  # an unclosed block is `truncated`
            return "asks for a fenced code block, the response has none"
    return None


def check_code_only(s: Sample) -> str | None:
    for _c in _of(s, "code_only"):
        if s.blocks:
            if ALNUM.search(s.prose):
                return f"asks for only code, has text outside the code block: {_show(s.prose)}"
        else:
            prose = [
                ln for ln in s.text.splitlines()
                if len(ln.split()) >= 6 and re.search(r"[.!?]$", ln.strip())
                and not re.search(r"[=(){};]|^\s*(?:#|//|--)", ln)
            ]  # fmt: skip
            if prose:
                return f"asks for only code, has prose: {_show(prose[0])}"
    return None


def check_max_words(s: Sample) -> str | None:
    for c in _of(s, "max_words"):
        slack = (
            s.settings.approx_word_slack if c.args.get("approx") else (s.settings.word_limit_slack)
        )
        limit = max(c.args["max"], math.floor(c.args["max"] * (1 + slack)))
        if len(s.words) > limit:
            return f"asks for at most {c.args['max']} words ({c.phrase!r}), has {len(s.words)}"
    return None


def check_max_chars(s: Sample) -> str | None:
    for c in _of(s, "max_chars"):
        if len(s.text) > c.args["max"]:
            return f"asks for at most {c.args['max']} characters, has {len(s.text)}"
    return None


def check_min_words(s: Sample) -> str | None:
    for c in _of(s, "min_words"):
        if len(s.words) < c.args["min"]:
            return f"asks for at least {c.args['min']} words, has {len(s.words)}"
    return None


def check_sentences(s: Sample) -> str | None:
    for c in _of(s, "sentences"):
        prose = s.prose.strip()
        if c.args.get("part"):
            # one part of a longer answer: count the prose, not the list that follows
            prose = "\n".join(ln for ln in prose.splitlines() if not _LIST_LINE.match(ln))
        n = count_sentences(prose)
        lo, hi = c.args["min"], c.args["max"]
        if n < lo or (hi is not None and n > hi):
            want = f"{lo}" if lo == hi else (f"at least {lo}" if hi is None else f"{lo}-{hi}")
            return f"asks for {want} sentence(s) ({c.phrase!r}), has {n}"
    return None


def check_paragraphs(s: Sample) -> str | None:
    for c in _of(s, "paragraphs"):
        paras = [
            p for p in re.split(r"\n\s*\n|\n\s*(?:\*\*\*|---)\s*\n", s.text) if ALNUM.search(p)
        ]
        if len(paras) != c.args["count"]:
            return f"asks for {c.args['count']} paragraph(s), has {len(paras)}"
    return None


def check_bullets(s: Sample) -> str | None:
    for c in _of(s, "bullets"):
        bullets, numbered = _list_counts(s.prose)
        want = c.args["count"]
        if want == 0:
            if bullets + numbered >= 2:
                return f"asks for no bullet points ({c.phrase!r}), has {bullets + numbered}"
            continue
        have = bullets or numbered
        if want is None:
            if have < 2:
                return "asks for bullet points, the response has none"
        elif have != want:
            return f"asks for {want} bullet points, has {have}"
    return None


def check_numbered(s: Sample) -> str | None:
    for c in _of(s, "numbered"):
        _, numbered = _list_counts(s.prose)
        want = c.args["count"]
        if want is None:
            if numbered < 2:
                return "asks for a numbered list, the response has none"
        elif numbered != want:
            return f"asks for a numbered list of {want}, has {numbered} numbered items"
    return None


def check_item_count(s: Sample) -> str | None:
    cs = _of(s, "item_count")
    if not cs or any(c.kind in ("bullets", "numbered") for c in s.constraints):
        return None
    if len({c.args["count"] for c in cs}) != 1:
        return None  # several counts in one instruction: no single list to check
    c = cs[0]
    bullets, numbered = _list_counts(s.prose)
    if max(bullets, numbered) < 2:
        return None  # not a list: the count cannot be read mechanically
    if c.args["count"] not in (bullets, numbered, bullets + numbered):
        have = bullets if bullets >= numbered else numbered
        return f"asks for {c.args['count']} items ({c.phrase!r}), the list has {have}"
    return None


def check_comma_list(s: Sample) -> str | None:
    for c in _of(s, "comma_list"):
        t = s.text.strip()
        if "\n" in t:
            return f"asks for a comma-separated list, got {t.count(chr(10)) + 1} lines"
        if "," not in t:
            return "asks for a comma-separated list, the response has no commas"
        items = [x.strip() for x in t.rstrip(".").split(",") if x.strip()]
        if c.args.get("strict") and (":" in t or any(len(x.split()) > 6 for x in items)):
            return f"asks for the list and nothing else, got {_show(t)}"
        counts = [x for x in s.constraints if x.kind == "item_count"]
        if counts:
            want = counts[0].args["count"]
            n = len(items)
            if re.match(r"(?:and|or)\s", items[-1]) is None and re.search(
                r"\s(?:and|or)\s", items[-1]
            ):
                n += 1
            if n != want:
                return f"asks for {want} comma-separated items, has {n}"
    return None


def _check_case(s: Sample, kind: str, wrong: str, message: str) -> str | None:
    """Words with a letter of the ``wrong`` case in a response asked to be ``kind``."""
    for _c in _of(s, kind):
        found = re.findall(rf"\S*[{wrong}]\S*", s.prose)
        if found:
            return f"{message}: {' '.join(found[:3])!r}"
    return None


def check_lowercase(s: Sample) -> str | None:
    return _check_case(s, "lowercase", "A-Z", "asks for lowercase only, has capitals")


def check_uppercase(s: Sample) -> str | None:
    return _check_case(s, "uppercase", "a-z", "asks for capitals only, has lowercase")


def _clean_edge(t: str) -> str:
    return re.sub(r"^[\s#*_>\"'“‘`-]+|[\s*_\"'”’`.!?]+$", "", normalize_quotes(t)).lower()


def check_starts_with(s: Sample) -> str | None:
    for c in _of(s, "starts_with"):
        want = _clean_edge(c.args["text"])
        if want and not _clean_edge(s.text).startswith(want):
            return f"asks to start with {c.args['text']!r}, starts {_show(s.text, 30)}"
    return None


def check_ends_with(s: Sample) -> str | None:
    for c in _of(s, "ends_with"):
        want = _clean_edge(c.args["text"])
        if want and not _clean_edge(s.text).endswith(want):
            return f"asks to end with {c.args['text']!r}, ends ...{_show(s.text[-30:], 30)}"
    return None


def check_table(s: Sample) -> str | None:
    for _c in _of(s, "table"):
        rows = [ln for ln in s.text.splitlines() if ln.count("|") >= 2 or ln.count("\t") >= 1]
        if len(rows) < 2:
            return "asks for a table, the response has none"
    return None


def check_no_commas(s: Sample) -> str | None:
    for _c in _of(s, "no_commas"):
        n = s.prose.count(",")
        if n:
            return f"asks for no commas, has {n}"
    return None


def check_quoted(s: Sample) -> str | None:
    for _c in _of(s, "quoted"):
        t = s.text.strip()
        if not (len(t) >= 2 and t[0] in '"“' and t[-1] in '"”'):
            return "asks to wrap the response in double quotes, it is not"
    return None


def check_title(s: Sample) -> str | None:
    for _c in _of(s, "title"):
        if not re.search(r"<<[^<>\n]+>>", s.text):
            return "asks for a title in <<double angle brackets>>, none found"
    return None


def check_forbidden_words(s: Sample) -> str | None:
    low = s.text.lower()
    for c in _of(s, "forbidden_words"):
        for w in c.args["words"]:
            if re.search(rf"(?<!\w){re.escape(w.lower())}(?!\w)", low):
                return f"asks not to use {w!r}, the response does"
    return None


def check_required_words(s: Sample) -> str | None:
    low = s.text.lower()
    for c in _of(s, "required_words"):
        missing = [w for w in c.args["words"] if w.lower() not in low]
        if missing:
            return f"asks to include {', '.join(map(repr, missing))}, the response does not"
    return None


FORMAT_CHECKS = {
    "format:only_number": check_only_number,
    "format:one_word": check_one_word,
    "format:only_answer": check_only_answer,
    "format:yes_no": check_yes_no,
    "format:pattern": check_pattern,
    "format:json": check_json,
    "format:code_fence": check_code_fence,
    "format:code_only": check_code_only,
    "format:max_words": check_max_words,
    "format:min_words": check_min_words,
    "format:max_chars": check_max_chars,
    "format:sentences": check_sentences,
    "format:paragraphs": check_paragraphs,
    "format:bullets": check_bullets,
    "format:numbered": check_numbered,
    "format:item_count": check_item_count,
    "format:comma_list": check_comma_list,
    "format:lowercase": check_lowercase,
    "format:uppercase": check_uppercase,
    "format:starts_with": check_starts_with,
    "format:ends_with": check_ends_with,
    "format:table": check_table,
    "format:no_commas": check_no_commas,
    "format:quoted": check_quoted,
    "format:title": check_title,
    "format:forbidden_words": check_forbidden_words,
    "format:required_words": check_required_words,
}
