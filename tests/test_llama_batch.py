"""BatchedLlamaBackend on the real SmolLM2-135M: same answers as one-at-a-time calls.

One batched backend (3 sequence slots) and one ``LlamaCppBackend`` are loaded for the
whole module; requests are submitted concurrently, usually more of them than slots so
that queueing and slot reuse are exercised.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from gra.models.backends.base import CallFailed, ChatRequest, ChatResponse
from gra.models.backends.llama_batch import BatchedLlamaBackend
from gra.models.backends.llama_cpp import LlamaCppBackend
from gra.models.registry import resolve

pytestmark = pytest.mark.model

N_CTX = 1024  # per sequence, the same for both backends
PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about rain.",
    "List three prime numbers.",
    "Explain gravity in one sentence.",
    "Say hello in Spanish.",
    "Name a color and describe it.",
    "Give one tip for better sleep.",
]
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer", "enum": [1, 2, 3]}},
    "required": ["answer"],
}


@pytest.fixture(scope="module")
def batched():
    b = BatchedLlamaBackend("smollm2-135m", resolve("smollm2-135m"), n_ctx=N_CTX, n_parallel=3)
    yield b
    b.close()


@pytest.fixture(scope="module")
def single():
    b = LlamaCppBackend("smollm2-135m", resolve("smollm2-135m"), n_ctx=N_CTX)
    yield b
    b.close()


def ask(prompt: str, **kw) -> ChatRequest:
    return ChatRequest(messages=(("user", prompt),), **kw)


def run_all(backend: BatchedLlamaBackend, requests: list[ChatRequest]) -> list:
    async def main() -> list:
        return await asyncio.gather(*(backend.chat(r) for r in requests), return_exceptions=True)

    return asyncio.run(main())


def test_greedy_answers_equal_one_at_a_time_calls(batched, single):
    requests = [ask(p, max_tokens=40, temperature=0.0) for p in PROMPTS]
    got = run_all(batched, requests)
    for r, g in zip(requests, got, strict=True):
        want = single.chat_sync(r)
        assert isinstance(g, ChatResponse)
        assert g.prompt_tokens == want.prompt_tokens  # same chat template, same tokens
        # Bit-identical logits, not just close ones (see BatchedLlamaBackend._step):
        assert (g.text, g.completion_tokens, g.finish_reason) == (
            want.text,
            want.completion_tokens,
            want.finish_reason,
        ), r.messages
        assert g.latency_s > 0


def test_json_schema_replies_parse_and_match_the_schema(batched):
    requests = [
        ask(
            f"Pick 1, 2 or 3. {p}",
            max_tokens=30,
            temperature=0.7,
            seed=i,
            json_schema=json.dumps(SCHEMA),
        )
        for i, p in enumerate(PROMPTS[:4])
    ]
    for reply in run_all(batched, requests):
        assert isinstance(reply, ChatResponse) and reply.finish_reason == "stop"
        assert json.loads(reply.text)["answer"] in (1, 2, 3)


def test_length_limit_errors_and_failures_leave_the_worker_serving(batched):
    too_long = ask("word " * (N_CTX + 50), max_tokens=10)
    bad_schema = ask("Pick a number.", max_tokens=10, json_schema="{not json")
    requests = [
        ask(PROMPTS[0], max_tokens=5, temperature=0.0),
        too_long,
        bad_schema,
        ask(PROMPTS[1], max_tokens=6, temperature=0.0),
    ]
    short, err, failed, short2 = run_all(batched, requests)
    assert short.finish_reason == "length" and short.completion_tokens == 5
    assert short2.finish_reason == "length" and short2.completion_tokens == 6
    assert err.finish_reason == "error" and err.text == ""
    assert "exceed context window" in err.extra["error"]
    assert isinstance(failed, CallFailed) and not failed.retryable
    # A request cancelled mid-generation is dropped; the worker goes on.

    async def cancel_one() -> None:
        # a long answer (300 tokens, ~2 s here): "List three prime numbers." could end
        # in 16 tokens, right at the 0.2 s the cancel waits, and the test then flaked
        long = ask("Count from 1 to 200, one number per line.", max_tokens=300)
        task = asyncio.ensure_future(batched.chat(long))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_one())
    after = run_all(batched, [ask(p, max_tokens=12, temperature=0.0) for p in PROMPTS[3:6]])
    assert all(isinstance(a, ChatResponse) and a.completion_tokens > 0 for a in after)


def test_seeded_sampling_does_not_depend_on_the_rest_of_the_batch(batched, single):
    target = ask(PROMPTS[1], max_tokens=40, temperature=0.8, seed=1234)
    others = [ask(p, max_tokens=30, temperature=0.8, seed=i) for i, p in enumerate(PROMPTS[2:6])]
    (alone,) = run_all(batched, [target])
    crowded = run_all(batched, [*others[:2], target, *others[2:]])[2]
    last = run_all(batched, [*others, target])[-1]  # queued behind 4 others, in a reused slot
    assert alone.text == crowded.text == last.text
    assert alone.text == single.chat_sync(target).text  # same sampler chain, same seed
    assert alone.text != run_all(batched, [ask(PROMPTS[1], max_tokens=40, temperature=0.8)])[0].text


def test_logprobs_are_the_same_from_both_backends_and_cover_the_reply(batched, single):
    """A review request with top logprobs: both embedded backends return the same
    OpenAI-style entries, one per generated token but the last, spelling the reply."""
    from gra.council.steps import review

    req = review.build(
        "What is 2 + 2?", "", "2 + 2 = 4.", max_tokens=90, temperature=0.0, seed=1, logprobs=5
    )
    got_batched = run_all(batched, [req])[0]
    got_single = single.chat_sync(req)
    assert got_batched.text == got_single.text
    a = got_batched.extra["logprobs"]["content"]
    b = got_single.extra["logprobs"]["content"]
    assert len(a) >= got_batched.completion_tokens - 1 and len(a) == len(b)
    assert got_batched.text.startswith("".join(e["token"] for e in a))
    for x, y in zip(a, b, strict=True):
        assert x["token"] == y["token"]
        assert x["logprob"] == pytest.approx(y["logprob"], abs=1e-4)
        tops = [t["logprob"] for t in x["top_logprobs"]]
        assert len(tops) == 5 and tops == sorted(tops, reverse=True) and tops[0] <= 0.0
        # the raw logits, before the JSON grammar: the written token may be below the top
        assert x["logprob"] <= tops[0] + 1e-9
    parsed = review.parse("smollm2-135m", got_batched.text, got_batched.extra["logprobs"])
    if parsed.ok:
        assert parsed.method == "logprobs"
        assert all(1.0 <= v <= 10.0 for v in parsed.scores.values())
