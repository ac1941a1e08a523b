"""Import and export: round trips byte for byte, CSV mapping, DPO, the open-source shape."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.finetune.examples import Message, PreferenceExample, TrainingExample
from desktop.finetune.jsonl import (
    Column,
    Constant,
    chat_lines,
    chat_messages_record,
    csv_header,
    export_chat_jsonl,
    export_chat_messages_jsonl,
    export_preference_jsonl,
    parse_chat_jsonl,
    parse_csv,
    parse_preference_jsonl,
    read_chat_jsonl,
    read_csv,
    read_preference_jsonl,
)
from desktop.finetune.split import split_by_fraction
from desktop.finetune.validation import validate_preference_examples
from tests.finetune.conftest import SAMPLE_DATASET
from tests.finetune.datagen import generated_examples

# -- round trips ------------------------------------------------------------------------


def test_export_then_import_gives_the_same_examples_byte_for_byte(tmp_path: Path) -> None:
    examples = split_by_fraction(generated_examples(200), 0.2, seed=1)
    tool_example = TrainingExample.from_openai(
        json.loads(
            '{"messages": [{"role": "user", "content": "Wetter in Zürich? ☀"}, {"role": '
            '"assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", '
            '"function": {"name": "weather", "arguments": "{\\"city\\": \\"Zürich\\"}"}}]}, '
            '{"role": "tool", "tool_call_id": "c1", "content": "18 °C"}, {"role": '
            '"assistant", "content": "18 °C.\\u2028Sonnig.", "weight": 1}], "tools": [{"type": '
            '"function", "function": {"name": "weather", "parameters": {}}}], '
            '"parallel_tool_calls": false}'
        )
    )
    examples.append(tool_example)
    train, validation = tmp_path / "train.jsonl", tmp_path / "validation.jsonl"
    summary = export_chat_jsonl(examples, train, validation)
    assert (summary.train, summary.validation) == (161, 40)

    first_train, first_validation = train.read_bytes(), validation.read_bytes()
    assert b"\r" not in first_train and first_train.endswith(b"\n")
    assert "Zürich? ☀".encode() in first_train  # ensure_ascii=False
    back = (
        read_chat_jsonl(train).examples + read_chat_jsonl(validation, split="validation").examples
    )
    assert back == [e for e in examples if e.split == "train"] + [
        e for e in examples if e.split == "validation"
    ]
    export_chat_jsonl(back, train, validation)
    assert train.read_bytes() == first_train and validation.read_bytes() == first_validation
    # One file when no validation path is given.
    everything = tmp_path / "all.jsonl"
    assert export_chat_jsonl(examples, everything).train == 201
    assert everything.read_bytes() == chat_lines(examples)


def test_valid_lines_of_the_sample_round_trip_exactly() -> None:
    data = SAMPLE_DATASET.read_bytes()
    result = read_chat_jsonl(SAMPLE_DATASET)
    assert chat_lines(result.examples) == data
    for line, example in zip(data.splitlines(), result.examples, strict=True):
        assert example.to_openai() == json.loads(line)


def test_a_failed_export_leaves_the_previous_file(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("previous\n", encoding="utf-8")
    broken: list[Any] = [*generated_examples(3), object()]
    with pytest.raises(AttributeError):
        export_chat_jsonl(broken, path)
    assert path.read_text(encoding="utf-8") == "previous\n"
    assert [p.name for p in tmp_path.iterdir()] == ["train.jsonl"]


_text = st.text(max_size=30)
_json_scalar = st.none() | st.booleans() | st.integers(-5, 5) | _text
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_part = st.fixed_dictionaries({"type": st.just("text"), "text": _text})


@st.composite
def openai_messages(draw: st.DrawFn) -> dict[str, Any]:
    message: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        message["role"] = draw(st.sampled_from(["system", "user", "assistant", "tool", "bot", ""]))
    if draw(st.integers(0, 9)):
        message["content"] = draw(_text | st.none() | st.lists(_part, max_size=2) | st.integers())
    if draw(st.booleans()):
        message["name"] = draw(_text | st.none())
    if draw(st.booleans()):
        message["weight"] = draw(st.sampled_from([0, 1, 2, True, "1", 1.0, None]))
    if draw(st.booleans()):
        message["tool_calls"] = draw(st.lists(_json, max_size=2) | _json)
    if draw(st.booleans()):
        message["tool_call_id"] = draw(_text | st.integers())
    extra = draw(st.dictionaries(st.sampled_from(["thinking", "refusal", "x"]), _json, max_size=2))
    return {**message, **extra}


@st.composite
def openai_lines(draw: st.DrawFn) -> dict[str, Any]:
    line: dict[str, Any] = {"messages": draw(st.lists(openai_messages(), min_size=1, max_size=4))}
    if draw(st.booleans()):
        line["tools"] = draw(st.lists(_json, max_size=2) | _json)
    if draw(st.booleans()):
        line["parallel_tool_calls"] = draw(st.booleans() | _json)
    if draw(st.booleans()):
        line["metadata"] = draw(_json)
    keys = list(line)
    order = draw(st.permutations(keys))
    return {key: line[key] for key in order}


_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@_SETTINGS
@given(st.lists(openai_lines(), min_size=1, max_size=4))
def test_any_chat_line_round_trips_to_the_same_json_object(lines: list[dict[str, Any]]) -> None:
    data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    result = parse_chat_jsonl(data)
    assert result.ok
    assert [e.to_openai() for e in result.examples] == lines
    exported = chat_lines(result.examples)
    again = parse_chat_jsonl(exported)
    assert again.examples == result.examples
    assert chat_lines(again.examples) == exported


def test_editing_a_field_replaces_a_wrong_value_kept_from_the_file() -> None:
    example = TrainingExample.from_openai(
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": None}]}
    )
    reply = example.messages[1]
    assert reply.content is None and reply.to_openai() == {"role": "assistant", "content": None}
    fixed = replace(reply, content="Hello")
    assert fixed.to_openai() == {"role": "assistant", "content": "Hello"} and fixed.extra == ()
    prompt = example.with_system_prompt("Be kind.")
    assert prompt.messages[0] == Message("system", "Be kind.")
    assert prompt.with_system_prompt("Be brief.").system_prompt == "Be brief."
    assert prompt.with_system_prompt(None).messages == example.messages


# -- problems while reading ----------------------------------------------------------------


def test_unreadable_lines_are_reported_and_the_rest_import() -> None:
    good = json.dumps({"messages": [{"role": "user", "content": "a"}]})
    data = (
        b"\xef\xbb\xbf"  # a byte-order mark
        + good.encode()
        + b"\r\n\n   \n{bad json}\n"
        + b'"just a string"\n'
        + b'{"messages": "x"}\n'
        + b'{"messages": [{"role": "user", "content": "\\ud800"}]}\n'
        + good.encode()
    )
    result = parse_chat_jsonl(data)
    assert result.lines == [1, 8]
    assert [(p.line, p.category) for p in result.problems] == [
        (4, "invalid_json"),
        (5, "data_type"),
        (6, "missing_messages_list"),
        (7, "invalid_json"),
    ]
    assert "surrogate" in result.problems[3].message
    assert result.describe() == "2 example(s) read; 4 line(s) could not be read"


# -- CSV ------------------------------------------------------------------------------------

CSV = (
    "question;answer;labels;where\n"
    "How do I pair a device?;Open the Agent and enter the code.;setup, agent;train\n"
    '"Two lines\nof question";"An answer; with a semicolon";;validation\n'
    "\n"
    "Short row only\n"
    "What port?;443.;network;test\n"
)


def test_csv_import_follows_the_column_mapping(tmp_path: Path) -> None:
    path = tmp_path / "faq.csv"
    path.write_bytes(b"\xef\xbb\xbf" + CSV.encode())
    assert csv_header(path) == ["question", "answer", "labels", "where"]
    mapping = {
        "system": Constant("You are the Lumenfold helpdesk."),
        "user": "question",
        "assistant": Column("answer"),
        "tags": "labels",
        "split": Column(3),
    }
    result = read_csv(path, mapping)
    assert [e.question for e in result.examples] == [
        "How do I pair a device?",
        "Two lines\nof question",
        "What port?",
    ]
    assert result.lines == [2, 3, 7]
    first = result.examples[0]
    assert first.to_openai() == {
        "messages": [
            {"role": "system", "content": "You are the Lumenfold helpdesk."},
            {"role": "user", "content": "How do I pair a device?"},
            {"role": "assistant", "content": "Open the Agent and enter the code."},
        ]
    }
    assert first.tags == ("setup", "agent") and first.split == "train"
    assert result.examples[1].answer == "An answer; with a semicolon"
    assert result.examples[1].split == "validation"
    assert [(p.line, p.index, p.severity) for p in result.problems] == [
        (6, -1, "error"),
        (7, 2, "warning"),
    ]
    assert "1 field(s); the assistant column is field 2" in result.problems[0].message
    assert "'test'" in result.problems[1].message


def test_csv_without_header_uses_positions_and_a_missing_column_is_reported() -> None:
    result = parse_csv("q1,a1\nq2,a2\n", {"user": 0, "assistant": 1}, has_header=False)
    assert [(e.question, e.answer, e.system_prompt) for e in result.examples] == [
        ("q1", "a1", None),
        ("q2", "a2", None),
    ]
    missing = parse_csv("question,reply\nq,a\n", {"user": "question", "assistant": "answer"})
    assert missing.examples == []
    assert [p.line for p in missing.problems] == [1]
    assert "no column named 'answer'" in missing.problems[0].message
    with pytest.raises(ValueError, match="assistant"):
        parse_csv("q\n", {"user": 0})


# -- DPO -------------------------------------------------------------------------------------


def preference(number: int) -> dict[str, Any]:
    return {
        "input": {
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": f"Question {number}: how do I restart sync?"},
            ]
        },
        "preferred_output": [{"role": "assistant", "content": "Pause and resume the folder."}],
        "non_preferred_output": [{"role": "assistant", "content": f"I don't know ({number})."}],
    }


def test_dpo_import_validate_and_export_round_trip(tmp_path: Path) -> None:
    lines = [json.dumps(preference(n), ensure_ascii=False) for n in range(6)]
    lines.insert(2, json.dumps({"input": {"messages": []}, "preferred_output": []}))
    lines.insert(4, json.dumps({**preference(9), "preferred_output": [{"role": "user"}]}))
    path = tmp_path / "dpo.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_preference_jsonl(path)
    assert [(p.line, p.category) for p in result.problems] == [(3, "missing_messages_list")]
    assert result.lines == [1, 2, 4, 5, 6, 7, 8]
    issues = validate_preference_examples(result.examples, lines=result.lines)
    assert sorted({(i.line, i.category) for i in issues}) == [
        (5, "invalid_output"),
        (5, "message_missing_key"),
    ]
    valid = [e for e, line in zip(result.examples, result.lines, strict=True) if line != 5]
    assert all(isinstance(e, PreferenceExample) for e in valid)
    assert valid[0].question == "Question 0: how do I restart sync?"
    held = [replace(e, split="validation") if i == 1 else e for i, e in enumerate(valid)]
    train, validation = tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    summary = export_preference_jsonl(held, train, validation)
    assert (summary.train, summary.validation) == (5, 1)
    first = train.read_bytes()
    assert first.decode().splitlines()[0] == lines[0]
    back = read_preference_jsonl(train).examples
    assert back == [e for e in held if e.split == "train"]
    export_preference_jsonl(back + parse_preference_jsonl(validation.read_bytes()).examples, train)
    assert train.read_bytes() == first + validation.read_bytes()


# -- the open-source shape --------------------------------------------------------------------


def test_chat_messages_export_drops_openai_only_keys(tmp_path: Path) -> None:
    example = TrainingExample.from_openai(
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "name": "anna", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": "Hello!", "weight": 0},
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "5 C"},
                {"role": "assistant", "content": "5 degrees.", "weight": 1},
            ],
            "tools": [{"type": "function", "function": {"name": "weather"}}],
            "parallel_tool_calls": False,
        }
    )
    record = chat_messages_record(example)
    assert record == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": {"city": "Oslo"}},
                    }
                ],
            },
            {"role": "tool", "content": "5 C", "tool_call_id": "c1"},
            {"role": "assistant", "content": "5 degrees."},
        ],
        "tools": [{"type": "function", "function": {"name": "weather"}}],
    }
    flagged = chat_messages_record(example, training_field="train")
    assert [m.get("train") for m in flagged["messages"]] == [
        None,
        None,
        False,
        None,
        None,
        None,
        True,
    ]
    path = tmp_path / "sft.jsonl"
    assert export_chat_messages_jsonl([example], path).train == 1
    assert json.loads(path.read_text(encoding="utf-8")) == record
