"""Build the labeled review/selection dev set ``review_dev.jsonl`` from its hand-written source.

Every good pair and the corruptions that need judgement (wrong_answer, fabricated_fact,
unsafe, format_ignored) are written by hand in ``review_dev_source.txt``. This script adds
the mechanical corruptions (mismatch, truncated, repetition, refusal, empty) with fixed,
deterministic rules, checks the format constraints and the counts, and writes the JSONL.

    .venv/bin/python benchmarks/data/build_dev_set.py           # write review_dev.jsonl
    .venv/bin/python benchmarks/data/build_dev_set.py --check   # verify the file is up to date
    .venv/bin/python benchmarks/data/build_dev_set.py --stats   # print the README count tables

Standard library only; the same source always gives the same file, byte for byte.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "review_dev_source.txt"
OUTPUT = HERE / "review_dev.jsonl"

KINDS = [
    "wrong_answer",
    "mismatch",
    "truncated",
    "repetition",
    "refusal",
    "empty",
    "format_ignored",
    "unsafe",
    "fabricated_fact",
]
HAND_KINDS = {"wrong_answer", "fabricated_fact", "unsafe", "format_ignored"}
MECH_KINDS = {"truncated", "repetition", "refusal", "empty"}
SUFFIX = {
    "wrong_answer": "wrong",
    "mismatch": "mismatch",
    "truncated": "trunc",
    "repetition": "rep",
    "refusal": "refusal",
    "empty": "empty",
    "format_ignored": "format",
    "unsafe": "unsafe",
    "fabricated_fact": "fab",
}
DOMAINS = ["math", "code", "reasoning", "writing", "science", "advice", "knowledge"]
MIN_PER_KIND = 20


class BuildError(Exception):
    pass


# --------------------------------------------------------------------------- source


def parse_source(text: str) -> list[dict]:
    """Parse ``review_dev_source.txt`` into one dict per good pair."""
    records: list[dict] = []
    rec: dict | None = None
    section: str | None = None
    buf: list[str] = []

    def flush() -> None:
        if rec is not None and section is not None:
            rec["sections"][section] = "\n".join(buf).strip("\n")

    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("=== "):
            flush()
            rec = {"id": line[4:].strip(), "header": {}, "sections": {}, "line": lineno}
            records.append(rec)
            section, buf = None, []
        elif line.startswith("--- ") and rec is not None:
            flush()
            section, buf = line[4:].strip(), []
            if section in rec["sections"]:
                raise BuildError(f"line {lineno}: section {section!r} given twice")
        elif section is not None:
            buf.append(line)
        elif rec is not None and line.strip() and not line.startswith("#"):
            key, sep, value = line.partition(":")
            if not sep:
                raise BuildError(f"line {lineno}: expected 'key: value', got {line!r}")
            rec["header"][key.strip()] = value.strip()
    flush()
    return records


# --------------------------------------------------------------------------- constraints


def _count_sentences(text: str) -> int:
    # Sentence ends: . ! ? followed by whitespace or the end; skip common abbreviations.
    t = re.sub(r"\b(e\.g|i\.e|etc|vs|Mr|Mrs|Ms|Dr|mrs|mr|ms|dr)\.", "ABBR", text.strip())
    return len([s for s in re.split(r"(?<=[.!?])\s+", t) if s.strip()])


def _code_blocks(text: str) -> list[tuple[str, str]]:
    return re.findall(r"```([A-Za-z0-9_+-]*)\n(.*?)\n```", text, flags=re.S)


def check_constraint(constraint: str, text: str) -> list[str]:
    """Return the parts of ``constraint`` that ``text`` violates (empty list: obeys all)."""
    failed = []
    for part in [p.strip() for p in constraint.split(";") if p.strip()]:
        name, _, arg = part.partition("=")
        s = text.strip()
        ok: bool
        if name == "only_number":
            ok = re.fullmatch(r"-?\d+(\.\d+)?", s) is not None
        elif name == "only_fraction":
            ok = re.fullmatch(r"\d+/\d+", s) is not None
        elif name == "only_regex":
            ok = "\n" not in s and " " not in s and "`" not in s
            if ok:
                try:
                    re.compile(s)
                except re.error:
                    ok = False
        elif name == "one_word":
            ok = re.fullmatch(r"[A-Za-z][A-Za-z0-9'-]*\.?", s) is not None
        elif name == "comma_list":
            items = s.split(", ")
            ok = (
                "\n" not in s
                and len(items) == int(arg)
                and all(re.fullmatch(r"-?\d+", i) for i in items)
            )
        elif name == "json_keys":
            try:
                obj = json.loads(s)
            except ValueError:
                obj = None
            ok = isinstance(obj, dict) and set(obj) == set(arg.split(","))
        elif name == "json_array":
            try:
                obj = json.loads(s)
            except ValueError:
                obj = None
            ok = (
                isinstance(obj, list)
                and len(obj) == int(arg)
                and all(isinstance(x, str) for x in obj)
            )
        elif name == "code_fence":
            blocks = [code for lang, code in _code_blocks(s) if lang == arg]
            ok = bool(blocks) and s.count("```") % 2 == 0
            if ok and arg == "python":
                try:
                    for code in blocks:
                        ast.parse(code)
                except SyntaxError:
                    ok = False
        elif name == "code_only":
            ok = s.startswith("```") and s.endswith("```") and s.count("```") == 2
        elif name == "max_words":
            ok = 0 < len(s.split()) <= int(arg)
        elif name == "sentences":
            ok = _count_sentences(s) == int(arg)
        elif name == "max_sentences":
            ok = 0 < _count_sentences(s) <= int(arg)
        elif name == "starts_with":
            first = re.split(r"[\s.,!]", s, maxsplit=1)[0]
            ok = first in arg.split("|")
        elif name == "lowercase":
            ok = any(c.isalpha() for c in s) and s == s.lower()
        elif name == "regex":
            ok = re.fullmatch(arg, s) is not None
        elif name == "bullets":
            lines = [ln for ln in s.splitlines() if ln.strip()]
            bullets = [ln for ln in lines if re.match(r"\s*[-*•] \S", ln)]
            ok = len(bullets) == int(arg)
        elif name == "numbered":
            numbered = [ln for ln in s.splitlines() if re.match(r"\s*\d+[.)] \S", ln)]
            ok = len(numbered) == int(arg)
        elif name == "numbered_list":
            lines = [ln for ln in s.splitlines() if ln.strip()]
            ok = len(lines) >= 2 and all(re.match(r"\d+[.)] \S", ln) for ln in lines)
        else:
            raise BuildError(f"unknown constraint {name!r}")
        if not ok:
            failed.append(part)
    return failed


# --------------------------------------------------------------------------- text helpers

FUNCTION_WORDS = {
    "the", "a", "an", "of", "to", "and", "or", "with", "for", "in", "on", "is", "are",
    "that", "by", "from", "your", "their", "its", "as", "at", "be", "can", "it", "so",
}  # fmt: skip
ABBREV_END = re.compile(r"\b(e\.g|i\.e|etc|vs|mr|mrs|ms|dr)\.$", re.I)
LIST_ITEM = re.compile(r"^(\s*)(\d+[.)]|[-*•])\s+\S")
FRACS = [0.35, 0.6, 0.25, 0.72, 0.5, 0.42, 0.3, 0.66, 0.55, 0.22, 0.78, 0.46, 0.62, 0.38]


def code_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of fenced code blocks, fences included (an open block runs to the end)."""
    spans, pos = [], 0
    while True:
        a = text.find("```", pos)
        if a < 0:
            return spans
        b = text.find("```", a + 3)
        if b < 0:
            return spans + [(a, len(text))]
        spans.append((a, b + 3))
        pos = b + 3


def in_code(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= pos < b for a, b in spans)


def prose_words(text: str) -> list[re.Match]:
    spans = code_spans(text)
    return [m for m in re.finditer(r"\S+", text) if not in_code(m.start(), spans)]


def list_items(text: str) -> list[tuple[int, int]]:
    """(start, end) of each list-item line outside code."""
    spans, out, pos = code_spans(text), [], 0
    for line in text.split("\n"):
        if LIST_ITEM.match(line) and not in_code(pos, spans):
            out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def looks_unfinished(text: str) -> bool:
    t = text.rstrip()
    return bool(t) and t[-1] not in ".!?:;)]}\"'`✓" and not t.endswith("```")


def nearest(cands: list[int], target: float) -> int:
    return min(cands, key=lambda p: (abs(p - target), p))


# --------------------------------------------------------------------------- truncation


def trunc_word(text: str, frac: float) -> tuple[str, str] | None:
    words = [m for m in prose_words(text) if re.fullmatch(r"[A-Za-z]{5,}[,.;:]?", m.group())]
    words = [m for m in words if 0.2 * len(text) <= m.start() <= 0.78 * len(text)]
    if not words:
        return None
    m = min(words, key=lambda m: (abs(m.start() - frac * len(text)), m.start()))
    core = re.match(r"[A-Za-z]+", m.group()).group()
    cut = m.start() + max(2, len(core) // 2)
    return text[:cut], f"cut mid-word ({core!r} -> {core[: cut - m.start()]!r})"


def trunc_phrase(text: str, frac: float) -> tuple[str, str] | None:
    words = prose_words(text)
    lo, hi = 0.2 * len(text), 0.8 * len(text)
    cands = [
        m.end()
        for i, m in enumerate(words[:-1])
        if lo <= m.end() <= hi
        and m.group().lower() in FUNCTION_WORDS
        and "\n" not in text[m.end() : words[i + 1].start()]
    ]
    if not cands:
        return None
    cut = nearest(cands, frac * len(text))
    return text[:cut], "cut mid-sentence after a function word"


def trunc_list(text: str, frac: float) -> tuple[str, str] | None:
    items = list_items(text)
    if len(items) < 3:
        return None
    k = min(len(items) - 1, max(1, round(frac * len(items))))
    a, b = items[k]
    words = [m for m in re.finditer(r"\S+", text[a:b])][2:]
    cands = [a + m.end() for m in words[:-1] if m.group().lower() in FUNCTION_WORDS]
    if not cands:
        cands = [
            a + m.start() + max(2, len(m.group()) // 2)
            for m in words[:-1]
            if len(m.group()) >= 4 and m.group().isalpha()
        ]
    if not cands:
        return None
    cut = nearest(cands, (a + b) / 2)
    return text[:cut], f"list cut inside item {k + 1} of {len(items)}"


def trunc_code(text: str, frac: float) -> tuple[str, str] | None:
    spans = [(a, b) for a, b in code_spans(text) if text.count("\n", a, b) >= 4]
    if not spans:
        return None
    a, b = spans[0]
    body_start = text.index("\n", a) + 1
    body_end = b - 3
    lines, pos = [], body_start
    for line in text[body_start:body_end].split("\n"):
        if len(line.strip()) >= 8:
            lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    if len(lines) < 3:
        return None
    ls, le = lines[min(len(lines) - 2, max(1, round(frac * len(lines))))]
    cut = ls + (le - ls) * 2 // 3
    while cut < le and text[cut - 1] == " ":
        cut += 1
    return text[:cut], "code block cut mid-line and left unclosed"


TRUNC_MODES = {"word": trunc_word, "phrase": trunc_phrase, "list": trunc_list, "code": trunc_code}


def make_truncated(text: str, counter: int) -> tuple[str, str]:
    frac = FRACS[counter % len(FRACS)]
    # a structural cut (code, list) when the response has that structure, every other time;
    # otherwise mid-word and mid-sentence cuts in turn
    plain = ["word", "phrase"] if (counter // 2) % 2 else ["phrase", "word"]
    order = plain + ["code", "list"]
    if code_spans(text) and counter % 2 == 0:
        order = ["code"] + plain
    elif list_items(text) and counter % 2 == 1:
        order = ["list"] + plain
    for mode in order:
        got = TRUNC_MODES[mode](text, frac)
        if got is None:
            continue
        out, how = got
        out = out.rstrip()
        share = len(out) / len(text)
        if 0.2 <= share <= 0.8 and looks_unfinished(out):
            return out, f"{how}; keeps {round(100 * share)}% of the response"
    raise BuildError(f"cannot truncate: {text[:60]!r}")


# --------------------------------------------------------------------------- repetition


def sentence_units(text: str) -> list[tuple[int, int]]:
    """Prose sentences (start, end) outside code and list items, at least 5 words."""
    spans, items = code_spans(text), list_items(text)
    units, pos = [], 0
    for line in text.split("\n"):
        if not in_code(pos, spans) and not any(a == pos for a, _ in items):
            start = pos
            for m in re.finditer(r"[.!?](?=\s|$)", line):
                end = pos + m.end()
                if ABBREV_END.search(text[start:end]):
                    continue
                units.append((start, end))
                start = end + 1
            if start < pos + len(line):
                units.append((start, pos + len(line)))
        pos += len(line) + 1
    out = []
    for a, b in units:
        while a < b and text[a] == " ":
            a += 1
        if len(text[a:b].split()) >= 5:
            out.append((a, b))
    return out


def rep_sentence(text: str, counter: int) -> tuple[str, str] | None:
    units = sentence_units(text)
    if not units:
        return None
    a, b = units[min(len(units) - 1, round(FRACS[counter % len(FRACS)] * (len(units) - 1)))]
    n = 5 + counter % 5
    sent = text[a:b]
    whole_line = (a == 0 or text[a - 1] == "\n") and (b == len(text) or text[b] == "\n")
    sep = "\n" if whole_line else " "
    return text[:b] + (sep + sent) * n, f"sentence loop: one sentence repeated {n} more times"


def rep_token(text: str, counter: int) -> tuple[str, str] | None:
    words = [m for m in prose_words(text) if re.fullmatch(r"[A-Za-z']+", m.group())]
    words = [m for m in words if 0.2 * len(text) <= m.end() <= 0.8 * len(text)]
    if len(words) < 3:
        return None
    target = FRACS[counter % len(FRACS)] * len(text)
    the = [m for m in words if m.group().lower() in ("the", "a", "to", "and", "of")]
    m = min(the or words, key=lambda m: (abs(m.end() - target), m.end()))
    tok = m.group().lower()
    n = 18 + (counter * 7) % 17
    return text[: m.end()] + (" " + tok) * n, f"token loop: {tok!r} repeated {n} times"


def rep_phrase(text: str, counter: int) -> tuple[str, str] | None:
    words = prose_words(text)
    k = 3 + counter % 3
    cands = [
        i
        for i in range(k, len(words))
        if 0.25 * len(text) <= words[i - 1].end() <= 0.8 * len(text)
        and re.fullmatch(r"[A-Za-z0-9][\w ,'-]*", text[words[i - k].start() : words[i - 1].end()])
    ]
    if not cands:
        return None
    target = FRACS[(counter + 3) % len(FRACS)] * len(text)
    i = min(cands, key=lambda i: (abs(words[i - 1].end() - target), i))
    phrase = text[words[i - k].start() : words[i - 1].end()]
    n = 8 + counter % 6
    end = words[i - 1].end()
    return text[:end] + (" " + phrase) * n, f"phrase loop: a {k}-word phrase repeated {n} times"


def rep_list(text: str, counter: int) -> tuple[str, str] | None:
    items = list_items(text)
    if len(items) < 3:
        return None
    lines = [text[a:b] for a, b in items]
    head = text[: items[-1][1]]
    numbered = re.match(r"\s*\d", lines[0]) is not None
    if counter % 2 == 0:
        extra = lines * 2
        how = "list loop: all items repeated twice more"
    else:
        extra = [lines[-1]] * 6
        how = "list loop: last item repeated 6 more times"
    if numbered:
        start = len(lines) + 1
        extra = [re.sub(r"^(\s*)\d+", rf"\g<1>{start + j}", ln) for j, ln in enumerate(extra)]
        how += " with continued numbering"
    return head + "\n" + "\n".join(extra), how


def rep_code(text: str, counter: int) -> tuple[str, str] | None:
    got = trunc_code(text, 0.5)
    if got is None:
        return None
    cut_text = got[0]
    line_start = cut_text.rfind("\n") + 1
    line_end = text.index("\n", line_start)
    line = text[line_start:line_end]
    n = 10 + counter % 5
    return text[:line_end] + ("\n" + line) * n, f"code loop: one code line repeated {n} times"


def rep_whole(text: str, counter: int) -> tuple[str, str] | None:
    if len(text) <= 60:
        n = 12 + counter % 6
        sep = " " if counter % 2 else "\n"
        return sep.join([text] * n), f"whole answer repeated {n} times"
    return "\n\n".join([text] * 3), "whole response repeated 3 times"


def make_repetition(text: str, counter: int) -> tuple[str, str]:
    # Structural loops (code line, list items) every other time the structure exists; else
    # sentence, token and phrase loops in turn; every seventh time the whole response
    # repeats. Short answers that none of these fit repeat as a whole.
    plain = [rep_sentence, rep_token, rep_phrase]
    k = counter % 3
    forms = plain[k:] + plain[:k] + [rep_list, rep_code, rep_whole]
    if counter % 7 == 3:
        forms.insert(0, rep_whole)
    elif code_spans(text) and counter % 2 == 1:
        forms.insert(0, rep_code)
    elif len(list_items(text)) >= 3 and counter % 2 == 0:
        forms.insert(0, rep_list)
    for fn in forms:
        got = fn(text, counter)
        if got is not None:
            return got
    raise BuildError(f"cannot make repetition: {text[:60]!r}")


# --------------------------------------------------------------------------- refusal, empty

REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "As an AI language model, I cannot provide an answer to this request.",
    "I apologize, but I'm unable to assist with this request.",
    "Sorry, I can't do that. Is there anything else I can help you with?",
    "Unfortunately, I cannot complete this task because it goes against my guidelines.",
    "I'd rather not answer that.",
    "I'm not able to help with this one. Please consult a qualified professional.",
    "This request falls outside of what I'm able to help with. I recommend searching online "
    "for reliable resources.",
    "I'm sorry, but I must decline this request, as responding could be harmful.",
    "Thank you for your question. Unfortunately, I am not able to provide a response to it.",
    "I understand why you're asking, but I'm not comfortable providing this information.",
    "I cannot fulfill this request.",
    "As an AI, I don't have personal opinions or the ability to answer questions like this.",
    "I'm afraid I can't provide that. You may want to ask someone with the relevant expertise.",
    "Apologies, but this is not something I can help with at the moment.",
    "As a responsible AI, I have to decline this request.",
    "I'm not able to generate a response to that. Please try rephrasing your question.",
    "Regrettably, I must refrain from answering this.",
]
DOMAIN_REFUSALS = {
    "math": [
        "I'm sorry, but I can't do your homework for you. Try working through the problem with "
        "your textbook or your teacher.",
        "As a language model, I can't perform calculations reliably, so I won't answer this. "
        "Please use a calculator.",
    ],
    "code": [
        "I'm sorry, but I can't write or explain code. You might find an answer on Stack Overflow.",
        "I'm unable to assist with programming requests.",
    ],
    "reasoning": [
        "I'm sorry, but I don't solve puzzles or riddles.",
        "As an AI language model, I cannot make logical judgments about hypothetical scenarios.",
    ],
    "writing": [
        "I'm sorry, but I can't create content for you. Writing it yourself will be a better "
        "learning experience.",
        "I can't produce creative or personal writing on request.",
    ],
    "science": [
        "I'm not able to provide scientific explanations. Please consult a teacher or a textbook.",
        "As an AI, I cannot verify scientific claims, so I'm unable to answer this question.",
    ],
    "advice": [
        "I'm not qualified to give advice on this. Please speak to a professional.",
        "As an AI language model, I can't give personal advice.",
    ],
    "knowledge": [
        "I'm sorry, but I don't have access to information about that topic.",
        "I cannot provide information about real-world people, places or events.",
    ],
}
EMPTIES = [
    "",
    ".",
    "Sure!",
    "Here is the answer:",
    "Okay.",
    "...",
    "Answer:",
    "Of course! Here you go:",
    "Certainly.",
    "Great question!",
    "N/A",
    "Let me help you with that.",
]
CODE_EMPTIES = ["```\n```", "Here is the code:"]


def make_refusal(domain: str, counter: int) -> str:
    if counter % 3 == 1:
        options = DOMAIN_REFUSALS[domain]
        return options[(counter // 3) % len(options)]
    return REFUSALS[(counter - (counter + 1) // 3) % len(REFUSALS)]


def make_empty(domain: str, counter: int) -> str:
    if domain == "code" and counter % 2 == 0:
        return CODE_EMPTIES[(counter // 2) % len(CODE_EMPTIES)]
    return EMPTIES[counter % len(EMPTIES)]


# --------------------------------------------------------------------------- build


def row(pair: dict, kind: str, response: str, note: str, **extra: str) -> dict:
    out = {
        "id": pair["id"] if kind == "good" else f"{pair['id']}-{SUFFIX[kind]}",
        "instruction": pair["instruction"],
        "input": pair["input"],
        "response": response,
        "domain": pair["domain"],
        "label": "good" if kind == "good" else "bad",
        "kind": kind,
        "source_id": pair["id"],
        "constraint": pair["constraint"],
        "note": note,
    }
    out.update(extra)
    return out


def build(records: list[dict]) -> list[dict]:
    pairs = {}
    for rec in records:
        h, s = rec["header"], rec["sections"]
        where = f"{SOURCE.name}:{rec['line']} ({rec['id']})"
        unknown = set(s) - {"instruction", "input", "response"} - HAND_KINDS
        if unknown:
            raise BuildError(f"{where}: unknown sections {sorted(unknown)}")
        for key in h:
            if key not in {"domain", "constraint", "mech", "mismatch"} and not (
                key.startswith("note.") and key[5:] in HAND_KINDS
            ):
                raise BuildError(f"{where}: unknown header {key!r}")
        if rec["id"] in pairs:
            raise BuildError(f"{where}: duplicate id")
        if h.get("domain") not in DOMAINS:
            raise BuildError(f"{where}: domain must be one of {DOMAINS}")
        if not s.get("instruction") or not s.get("response"):
            raise BuildError(f"{where}: instruction and response are required")
        mech = h.get("mech", "").split()
        if set(mech) - MECH_KINDS or len(set(mech)) != len(mech):
            raise BuildError(f"{where}: bad mech list {mech}")
        pairs[rec["id"]] = {
            "id": rec["id"],
            "where": where,
            "domain": h["domain"],
            "constraint": h.get("constraint", ""),
            "instruction": s["instruction"],
            "input": s.get("input", ""),
            "response": s["response"],
            "hand": {k: s[k] for k in HAND_KINDS if k in s},
            "notes": {k[5:]: v for k, v in h.items() if k.startswith("note.")},
            "mech": mech,
            "mismatch": h.get("mismatch", ""),
        }

    counters: Counter = Counter()
    rows: list[dict] = []
    for pid, p in pairs.items():
        where, resp, cons = p["where"], p["response"], p["constraint"]
        if cons:
            failed = check_constraint(cons, resp)
            if failed:
                raise BuildError(f"{where}: good response breaks its constraint {failed}")
        rows.append(row(p, "good", resp, ""))
        made: dict[str, tuple[str, str, dict]] = {}
        for kind, text in p["hand"].items():
            note = p["notes"].get(kind)
            if not note:
                raise BuildError(f"{where}: hand-written {kind} needs a note.{kind} header")
            if text.strip() == resp.strip():
                raise BuildError(f"{where}: {kind} equals the good response")
            if kind == "format_ignored":
                if not cons:
                    raise BuildError(f"{where}: format_ignored needs a constraint")
                if not check_constraint(cons, text):
                    raise BuildError(f"{where}: format_ignored obeys the constraint")
            if kind in ("wrong_answer", "fabricated_fact") and cons:
                failed = check_constraint(cons, text)
                if failed:
                    raise BuildError(f"{where}: {kind} should keep the format, breaks {failed}")
            if kind == "fabricated_fact":
                ops = difflib.SequenceMatcher(None, resp.split(), text.split()).get_opcodes()
                changes = [op for op in ops if op[0] != "equal"]
                span = changes[-1][2] - changes[0][1] if changes else 0
                if len(changes) > 3 or span > 20:
                    raise BuildError(f"{where}: fabricated_fact changes more than one spot")
            made[kind] = (text, note, {})
        if p["mismatch"]:
            other = pairs.get(p["mismatch"])
            if other is None or other["id"] == pid:
                raise BuildError(f"{where}: mismatch source {p['mismatch']!r} not found")
            swap = "same_domain" if other["domain"] == p["domain"] else "cross_domain"
            note = f"{swap.replace('_', '-')} swap: the response of {other['id']}"
            made["mismatch"] = (other["response"], note, {"swap": swap})
        for kind in p["mech"]:
            c = counters[kind]
            counters[kind] += 1
            if kind == "truncated":
                text, note = make_truncated(resp, c)
            elif kind == "repetition":
                text, note = make_repetition(resp, c)
            elif kind == "refusal":
                text, note = make_refusal(p["domain"], c), "unwarranted refusal"
            else:
                text = make_empty(p["domain"], c)
                note = "empty response" if not text else "near-empty response"
            made[kind] = (text, note, {})
        if not 2 <= len(made) <= 5:
            raise BuildError(f"{where}: {len(made)} corruptions; want 2 to 5")
        for kind in KINDS:
            if kind in made:
                text, note, extra = made[kind]
                rows.append(row(p, kind, text, note, **extra))

    ids = Counter(r["id"] for r in rows)
    dup = [i for i, n in ids.items() if n > 1]
    if dup:
        raise BuildError(f"duplicate ids: {dup}")
    per_kind = Counter(r["kind"] for r in rows)
    short = {k: per_kind[k] for k in KINDS if per_kind[k] < MIN_PER_KIND}
    if short:
        raise BuildError(f"kinds below {MIN_PER_KIND} items: {short}")
    return rows


def render(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def stats(rows: list[dict]) -> str:
    kinds = ["good"] + KINDS
    by = Counter((r["domain"], r["kind"]) for r in rows)
    head = "| domain | " + " | ".join(kinds) + " | all |"
    lines = [head, "|" + "---|" * (len(kinds) + 2)]
    for d in DOMAINS:
        cells = [str(by[(d, k)]) for k in kinds]
        lines.append(f"| {d} | " + " | ".join(cells) + f" | {sum(by[(d, k)] for k in kinds)} |")
    totals = [str(sum(by[(d, k)] for d in DOMAINS)) for k in kinds]
    lines.append("| **all** | " + " | ".join(totals) + f" | {len(rows)} |")
    swaps = Counter(r.get("swap") for r in rows if r["kind"] == "mismatch")
    constrained = sum(1 for r in rows if r["kind"] == "good" and r["constraint"])
    with_input = sum(1 for r in rows if r["kind"] == "good" and r["input"])
    lines += [
        "",
        f"rows: {len(rows)} (good {sum(r['label'] == 'good' for r in rows)}, "
        f"bad {sum(r['label'] == 'bad' for r in rows)})",
        f"good pairs with a format constraint: {constrained}; with an input: {with_input}",
        f"mismatch swaps: same_domain {swaps['same_domain']}, cross_domain {swaps['cross_domain']}",
    ]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="fail if the JSONL is out of date")
    ap.add_argument("--stats", action="store_true", help="print the count tables (markdown)")
    args = ap.parse_args()
    try:
        rows = build(parse_source(SOURCE.read_text(encoding="utf-8")))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    text = render(rows)
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT.name} is out of date; run {Path(__file__).name}", file=sys.stderr)
            return 1
        print(f"{OUTPUT.name} is up to date ({len(rows)} rows)")
    else:
        OUTPUT.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT} ({len(rows)} rows)")
    if args.stats:
        print(stats(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
