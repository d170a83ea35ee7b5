"""How an (instruction, response) pair becomes the token sequence IFD scores.

Two formats, the same rule for both: the *conditioned* pass is the format filled
with the instruction, the *direct* pass is the same format with an EMPTY
instruction, and only the response's own tokens are scored.

``plain`` (the papers' text)::

    conditioned:  S + tok(instruction + "\\n") + tok(response)
    direct:       S + tok("\\n")               + tok(response)

``S`` is one start token: the vocabulary's BOS (what llama.cpp adds for models that
add BOS), or EOS for a vocabulary without BOS, or nothing if it has neither -- the
rule lm-evaluation-harness uses for rolling log-likelihoods, so that the first
token after ``S`` has a defined context for every model.

``chat``: the model's own chat template (llama-cpp-python's handler, exactly what
``create_chat_completion`` renders), a user turn holding the instruction and an
assistant turn holding the response; the direct pass has an empty user turn. The
template text before and between the contents is tokenized with special tokens,
the instruction and the response as plain text; nothing after the response (the
end-of-turn token) is scored or even evaluated.

The response is tokenized on its own (no BOS, no special tokens) and appended, so
its tokens are identical in both passes; a boundary merge between the last
prefix token and the first response token can never make them differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gra.core.errors import UserError
from gra.models.backends.llama_batch import FormatOnly, PromptReady

TEMPLATES = ("chat", "plain")
SEP = "\n"  # plain format: between the instruction and the response

# Skip reasons: fixed text before the first ":" (group by ``skip_kind``), details after.
SKIP_EMPTY_RESPONSE = "empty response"
SKIP_EMPTY_INSTRUCTION = "empty instruction"
SKIP_SINGLE_TOKEN = "single-token response"
SKIP_TOO_LONG = "longer than the context"

# Stand-ins for the contents while the chat template is rendered; found again in
# the text to cut it into the parts around the contents.
_USER_MARK = "GRAIFDUSERCONTENT7Q"
_ASSISTANT_MARK = "GRAIFDASSISTANTCONTENT7Q"


def skip_kind(reason: str) -> str:
    """The fixed part of a skip reason ("longer than the context: 2100 tokens ..." ->
    "longer than the context"), for counting skips by kind."""
    return reason.split(":", 1)[0]


def check_template(template: str) -> str:
    if template not in TEMPLATES:
        raise UserError(f"unknown IFD template {template!r}; use one of {', '.join(TEMPLATES)}")
    return template


def precheck(instruction: str | None, response: str) -> str:
    """Skip reasons that need no tokenizer."""
    if not response.strip():
        return SKIP_EMPTY_RESPONSE
    if instruction is not None and not instruction.strip():
        return SKIP_EMPTY_INSTRUCTION
    return ""


@dataclass(frozen=True)
class ChatParts:
    """The chat template's text around the contents."""

    head: str  # before the user's content
    mid: str  # between the user's content and the assistant's content
    direct: str  # everything before the assistant's content with an empty user turn
    add_bos: bool  # what the handler asks the tokenizer for (llama.cpp adds BOS only
    # for models that want one)


class _Capture(FormatOnly):
    """``FormatOnly`` that also keeps the text the handler tokenizes."""

    def __init__(self, llm: Any):
        super().__init__(llm)
        self.calls: list[tuple[bytes, bool, bool]] = []

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        self.calls.append((text, add_bos, special))
        return super().tokenize(text, add_bos=add_bos, special=special)


def _render(llm: Any, handler: Any, user: str, assistant: str) -> tuple[str, bool]:
    cap = _Capture(llm)
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    try:
        handler(llama=cap, messages=messages)
    except PromptReady:
        pass
    if not cap.calls:
        raise UserError("the model's chat handler did not render a prompt; use template 'plain'")
    text, add_bos, _ = cap.calls[-1]
    return text.decode("utf-8"), add_bos


def chat_parts(llm: Any) -> ChatParts:
    """Render the model's chat template around marker contents and cut it there."""
    from llama_cpp import llama_chat_format

    handler = (
        llm.chat_handler
        or llm._chat_handlers.get(llm.chat_format)
        or llama_chat_format.get_chat_completion_handler(llm.chat_format)
    )
    text, add_bos = _render(llm, handler, _USER_MARK, _ASSISTANT_MARK)
    empty, _ = _render(llm, handler, "", _ASSISTANT_MARK)
    ok = (
        text.count(_USER_MARK) == 1
        and text.count(_ASSISTANT_MARK) == 1
        and text.index(_USER_MARK) < text.index(_ASSISTANT_MARK)
        and empty.count(_ASSISTANT_MARK) == 1
    )
    if not ok:
        raise UserError(
            f"the chat template ({llm.chat_format}) does not place a user and an assistant "
            "message in order; use template 'plain'"
        )
    u, a = text.index(_USER_MARK), text.index(_ASSISTANT_MARK)
    return ChatParts(
        head=text[:u],
        mid=text[u + len(_USER_MARK) : a],
        direct=empty[: empty.index(_ASSISTANT_MARK)],
        add_bos=add_bos,
    )


def start_token(llm: Any) -> list[int]:
    """``S`` of the plain format: BOS, else EOS, else nothing."""
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llm.model)
    for tok in (llama_cpp.llama_vocab_bos(vocab), llama_cpp.llama_vocab_eos(vocab)):
        if tok >= 0:
            return [int(tok)]
    return []


@dataclass(frozen=True)
class Prepared:
    """One pass, tokenized: ``tokens[-n_score:]`` are the response tokens scored."""

    tokens: tuple[int, ...]
    n_score: int
    anchor: int  # index into TokenLayout.anchors of the shared prefix this pass starts with


class TokenLayout:
    """Builds the token sequences of both passes for one model and template."""

    def __init__(self, llm: Any, template: str, n_ctx: int):
        self.template = check_template(template)
        self.n_ctx = n_ctx
        self._llm = llm
        if template == "plain":
            start = start_token(llm)
            self._head: list[int] = start
            self._direct = start + self._text(SEP)
            self.parts: ChatParts | None = None
        else:
            self.parts = p = chat_parts(llm)
            self._head = llm.tokenize(p.head.encode(), add_bos=p.add_bos, special=True)
            self._mid = llm.tokenize(p.mid.encode(), add_bos=False, special=True)
            self._direct = llm.tokenize(p.direct.encode(), add_bos=p.add_bos, special=True)
        # Shared prefixes: every conditioned pass starts with the first, every direct
        # pass IS the second followed by the response.
        self.anchors: list[tuple[int, ...]] = [tuple(self._head), tuple(self._direct)]

    def _text(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)

    def prepare(self, instruction: str | None, response: str) -> Prepared | str:
        """The tokens of one pass, or the reason it is skipped."""
        reason = precheck(instruction, response)
        if reason:
            return reason
        resp = self._text(response)
        if len(resp) < 2:
            return SKIP_SINGLE_TOKEN
        if instruction is None:
            prefix, anchor = self._direct, 1
        elif self.template == "plain":
            prefix, anchor = self._head + self._text(instruction + SEP), 0
        else:
            prefix, anchor = self._head + self._text(instruction) + self._mid, 0
        n = len(prefix) + len(resp)
        if n > self.n_ctx:
            return f"{SKIP_TOO_LONG}: {n} tokens > n_ctx {self.n_ctx}"
        return Prepared(tuple(prefix + resp), len(resp), anchor)
