"""Synthetic synth-run directories for the report tests and benchmark, no model needed
(and the hostile payloads and the fake embedder those tests share).

``write_run`` lays out what ``gra synth`` leaves behind (config.yaml, seeds.jsonl,
run.sqlite with candidates and model calls), written straight into a Store: every
fate a candidate can meet (failed, each cheap check, duplicates before and after
review, council accept/reject, adjudicator keep/drop, surplus, still running),
reviews from two or three reviewer models with their own biases, expected-value
scores with decimals, unreadable replies, and the calls' tokens and latencies.
"""

from __future__ import annotations

import json
import math
import random
import zlib
from pathlib import Path

import numpy as np
import yaml

from gra.core.records import (
    DIMENSIONS,
    Adjudication,
    Aggregate,
    CallInfo,
    Candidate,
    Outcome,
    Review,
    Seed,
)
from gra.core.store import STORE_NAME, Store
from gra.models.backends.base import ChatRequest, ChatResponse

DOMAINS = ("math", "code", "writing", "reasoning", "everyday")
GENERATORS = ("qwen2.5-coder-0.5b", "smollm2-135m", "gemma3-270m")
REVIEWERS = ("qwen2.5-coder-0.5b", "smollm2-135m")
BIAS = {"qwen2.5-coder-0.5b": -0.3, "smollm2-135m": 0.6, "gemma3-270m": 0.0}
CHECKS = (
    ("truncated", "cut at response_max_tokens"),
    ("repetition", "a 6-word phrase repeated 9 times"),
    ("refusal", "starts with 'I cannot'"),
    ("empty_response", "3 characters"),
    ("code_syntax", "python block does not parse: line 4"),
)
ACCEPT, REJECT, MAX_STD = 7.0, 5.0, 1.5

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="window.__pwned=1">',
    "</textarea><u class=pwn>underlined</u>",
    "</script><script>window.__pwned=2</script>",
    "<!-- open comment & \u2028 line separator \u2029 & more",
]


class FakeEmbedder:
    """Vectors without a model, for tests: a unit vector from each text's hash, pulled
    toward an axis chosen by its first word (so texts that start alike sit together)."""

    name = "fake"
    dim = 16

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            rng = np.random.default_rng(zlib.crc32(t.encode()))
            out[i] = rng.normal(size=self.dim)
            words = t.split()
            if words:
                out[i, zlib.crc32(words[0].encode()) % self.dim] += 3
        return out / np.linalg.norm(out, axis=1, keepdims=True)


TOPICS = {
    "math": "triangle angle prime fraction equation integer sum ratio area circle proof".split(),
    "code": "function list string loop dictionary recursion sort class parser test".split(),
    "writing": "poem letter story paragraph tone metaphor title summary essay dialogue".split(),
    "reasoning": "puzzle clue argument premise order schedule logic riddle choice rule".split(),
    "everyday": "recipe budget garden travel bike email meeting habit plant kitchen".split(),
}
WORDS = (
    "the a of to and in is that it for on with as by this be are from at or an which "
    "first then each step so we can use find check value result because when if all "
    "more than one two three number simple small large new way make keep give write "
    "read show explain example answer question part case both only also how why what"
).split()
VERBS = "Explain Describe Write Compute Show List Compare Summarise Find Design".split()


def _text(rng: random.Random, domain: str, n: int) -> str:
    topic = TOPICS[domain]
    words = [rng.choice(topic) if rng.random() < 0.2 else rng.choice(WORDS) for _ in range(n)]
    sentences, i = [], 0
    while i < len(words):
        k = rng.randint(8, 16)
        s = " ".join(words[i : i + k])
        sentences.append(s[:1].upper() + s[1:] + ".")
        i += k
    return " ".join(sentences)


def _instruction(rng: random.Random, domain: str) -> str:
    topic = TOPICS[domain]
    return (
        f"{rng.choice(VERBS)} the {rng.choice(topic)} and the {rng.choice(topic)} "
        f"{_text(rng, domain, rng.randint(6, 18)).lower()}"
    )


def _call(store: Store, key: str, model: str, role: str, rng: random.Random) -> CallInfo:
    pt, ct = rng.randint(150, 900), rng.randint(20, 400)
    lat = round(ct / rng.uniform(20, 90) + pt / 300, 3)
    req = ChatRequest(messages=(("user", key),), max_tokens=400)
    store.put_call(key, model, role, f"{role}@1", req, ChatResponse("", "stop", pt, ct, lat))
    return CallInfo(model, f"{role}@1", key, pt, ct, lat)


def _aggregate(reviews: list[Review]) -> Aggregate:
    overall = [r.overall for r in reviews if r.overall is not None]
    failed = len(reviews) - len(overall)
    if not overall:
        return Aggregate(None, None, 0, failed, "adjudicate", "only 0 readable review(s), need 1")
    mean = sum(overall) / len(overall)
    std = math.sqrt(sum((x - mean) ** 2 for x in overall) / len(overall))
    mean, std = round(mean, 6), round(std, 6)
    if std > MAX_STD:
        return Aggregate(
            mean,
            std,
            len(overall),
            failed,
            "adjudicate",
            f"reviewers disagree: std {std:.2f} > {MAX_STD}",
        )
    if mean >= ACCEPT:
        return Aggregate(mean, std, len(overall), failed, "accept", f"mean {mean:.2f} >= {ACCEPT}")
    if mean < REJECT:
        return Aggregate(mean, std, len(overall), failed, "reject", f"mean {mean:.2f} < {REJECT}")
    return Aggregate(mean, std, len(overall), failed, "adjudicate", f"borderline mean {mean:.2f}")


def _review(rng: random.Random, model: str, quality: float, key: str, store: Store) -> Review:
    call = _call(store, key, model, "review", rng)
    if rng.random() < 0.03:
        return Review(
            model, False, raw='{"critique": "The answer is cut', error="invalid JSON", call=call
        )
    expected = rng.random() < 0.5  # logprob-expected scores have decimals
    mood = rng.gauss(0, 1.1)  # this review's own leniency: reviewers disagree
    scores = {}
    for d in DIMENSIONS:
        s = (
            quality
            + BIAS.get(model, 0.0)
            + mood
            + rng.gauss(0, 0.8)
            + (1.5 if d == "ethicality" else 0)
        )
        s = min(10.0, max(1.0, s))
        scores[d] = round(s, 2) if expected else float(round(s))
    critique = rng.choice(
        [
            "Clear and correct; the example helps.",
            "The response misses a step in the middle.",
            "Mostly relevant but wordy; the last sentence repeats the first.",
            "Incorrect arithmetic in the second step.",
            "Good structure, answers every part of the instruction.",
        ]
    )
    return Review(model, True, scores, critique, call=call)


_CODES = {
    ("failed", "model_call"): "call_failed",
    ("duplicate", "dedup"): "near_duplicate",
    ("rejected", "council"): "rejected",
    ("rejected", "adjudicator"): "dropped",
    ("accepted", "council"): "accepted",
    ("accepted", "adjudicator"): "kept",
    ("surplus", "council"): "accepted",
    ("surplus", "adjudicator"): "kept",
}


def _end(c: Candidate, state: str, reason: str, stage: str, code: str = "") -> None:
    """End ``c`` as gra does: its state, the reason for people, the outcome as data."""
    c.state, c.reason = state, reason
    c.outcome = Outcome(stage, code or _CODES[(state, stage)], reason)


def write_run(
    run_dir: Path,
    n: int = 200,
    *,
    n_seeds: int = 40,
    seed: int = 0,
    running: int = 0,
    target: int | None = None,
    payloads: list[str] | None = None,
    summary: bool = True,
) -> Path:
    """A run directory with ``n`` finished candidates and ``running`` unfinished ones.

    With a ``target``, samples accepted past it are ``surplus``; without one every
    kept sample is accepted and the target is their number.

    ``payloads``: texts put verbatim into seeds, instructions, responses, critiques,
    reasons and one domain name (for the hostile-text test).
    """
    rng = random.Random(seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    domains = list(DOMAINS)
    p = payloads or []
    if p:
        domains.append(p[0][:40])
    config = {
        "aggregate": {
            "rule": "mean_std",
            "accept_mean": ACCEPT,
            "reject_mean": REJECT,
            "max_std": MAX_STD,
        },
        "generation": {"models": list(GENERATORS)},
        "review": {"models": list(REVIEWERS), "reviewers": 2},
    }
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    seeds = []
    for i in range(n_seeds):
        d = domains[i % len(domains)]
        topic = TOPICS.get(d, TOPICS["everyday"])
        instruction = _instruction(rng, d if d in TOPICS else "everyday")
        response = _text(rng, d if d in TOPICS else "everyday", rng.randint(40, 120))
        if p:
            instruction = f"{p[i % len(p)]} {instruction}"
            response = f"{response} {p[(i + 1) % len(p)]}"
        seeds.append(Seed(f"seeds:{i + 1}", instruction, response, d, keywords=topic[:3]))
    with (run_dir / "seeds.jsonl").open("w", encoding="utf-8") as f:
        for s in seeds:
            f.write(json.dumps(s.to_dict(), ensure_ascii=False) + "\n")

    store = Store(run_dir / STORE_NAME)
    store.set_meta("created", "2025-01-01T00:00:00")
    store.db.execute("BEGIN")
    accepted = 0
    by_domain = {d: [s for s in seeds if s.domain == d] for d in domains}
    for idx in range(n):
        d = domains[idx % len(domains)]
        gen = rng.choice(GENERATORS)
        ex = by_domain[d][:3] if len(by_domain[d]) <= 3 else rng.sample(by_domain[d], 3)
        c = Candidate(idx, d, gen, [s.id for s in ex])
        t = "everyday" if d not in TOPICS else d
        c.calls["instruction"] = _call(store, f"i{idx}", gen, "generate", rng)
        if rng.random() < 0.04:
            _end(c, "failed", "model call failed: HTTP 500 (gave up after 4 tries)", "model_call")
            store.save_candidate(c)
            continue
        c.instruction = _instruction(rng, t)
        c.calls["response"] = _call(store, f"r{idx}", gen, "generate", rng)
        c.response = _text(rng, t, rng.randint(60, 220))
        if p and idx % 3 == 0:
            c.instruction = f"{p[idx % len(p)]} {c.instruction}"
            c.response = f"{p[(idx + 1) % len(p)]}\n{c.response}\n{p[(idx + 2) % len(p)]}"
        if rng.random() < 0.15:
            name, detail = rng.choice(CHECKS)
            _end(c, "rejected", f"cheap check: {name} ({detail})", "checks", name)
            store.save_candidate(c)
            continue
        if rng.random() < 0.04:
            c.duplicate_of = ex[0].id
            _end(c, "duplicate", f"near-duplicate of {ex[0].id} (jaccard 0.81)", "dedup")
            store.save_candidate(c)
            continue
        quality = rng.gauss(6.6, 1.6) + {"qwen2.5-coder-0.5b": 0.4, "gemma3-270m": -0.6}.get(gen, 0)
        names = [m for m in REVIEWERS if m != gen] or list(REVIEWERS)
        names = (names * 2)[:2]
        if rng.random() < 0.1:
            names.append("gemma3-270m")
        c.reviews = [_review(rng, m, quality, f"v{idx}:{j}", store) for j, m in enumerate(names)]
        if p and idx % 3 == 0:
            c.reviews[0].critique = f"critique with {p[idx % len(p)]}"
        c.aggregate = _aggregate(c.reviews)
        keep = c.aggregate.decision == "accept"
        reason = c.aggregate.reason
        if c.aggregate.decision == "adjudicate":
            ok = rng.random() > 0.05
            keep = ok and (c.aggregate.mean or 0) + rng.gauss(0, 1) >= 6.0
            why = "the response answers the question" if keep else "the reviewers found an error"
            if p and idx % 3 == 0:
                why = f"{why} {p[idx % len(p)]}"
            c.adjudication = Adjudication(
                "smollm2-135m" if gen != "smollm2-135m" else "qwen2.5-coder-0.5b",
                ok,
                keep,
                why if ok else "",
                "" if ok else "{keep",
                call=_call(store, f"a{idx}", "smollm2-135m", "adjudicate", rng),
            )
            reason = f"adjudicator: {'keep' if keep else 'drop'}: {why}"
        if not keep:
            _end(c, "rejected", reason, "adjudicator" if c.adjudication else "council")
        elif rng.random() < 0.05:
            c.duplicate_of = f"c{max(0, idx - 7):06d}"
            _end(c, "duplicate", f"near-duplicate of {c.duplicate_of} (jaccard 0.74)", "dedup")
        else:
            c.keywords, c.summary = ["k1", "k2"], f"A {t} task."
            _call(store, f"t{idx}", "smollm2-135m", "tag", rng)
            accepted += 1
            surplus = target is not None and accepted > target
            stage = "adjudicator" if c.adjudication else "council"
            _end(c, "surplus" if surplus else "accepted", reason, stage)
        store.save_candidate(c)
    for k in range(running):
        store.save_candidate(Candidate(n + k, "", "", [], state="running"))
    target = target if target is not None else max(1, accepted)
    store.set_meta("options", {"target": target, "max_candidates": 10 * target + 10})
    store.set_meta("wall_s", round(n * 0.9, 3))
    store.db.execute("COMMIT")
    if summary:
        from gra.synthesis.writer import write_outputs

        write_outputs(store, run_dir, [], {"status": "stopped", "stop_reason": "test run"})
    store.close()
    return run_dir
