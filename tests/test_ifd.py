"""IFD scoring: the engine's numbers against a from-scratch token-by-token computation,
skip reasons, the two variants, the score cache, and the server path (a real
llama-cpp-python server serving the same GGUF)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gra.core.errors import UserError
from gra.ifd.scoring import (
    SKIP_EMPTY_INSTRUCTION,
    SKIP_EMPTY_RESPONSE,
    SKIP_SINGLE_TOKEN,
    SKIP_TOO_LONG,
    CachedScorer,
    EmbeddedScorer,
    ResponseLoss,
    ifd,
    ifd_skip,
    load_scorer,
    skip_kind,
)
from gra.ifd.server import SKIP_NO_BOUNDARY, SKIP_NO_LOGPROB, ServerScorer, _response_loss
from gra.models.registry import resolve
from tests.servers import free_port, start_llama_server, stop

MODEL = "smollm2-135m"
SAMPLES = [
    ("What is 15% of 240? Answer with only a number.", "36"),
    (
        "What is 15% of 240? Answer with only a number.",
        "The answer is 36, because 0.15 x 240 = 36.",
    ),
    ("Name a prime number.", "Seven is prime: its only divisors are one and seven."),
    (
        "Write one sentence about rain.",
        "Rain taps softly on the window while the city sleeps under grey clouds.",
    ),
]


def pairs(samples=SAMPLES) -> list[tuple[str | None, str]]:
    return [it for ins, resp in samples for it in ((ins, resp), (None, resp))]


# ---- variants and skips on known values (no model) ----------------------------------


def test_variants_on_known_losses():
    cond, direct = ResponseLoss(4, 4.0), ResponseLoss(4, 8.0)  # means 1.0 and 2.0
    assert ifd(cond, direct, "ppl") == pytest.approx(math.exp(1.0 - 2.0))
    assert ifd(cond, direct, "loss") == pytest.approx(0.5)
    assert cond.ppl == pytest.approx(math.e)
    # The variants can rank differently: same ratio of means, different differences.
    a = (ResponseLoss(2, 2.0), ResponseLoss(2, 4.0))  # means 1 vs 2: ppl e^-1, loss 0.5
    b = (ResponseLoss(2, 6.0), ResponseLoss(2, 10.0))  # means 3 vs 5: ppl e^-2, loss 0.6
    assert ifd(*a, "ppl") > ifd(*b, "ppl")
    assert ifd(*a, "loss") < ifd(*b, "loss")
    with pytest.raises(UserError):
        ifd(cond, direct, "nope")


def test_skips_give_none_and_a_reason_never_nan():
    ok = ResponseLoss(3, 3.0)
    skipped = ResponseLoss.skipped(SKIP_EMPTY_RESPONSE)
    assert ifd(skipped, ok) is None and ifd(ok, skipped, "loss") is None
    assert ifd_skip(skipped, ok) == SKIP_EMPTY_RESPONSE
    differ = ResponseLoss(4, 3.0)
    assert ifd(ok, differ) is None and ifd_skip(ok, differ).startswith("response tokens differ")
    zero = ResponseLoss(3, 0.0)
    assert ifd(ok, zero, "loss") is None and ifd(ok, zero, "ppl") == pytest.approx(math.e)
    with pytest.raises(ValueError, match="empty response"):
        _ = skipped.mean_nll
    assert skip_kind(f"{SKIP_TOO_LONG}: 99 tokens > n_ctx 64") == SKIP_TOO_LONG


# ---- the score cache (a counting fake scorer) ---------------------------------------


class CountingScorer:
    model_id = "fake@1"
    template = "plain"
    numerics = ""
    n_ctx = 64

    def __init__(self, fail_after: int | None = None):
        self.calls: list[list[tuple[str | None, str]]] = []
        self.fail_after = fail_after

    def losses(self, items):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise KeyboardInterrupt
        self.calls.append(list(items))
        out = []
        for ins, resp in items:
            if len(resp) > 40:
                out.append(ResponseLoss.skipped(f"{SKIP_TOO_LONG}: 99 tokens > n_ctx {self.n_ctx}"))
            else:
                out.append(ResponseLoss(len(resp), float(len(resp) + len(ins or ""))))
        return out

    def close(self):
        pass


def test_cache_hit_does_no_model_work(tmp_path):
    items = [("a", "xy"), (None, "xy"), ("b", "xyz"), ("a", "xy")]  # one repeat
    first = CachedScorer(CountingScorer(), tmp_path / "s.sqlite")
    got = first.losses(items)
    assert first.scorer.calls == [[("a", "xy"), (None, "xy"), ("b", "xyz")]]  # repeat once
    assert got[0] == got[3] == ResponseLoss(2, 3.0)
    first.close()
    again = CachedScorer(CountingScorer(), tmp_path / "s.sqlite")
    assert again.losses(items) == got
    assert again.scorer.calls == [] and again.hits == 4 and again.misses == 0
    other = CountingScorer()
    other.template = "chat"  # another template is another key
    assert CachedScorer(other, tmp_path / "s.sqlite").losses(items[:1]) == got[:1]
    assert other.calls == [[("a", "xy")]]


def test_cache_keeps_finished_chunks_when_interrupted(tmp_path):
    items = [(f"i{k}", "resp") for k in range(10)]
    broken = CachedScorer(CountingScorer(fail_after=2), tmp_path / "s.sqlite", commit_every=3)
    with pytest.raises(KeyboardInterrupt):
        broken.losses(items)
    resumed = CachedScorer(CountingScorer(), tmp_path / "s.sqlite", commit_every=3)
    resumed.losses(items)
    assert sum(len(c) for c in resumed.scorer.calls) == 4  # 6 were committed


def test_cached_too_long_skip_counts_only_for_the_same_context(tmp_path):
    item = [("i", "r" * 50)]
    CachedScorer(CountingScorer(), tmp_path / "s.sqlite").losses(item)
    same = CachedScorer(CountingScorer(), tmp_path / "s.sqlite")
    assert same.losses(item)[0].skip.startswith(SKIP_TOO_LONG) and same.scorer.calls == []
    bigger = CountingScorer()
    bigger.n_ctx = 4096
    CachedScorer(bigger, tmp_path / "s.sqlite").losses(item)
    assert bigger.calls == [item]


# ---- the server reply parser (no server) --------------------------------------------


def reply(tokens, offsets, logprobs, generated=1):
    return {
        "choices": [
            {"logprobs": {"tokens": tokens, "text_offset": offsets, "token_logprobs": logprobs}}
        ],
        "usage": {"completion_tokens": generated},
    }


def test_server_reply_finds_the_response_from_the_end():
    # prompt "Hi\nab cd" + one generated token; response "ab cd" = tokens "ab", " cd"
    data = reply(["Hi", "\n", "ab", " cd", "!"], [0, 2, 3, 5, 8], [None, -1.0, -2.0, -3.0, -9.0])
    assert _response_loss(data, "ab cd") == ResponseLoss(2, 5.0)
    no_gen = reply(["Hi", "\n", "ab", " cd"], [0, 2, 3, 5], [None, -1.0, -2.0, -3.0], 0)
    assert _response_loss(no_gen, "ab cd") == ResponseLoss(2, 5.0)
    straddle = reply(["Hi", "\na", "b", " cd"], [0, 2, 4, 5], [None, -1.0, -2.0, -3.0], 0)
    assert _response_loss(straddle, "ab cd").skip == SKIP_NO_BOUNDARY
    missing = reply(["ab", " cd"], [0, 2], [None, -3.0], 0)
    assert _response_loss(missing, "ab cd").skip == SKIP_NO_LOGPROB


def test_server_chat_needs_a_tokenizer():
    with pytest.raises(UserError, match="tokenizer"):
        load_scorer("http://127.0.0.1:9/v1", template="chat")
    assert isinstance(load_scorer("http://127.0.0.1:9/v1", template="plain"), ServerScorer)


# ---- the real model ---------------------------------------------------------------


@pytest.fixture(scope="module")
def reference():
    """Plain llama-cpp-python, logits for every token, evaluated one token at a time."""
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(resolve(MODEL)),
        n_ctx=512,
        logits_all=True,
        flash_attn=True,  # as the engine (gra's default for embedded models)
        verbose=False,
    )
    yield llm
    llm.close()


def from_scratch(llm, tokens: list[int], n_score: int) -> ResponseLoss:
    llm.reset()
    for t in tokens[:-1]:
        llm.eval([t])
    n = len(tokens)
    logits = np.array(llm.scores[n - 1 - n_score : n - 1], dtype=np.float64)
    nll = 0.0
    for row, target in zip(logits, tokens[n - n_score :], strict=True):
        m = row.max()
        nll += m + math.log(np.exp(row - m).sum()) - row[target]
    return ResponseLoss(n_score, nll)


def plain_tokens(llm, instruction: str | None, response: str) -> tuple[list[int], int]:
    """The plain format built here by hand: BOS, instruction + "\\n" (or "\\n"), response."""

    def tok(text: str) -> list[int]:
        return llm.tokenize(text.encode(), add_bos=False, special=False)

    resp = tok(response)
    return [llm.token_bos()] + tok((instruction or "") + "\n") + resp, len(resp)


@pytest.fixture(scope="module")
def plain():
    # small rounds (n_batch 96) so that passes are cut across llama_decode calls
    s = EmbeddedScorer(MODEL, "plain", n_ctx=512, n_batch=96)
    yield s
    s.close()


@pytest.fixture(scope="module")
def chat():
    s = EmbeddedScorer(MODEL, "chat", n_ctx=512)
    yield s
    s.close()


@pytest.mark.model
def test_plain_ifd_matches_token_by_token_computation(plain, reference):
    items = pairs()
    got = plain.losses(items)
    want = [from_scratch(reference, *plain_tokens(reference, *it)) for it in items]
    for g, w in zip(got, want, strict=True):
        assert g.n_tokens == w.n_tokens
        assert g.sum_nll == pytest.approx(w.sum_nll, rel=1e-6)
    for k in range(0, len(items), 2):
        assert ifd(got[k], got[k + 1]) == pytest.approx(ifd(want[k], want[k + 1]), rel=1e-4)
        assert ifd(got[k], got[k + 1], "loss") == pytest.approx(
            ifd(want[k], want[k + 1], "loss"), rel=1e-4
        )
    # Numbers do not depend on what else is in the batch (per-row kernels, see ifd_embedded).
    alone = [plain.losses([it])[0] for it in items[2:4]]
    assert [a.sum_nll for a in alone] == [g.sum_nll for g in got[2:4]]


@pytest.mark.model
def test_packing_does_not_change_numbers(plain):
    """Rounds of at most 16 new tokens and 2 passes: every pass is longer than a round
    (evaluated alone, in several llama_decode calls), no prefix is shared within a
    round; the sums are the same bits as with the defaults."""
    items = pairs()
    tight = EmbeddedScorer(MODEL, "plain", n_ctx=512, n_batch=16, max_seqs=2)
    try:
        assert tight.losses(items) == plain.losses(items)
        assert tight.engine.decode_calls > len(items)
    finally:
        tight.close()


@pytest.mark.model
def test_chat_ifd_matches_token_by_token_computation(chat, reference):
    layout = chat.engine.layout
    items = pairs(SAMPLES[1:])
    got = chat.losses(items)
    for (ins, resp), g in zip(items, got, strict=True):
        prep = layout.prepare(ins, resp)
        w = from_scratch(reference, list(prep.tokens), prep.n_score)
        assert g.n_tokens == w.n_tokens and g.sum_nll == pytest.approx(w.sum_nll, rel=1e-6)
        # The tokens are the model's own chat template with the instruction (or an empty
        # user turn) and the response as the assistant's turn, cut after the response.
        rendered = render_chat(reference, ins or "", resp)
        prefix = reference.detokenize(list(prep.tokens), special=True).decode()
        assert rendered.startswith(prefix) and prefix.endswith(resp)
    assert ifd(got[0], got[1]) is not None


def render_chat(llm, user: str, assistant: str) -> str:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    fmt = Jinja2ChatFormatter(
        llm.metadata["tokenizer.chat_template"],
        eos_token=llm.detokenize([llm.token_eos()], special=True).decode(),
        bos_token=llm.detokenize([llm.token_bos()], special=True).decode(),
    )
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return fmt(messages=messages).prompt


@pytest.mark.model
def test_degenerate_inputs_get_a_skip_reason(tmp_path):
    scorer = EmbeddedScorer(MODEL, "plain", n_ctx=48)
    long = "word " * 60
    items = [
        ("Say yes.", ""),
        ("Say yes.", "  \n "),
        ("", "A fine answer here."),
        ("  ", "A fine answer here."),
        ("Say yes.", "Yes"),  # one token
        ("Say yes.", long),  # conditioned longer than n_ctx
        (None, long),  # and the response alone
        ("Say yes.", "Yes, I will."),
    ]
    got = scorer.losses(items)
    assert [skip_kind(g.skip) for g in got] == [
        SKIP_EMPTY_RESPONSE,
        SKIP_EMPTY_RESPONSE,
        SKIP_EMPTY_INSTRUCTION,
        SKIP_EMPTY_INSTRUCTION,
        SKIP_SINGLE_TOKEN,
        SKIP_TOO_LONG,
        SKIP_TOO_LONG,
        "",
    ]
    assert "n_ctx 48" in got[5].skip
    assert all(g.n_tokens == 0 and g.sum_nll == 0.0 for g in got[:-1])
    assert got[-1].n_tokens > 1 and math.isfinite(got[-1].sum_nll)
    assert ifd(got[5], got[6]) is None
    scorer.close()


@pytest.mark.model
def test_cached_embedded_scorer_never_loads_the_model_on_a_hit(tmp_path, plain):
    items = pairs(SAMPLES[2:3])
    CachedScorer(plain, tmp_path / "s.sqlite").losses(items)
    fresh = EmbeddedScorer(MODEL, "plain", n_ctx=512)
    cached = CachedScorer(fresh, tmp_path / "s.sqlite")
    assert cached.losses(items) == plain.losses(items)
    assert fresh._engine is None  # nothing loaded, nothing evaluated


@pytest.mark.model
def test_server_scores_match_the_embedded_engine(tmp_path, plain, chat):
    """llama-cpp-python's server on the same GGUF. With flash attention and batches
    under 64 tokens (--n_batch 48) it takes the same per-row kernels as the engine,
    so the logits are identical; what remains is its float32 log-softmax against our
    float64 one (~1e-7 relative on a sum). Its defaults (no flash attention, 512-token
    batches) differ from the engine by ~1e-2 relative in IFD."""
    port = free_port()
    proc = start_llama_server(
        port, resolve(MODEL), tmp_path / "server.log", n_ctx=1024,
        extra=["--n_batch", "48", "--flash_attn", "true"],
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/v1"
        for template, engine in (("plain", plain), ("chat", chat)):
            server = load_scorer(url, template, model="smollm2", tokenizer=MODEL)
            assert server.model_id == f"openai:{url}:smollm2"
            items = pairs(SAMPLES[2:3])
            got, want = server.losses(items), engine.losses(items)
            for g, w in zip(got, want, strict=True):
                assert g.n_tokens == w.n_tokens
                assert g.sum_nll == pytest.approx(w.sum_nll, rel=1e-5)
            assert ifd(*got) == pytest.approx(ifd(*want), rel=1e-4)
            server.close()
    finally:
        stop(proc)
