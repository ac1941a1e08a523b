"""Format adherence: JSON, the JSON Schema subset, templates inferred from a dataset."""

from __future__ import annotations

import pytest

from desktop.evaluation.formats import SchemaError, check_format, check_schema, infer_format
from desktop.evaluation.records import FormatSpec
from desktop.finetune.examples import Message, TrainingExample
from desktop.finetune.jsonl import read_chat_jsonl
from desktop.resources import resource

SCHEMA = {
    "type": "object",
    "required": ["category", "answer", "escalate"],
    "properties": {
        "category": {"enum": ["setup", "sync", "billing"]},
        "answer": {"type": "string", "minLength": 3},
        "escalate": {"type": "boolean"},
        "steps": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    },
    "additionalProperties": False,
}


def test_no_format_declared_never_fails() -> None:
    assert check_format("anything at all", FormatSpec()) is None


def test_json_format_names_the_first_violation() -> None:
    spec = FormatSpec("json")
    assert check_format('{"a": 1}', spec) is None
    assert check_format('```json\n["a"]\n```', spec) is None
    assert check_format("", spec) == "the answer is empty"
    assert check_format('{"a": 1,}', spec) == (
        "not valid JSON at line 1, column 9: expecting property name enclosed in double quotes"
    )
    assert check_format("Restart the Agent, then pair it again.", spec) == (
        "plain text, not JSON (it begins “Restart the Agent, then pair it again.”)"
    )
    assert check_format("42", spec) == "not a JSON object or array"


def test_json_schema_subset() -> None:
    spec = FormatSpec("json_schema", schema=SCHEMA)
    good = '{"category": "sync", "answer": "Restart the Agent.", "escalate": false}'
    assert check_format(good, spec) is None
    assert check_format('{"category": "sync", "answer": "Hi."}', spec) == "$ has no 'escalate'"
    assert (
        check_format('{"category": "legal", "answer": "Hi there", "escalate": true}', spec)
        == '$.category is "legal", not one of "setup", "sync", "billing"'
    )
    assert (
        check_format('{"category": "sync", "answer": "Hi there", "escalate": "no"}', spec)
        == '$.escalate is "no", not of type boolean'
    )
    assert (
        check_format(
            '{"category": "sync", "answer": "ok go", "escalate": true, "steps": ["a", 1]}', spec
        )
        == "$.steps[1] is 1, not of type string"
    )
    assert (
        check_format('{"category": "sync", "answer": "ok go", "escalate": true, "x": 1}', spec)
        == "$ has an unexpected key 'x'"
    )
    assert check_format('{"category": "sync", "answer": "no", "escalate": true}', spec) == (
        "$.answer is shorter than 3 characters"
    )


def test_a_schema_outside_the_subset_is_refused_with_the_keyword() -> None:
    check_schema(SCHEMA)
    with pytest.raises(SchemaError, match=r"\$\.answer uses pattern"):
        check_schema({"properties": {"answer": {"type": "string", "pattern": "^Hi"}}})
    with pytest.raises(SchemaError, match="unknown type 'text'"):
        check_schema({"type": "text"})


def test_template_of_keys_and_of_lines() -> None:
    keys = FormatSpec("template", json_keys=("answer", "category"))
    assert check_format('{"category": "a", "answer": "b"}', keys) is None
    assert check_format('{"category": "a"}', keys) == "no 'answer' key"
    assert check_format('{"category": "a", "answer": "b", "mood": 1}', keys) == (
        "an unexpected key 'mood'"
    )
    assert check_format('["a"]', keys) == "a JSON array, where the replies are JSON objects"
    lines = FormatSpec("template", skeleton=("answer:", "- next step:", "¶"))
    assert check_format("Answer: yes\n- Next step: restart\nThanks.", lines) is None
    assert check_format("Answer: yes\nThanks.", lines) == (
        "part 2 is a paragraph where the template has “- next step:”"
    )
    assert check_format("Answer: yes\n- Next step: restart", lines) == "ends before a paragraph"


def test_the_sample_datasets_format_is_inferred_from_its_replies() -> None:
    examples = read_chat_jsonl(resource("datasets", "support-replies.jsonl")).examples
    spec, message = infer_format(examples, "dataset “Support”")
    assert spec.kind == "template"
    assert spec.json_keys == ("answer", "category", "escalate", "next_step")
    assert message.endswith(
        "replies in dataset “Support” are JSON objects with the keys answer, category, "
        "escalate, next_step"
    )
    prose = [
        TrainingExample((Message("user", f"q{n}"), Message("assistant", f"Plain answer {n}.")))
        for n in range(4)
    ]
    none, why = infer_format(prose, "dataset “Prose”")
    assert not none.declared and "share no format" in why
    templated = [
        TrainingExample(
            (Message("user", "q"), Message("assistant", f"Cause: x{n}\nFix: y\n- step"))
        )
        for n in range(3)
    ]
    template, _ = infer_format(templated, "d")
    assert template.skeleton == ("cause:", "fix:", "-")
