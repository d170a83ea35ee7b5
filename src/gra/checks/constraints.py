"""Explicit format constraints read from the instruction (the checks that enforce them are
in ``format``).

`parse_constraints` finds the constraints an instruction states in so many words ("answer
with only a number", "exactly 3 bullet points", "respond in JSON with the keys ...", "in at
most 50 words"). Each check ``format:KIND`` fires only when the instruction states a
constraint of that kind and the response breaks it; with no constraint found, no format check
fires. Constraints are read from the instruction only, never from the input (which is data).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from gra.checks.normalize import normalize_quotes


@dataclass(frozen=True)
class Constraint:
    kind: str
    phrase: str  # the words of the instruction that state it
    args: dict = field(default_factory=dict, hash=False, compare=False)


# --------------------------------------------------------------------------- numbers

_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "a single": 1, "single": 1, "a couple of": 2, "a dozen": 12, "dozen": 12,
}  # fmt: skip
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90,
}  # fmt: skip
_ONES = "one|two|three|four|five|six|seven|eight|nine"
N = (
    r"(?:\d{1,4}|(?:a |one )?hundred|(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)"
    rf"(?:[- ](?:{_ONES}))?|a single|single|a couple of|a dozen|dozen|zero|one|two|three|"
    r"four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen)"
)


def to_int(word: str) -> int | None:
    w = word.strip().lower().replace("-", " ")
    if w.isdigit():
        return int(w)
    if w in _UNITS:
        return _UNITS[w]
    if w.endswith("hundred"):
        return 100
    parts = w.split()
    if parts and parts[0] in _TENS:
        return _TENS[parts[0]] + (_UNITS.get(parts[1], 0) if len(parts) > 1 else 0)
    return None


def _rx(pattern: str) -> re.Pattern:
    return re.compile(pattern.replace("{N}", f"({N})"), re.I)


# --------------------------------------------------------------------------- parsing

# a clause that describes what a program does, not what the response looks like
_CODE_CLAUSE = re.compile(
    r"\b(?:function|method|program|script|class|procedure|lambda|algorithm|snippet|"
    r"endpoint|api|returns|converts|that (?:prints|returns|converts|takes|checks|outputs|"
    r"reads|writes|parses)|which (?:prints|returns|converts|takes|outputs)|parse|parses|"
    r"parsing|serializ\w*|deserializ\w*|library|module)\b",
    re.I,
)
_WRITE_CODE = re.compile(
    r"\b(?:write|create|implement|build|develop|generate|give me|provide|fix|refactor|"
    r"complete)\b[^.!?\n]{0,40}?\b(?:function|script|program|class|method|code|query|"
    r"snippet|one-liner|command|endpoint|module|library)\b",
    re.I,
)
_CODE_TASK = re.compile(
    r"\b(?:code|function|program|script|query|sql|regex|regular expression|command|"
    r"one-liner|snippet|python|javascript|typescript|java|bash|shell|c\+\+|rust|golang|"
    r"implement|class|method)\b",
    re.I,
)
_PER_ITEM = re.compile(r"\b(?:each|every|per)\b", re.I)
_SCOPED_AFTER = re.compile(
    r"^[^.!?]*?(?:\b(?:then|followed by|plus|along with|as well as)\b|,?\s+and\s+(?:then\s+)?"
    r"(?:give|list|add|provide|include|write|name|explain|suggest|offer|end|finish|a|an|"
    r"the|also)\b)",
    re.I,
)
_MULTI_PART = re.compile(
    r"^\s*(?:then|also|additionally|afterwards|after that|next|finally|and|in addition|"
    r"plus)\b",
    re.I,
)
_SCOPED_BEFORE = re.compile(
    r"\b(?:then|followed by|after that|plus|along with|as well as|and (?:a|an|the|then|also))"
    r"\b|,\s*(?:a|an)\s",
    re.I,
)

_ANS = (
    r"(?:answer|respond|reply|output|return|give|provide|write|print|state|type|say|put|"
    r"tell me|show)"
)
_ONLY_OBJ = (
    r"(?:(?:the|a|an|one|your|a single|single|final|exact|correct|resulting)\s+)*"
    r"(?P<obj>[a-z0-9/'-]+(?:\s+(?!(?:and|with|without|in|as|no|that|for|to|"
    r"from|or|if|when|please|using|so|but|nothing|only)\b)[a-z0-9/'-]+){0,3})"
)
_ONLY_PATTERNS = [
    _rx(
        rf"\b{_ANS}(?:\s+(?:me|us|back))?(?:\s+(?:with|using|in|by))?\s+"
        rf"(?:only|just|solely|simply|nothing but|nothing except|exclusively)\s+{_ONLY_OBJ}"
    ),
    _rx(rf"\b(?:only|just|simply)\s+{_ANS}(?:\s+(?:me|us|back))?(?:\s+with)?\s+{_ONLY_OBJ}"),
    _rx(
        rf"\b{_ANS}(?:\s+(?:me|us))?(?:\s+with)?\s+(?:the|a|an|your)\s+"
        r"(?P<obj>[a-z0-9/'-]+(?:\s+[a-z0-9/'-]+){0,2}?)\s+only\b"
    ),
    _rx(
        rf"\b{_ANS}(?:\s+(?:me|us))?\s+(?:with|using|as)\s+(?:a single|one single|exactly one)\s+"
        rf"{_ONLY_OBJ}"
    ),
    _rx(rf"^\W*(?:only|just|nothing but)\s+{_ONLY_OBJ}"),
    _rx(
        r"\b(?:your|the)\s+(?:entire\s+|whole\s+)?(?:answer|response|reply|output)\s+"
        r"(?:should|must|needs to|has to)\s+(?:be|contain|consist of)\s+(?:only|just|nothing "
        rf"but|solely|exclusively|a single|one)\s+{_ONLY_OBJ}"
    ),
]
_NO_EXTRA = re.compile(
    r"\b(?:no|without(?: any)?|do not (?:add|include|give|write)(?: any)?|don't (?:add|include|"
    r"give|write)(?: any)?)\s+(?:other|extra|additional|further|surrounding|explanatory)?\s*"
    r"(?:text|words|explanation|explanations|commentary|comments|prose|context|"
    r"introduction|preamble|working|steps|reasoning)\b|\bnothing else\b|"
    r"\bno explanation\b",
    re.I,
)

_NUMBER_OBJ = re.compile(
    r"^(?:number|numbers|numeral|integer|digit|digits|numeric value|numerical value|"
    r"numeric answer|numerical answer|numeric result|numerical result|number of .*|"
    r"percentage|percent|decimal|decimal number|whole number|count|value in .*)$"
)
_WORD_OBJ = re.compile(r"^(?:word|one word|single word|a word|one-word answer)$")
_FRACTION_OBJ = re.compile(r"^(?:fraction|simplified fraction|fraction in .*|ratio)$")
_REGEX_OBJ = re.compile(r"^(?:regex|regexp|regular expression|pattern|regex pattern)$")
_YEAR_OBJ = re.compile(r"^(?:year|year number)$")
_YESNO_OBJ = re.compile(r"^(?:yes|true)\b")
_CODE_OBJ = re.compile(
    r"^(?:(?:python |sql |bash |shell |javascript |js |fenced |markdown )?(?:code|code block|"
    r"function|query|command|script|program|snippet|one-liner|implementation|class|"
    r"sql|fenced code block|code fence|corrected code|fixed code|updated code))$"
)
_SHORT_OBJ = re.compile(
    r"^(?:(?:chemical |molecular |final |correct |best |new |full |capital |city |country )?"
    r"(?:name|formula|symbol|title|headline|word|term|answer|result|value|city|"
    r"country|capital|colou?r|element|unit|abbreviation|acronym|label|category|sentiment|"
    r"emotion|language|animal|option|letter|choice|grade|score|rating|verdict|"
    r"classification|class|type|genre|author|person|month|day|season|planet|molecule|"
    r"compound|species|noun|verb|adjective|synonym|antonym|emoji|temperature|distance|"
    r"amount|price|total|sum|product|difference|quotient|probability|speed|area|volume|"
    r"length|age|weight|height|date|time|year|winner|team|character|place|location|"
    r"currency|code word|keyword|tag|hashtag|slogan|root|"
    r"coordinates|equation|expression|mood|tone|topic|theme|subject|degree|percentage)"
    r"(?: of [a-z ]+)?)$"
)
_TITLE_OBJ = re.compile(r"^(?:title|headline|slogan|tagline|subject line)\b")

_ONE_WORD = [
    _rx(
        r"\b(?:in|with|using|as|to)\s+(?:only\s+|just\s+|exactly\s+)?(?:one|a single|1|a)\s+"
        r"word\b(?!\s+(?:per|for each|each|that|which|from|in the|like|or)\b)"
    ),
    _rx(r"\bone[- ]word\s+(?:answer|response|reply)\b"),
    _rx(r"\b(?:answer|respond|reply)\s+(?:with\s+)?(?:only\s+|just\s+)?(?:one|a single)\s+word\b"),
    _rx(r"\bsingle[- ]word\s+(?:answer|response|reply)\b"),
]

_YES_NO = _rx(
    r"\b(?:answer|respond|reply|start|begin|say)\s+(?:with\s+|by saying\s+)?(?:either\s+|a\s+|"
    r"a simple\s+|a single\s+|only\s+|just\s+)?(?:[\"']?yes[\"']?\s*(?:or|/)\s*[\"']?no\b"
    r"[\"']?|[\"']?true[\"']?\s*(?:or|/)\s*[\"']?false\b[\"']?)(?!\s+questions?)"
)

_PATTERN_TOKENS = re.compile(
    r"\b(?:hh:mm(?::ss)?(?:\s*(?:am/pm|am|pm))?|h:mm(?::ss)?|yyyy[-/.]mm[-/.]dd|"
    r"mm[-/.]dd[-/.]yyyy|dd[-/.]mm[-/.]yyyy|mm[-/.]dd[-/.]yy|dd[-/.]mm[-/.]yy|yyyy)\b",
    re.I,
)

_JSON = re.compile(
    r"\b(?:(?:respond|reply|answer|output|return|give|provide|format|formatted|write|present|"
    r"express|structured?|put|encode|list|represent|convert|transform|turn|translate|"
    r"rewrite)\b[^.!?\n]{0,60}?\bjson\b|(?:in|as|into|using)\s+(?:a\s+|an\s+|valid\s+|proper\s+|"
    r"the\s+|strict\s+|well-formed\s+|pure\s+)*json\b|\bjson\s+(?:format|only|response|"
    r"output)\b|\bvalid json\b)",
    re.I,
)
_JSON_NOT = re.compile(r"\b(?:what is json|json file|json schema|jsonl|json lines)\b", re.I)
_JSON_KEYS = re.compile(
    r"\b(?:keys?|fields?|properties|attributes|entries|members)\b(?:\s+(?:named|called|for|of))?"
    r"\s*:?\s*(?P<list>[^.;!?\n]+)",
    re.I,
)
_JSON_ARRAY = _rx(r"\bjson\s+(?:array|list)\b|\barray\s+of\b|\blist\s+of\s+strings\b")
_JSON_OBJECT = re.compile(r"\bjson\s+object\b|\bobject\s+with\b|\bdictionary\b", re.I)
_JSON_COUNT = _rx(
    r"\b(?:array|list)\s+of\s+(?:exactly\s+)?{N}\b|\b{N}\s+(?:items|elements|"
    r"strings|entries|objects)\b"
)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")

_CODE_FENCE = re.compile(
    r"\b(?:in|inside|within|into|using|use|as|with|wrap\w*|put|enclose\w*|format\w*|include)\b"
    r"[^.!?\n]{0,40}?\b(?:(?:fenced|markdown|triple[- ]backtick(?:ed)?)\s+(?:code\s*)?"
    r"(?:blocks?|fences?)|code\s*blocks?|code\s+fences?|triple\s+backticks|```)",
    re.I,
)
_NO_CODE_FENCE = re.compile(
    r"\b(?:no|without|not in|don't use|do not use|avoid)\s+(?:a\s+|any\s+)?(?:fenced\s+|"
    r"markdown\s+)?(?:code\s*blocks?|code\s+fences?|backticks|markdown)",
    re.I,
)
_CODE_ONLY = re.compile(
    r"\b(?:only|just|nothing but|nothing except)\s+(?:the\s+|a\s+|one\s+|a single\s+)?"
    r"(?:\w+\s+)?(?:fenced\s+|markdown\s+)?(?:code(?:\s+block)?|function|query|command|script|"
    r"program|snippet|one-liner)\b(?!\s+(?:that|which|to|of|for|in|is|as|if))|"
    r"\b(?:code|function|query|command|script)\s+only\b",
    re.I,
)
_APPROX = re.compile(r"\b(?:about|around|roughly|approximately|approx\.?|~)\s*$", re.I)

_MAX_WORDS = [
    _rx(
        r"\b(?:at most|no more than|not more than|maximum(?: of)?|a maximum of|max(?:imum)?\.?|"
        r"up to|within|not exceed(?:ing)?|no longer than|"
        r"not to exceed|limit(?:ed)? (?:it |yourself |your (?:answer|response) )?to)\s+{N}\s+"
        r"words?\b"
    ),
    _rx(r"\b{N}\s+words?\s+or\s+(?:less|fewer)\b"),
    _rx(r"\b{N}[- ]word\s+(?:limit|maximum|max)\b"),
    _rx(r"\bword\s+(?:limit|count)\s+(?:of\s+|is\s+|:\s*)?{N}\b"),
]
_UNDER_WORDS = _rx(r"\b(?:fewer than|less than|under|below|shorter than)\s+{N}\s+words?\b")
_APPROX_WORDS = [
    _rx(r"\b(?:in|using|with|within)\s+{N}\s+words?\b(?!\s+or\s+(?:more|less|fewer))"),
    _rx(r"\ba\s+{N}[- ]word\s+(?!limit)"),
]
_RANGE_WORDS = _rx(r"\b{N}\s*(?:-|to)\s*{N}\s+words?\b")
_MIN_WORDS = [
    _rx(
        r"\b(?:at least|no fewer than|no less than|not less than|minimum(?: of)?|a minimum of|"
        r"(?<!no )(?<!not )more than)\s+{N}\s+words?\b"
    ),
    _rx(r"\b{N}\s+words?\s+or\s+more\b"),
]
_SENT_EXACT = [
    _rx(
        r"\b(?:in|with|using|into|as|write|give|use|of)\s+(?:exactly\s+|just\s+|only\s+|"
        r"precisely\s+)?{N}\s+(?:full\s+|complete\s+|short\s+|concise\s+)?sentences?\b"
        r"(?!\s+(?:each|per|long|of the|from|in the|below|above))"
    ),
    _rx(r"\b(?:exactly|precisely)\s+{N}\s+sentences?\b"),
    _rx(r"\b{N}[- ]sentences?\s+(?!long)[a-z-]+"),
    _rx(r"\b(?:in|as|with)\s+a\s+(?:single|one)\s+sentence\b"),
]
_SENT_RANGE = [
    _rx(r"\b{N}\s*(?:-|to|or)\s*{N}\s+sentences\b"),
    _rx(r"\bbetween\s+{N}\s+and\s+{N}\s+sentences\b"),
    _rx(r"\b(?:in|with)\s+(?:a|one)\s+sentence\s+or\s+(two|three)\b"),
]
_SENT_MAX = [
    _rx(
        r"\b(?:at most|no more than|not more than|maximum(?: of)?|a maximum of|up to|"
        r"fewer than|less than|under|within|no longer than)\s+{N}\s+sentences?\b"
    ),
    _rx(r"\b{N}\s+sentences?\s+or\s+(?:less|fewer)\b"),
]
_SENT_MIN = [
    _rx(
        r"\b(?:at least|no fewer than|no less than|a minimum of|minimum(?: of)?)\s+{N}\s+"
        r"sentences?\b"
    ),
]
_PARAS = [
    _rx(
        r"\b(?:in|into|with|using|of|write|use|across|as)\s+(?:exactly\s+|just\s+|only\s+)?"
        r"{N}\s+(?:short\s+|separate\s+|distinct\s+)?paragraphs?\b(?!\s+(?:each|below|above|of "
        r"the|from))"
    ),
    _rx(r"\b{N}[- ]paragraph\s+[a-z]+"),
    _rx(r"\b(?:in|as)\s+a\s+single\s+paragraph\b"),
]
_BULLETS_N = [
    _rx(
        r"\b(?:exactly\s+|only\s+|just\s+)?{N}\s+(?:short\s+|concise\s+|brief\s+)?"
        r"(?:bullet(?:ed)?(?:[- ]?points?)?|bullets)\b"
    ),
    _rx(r"\bbullet(?:ed)?(?:[- ]?point)?\s+list\s+(?:of|with)\s+(?:exactly\s+)?{N}\b"),
]
_BULLETS_ANY = re.compile(
    r"\b(?:as|in|into|using|use|with|formatted as|format as|a|give|provide)\s+(?:a\s+)?"
    r"(?:bullet(?:ed)?(?:[- ]?points?|\s+list|s)|bullet-point\s+list)\b",
    re.I,
)
_BULLETS_NOT = re.compile(
    r"\b(?:no|without(?: using)?|don't use|do not use|avoid(?: using)?|not as|not in)\s+"
    r"(?:any\s+)?(?:a\s+)?bullet(?:ed)?(?:[- ]?points?|\s+lists?|s)?\b|"
    r"\b(?:don't use|do not use|avoid(?: using)?|without using)\s+(?:any\s+)?(?:lists|a list)\b",
    re.I,
)
_NUMBERED_N = [
    _rx(r"\bnumbered\s+list\s+(?:of|with)\s+(?:exactly\s+)?{N}\b"),
    _rx(r"\b{N}[- ](?:item|step|point)\s+numbered\s+list\b"),
    _rx(r"\b(?:exactly\s+)?{N}\s+numbered\s+(?:items|steps|points|lines|entries)\b"),
]
_NUMBERED_ANY = re.compile(
    r"\b(?:as|in|into|using|use|with|formatted as|format as|a|give|provide)\s+(?:a\s+)?"
    r"numbered\s+(?:list|steps|points|items)\b|\bnumber\s+(?:the|each|your)\s+(?:steps|items|"
    r"points|lines)\b",
    re.I,
)
_EXACT_ITEMS = _rx(
    r"\b(?:exactly|precisely)\s+{N}\s+(?:[a-z-]+\s+){0,2}?(?:items|steps|points|tips|reasons|"
    r"ways|examples|things|ideas|facts|benefits|questions|suggestions|options|entries|names|"
    r"strategies|methods|causes|arguments|rules|elements|habits|synonyms|antonyms|adjectives|nouns|verbs|keywords|"
    r"titles|slogans|taglines|headlines|recipes|books|movies|countries|cities|foods|"
    r"exercises|activities|features|principles|problems|solutions|mistakes|signs|symptoms|"
    r"lessons|questions|takeaways|characters|alternatives|advantages|disadvantages|pros|"
    r"cons|uses|applications|differences|similarities|goals|priorities)\b"
)
_IMPLICIT_ITEMS = _rx(
    r"\b(?:list|name|give(?:\s+me|\s+us)?|provide|suggest|share|tell\s+me|offer|recommend|"
    r"identify|outline|what\s+are|write\s+down|come\s+up\s+with|brainstorm)\s+"
    r"(?:the\s+|the\s+top\s+|the\s+first\s+|the\s+last\s+|your\s+top\s+|top\s+|first\s+)?{N}\s+"
    r"(?:[a-z'-]+\s+){0,2}?(?P<noun>[a-z]+s)\b"
)
_NOT_ITEMS = re.compile(
    r"^(?:minutes|hours|days|weeks|months|years|seconds|words|sentences|paragraphs|times|"
    r"percent|dollars|cents|euros|pounds|miles|meters|metres|kilometers|kilometres|degrees|"
    r"lines|letters|characters|digits|decimals|places|pages|liters|litres|gallons|grams|"
    r"kilograms|ounces|cups|feet|inches|calories|rows|columns|sides|bits|bytes|votes)$"
)
_COMMA_LIST = re.compile(
    r"\bcomma[- ]?(?:separated|delimited)\b|\bseparated\s+by\s+commas\b|\bas\s+a\s+comma\s+list\b",
    re.I,
)
_LOWER = re.compile(
    r"\b(?:(?:answer|respond|reply|write|written|type|use|using|output|be|entirely|"
    r"completely|all|only|response)\s+)+(?:in\s+)?(?:all\s+|only\s+)?lower[- ]?case"
    r"(?:\s+letters|\s+characters)?\b(?!\s+(?:and|or)\s+upper)|\ball\s+in\s+lower[- ]?case\b|"
    r"\bno\s+(?:capital|capitalized|uppercase|upper-case)\s+letters\b|"
    r"\bwithout\s+(?:any\s+)?(?:capital\s+letters|capitali[sz]ation)\b|\blowercase\s+only\b",
    re.I,
)
_UPPER = re.compile(
    r"\b(?:(?:answer|respond|reply|write|written|type|use|using|output|be|entirely|"
    r"completely|all|only|response)\s+)+(?:in\s+)?(?:all\s+|only\s+)?(?:upper[- ]?case|"
    r"capital\s+letters|caps)(?:\s+letters)?\b(?!\s+(?:and|or)\s+lower)|\bin\s+all\s+caps\b|"
    r"\ball[- ]caps\b|\buppercase\s+only\b",
    re.I,
)
# who starts/ends: the response (or the piece it is), never "a word that starts with"
_SUBJECT = (
    r"(?:(?:^|[,;:(]\s*|\band\s+|\bplease\s+|\bthen\s+|\balso\s+|\bbut\s+)|"
    r"\b(?:your\s+|the\s+|this\s+)?(?:\w+\s+)?(?:response|answer|reply|sentence|story|poem|"
    r"email|letter|message|note|paragraph|text|essay|output|speech|toast|post|tweet|summary|"
    r"it)\s+(?:that\s+|which\s+)?(?:should\s+|must\s+|needs\s+to\s+|has\s+to\s+|will\s+|"
    r"shall\s+|is\s+to\s+)?)"
)
_QUOTED_PHRASE = r"(?:\"([^\"]{1,80})\"|'([^']{1,80})')"
_STARTS = re.compile(
    rf"{_SUBJECT}(?:start|begin|open)s?\s+(?:your\s+(?:[a-z]+\s+){{0,2}}|it\s+|off\s+)?with\s+"
    rf"(?:the\s+(?:exact\s+)?(?:word|words|phrase|sentence|greeting|line|letter)\s+)?"
    rf"{_QUOTED_PHRASE}",
    re.I,
)
_ENDS = re.compile(
    rf"{_SUBJECT}(?:end|finish|conclude|close|wrap\s+up)s?\s+(?:your\s+(?:[a-z]+\s+){{0,2}}|"
    rf"it\s+)?with\s+(?:the\s+(?:exact\s+)?(?:word|words|phrase|sentence|question|line|"
    rf"sign-off)\s+)?{_QUOTED_PHRASE}",
    re.I,
)
_TABLE = re.compile(
    r"\b(?:as|in|into|using|use|with|make|create|draw|build|give|provide)\s+(?:a\s+|an\s+)?"
    r"(?:markdown\s+|simple\s+|short\s+|comparison\s+)?table\b",
    re.I,
)
_MAX_CHARS = _rx(
    r"\b(?:at most|no more than|not more than|maximum(?: of)?|max\.?|up to|within|fewer than|"
    r"less than|under|below|not exceed(?:ing)?)\s+{N}\s+characters\b"
)
_NO_COMMAS = re.compile(
    r"\b(?:without\s+(?:using\s+)?(?:any\s+)?|no\s+|do\s+not\s+use\s+(?:any\s+)?|"
    r"don't\s+use\s+(?:any\s+)?|avoid\s+(?:using\s+)?(?:any\s+)?|refrain\s+from\s+using\s+"
    r"(?:any\s+)?|never\s+use\s+)commas\b",
    re.I,
)
_QUOTED = re.compile(
    r"\b(?:wrap|enclose|put|surround)\s+(?:your\s+|the\s+)?(?:entire\s+|whole\s+)?(?:response|"
    r"answer|output|reply)\s+(?:in|with(?:in)?|inside|between)\s+(?:double\s+)?(?:quotation\s+"
    r"marks|quotes|quote\s+marks)\b",
    re.I,
)
_TITLE = re.compile(
    r"<<[^<>]*>>|\bdouble\s+angular\s+brackets\b|\bdouble\s+angle\s+brackets\b", re.I
)
_FORBID = re.compile(
    r"\b(?:do\s+not|don't|never|without)\s+(?:use|using|include|including|mention|"
    r"mentioning|say|saying)\s+(?:the\s+)?(?:words?|terms?|phrases?)?\s*"
    r"((?:\"[^\"]{1,40}\"(?:\s*(?:,|or|and|nor)\s*)?)+)",
    re.I,
)
_REQUIRE = re.compile(
    r"\b(?:includes?|including|uses?|using|mentions?|mentioning|contains?|containing)\s+"
    r"(?:the\s+)?"
    r"(?:keywords?|words?|terms?|phrases?)\s+((?:\"[^\"]{1,40}\"(?:\s*(?:,|or|and)\s*)?)+)",
    re.I,
)


def _sentences(instruction: str) -> list[tuple[str, str]]:
    """(original, lowercased) sentences of the instruction, quotes normalised."""
    text = normalize_quotes(instruction)
    parts = re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(])|\n+", text)
    return [(p, p.lower()) for p in parts if p.strip()]


def _all(patterns: list[re.Pattern], t: str) -> list[re.Match]:
    return [m for p in patterns for m in p.finditer(t)]


def _quoted(s: str) -> list[str]:
    return [a or b for a, b in re.findall(r"\"([^\"]+)\"|`([^`]+)`", s)]


def _json_keys(orig: str) -> list[str] | None:
    m = _JSON_KEYS.search(orig)
    if not m:
        return None
    span = re.sub(r"\([^)]*\)", "", m.group("list"))
    quoted = _quoted(span) or re.findall(r"'([A-Za-z_][\w -]*)'", span)
    if quoted:
        return quoted
    items = [x.strip() for x in re.split(r",|\band\b|\bor\b", span) if x.strip()]
    if len(items) >= 1 and all(_IDENT.match(x) for x in items):
        return items
    return None


@lru_cache(maxsize=4096)
def _parse(instruction: str) -> tuple[Constraint, ...]:
    out: list[Constraint] = []
    whole = normalize_quotes(instruction).lower()
    code_task = bool(_CODE_TASK.search(whole))
    # the answer is a program: what it prints or returns is not the answer's format
    write_code = bool(_WRITE_CODE.search(whole))
    add = out.append
    sentences = _sentences(instruction)
    multi = any(_MULTI_PART.match(t) for _, t in sentences[1:])
    for orig, t in sentences:
        code_clause = bool(_CODE_CLAUSE.search(t)) or write_code
        strict = bool(_NO_EXTRA.search(t))
        # "answer with only X"
        for p in _ONLY_PATTERNS:
            for m in p.finditer(t):
                obj = m.group("obj").strip().strip("\"'")
                phrase = m.group(0)
                if _CODE_OBJ.match(obj):
                    if code_task or "code" in obj:
                        add(Constraint("code_only", phrase))
                    continue
                if _REGEX_OBJ.match(obj):
                    add(Constraint("only_answer", phrase, {"what": "regex"}))
                    continue
                if code_clause:
                    continue
                pat = _PATTERN_TOKENS.search(t)
                if _NUMBER_OBJ.match(obj):
                    add(Constraint("only_number", phrase))
                elif _WORD_OBJ.match(obj):
                    add(Constraint("one_word", phrase))
                elif _YESNO_OBJ.match(obj):
                    add(Constraint("yes_no", phrase, {"exact": True}))
                elif _FRACTION_OBJ.match(obj):
                    add(Constraint("only_answer", phrase, {"what": "fraction"}))
                elif _REGEX_OBJ.match(obj):
                    add(Constraint("only_answer", phrase, {"what": "regex"}))
                elif _YEAR_OBJ.match(obj) and not pat:
                    add(Constraint("only_number", phrase))
                elif pat and re.match(
                    r"^(?:time|date|timestamp|year|hour|end time|start time)", obj
                ):
                    add(
                        Constraint(
                            "pattern",
                            phrase + " " + pat.group(0),
                            {"format": pat.group(0), "exact": True},
                        )
                    )
                elif _SHORT_OBJ.match(obj):
                    what = "title" if _TITLE_OBJ.match(obj) else "short"
                    add(Constraint("only_answer", phrase, {"what": what, "obj": obj}))
        if not code_clause:
            for p in _ONE_WORD:
                for m in p.finditer(t):
                    if not _PER_ITEM.search(t[m.end() : m.end() + 25]):
                        add(Constraint("one_word", m.group(0)))
            for m in _YES_NO.finditer(t):
                exact = (
                    bool(
                        re.search(
                            r"\b(?:only|just|nothing but)\s+(?:with\s+)?\"?(?:yes|"
                            r"true)",
                            m.group(0),
                        )
                    )
                    or strict
                )
                add(Constraint("yes_no", m.group(0), {"exact": exact}))
            pat = _PATTERN_TOKENS.search(t)
            if pat and pat.group(0) != "yyyy" and re.search(r"\bformat\b|\bas\b|\bin\b", t):
                add(Constraint("pattern", pat.group(0), {"format": pat.group(0), "exact": False}))
        # JSON
        if _JSON.search(t) and not code_clause and not _JSON_NOT.search(t):
            args: dict = {}
            keys = _json_keys(orig)
            if keys:
                args["keys"] = keys
            if _JSON_ARRAY.search(t):
                args["type"] = "array"
                if re.search(r"\bof\s+strings\b", t):
                    args["of"] = "string"
                cm = _JSON_COUNT.search(t)
                if cm:
                    n = to_int(next(g for g in cm.groups() if g))
                    if n:
                        args["count"] = n
            elif _JSON_OBJECT.search(t) or keys:
                args["type"] = "object"
            add(Constraint("json", _JSON.search(t).group(0), args))
        # code blocks
        fence = _CODE_FENCE.search(t)
        if fence and not _NO_CODE_FENCE.search(t):
            add(Constraint("code_fence", fence.group(0)))
        co = _CODE_ONLY.search(t)
        if co and code_task and not _CODE_CLAUSE.search(t):
            add(Constraint("code_only", co.group(0)))
        elif strict and code_task and (fence or co):
            add(Constraint("code_only", _NO_EXTRA.search(t).group(0)))
        # length: words, sentences, paragraphs
        if not _PER_ITEM.search(t):
            for m in _all(_MAX_WORDS, t):
                n = to_int(m.group(1))
                if n:
                    add(Constraint("max_words", m.group(0), {"max": n}))
            for m in _UNDER_WORDS.finditer(t):
                n = to_int(m.group(1))
                if n and n > 1:
                    add(Constraint("max_words", m.group(0), {"max": n - 1}))
            for m in _all(_APPROX_WORDS, t):
                n = to_int(m.group(1))
                if n and n > 1 and not _APPROX.search(t[: m.start(1)]):
                    add(Constraint("max_words", m.group(0), {"max": n, "approx": True}))
            for m in _RANGE_WORDS.finditer(t):
                lo, hi = to_int(m.group(1)), to_int(m.group(2))
                if lo and hi and lo < hi:
                    add(Constraint("max_words", m.group(0), {"max": hi}))
                    add(Constraint("min_words", m.group(0), {"min": lo}))
            for m in _all(_MIN_WORDS, t):
                n = to_int(m.group(1))
                if n:
                    add(Constraint("min_words", m.group(0), {"min": n}))
        scoped = False
        per_item = bool(_PER_ITEM.search(t))
        for m in _all(_SENT_EXACT, t):
            before = t[: m.start()]
            if per_item or _APPROX.search(before):
                continue
            n = to_int(m.group(1)) if m.groups() and m.group(1) else 1
            if not n:
                continue
            if _SCOPED_BEFORE.search(before) or _SCOPED_AFTER.match(t[m.end() :]) or multi:
                scoped = True
                add(Constraint("sentences", m.group(0), {"min": 1, "max": n + 1, "part": True}))
            else:
                add(Constraint("sentences", m.group(0), {"min": n, "max": n}))
        for m in _all(_SENT_RANGE, t) if not per_item else []:
            nums = [to_int(g) for g in m.groups() if g]
            if len(nums) == 1:
                nums = [1, nums[0]]
            if len(nums) == 2 and all(nums):
                part = _SCOPED_BEFORE.search(t[: m.start()]) or _SCOPED_AFTER.match(t[m.end() :])
                hi = max(nums) + (1 if part or multi else 0)
                args = {"min": min(nums), "max": hi}
                if part or multi:
                    args["part"] = True
                add(Constraint("sentences", m.group(0), args))
        for m in _all(_SENT_MAX, t):
            n = to_int(m.group(1))
            if n and not per_item:
                part = bool(scoped or multi or _SCOPED_AFTER.match(t[m.end() :]))
                args = {"min": 1, "max": n + int(part)}
                if part:
                    args["part"] = True
                add(Constraint("sentences", m.group(0), args))
        for m in _all(_SENT_MIN, t) if not per_item else []:
            n = to_int(m.group(1))
            if n:
                add(Constraint("sentences", m.group(0), {"min": n, "max": None}))
        for m in _all(_PARAS, t):
            n = to_int(m.group(1)) if m.groups() and m.group(1) else 1
            if n and n <= 20:
                add(Constraint("paragraphs", m.group(0), {"count": n}))
        # lists
        if _BULLETS_NOT.search(t):
            add(Constraint("bullets", _BULLETS_NOT.search(t).group(0), {"count": 0}))
        else:
            got = False
            for m in _all(_BULLETS_N, t):
                n = to_int(m.group(1))
                if n:
                    add(Constraint("bullets", m.group(0), {"count": n}))
                    got = True
            if not got and _BULLETS_ANY.search(t):
                add(Constraint("bullets", _BULLETS_ANY.search(t).group(0), {"count": None}))
        got = False
        for m in _all(_NUMBERED_N, t):
            n = to_int(m.group(1))
            if n:
                add(Constraint("numbered", m.group(0), {"count": n}))
                got = True
        if not got and _NUMBERED_ANY.search(t):
            add(Constraint("numbered", _NUMBERED_ANY.search(t).group(0), {"count": None}))
        for m in _EXACT_ITEMS.finditer(t):
            n = to_int(m.group(1))
            if n and not re.search(r"bullet|numbered", t):
                add(Constraint("item_count", m.group(0), {"count": n, "explicit": True}))
        for m in _IMPLICIT_ITEMS.finditer(t):
            n = to_int(m.group(1))
            if n and 2 <= n <= 20 and not _NOT_ITEMS.match(m.group("noun")):
                add(Constraint("item_count", m.group(0), {"count": n, "explicit": False}))
        if _COMMA_LIST.search(t) and not code_clause:
            add(Constraint("comma_list", _COMMA_LIST.search(t).group(0), {"strict": strict}))
        # letters and punctuation
        if not code_clause and not re.search(r"\b(?:convert|change|turn|transform)\b", t):
            if _LOWER.search(t):
                add(Constraint("lowercase", _LOWER.search(t).group(0)))
            if _UPPER.search(t):
                add(Constraint("uppercase", _UPPER.search(t).group(0)))
        for m in _STARTS.finditer(orig):
            if not _PER_ITEM.search(m.group(0)):
                add(Constraint("starts_with", m.group(0), {"text": m.group(1) or m.group(2)}))
        for m in _ENDS.finditer(orig):
            if not _PER_ITEM.search(m.group(0)):
                add(Constraint("ends_with", m.group(0), {"text": m.group(1) or m.group(2)}))
        if _TABLE.search(t) and not code_clause:
            add(Constraint("table", _TABLE.search(t).group(0)))
        for m in _MAX_CHARS.finditer(t):
            n = to_int(m.group(1))
            if n:
                add(Constraint("max_chars", m.group(0), {"max": n}))
        if _NO_COMMAS.search(t):
            add(Constraint("no_commas", _NO_COMMAS.search(t).group(0)))
        if _QUOTED.search(t):
            add(Constraint("quoted", _QUOTED.search(t).group(0)))
        if _TITLE.search(t) and re.search(r"\btitle\b", t):
            add(Constraint("title", _TITLE.search(t).group(0)))
        for m in _FORBID.finditer(orig):
            add(Constraint("forbidden_words", m.group(0), {"words": _quoted(m.group(1))}))
        for m in _REQUIRE.finditer(orig):
            if not re.search(r"\b(?:not|n't|never|without)\s+$", orig[: m.start()]):
                add(Constraint("required_words", m.group(0), {"words": _quoted(m.group(1))}))
    unique: dict[tuple, Constraint] = {}
    for c in out:
        unique.setdefault((c.kind, json.dumps(c.args, sort_keys=True)), c)
    return tuple(unique.values())


def parse_constraints(instruction: str) -> list[Constraint]:
    """The explicit format constraints an instruction states (empty when none)."""
    return list(_parse(instruction or ""))
