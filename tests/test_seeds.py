"""Tests for gra.io.seeds: the three file formats, aliases, the shipped examples, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gra.core.errors import UserError
from gra.core.records import Seed
from gra.io.seeds import load_seeds, seed_domains

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "seeds.jsonl"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def jsonl(*objects: object) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def load_error(path: Path, **kwargs: str) -> UserError:
    with pytest.raises(UserError) as info:
        load_seeds(path, **kwargs)
    err = info.value
    assert "\n" not in str(err), str(err)
    return err


# ---------------------------------------------------------------- formats


def test_jsonl_loads_fields_defaults_and_line_ids(tmp_path: Path) -> None:
    path = write(
        tmp_path / "mine.jsonl",
        json.dumps({"instruction": " Add 2 and 3. ", "response": "5", "domain": "math"})
        + "\n\n"  # a blank line still counts for line numbers
        + json.dumps(
            {"instruction": "Fix it.", "input": "\n    x = 1\n  ", "response": "Done.", "id": 7}
        )
        + "\r\n"
        + json.dumps({"instruction": "Hi", "response": "Hello", "id": "greet"})
        + "\n",
    )
    seeds = load_seeds(path)
    assert seeds == [
        Seed(id="mine:1", instruction="Add 2 and 3.", response="5", domain="math"),
        Seed(id="7", instruction="Fix it.", response="Done.", input="    x = 1"),
        Seed(id="greet", instruction="Hi", response="Hello"),
    ]


def test_default_domain_applies_to_missing_and_empty_domain(tmp_path: Path) -> None:
    path = write(
        tmp_path / "d.jsonl",
        jsonl(
            {"instruction": "a", "response": "b"},
            {"instruction": "c", "response": "d", "domain": "  "},
            {"instruction": "e", "response": "f", "domain": None},
            {"instruction": "g", "response": "h", "domain": " code "},
        ),
    )
    assert [s.domain for s in load_seeds(path, default_domain="misc")] == [
        "misc",
        "misc",
        "misc",
        "code",
    ]


def test_alpaca_json_list_with_input_and_output(tmp_path: Path) -> None:
    data = [
        {"instruction": "Translate to French.", "input": "Good morning", "output": "Bonjour"},
        {"instruction": "Name a prime.", "input": "", "output": "7"},
    ]
    seeds = load_seeds(write(tmp_path / "alpaca.json", json.dumps(data, indent=2)))
    assert seeds == [
        Seed(
            id="alpaca:1",
            instruction="Translate to French.",
            response="Bonjour",
            input="Good morning",
        ),
        Seed(id="alpaca:2", instruction="Name a prime.", response="7"),
    ]


@pytest.mark.parametrize("key", ["seeds", "data"])
def test_json_object_with_list_under_key(tmp_path: Path, key: str) -> None:
    items = [
        {"prompt": "p1", "completion": "c1", "domain": "x", "id": "a"},
        {"question": "q2", "answer": "a2"},
    ]
    path = write(tmp_path / "wrapped.json", json.dumps({"version": 1, key: items}))
    seeds = load_seeds(path)
    assert [(s.id, s.instruction, s.response, s.domain) for s in seeds] == [
        ("a", "p1", "c1", "x"),
        ("wrapped:2", "q2", "a2", "general"),
    ]


@pytest.mark.parametrize(
    ("instruction_key", "response_key"),
    [
        ("instruction", "response"),
        ("instruction", "output"),
        ("prompt", "completion"),
        ("question", "answer"),
    ],
)
def test_aliases(tmp_path: Path, instruction_key: str, response_key: str) -> None:
    path = write(tmp_path / "a.jsonl", jsonl({instruction_key: "Q?", response_key: "A."}))
    (seed,) = load_seeds(path)
    assert (seed.instruction, seed.response) == ("Q?", "A.")


def test_dolly_context_and_category(tmp_path: Path) -> None:
    record = {
        "instruction": "Who?",
        "context": "Ada wrote it.",
        "response": "Ada",
        "category": "qa",
    }
    (seed,) = load_seeds(write(tmp_path / "dolly.jsonl", jsonl(record)))
    assert (seed.input, seed.domain) == ("Ada wrote it.", "qa")


def test_canonical_name_wins_over_alias(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", jsonl({"instruction": "Q", "response": "R", "output": "O"}))
    assert load_seeds(path)[0].response == "R"


def test_csv_with_quoted_newlines_aliases_and_record_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "table.csv",
        "Prompt,Input,Answer,Domain,id\r\n"
        'Say hi,,"Hello,\r\nworld",,\r\n'  # a record spanning lines 2-3
        "\r\n"
        "Sum it,1 2,3,math,\r\n"  # line 5
        ",,,,\r\n"  # a row of empty cells is skipped
        "Last,,Done,,x9\r\n",
    )
    seeds = load_seeds(path)
    assert seeds == [
        Seed(id="table:2", instruction="Say hi", response="Hello,\r\nworld"),
        Seed(id="table:5", instruction="Sum it", response="3", domain="math", input="1 2"),
        Seed(id="x9", instruction="Last", response="Done"),
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("bom.jsonl", '{"instruction": "i", "response": "r"}\n'),
        ("bom.json", '[{"instruction": "i", "response": "r"}]'),
        ("bom.csv", "instruction,response\ni,r\n"),
    ],
)
def test_utf8_bom_is_accepted(tmp_path: Path, name: str, content: str) -> None:
    path = write(tmp_path / name, b"\xef\xbb\xbf" + content.encode())
    (seed,) = load_seeds(path)
    assert (seed.instruction, seed.response) == ("i", "r")


def test_accepts_str_path_and_uppercase_suffix(tmp_path: Path) -> None:
    path = write(tmp_path / "UP.JSONL", jsonl({"instruction": "i", "response": "r"}))
    assert load_seeds(str(path))[0].id == "UP:1"


def test_seed_domains_groups_in_file_order() -> None:
    seeds = [
        Seed(id="1", instruction="a", response="b", domain="x"),
        Seed(id="2", instruction="a", response="b", domain="y"),
        Seed(id="3", instruction="a", response="b", domain="x"),
    ]
    groups = seed_domains(seeds)
    assert list(groups) == ["x", "y"]
    assert [s.id for s in groups["x"]] == ["1", "3"]
    assert [s.id for s in groups["y"]] == ["2"]
    assert seed_domains([]) == {}


# ---------------------------------------------------------------- shipped examples


def test_shipped_examples() -> None:
    seeds = load_seeds(EXAMPLES)
    assert len(seeds) == 42
    groups = seed_domains(seeds)
    assert set(groups) == {"math", "code", "reasoning", "writing", "science", "everyday"}
    assert all(len(group) >= 5 for group in groups.values())
    assert len({s.id for s in seeds}) == 42
    assert len({s.instruction for s in seeds}) == 42
    assert sum(1 for s in seeds if s.input) >= 4
    assert all("```python" in s.response for s in groups["code"])
    for seed in seeds:
        words = len(seed.response.split())
        assert 30 <= words <= 170, (seed.id, words)


# ---------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    err = load_error(path)
    assert err.where == str(path)
    assert "not found" in err.message


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.jsonl"
    folder.mkdir()
    err = load_error(folder)
    assert err.where == str(folder)
    assert "directory" in err.message


@pytest.mark.parametrize("name", ["seeds.txt", "seeds"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, '{"instruction": "i", "response": "r"}\n')
    err = load_error(path)
    assert err.where == str(path)
    assert "unsupported seed file type" in err.message
    assert ".jsonl, .json or .csv" in err.message


@pytest.mark.parametrize(
    ("name", "content", "phrase"),
    [
        ("empty.jsonl", "", "seed file is empty"),
        ("blank.jsonl", "\n  \n\t\n", "seed file is empty"),
        ("bom-only.csv", b"\xef\xbb\xbf", "seed file is empty"),
        ("list.json", "[]", "no seeds in file"),
        ("wrapped.json", '{"seeds": []}', "no seeds in file"),
        ("header.csv", "instruction,response\n\n", "no seeds in file"),
    ],
)
def test_empty_or_no_records(tmp_path: Path, name: str, content: str | bytes, phrase: str) -> None:
    path = write(tmp_path / name, content)
    err = load_error(path)
    assert err.where == str(path)
    assert err.message.startswith(phrase)


@pytest.mark.parametrize("name", ["bad.jsonl", "bad.csv", "bad.json"])
def test_non_utf8_reports_line_of_first_bad_byte(tmp_path: Path, name: str) -> None:
    path = write(tmp_path / name, b"instruction,response\nok,fine\ncaf\xe9,x\n")
    err = load_error(path)
    assert err.where == f"{path}:3"
    assert "not valid UTF-8" in err.message
    assert "0xe9" in err.message


def test_utf16_file_is_named(tmp_path: Path) -> None:
    text = '{"instruction": "i", "response": "r"}\n'
    path = write(tmp_path / "wide.jsonl", text.encode("utf-16"))
    err = load_error(path)
    assert err.where == f"{path}:1"
    assert "UTF-16" in err.message


def test_malformed_json_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        '{"instruction": "i", "response": "r"}\n\n{"instruction": "i", "response": }\n',
    )
    err = load_error(path)
    assert err.where == f"{path}:3"
    assert err.message.startswith("not valid JSON (Expecting value at column 34)")


def test_pretty_printed_jsonl_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path / "p.jsonl", '[\n  {"instruction": "i", "response": "r"}\n]\n')
    err = load_error(path)
    assert err.where == f"{path}:1"
    assert "should be named .json" in err.message


@pytest.mark.parametrize(
    ("line", "kind"),
    [('["i", "r"]', "an array of 2 items"), ('"text"', 'a string ("text")'), ("42", "a number")],
)
def test_jsonl_line_that_is_not_an_object(tmp_path: Path, line: str, kind: str) -> None:
    path = write(tmp_path / "s.jsonl", jsonl({"instruction": "i", "response": "r"}) + line + "\n")
    err = load_error(path)
    assert err.where == f"{path}:2"
    assert err.message.startswith("expected a JSON object")
    assert kind in err.message


def test_missing_required_field_names_field_and_present_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", jsonl({"instruction": "i", "reply": "r", "domain": "x"}))
    err = load_error(path)
    assert err.where == f"{path}:1"
    assert err.message.startswith('missing required field "response"')
    assert '"output"' in err.message  # the accepted aliases are listed
    assert 'fields present: "instruction", "reply", "domain"' in err.message


def test_missing_instruction_in_empty_object(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", "{}\n")
    err = load_error(path)
    assert err.message.startswith('missing required field "instruction"')
    assert "fields present: none" in err.message


@pytest.mark.parametrize(
    ("record", "phrase"),
    [
        ({"instruction": "  \n ", "response": "r"}, '"instruction" is empty'),
        ({"instruction": "i", "output": ""}, '"output" is empty'),
        ({"instruction": 42, "response": "r"}, '"instruction" must be a string, not a number (42)'),
        ({"instruction": "i", "response": None}, '"response" must be a string, not null'),
        ({"instruction": "i", "response": ["a"]}, '"response" must be a string, not an array'),
        ({"instruction": "i", "response": "r", "input": 3}, '"input" must be a string'),
        ({"instruction": "i", "response": "r", "domain": True}, '"domain" must be a string'),
        ({"instruction": "i", "response": "r", "id": 1.5}, '"id" must be a string or an integer'),
        ({"instruction": "i", "response": "r", "id": True}, '"id" must be a string or an integer'),
    ],
)
def test_bad_field_values(tmp_path: Path, record: dict[str, object], phrase: str) -> None:
    good = {"instruction": "ok", "response": "ok"}
    path = write(tmp_path / "s.jsonl", jsonl(good, good, record))
    err = load_error(path)
    assert err.where == f"{path}:3"
    assert err.message.startswith(phrase)


def test_duplicate_id_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        jsonl(
            {"id": "a", "instruction": "i", "response": "r"},
            {"id": "b", "instruction": "i", "response": "r"},
            {"id": "a", "instruction": "i", "response": "r"},
        ),
    )
    err = load_error(path)
    assert err.where == f"{path}:3"
    assert err.message.startswith('duplicate id "a", already used by line 1')


def test_explicit_id_colliding_with_default_id(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        jsonl(
            {"id": "s:2", "instruction": "i", "response": "r"},
            {"instruction": "i", "response": "r"},
        ),
    )
    err = load_error(path)
    assert err.where == f"{path}:2"
    assert 'duplicate id "s:2", already used by line 1' in err.message


def test_int_and_string_ids_collide(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.json",
        json.dumps(
            [
                {"id": 5, "instruction": "i", "response": "r"},
                {"id": "5", "prompt": "i", "output": "r"},
            ]
        ),
    )
    err = load_error(path)
    assert err.where == str(path)
    assert err.message.startswith('item 2: duplicate id "5", already used by item 1')


def test_json_item_errors_name_the_item(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.json",
        json.dumps({"data": [{"instruction": "i", "response": "r"}, {"instruction": "i"}]}),
    )
    err = load_error(path)
    assert err.where == str(path)
    assert err.message.startswith('item 2: missing required field "response"')


def test_json_item_that_is_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", '[{"instruction": "i", "response": "r"}, null]')
    err = load_error(path)
    assert err.where == str(path)
    assert err.message.startswith("item 2: expected a JSON object")


def test_invalid_json_file_reports_physical_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", '[\n  {"instruction": "i",\n   "response": "r",}\n]\n')
    err = load_error(path)
    assert err.where == f"{path}:3"
    assert err.message.startswith("not valid JSON (")


def test_jsonl_content_in_json_file_gets_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path / "s.json", jsonl({"instruction": "i", "response": "r"}) * 2)
    err = load_error(path)
    assert err.where == f"{path}:2"
    assert "should be named .jsonl" in err.message


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        ('{"instruction": "i", "response": "r"}', 'object with the list under "seeds" or "data"'),
        ('{"seeds": {"a": 1}}', '"seeds" must be a list of seed objects, not an object'),
        ('"hello"', "expected a list of seed objects, got a string"),
    ],
)
def test_json_top_level_of_wrong_shape(tmp_path: Path, content: str, phrase: str) -> None:
    path = write(tmp_path / "s.json", content)
    err = load_error(path)
    assert err.where == str(path)
    assert phrase in err.message


def test_csv_missing_required_column_names_header_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "\nquestion,reply\nq,r\n")
    err = load_error(path)
    assert err.where == f"{path}:2"
    assert err.message.startswith('header has no "response" column')
    assert 'columns found: "question", "reply"' in err.message


def test_csv_repeated_column(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "instruction,response,Response\ni,r,r\n")
    err = load_error(path)
    assert err.where == f"{path}:1"
    assert 'repeats the column "response"' in err.message


def test_csv_row_with_wrong_number_of_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", 'instruction,response\n"a","b"\nsay hi, then bye,ok\n')
    err = load_error(path)
    assert err.where == f"{path}:3"
    assert err.message.startswith("row has 3 fields but the header (line 1) has 2")


def test_csv_empty_required_cell(tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "instruction,answer\ni,r\ni,  \n")
    err = load_error(path)
    assert err.where == f"{path}:3"
    assert err.message.startswith('"answer" is empty')


def test_field_names_in_messages_stay_on_one_line(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", jsonl({"instruction": "i", "bad\nkey": "r"}))
    err = load_error(path)
    assert '"bad\\nkey"' in err.message
