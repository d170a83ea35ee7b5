import json

import pytest

from gra.core.errors import UserError
from gra.io.datasets import load_samples, read_samples


def write(tmp_path, name, lines):
    p = tmp_path / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_reads_flat_sharegpt_and_openai_shapes(tmp_path):
    p = write(
        tmp_path,
        "mixed.jsonl",
        [
            json.dumps({"instruction": "Add", "input": "2 and 3", "output": "5"}),
            json.dumps(
                {
                    "id": "s1",
                    "conversations": [
                        {"from": "system", "value": "be brief"},
                        {"from": "human", "value": "Hi"},
                        {"from": "gpt", "value": "Hello"},
                    ],
                }
            ),
            "",
            json.dumps(
                {
                    "id": 7,
                    "messages": [
                        {"role": "user", "content": "first"},
                        {"role": "assistant", "content": "one"},
                        {"role": "user", "content": "second"},
                        {"role": "assistant", "content": "two"},
                    ],
                }
            ),
            json.dumps(
                {
                    "id": "g1",
                    "instruction": "Q",
                    "response": "A",
                    "domain": "math",
                    "provenance": {"generator": "smollm2-135m"},
                }
            ),
        ],
    )
    samples = load_samples(p)
    assert [s.id for s in samples] == ["mixed:1", "s1", "7", "g1"]
    assert (samples[0].instruction, samples[0].input, samples[0].response) == (
        "Add",
        "2 and 3",
        "5",
    )
    assert samples[0].prompt == "Add\n\n2 and 3"
    assert (samples[1].instruction, samples[1].response) == ("Hi", "Hello")
    assert (samples[2].instruction, samples[2].response) == ("second", "two")
    assert (samples[3].domain, samples[3].generator) == ("math", "smollm2-135m")
    assert samples[2].where == f"{p}:4"
    assert samples[3].record["provenance"] == {"generator": "smollm2-135m"}


def test_empty_response_is_kept_for_the_caller_to_judge(tmp_path):
    p = write(tmp_path, "e.jsonl", [json.dumps({"instruction": "Q", "response": ""})])
    assert load_samples(p)[0].response == ""


def test_json_list_and_data_object(tmp_path):
    a = tmp_path / "a.json"
    a.write_text(json.dumps([{"prompt": "p", "completion": "c"}]))
    b = tmp_path / "b.json"
    b.write_text(json.dumps({"data": [{"question": "q", "answer": "x"}]}))
    assert load_samples(a)[0].response == "c"
    assert load_samples(b)[0].instruction == "q"


@pytest.mark.parametrize(
    "line, expect",
    [
        ("{not json", "not valid JSON"),
        ('["a"]', "expected a JSON object"),
        ('{"instruction": "q"}', 'no "response" field'),
        ('{"instruction": 3, "response": "r"}', '"instruction" must be a string'),
        ('{"messages": [{"role": "user", "content": "x"}]}', "no user turn followed"),
        ('{"conversations": "x"}', "must be a list of turns"),
        ('{"id": [1], "instruction": "q", "response": "r"}', '"id" must be a string'),
    ],
)
def test_bad_records_name_the_line(tmp_path, line, expect):
    p = write(tmp_path, "bad.jsonl", [json.dumps({"instruction": "ok", "response": "ok"}), line])
    with pytest.raises(UserError) as e:
        load_samples(p)
    assert e.value.where == f"{p}:2"
    assert expect in e.value.message


def test_duplicate_ids_and_file_errors(tmp_path):
    rec = json.dumps({"id": "x", "instruction": "q", "response": "r"})
    p = write(tmp_path, "dup.jsonl", [rec, rec])
    with pytest.raises(UserError, match="duplicate id"):
        load_samples(p)
    with pytest.raises(UserError, match="not found"):
        load_samples(tmp_path / "missing.jsonl")
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(UserError, match="unsupported data file type"):
        load_samples(tmp_path / "x.csv")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(UserError, match="no records"):
        load_samples(tmp_path / "empty.jsonl")


def test_streams_without_reading_ahead(tmp_path):
    p = write(
        tmp_path,
        "s.jsonl",
        [json.dumps({"instruction": "q", "response": "r"}), "{broken"],
    )
    it = read_samples(p)
    assert next(it).instruction == "q"
    with pytest.raises(UserError):
        next(it)
