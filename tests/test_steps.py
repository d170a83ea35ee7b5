"""Prompts render from versioned templates; replies parse or fail into records."""

from __future__ import annotations

import json

import pytest

from gra.core import templates
from gra.core.records import DIMENSIONS, Review, Seed
from gra.council.steps import adjudicate, generate, review, tag
from gra.council.steps.common import ParseError, derive_seed, parse_object


def test_every_template_has_a_version_and_renders():
    for name in ("tag", "generate", "respond", "review", "adjudicate"):
        p = templates.load(name)
        assert p.version >= 1 and p.id == f"{name}@{p.version}"


def test_template_rejects_missing_variables():
    with pytest.raises(Exception, match="instruction"):
        templates.load("respond").render(input="")


def test_generate_prompt_shows_examples_and_tags():
    ex = [Seed("s:1", "Add 2 and 3.", "5", "math", keywords=["addition"], summary="a sum")]
    req = generate.build_instruction("math", ex, max_tokens=50, temperature=0.9, seed=3)
    (sys_role, _), (user_role, user) = req.messages
    assert (sys_role, user_role) == ("system", "user")
    assert (
        "Add 2 and 3." in user and "keywords: addition; summary: a sum" in user and '"math"' in user
    )
    schema = json.loads(req.json_schema)
    assert schema["required"] == ["instruction"]
    assert (req.max_tokens, req.temperature, req.seed) == (50, 0.9, 3)


def test_response_prompt_is_plain_chat_with_input():
    req = generate.build_response("Summarise.", "Some text.", max_tokens=9, temperature=0, seed=1)
    assert req.json_schema is None
    assert req.messages[-1] == ("user", "Summarise.\n\nSome text.")


def test_review_schema_asks_critique_first_then_six_scores():
    req = review.build("Q?", "", "A.", max_tokens=99, temperature=0.2, seed=1)
    schema = json.loads(req.json_schema)
    assert list(schema["properties"]) == ["critique", *DIMENSIONS]
    assert schema["properties"]["clarity"]["enum"] == list(range(1, 11))
    assert "Q?" in req.messages[1][1] and "A." in req.messages[1][1]


def test_request_key_depends_on_model_and_content():
    a = review.build("Q?", "", "A.", max_tokens=99, temperature=0.2, seed=1)
    b = review.build("Q?", "", "A.", max_tokens=99, temperature=0.2, seed=2)
    assert a.key("m1") == review.build("Q?", "", "A.", max_tokens=99, temperature=0.2, seed=1).key(
        "m1"
    )
    assert len({a.key("m1"), a.key("m2"), b.key("m1")}) == 3


def test_parse_object_tolerates_fences_and_prose():
    assert parse_object('```json\n{"a": 1}\n```') == {"a": 1}
    assert parse_object('Sure! {"a": 1} hope it helps') == {"a": 1}
    with pytest.raises(ParseError):
        parse_object("no json here")
    with pytest.raises(ParseError):
        parse_object("[1, 2]")


def test_review_parse_ok():
    text = json.dumps({"critique": "Fine.", **{d: 8 for d in DIMENSIONS}})
    r = review.parse("qwen", text)
    assert r.ok and r.overall == 8.0 and r.critique == "Fine." and r.reviewer == "qwen"


@pytest.mark.parametrize(
    "text, error",
    [
        ('{"critique": "x", "correctness": 11}', "outside 1-10"),
        ('{"critique": "x"}', "missing"),
        ('{"critique": "x", "correctness": "high"}', "not a number"),
        ('{"critique": "truncated', "no JSON"),
        ("", "no JSON"),
    ],
)
def test_review_parse_failures_keep_raw_text(text, error):
    r = review.parse("smol", text)
    assert not r.ok and r.raw == text and error in r.error and r.overall is None


def test_review_scores_as_digit_strings_are_accepted():
    r = review.parse("m", json.dumps({"critique": "", **{d: "7" for d in DIMENSIONS}}))
    assert r.ok and r.overall == 7.0


def test_adjudicate_parse_and_prompt_lists_reviews():
    good = Review("a", True, {d: 9.0 for d in DIMENSIONS}, critique="Solid.")
    bad = Review("b", False, raw="???")
    req = adjudicate.build("Q?", "", "A.", [good, bad], max_tokens=50, temperature=0, seed=0)
    user = req.messages[1][1]
    assert "mean score 9.0" in user and "Solid." in user and "could not be read" in user
    keep = adjudicate.parse("q", '{"reason": "right", "decision": "keep"}')
    drop = adjudicate.parse("q", '{"reason": "wrong", "decision": "DROP"}')
    broken = adjudicate.parse("q", '{"reason": "x", "decision": "maybe"}')
    assert (keep.ok, keep.keep, drop.keep) == (True, True, False)
    assert not broken.ok and not broken.keep and broken.raw


def test_tag_parse_dedupes_keywords_and_keeps_first_summary_line():
    kw, summary = tag.parse('{"summary": "Adds.\\nMore.", "keywords": ["a", "a", " b ", 3]}')
    assert kw == ["a", "b"] and summary == "Adds."
    with pytest.raises(ParseError):
        tag.parse('{"summary": "x", "keywords": "a"}')


def test_derive_seed_is_stable_and_distinct():
    assert derive_seed(0, 1, "review", 0) == derive_seed(0, 1, "review", 0)
    assert derive_seed(0, 1, "review", 0) != derive_seed(0, 1, "review", 1)
    assert 0 <= derive_seed("x") < 2**31


def test_raw_newlines_inside_strings_are_read():
    text = '{"critique": "Line one.\nLine two.", ' + ", ".join(f'"{d}": 6' for d in DIMENSIONS)
    r = review.parse("m", text + "}")
    assert r.ok and r.critique == "Line one.\nLine two." and r.overall == 6.0
