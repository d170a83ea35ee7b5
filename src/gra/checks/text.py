"""Checks on the response text alone: errors, empty, refusal, repetition, truncation.

Each check takes a :class:`~gra.checks.base.Sample` and returns a one-line detail when the
response fails it, or ``None``.
"""

from __future__ import annotations

import ast
import re
from collections import Counter

from gra.checks.base import ALNUM, Sample, normalize_quotes

# --------------------------------------------------------------------------- legacy checks


def response_error(s: Sample) -> str | None:
    if s.finish_reason == "error":
        return "the model call ended with an error"
    return None


def empty_response(s: Sample) -> str | None:
    if not s.text:
        return "the response is blank"
    return None


def _norm(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", normalize_quotes(text).casefold()))


def response_repeats_instruction(s: Sample) -> str | None:
    if not s.text or not s.has_content:
        return None
    r = _norm(s.text)
    if r and r == _norm(s.instruction):
        return "the response only repeats the instruction"
    return None


# --------------------------------------------------------------------------- empty

# Filler that carries no answer: greetings, acknowledgements, lead-ins ("Here is the code:").
_FILLER = [
    r"(?:what an? |that'?s an? |this is an? )?(?:great|good|excellent|interesting|nice|fun|"
    r"fascinating|wonderful) (?:question|problem|puzzle|task|request|prompt|one)",
    r"(?:thanks|thank you)(?: (?:so|very) much)?(?: for (?:your|the|this|that) "
    r"(?:question|request|prompt|message)| for asking)?",
    r"(?:i(?:'d| would| will|'ll| am|'m)? )?(?:be )?(?:happy|glad|delighted|pleased) to "
    r"(?:help|assist)(?: you)?(?: with (?:that|this|it))?",
    r"(?:let me|let's|allow me to|i'll|i will|i can|i'd like to) (?:help|assist|think|see|"
    r"check|try|explain|solve|answer|look|work|figure|do|break|get|start)(?: you)?"
    r"(?: (?:with|about|on|at|into|through|out|it|this|that|down|started|this one))*",
    r"(?:here|below|this)(?: is|'s| are| you go| it is| goes)?(?: (?:is|are))?"
    r"(?: (?:the|my|your|an?|some|one|our))?(?: (?:final|complete|full|requested|short|"
    r"quick|simple|updated|corrected|revised|rewritten|possible|suggested|brief))?"
    r"(?: (?:answer|response|reply|solution|code|result|results|list|summary|translation|"
    r"email|poem|story|steps|explanation|information|info|output|function|query|script|"
    r"program|rewrite|version|sentence|text|example|examples|one|it|that|them|idea|ideas|"
    r"option|options|suggestion|suggestions|tips|answers|overview|description|draft|note|"
    r"letter|message|title|name|json|table|regex|command|snippet|breakdown|details))?",
    r"(?:the )?(?:final )?(?:answer|response|reply|solution|result|output)(?: is| would be)?",
    r"(?:n/a|tbd|todo|no answer|no response|none provided|placeholder|"
    r"\[?(?:insert|your) (?:answer|response|text) here\]?)",
    r"(?:as follows|the following|like this|see below|follows)",
    r"(?:sure|certainly|of course|okay|ok|alright|all right|absolutely|definitely|gladly|"
    r"no problem|got it|understood|hmm+)",
]
_FILLER_RE = re.compile(r"(?:^|(?<=[\s.,!:;]))(?:" + "|".join(_FILLER) + r")(?=$|[\s.,!:;?])", re.I)

# Open-ended tasks that cannot be answered in a word or two.
_OPEN_TASK = re.compile(
    r"\b(?:explain|describe|discuss|elaborate|compare|contrast|analy[sz]e|outline|"
    r"walk me through|tell me about|what are (?:some|the (?:main|key|best))|"
    r"how (?:do|can|should|would) (?:i|you|we|one)|"
    r"write (?:me )?(?:a|an|the|some|two|three|\d+)\b[^.?!\n]{0,30}?\b(?:essay|story|poem|"
    r"email|letter|article|paragraph|blog|report|speech|review|haiku|limerick|song|"
    r"function|program|script|class|code|query|summary|description|note|message|dialogue|"
    r"proposal|plan|cover letter|bio)|"
    r"give (?:me )?(?:some|a few|several|\d+|two|three|four|five) (?:tips|steps|examples|"
    r"reasons|ideas|ways|suggestions|pieces of advice))\b",
    re.I,
)


def _is_filler(text: str) -> bool:
    rest = _FILLER_RE.sub(" ", normalize_quotes(text))
    return ALNUM.search(rest) is None


# "Is ...?", "Does ...?": a yes/no question ("Can you ...?" is a request, not one)
_YES_NO_QUESTION = re.compile(
    r"^\s*(?:is|are|was|were|does|do|did|has|have|had|should|will|would|can|could|may|might|"
    r"must|shall)\b(?!\s+(?:you|u|ya)\b)[^?]*\?\s*$",
    re.I,
)
_AFFIRMATIVE = re.compile(
    r"^\W*(?:sure|certainly|of course|absolutely|definitely|ok|okay|no problem)\W*$", re.I
)


# constraint kinds that make a one- or two-word answer legitimate
_SHORT_KINDS = {
    "only_number",
    "one_word",
    "only_answer",
    "max_words",
    "yes_no",
    "pattern",
    "comma_list",
    "json",
}


def empty(s: Sample) -> str | None:
    """Near-empty: no letters or digits, an empty code block, only a lead-in, or far too short."""
    if not s.text:
        return None  # the blank response is `empty_response`
    shown = s.text if len(s.text) <= 40 else s.text[:37] + "..."
    if not s.has_content:
        return f"no letters or digits: {shown!r}"
    code_content = any(ALNUM.search(b.code) for b in s.blocks)
    if s.blocks and not code_content and ALNUM.search(s.prose) is None:
        return "only an empty code block"
    if code_content:
        return None
    n = len(s.words)
    if n <= s.settings.lead_in_max_words:
        if _AFFIRMATIVE.match(s.prose) and _YES_NO_QUESTION.match(s.instruction):
            return None  # "Is it safe to ...?" - "Absolutely."
        if _is_filler(s.prose):
            return f"only a lead-in, no content: {shown!r}"
        if s.prose.rstrip().endswith(":") and "\n" not in s.text.strip():
            return f"a lead-in with nothing after it: {shown!r}"
    code_like = re.search(r"[`()\[\]{}=<>]", s.text)
    if n < s.settings.min_words_open_task and _OPEN_TASK.search(s.instruction) and not code_like:
        if not any(c.kind in _SHORT_KINDS for c in s.constraints):
            return f"{n} word(s) for an open-ended task: {shown!r}"
    return None


# --------------------------------------------------------------------------- refusal

_NOT_ABLE = (
    r"(?:unable to|not (?:really |currently )?(?:able|allowed|permitted|qualified|going|"
    r"programmed|designed|in a position) to|not comfortable|not willing to|unwilling to)"
)
_NEG_VERB = (
    r"(?:\s+(?:really\s+|simply\s+|just\s+|unfortunately\s+|honestly\s+|truly\s+|"
    r"therefore\s+|also\s+)?(?:can ?not|can't|cant|could not|couldn't|won't|will not|"
    r"won't be able to|will not be able to|do not feel comfortable|don't feel comfortable|"
    r"(?:do not|don't) have the (?:ability|capability) to|lack the (?:ability|capability) to|"
    rf"would rather not|prefer not to|am {_NOT_ABLE})|'m {_NOT_ABLE}|'d rather not)"
)
_VERBS = (
    r"(?:help|assist|provid|answer|do|complet|fulfil|comply|complie|writ|creat|generat|giv|"
    r"offer|respond|shar|support|engag|discuss|mak|produc|solv|explain|continu|perform|"
    r"process|tell|compos|draft|translat|summari[sz]|cod|verif|comment|address|handl|"
    r"carry out|work on|participat|take part|go into|weigh in|advis|recommend|disclos|"
    r"reveal|talk about|deal with|accommodat|grant|honou?r)\w*"
)
_REFUSALS = [
    # "I'm sorry, but I can't help with that", "I am unable to provide an answer"
    rf"\bi{_NEG_VERB}\s+"
    rf"(?:(?:really|currently|directly|personally|fully|actually|in good conscience) )?"
    rf"{_VERBS}\b(?! (?:but|up)\b)",
    # "I must decline this request", "I have to refrain from answering"
    r"\bi(?:'ll|'m|'d|\s+(?:will|am|must|have|need|would|going|got|to|respectfully|politely|"
    r"regretfully|therefore|unfortunately|afraid|kindly))*\s+(?:decline|refuse|refrain)\b",
    # "As an AI language model, I cannot ...", "As a responsible AI, I ..."
    r"\bas an? (?:[\w-]+ ){0,3}?(?:ai|a\.i\.|language model|llm|assistant|chatbot|bot)\b"
    r"[^.!?\n]{0,60}?\bi (?:can ?not|can't|don't|do not|am not|'m not|am unable|'m unable|"
    r"have no|lack|won't|will not|must|have to|should not|shouldn't|do not have|don't have)",
    # "This request falls outside of what I'm able to help with", "goes against my guidelines"
    r"\b(?:this|that|your|the|such an?) (?:request|question|task|query|topic|prompt|"
    r"subject|kind of request|type of request)\b[^.!?\n]{0,40}?\b(?:falls? )?(?:outside|"
    r"beyond|against|violates?|goes against|is not (?:something|appropriate|allowed))\b",
    r"\b(?:against|violates?|contrary to|outside(?: of)?) (?:my|the|our|openai's) "
    r"(?:guidelines|policies|policy|programming|principles|rules|terms|capabilities|scope)",
    # "This is not something I can help with"
    r"(?:\bnot|n't) something (?:i|we) (?:can|could|am able to|'m able to|will|would be able "
    r"to) (?:help|assist|do|answer|provide|support|discuss)",
    # "That's beyond what I can do", "outside my capabilities"
    r"\b(?:beyond|outside(?: of)?) (?:what i (?:can|am able to|'m able to|could)|my (?:capabilit|"
    r"abilit|scope|expertise|knowledge|remit|programming))",
    # "I don't solve puzzles", "I do not write essays"
    r"\bi (?:don't|do not|never) (?:solve|write|answer|do|provide|give|offer|handle|engage|"
    r"discuss|create|generate|produce|help with|assist with|respond to|comment on|support|"
    r"make|translate|explain|share)\b",
    # "I don't have access to information about that topic"
    r"\bi (?:don't|do not) have (?:access to|the ability|enough information|information "
    r"(?:about|on)|any information|the capability|the means|the knowledge|the expertise|"
    r"personal (?:opinions|views|feelings|experiences|beliefs))",
    # "I'm not qualified to ...", "I'm not a doctor and can't ..."
    r"\bi(?:'m| am) not (?:qualified|the right (?:person|source|assistant)|able|equipped|"
    r"designed|programmed|allowed|permitted|authori[sz]ed) (?:to|for)\b",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in _REFUSALS), re.I)
# tasks whose answer may itself decline something ("write a note declining the invitation"):
# there only a refusal of the request itself counts
_PERSONA_TASK = re.compile(
    r"\b(?:declin\w*|refus\w*|reject\w*|turn(?:ing)? down|say(?:ing)? no|apologi[sz]\w*|"
    r"cancel\w*|excuse|regret\w*|role-?play|pretend|in character|dialogue|story|poem|"
    r"narrat\w*|first person|from the perspective)\b",
    re.I,
)
_META = re.compile(
    r"\b(?:ai|a\.i\.|language model|assistant|request|requests|question|task|prompt|query|"
    r"guidelines|polic(?:y|ies)|programming|assist|fulfil\w*|comply|complie\w*|"
    r"help (?:you )?with (?:that|this|it|your)|answer (?:that|this|it|your)|provide "
    r"(?:that|this|it|an answer|a response|information|assistance)|respond to)\b",
    re.I,
)
_PIVOT = re.compile(
    r"^[^.!?\n]*?(?:,|;|\s)\s*(?:but|however|though|although|instead)\b\s+(?!i (?:can't|cannot|"
    r"can not|am unable|'m unable|won't|must))",
    re.I,
)
_NEXT_PIVOT = re.compile(
    r"^\s*(?:however|but|that said|instead|here(?:'s| is| are)|below|still|in general|"
    r"generally|that being said|what i can|i can,? however)\b",
    re.I,
)


def refusal(s: Sample) -> str | None:
    """An unwarranted refusal: starts near the beginning and is most of the response."""
    if not s.has_content:
        return None
    text = normalize_quotes(s.prose)
    m = _REFUSAL_RE.search(text, 0, s.settings.refusal_window_chars + 80)
    if m is None or m.start() > s.settings.refusal_window_chars:
        return None
    n = len(s.words)
    if n > s.settings.refusal_max_words or any(ALNUM.search(b.code) for b in s.blocks):
        return None  # a disclaimer ahead of an answer
    rest = text[m.end() :]
    if re.match(r"[^.!?\n]{0,40}\benough\b", rest):
        return None  # "I can't recommend it enough"
    if _PERSONA_TASK.search(s.instruction):
        clause = text[m.start() : m.end() + 40]
        if not _META.search(clause):
            return None
    sentence_end = re.search(r"[.!?](?:\s|$)|\n", rest)
    tail = rest[sentence_end.end() :] if sentence_end else ""
    pivot = _PIVOT.match(rest)
    if pivot and len(rest[pivot.end() :].split()) >= 6:
        return None  # "I can't browse the web, but here is what I know: ..."
    if _NEXT_PIVOT.match(tail) and len(tail.split()) >= 12:
        return None
    start = max(0, m.start() - 20)
    seen = text[start : m.end() + 30].replace("\n", " ").strip()
    return f"refusal near the start: {seen!r}"


# --------------------------------------------------------------------------- repetition

_TOKEN = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[^\w\s]")
_VERSE_TASK = re.compile(
    r"\b(?:song|lyrics|chorus|refrain|chant|villanelle|ballad|rap|jingle|nursery rhyme|"
    r"sestina|ghazal|pantoum|cheer|mantra|repeat)",
    re.I,
)
_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$|^\s*[-:| ]{3,}\s*$")
_LIST_MARK = re.compile(r"^\s*(?:[-*•+]|\d+[.)]|[a-z][.)])\s+", re.I)


def _is_word(tok: str) -> bool:
    return tok[0].isalpha() or (tok[0].isalnum() and any(c.isalpha() for c in tok))


def _encode(tokens: list[str]) -> str:
    """One character per distinct token, so that loops can be found by a regex in C."""
    ids = {t: chr(0x10000 + i) for i, t in enumerate(dict.fromkeys(tokens))}
    return "".join(map(ids.__getitem__, tokens))


def _tandem(tokens: list[str], s: Sample) -> str | None:
    """A unit of 1..max_phrase_tokens tokens repeated back to back."""
    st = s.settings
    # word runs: "the the the the the" (punctuation between words ignored)
    words = [t for t in tokens if t[0].isalnum()]
    enc = _encode(words)
    for m in re.finditer(rf"(.)\1{{{st.max_word_run - 1},}}", enc, re.S):
        if not words[m.start()].isdigit():  # "0 0 0 0 0" in a matrix is data
            return f"token loop: {words[m.start()]!r} {m.end() - m.start()} times in a row"
    enc = _encode(tokens)
    least = min(st.phrase_copies_short, st.phrase_copies_long, st.numeric_copies)
    loop = re.compile(rf"(?=((.{{2,{st.max_phrase_tokens}}}?)\2{{{least - 1},}}))", re.S)
    for m in loop.finditer(enc):
        p = len(m.group(2))
        copies = len(m.group(1)) // p
        unit = tokens[m.start() : m.start() + p]
        if not any(_is_word(t) for t in unit):
            continue
        need = st.phrase_copies_short if p <= 4 else st.phrase_copies_long
        if not any(t[0].isalpha() for t in unit):
            need = st.numeric_copies
        if copies >= need:
            phrase = " ".join(unit)
            if len(phrase) > 50:
                phrase = phrase[:47] + "..."
            return f"phrase loop: {phrase!r} {copies} times back to back"
    return None


def repetition(s: Sample) -> str | None:
    """Degenerate looping: token, phrase, line, sentence, list-item or whole-answer repeats."""
    if not s.has_content:
        return None
    st = s.settings
    # prose outside code blocks and tables, list markers removed ("4. X" / "5. X" loops)
    prose_lines = [
        _LIST_MARK.sub("", ln)
        for ln in s.prose.splitlines()
        if ln.strip() and not _TABLE_LINE.match(ln)
    ]
    tokens = _TOKEN.findall("\n".join(prose_lines).casefold())
    found = _tandem(tokens, s)
    if found:
        return found
    # the same line many times
    keys = [_norm(ln) for ln in prose_lines]
    counts = Counter(k for k in keys if len(k.split()) >= 4)
    if counts:
        line, c = counts.most_common(1)[0]
        verse = _VERSE_TASK.search(s.instruction)
        limit = st.max_line_repeats_verse if verse else st.max_line_repeats
        if c >= limit:
            return f"the same line {c} times: {line[:50]!r}"
    # the same sentence many times (inside paragraphs)
    sentences = [_norm(x) for x in re.split(r"(?<=[.!?])\s+", " ".join(prose_lines)) if x.strip()]
    counts = Counter(x for x in sentences if len(x.split()) >= 5)
    if counts:
        sent, c = counts.most_common(1)[0]
        if c >= st.max_line_repeats and not _VERSE_TASK.search(s.instruction):
            return f"the same sentence {c} times: {sent[:50]!r}"
    # long repeats: a share of the text that repeats earlier text (whole answer twice)
    k = st.ngram
    if len(tokens) >= max(st.min_tokens_for_share, 2 * k):
        enc = _encode(tokens)
        seen: set[str] = set()
        repeated = 0
        for i in range(len(enc) - k + 1):
            g = enc[i : i + k]
            if g in seen:
                repeated += 1
            else:
                seen.add(g)
        share = repeated / (len(tokens) - k + 1)
        limit = st.max_repeated_share
        if _VERSE_TASK.search(s.instruction):
            limit = max(limit, st.max_repeated_share_verse)
        if share >= limit:
            return f"{round(100 * share)}% of the text repeats earlier text"
    # code: a line repeated back to back, or the same block more than once
    bodies = Counter()
    for b in s.blocks:
        body = b.code.strip()
        if ALNUM.search(body) and (body.count("\n") >= 1 or len(body) >= 20):
            bodies[body] += 1
        run, prev = 1, None
        for ln in b.code.splitlines():
            key = ln.strip()
            if key and key == prev and len(key) >= 8 and re.search(r"[A-Za-z]", key):
                run += 1
                if run >= st.max_code_line_run:
                    return f"code line {key[:40]!r} {run}+ times in a row"
            else:
                run = 1
            prev = key if key else prev
    if bodies:
        body, c = bodies.most_common(1)[0]
        if c >= 2:
            return f"the same code block {c} times"
    return None


# --------------------------------------------------------------------------- truncation

# words a finished sentence rarely ends on: articles, prepositions, conjunctions,
# determiners, auxiliaries (pronouns and particles such as "up", "out", "too" are left out:
# "Thank you", "Log in", "See below" end sentences)
_FUNCTION_WORDS = {
    "the", "a", "an", "of", "to", "and", "or", "but", "nor", "with", "for", "by", "from",
    "into", "onto", "upon", "about", "as", "than", "that", "which", "who", "whom", "whose",
    "where", "when", "while", "because", "if", "unless", "until", "whether", "although",
    "is", "are", "was", "were", "be", "been", "being", "am", "has", "have", "had", "does",
    "did", "can", "could", "will", "would", "shall", "should", "may", "might", "must", "its",
    "their", "your", "our", "my", "his", "these", "those", "such", "every", "between",
    "during", "toward", "towards", "against", "via", "including", "at", "very",
}  # fmt: skip
_CONJUNCTIONS = {
    "since", "because", "and", "but", "or", "that", "if", "when", "while", "as", "so",
    "although", "though", "which", "where", "whether", "until", "unless", "than",
}  # fmt: skip
# end a short line legitimately ("Log in", "Go for it"), a long prose line or a clause
# ("..., since it") rarely
_WEAK_END_WORDS = {"in", "on", "it", "so", "this", "then", "also", "not", "more", "like"}
_OK_END = set(".!?…:;)]}\"'`*»”’✓✔✅_>|~。！？」』）")
_TRAIL_BAD = set(",([{-–—=+&")
_OPEN_CLOSE = {"(": ")", "[": "]", "{": "}"}
_LIST_ITEM = re.compile(r"^(\s*)(?:[-*•+]|\d+[.)])\s+(.*)$")
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf]")
# a line that opens an indented code block: `def f(x):`, `for x in xs:`, `if (a) {`
_CODE_OPENER = re.compile(
    r"^\s*(?:async\s+)?(?:def|class|for|while|if|elif|else|try|except|finally|with)\b.*:\s*$"
    r"|\{\s*$"
)
_COMMAND_FLAG = re.compile(r"--?[A-Za-z]")
_BRACE_LANGS = {
    "javascript", "js", "typescript", "ts", "java", "c", "cpp", "c++", "cs", "csharp", "go",
    "golang", "rust", "rs", "kotlin", "swift", "php", "scala", "dart", "json", "jsx", "tsx",
}  # fmt: skip


def _strip_strings(code: str) -> str:
    code = re.sub(r"//[^\n]*|/\*.*?\*/", "", code, flags=re.S)
    return re.sub(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`(?:\\.|[^`\\])*`", '""', code)


def _unbalanced(text: str) -> str | None:
    if all(text.count(o) <= text.count(c) for o, c in _OPEN_CLOSE.items()):
        return None
    stack: list[str] = []
    for ch in text:
        if ch in _OPEN_CLOSE:
            stack.append(ch)
        elif ch in ")]}":
            if stack and _OPEN_CLOSE[stack[-1]] == ch:
                stack.pop()
            else:
                return None  # stray closer: not the cut we are looking for
    return stack[-1] if stack else None


_SUFFIXES = {
    "s", "es", "ed", "d", "ing", "er", "ers", "est", "ly", "y", "ful", "ness", "ment",
    "ments", "ion", "ions", "able", "ible", "al", "ally", "ies", "ive", "ity", "ous", "ist",
    "ists", "ism", "ize", "ise", "ized", "ised", "less", "ship", "hood", "'s", "n", "en",
}  # fmt: skip


_TWO_LETTER_WORDS = {
    "am", "an", "as", "at", "be", "by", "do", "go", "he", "hi", "if", "in", "is", "it", "me",
    "my", "no", "of", "oh", "ok", "on", "or", "so", "to", "up", "us", "we", "ox", "ax", "ex",
    "pi", "ma", "pa", "ya", "yo", "ah", "eh", "uh", "um", "hm", "aw", "ow", "id", "ad", "tv",
    "ai", "km", "cm", "mm", "kg", "mg", "ml", "lb", "oz", "ft", "pm", "mb", "gb", "kb", "hr",
    "vs", "eg", "ie", "al", "mi",
}  # fmt: skip
_SHORT_WORDS = {"go", "ok", "hi", "oh", "up", "ex", "ox", "pi", "ad", "id", "ai", "tv"}


def _fragment_of_known_word(last: str, s: Sample) -> str | None:
    """The last word is a strict prefix of a word used elsewhere, is not itself used, and is
    not that word's stem ("salt" of "salted"): a word cut in the middle."""
    if not re.fullmatch(r"[A-Za-z]{2,}", last):
        return None
    low = last.lower()
    if low in _FUNCTION_WORDS:
        return None
    body = (s.instruction + " " + s.input_text + " " + s.text[: -len(last)]).lower()
    vocab = set(re.findall(r"[a-z]+", body))
    if low in vocab:
        return None
    if low in _SHORT_WORDS:
        return None
    longer = [w for w in vocab if len(w) > len(low) and w.startswith(low)]
    if not longer:
        return None
    if len(low) >= 3 and any(w[len(low) :] in _SUFFIXES for w in longer):
        return None  # a stem: "salt" with "salted" elsewhere
    return min(longer, key=len)


def _unfenced_code(lines: list[str]) -> bool:
    """The paragraph ends in an indented line under a line that opens a code block: code
    written without a fence (``def add(a, b):`` / ``    return a + b``), not prose."""
    last = lines[-1]
    if not re.match(r"(?:\t|  )\s*\S", last) or _LIST_ITEM.match(last):
        return False
    return any(_CODE_OPENER.search(ln) for ln in lines[:-1])


def truncated(s: Sample) -> str | None:
    """Cut short: finish_reason 'length', an open code block, or prose that stops mid-way."""
    if s.finish_reason == "length":
        return "stopped at the token limit (finish_reason=length)"
    if not s.has_content:
        return None
    for b in s.blocks:
        if not b.closed and ALNUM.search(b.code):
            return "a code block is never closed"
        if b.lang in _BRACE_LANGS:
            open_ = _unbalanced(_strip_strings(b.code))
            if open_:
                return f"unbalanced {open_!r} in a {b.lang} code block"
    if s.blocks and s.blocks[-1].end >= len(s.text) - 1:
        return None  # ends with a closed code block
    prose = s.prose.rstrip()
    if not prose:
        return None
    paragraphs = [p for p in re.split(r"\n\s*\n", prose) if p.strip()]
    last_par = paragraphs[-1]
    lines = [ln for ln in last_par.splitlines() if ln.strip()]
    last_line = lines[-1].rstrip()
    end = last_line[-1]
    n_words = len(s.words)
    if end in _TRAIL_BAD and n_words >= 3 and not last_line.endswith(("--", "->", "=>")):
        return f"ends on {end!r}: ...{last_line[-40:]!r}"
    # inline code or parentheses opened in the last paragraph and never closed
    if last_par.replace("```", "").count("`") % 2 == 1 and n_words >= 3:
        return f"an inline code span is never closed: ...{last_line[-40:]!r}"
    flat = re.sub(r"^\s*(?:\d+|[a-z])\)", "", last_par, flags=re.M)  # "1)" list markers
    flat = re.sub(r"[:;]-?\)", "", flat)  # smileys
    if _unbalanced(flat) == "(" and n_words >= 5:
        return f"a parenthesis is never closed: ...{last_line[-40:]!r}"
    if end in _OK_END or _EMOJI.match(end):
        if end == ":" and n_words > s.settings.lead_in_max_words:
            return f"ends on a colon with nothing after it: ...{last_line[-40:]!r}"
        return None
    if _TABLE_LINE.match(last_line):
        return None
    if len(lines) >= 2 and _TABLE_LINE.match(lines[-2]) and last_line.lstrip().startswith("|"):
        return f"a table row is cut: {last_line[-40:]!r}"
    if re.match(r"^\s*#{1,6}\s+\S", last_line) and n_words >= 3:
        return f"ends on a heading with nothing under it: {last_line[-40:]!r}"
    toks = last_line.split()
    last = re.sub(r"^\W+|\W+$", "", toks[-1]) if toks else ""
    if re.search(r"\d|://|[/\\_@#=<>.]", last) or not last:
        return None  # a number, a URL, a path, an identifier: not a cut the checks can see
    if _COMMAND_FLAG.match(toks[-1]):
        return None  # a command ending on a flag (`ls -la`)
    if _unfenced_code(lines):  # code without a fence: only a word cut in the middle shows
        whole = _fragment_of_known_word(last, s) if n_words >= 3 else None
        return (
            f"ends mid-word ({last!r}, as in {whole!r}): ...{last_line[-40:]!r}" if whole else None
        )
    low = last.lower()
    if n_words >= 3 and low in _FUNCTION_WORDS and not last.isupper():
        return f"ends on {last!r}: ...{last_line[-40:]!r}"
    if len(toks) >= 2 and re.fullmatch(r"[a-z]{2}", last) and last not in _TWO_LETTER_WORDS:
        return f"ends mid-word ({last!r}): ...{last_line[-40:]!r}"
    if low in _WEAK_END_WORDS and n_words >= 4:
        all_toks = prose.split()
        prev = all_toks[-2] if len(all_toks) >= 2 else ""
        after_conj = prev.endswith(",") or prev.lower() in _CONJUNCTIONS
        if after_conj or (len(toks) >= 6 and not _LIST_ITEM.match(last_line)):
            return f"ends on {last!r}: ...{last_line[-40:]!r}"
    if n_words >= 3:
        whole = _fragment_of_known_word(last, s)
        if whole:
            return f"ends mid-word ({last!r}, as in {whole!r}): ...{last_line[-40:]!r}"
    item = _LIST_ITEM.match(last_line)
    if item:
        # a list whose other items end with punctuation, and this one does not
        depth = len(item.group(1))
        others = [
            m.group(2).rstrip()
            for m in (_LIST_ITEM.match(ln) for ln in prose.splitlines()[:-1])
            if m and len(m.group(1)) == depth and m.group(2).strip()
        ]
        if len(others) >= 2 and all(o[-1] in ".!?" for o in others):
            return f"the last list item stops mid-way: ...{last_line[-40:]!r}"
        return None
    # the last sentence: what follows the last sentence end in the line
    parts = re.split(r"(?<=[.!?])[\"')\]]*\s+", last_line)
    frag = parts[-1].split()
    prose_like = _prose_like(frag)
    # a single line with no sentence punctuation may be a title or a slogan
    one_liner = (
        len(parts) == 1 and len(s.text.splitlines()) == 1 and _TITLE_TASK.search(s.instruction)
    )
    long_enough = len(frag) >= s.settings.prose_min_words and (
        not one_liner or len(frag) >= 12 or re.search(r"[,;]", last_line)
    )
    verse = len(lines) >= 3 and all(len(ln.split()) <= 12 for ln in lines)
    if long_enough and prose_like and not verse:
        return f"prose stops without end punctuation: ...{last_line[-40:]!r}"
    # earlier sentences in the same line or paragraph end properly, the last one does not
    earlier = len(parts) > 1 or any(ln.rstrip()[-1:] in (".", "!", "?") for ln in lines[:-1])
    if earlier and len(frag) >= 2 and prose_like:
        return f"the last sentence stops mid-way: ...{last_line[-40:]!r}"
    # the other lines of the paragraph (a poem's) all end with punctuation, the last does not
    if (
        len(lines) >= 2
        and all(ln.rstrip()[-1] in ",.;:!?" for ln in lines[:-1])
        and len(toks) >= 2
        and prose_like
    ):
        return f"the last line stops mid-way: ...{last_line[-40:]!r}"
    # the other paragraphs end with punctuation (or are code), the last one-line one does not
    before = s.text[: s.text.rstrip().rfind(last_line.strip())].rstrip()
    if before and len(lines) == 1:
        done = before and (before[-1] in ".!?:" or before.endswith("```"))
        others = [p.rstrip() for p in paragraphs[:-1] if not _LIST_ITEM.match(p.splitlines()[-1])]
        punctuated = all(p[-1] in ".!?:)" for p in others if ALNUM.search(p))
        if done and punctuated and len(toks) >= 3 and prose_like:
            return f"the last paragraph stops mid-way: ...{last_line[-40:]!r}"
        if len(toks) >= 4 and prose_like and last_line[:1].isupper():
            return f"the last paragraph stops mid-way: ...{last_line[-40:]!r}"
        if done and len(toks) <= 2 and n_words >= 20:
            return f"a fragment after the answer: {last_line[-40:]!r}"
    return None


_TITLE_TASK = re.compile(
    r"\b(?:title|headline|slogan|tagline|subject line|caption|motto|name|heading|"
    r"hashtag)s?\b",
    re.I,
)


def _prose_like(words: list[str]) -> bool:
    """Most words (of those that start with a letter) are lowercase: a sentence, not a title."""
    math = [i for i, w in enumerate(words) if w in ("=", "≈", "<", ">", "≤", "≥", "→", "×")]
    if math:
        words = words[math[-1] + 1 :]  # what follows the last equation, if anything
        if sum(1 for w in words if w[:2].isalpha()) < 2:
            return False
    alpha = [w for w in words if w[:2].isalpha()]
    return bool(alpha) and 2 * sum(1 for w in alpha if w[:1].islower()) >= len(alpha)


# --------------------------------------------------------------------------- code syntax

_PY_TASK = re.compile(r"\bpython\b", re.I)
_OTHER_LANG = re.compile(
    r"\b(?:javascript|typescript|java|c\+\+|c#|golang|go|rust|ruby|php|bash|shell|sql|html|"
    r"css|kotlin|swift|scala|perl|r|matlab|haskell|lua|dart|powershell)\b",
    re.I,
)


def _python_source(code: str) -> str | None:
    """The code to parse, or None when it is a REPL session, notebook or diff."""
    lines = code.splitlines()
    if any(
        ln.lstrip().startswith((">>>", "$ ", "%", "!", "In [", "+++", "---", "@@")) for ln in lines
    ):
        return None
    return code


def python_blocks(s: Sample) -> list[str]:
    """The source of each closed Python block (tagged python, or untagged in a Python task),
    REPL sessions, notebooks and diffs left out."""
    py_task = _PY_TASK.search(s.instruction) and not _OTHER_LANG.search(
        s.instruction.replace("Python", "")
    )
    out = []
    for b in s.blocks:
        if not b.closed or not ALNUM.search(b.code):
            continue
        if b.lang in ("python", "py", "python3") or (b.lang == "" and py_task):
            src = _python_source(b.code)
            if src is not None:
                out.append(src)
    return out


def code_syntax(s: Sample) -> str | None:
    """A closed Python block (tagged python, or untagged in a Python task) that does not parse."""
    for src in python_blocks(s):
        try:
            ast.parse(src)
        except SyntaxError as e:
            return f"python code block does not parse: {e.msg} (line {e.lineno})"
        except (ValueError, RecursionError, MemoryError):
            continue
    return None
