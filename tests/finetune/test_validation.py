"""Validation: one line per error category, the warnings, and the planted defects of the
sample dataset. Expectations are exact: a check that fires where it should not fails too."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from desktop.finetune.duplicates import normalised_words
from desktop.finetune.examples import Message, TrainingExample
from desktop.finetune.jsonl import parse_chat_jsonl, read_chat_jsonl
from desktop.finetune.validation import check_example, summarize, validate_examples
from tests.finetune.conftest import MODEL, SAMPLE_DATASET

SYSTEM = {"role": "system", "content": "You answer questions about Lumenfold Sync."}


def user(text: str, **extra: Any) -> dict[str, Any]:
    return {"role": "user", "content": text, **extra}


def assistant(text: str | None, **extra: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": text, **extra}


def chat(*messages: Any, **extra: Any) -> str:
    return json.dumps({"messages": [SYSTEM, *messages], **extra}, ensure_ascii=False)


def call(call_id: str | None = "call_1", **function: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "function", "function": function}
    if call_id is not None:
        out["id"] = call_id
    return out


WEATHER = {"name": "get_weather", "arguments": '{"city": "Paris"}'}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
LONG_ANSWER = " ".join(["The Hub keeps every version of a file for thirty days."] * 30)
SIMILAR = (
    "Open the Agent, choose Settings, then Folders, pick the folder that stopped syncing, "
    "press Pause, wait until the status turns grey, press Resume, and the Agent rescans the "
    "folder from the start, which can take a few minutes for large folders with many files."
)
EVALUATION = [
    "How do I reset my recovery key?",
    "Which port does the Cloud Relay use for outgoing connections?",
]

# (line, text of the line); every category appears at least once. Line 27 is blank.
LINES: list[tuple[int, str]] = [
    (1, chat(user("What is the sync interval?"), assistant("Five minutes."))),
    (2, '{"messages": ['),
    (3, "[1, 2, 3]"),
    (4, json.dumps({"prompt": "Old format", "completion": "Old answer"})),
    (5, json.dumps({"messages": [SYSTEM, "hello", assistant("Hi.")]})),
    (6, chat(user("Where are invoices?"), {"content": "a stray note"}, assistant("In Billing."))),
    (7, chat(user("Can I pause sync?"), {"role": "assistant"})),
    (8, chat(user("Is there a mobile app?"), assistant("Not yet.", thinking="hmm"))),
    (9, chat(user("Who makes the Hub?"), {"role": "bot", "content": "Lumenfold Labs."})),
    (10, chat(user("Does the Hub need a fan?"), assistant(None))),
    (11, chat(user(""), assistant("Please tell us more."))),
    (12, chat(user("My drive is clicking, what now?"))),
    (13, chat(user("How long is the warranty?"), assistant("Two years.", weight=2))),
    (14, chat(user("Can I get a refund?", weight=1), assistant("Within 30 days."))),
    (15, chat(user("What is the weather?"), assistant("Sunny."), tools={"type": "function"})),
    (16, chat(user("Weather in Rome?"), {"role": "assistant", "tool_calls": {"id": "x"}})),
    (17, chat(user("Weather in Oslo?"), assistant(None, tool_calls=[call(None, **WEATHER)]))),
    (
        18,
        chat(
            user("Weather in Bern?"), assistant(None, tool_calls=[{"id": "c", "type": "function"}])
        ),
    ),
    (19, chat(user("Weather in Kyiv?"), assistant(None, tool_calls=[call("c")]))),
    (
        20,
        chat(
            user("Weather in Lima?"),
            assistant(None, tool_calls=[call("c", name="get_weather", arguments={"city": "Lima"})]),
        ),
    ),
    (
        21,
        chat(
            user("Weather in Riga?"),
            assistant(None, tool_calls=[call("c", name="get_weather", arguments="{oops")]),
        ),
    ),
    (
        22,
        chat(
            user("Weather in Doha?"),
            assistant(None, tool_calls=[call("call_1", **WEATHER)]),
            {"role": "tool", "content": "18 C"},
            assistant("It is 18 degrees in Doha."),
        ),
    ),
    (
        23,
        chat(
            user("Weather in Baku?"),
            assistant(None, tool_calls=[call("call_1", **WEATHER)]),
            {"role": "tool", "tool_call_id": "call_9", "content": "18 C"},
            assistant("It is 18 degrees in Baku."),
        ),
    ),
    (
        24,
        chat(
            user("Weather in Paris?"),
            assistant(None, tool_calls=[call("call_1", **WEATHER)]),
            {"role": "tool", "tool_call_id": "call_1", "content": "18 C"},
            assistant("It is 18 degrees in Paris."),
            tools=TOOLS,
            parallel_tool_calls=False,
        ),
    ),
    (
        25,
        chat(
            user("Hello, is anyone there?", name="anna"),
            assistant("Hi Anna, yes.", weight=0),
            user("How do I add a second Hub?"),
            assistant("Pair it from the first Hub's admin page.", weight=1),
        ),
    ),
    (
        26,
        chat(user("Can I export my audit log?"), {"role": "assistant", "content": "Yes, as CSV."}),
    ),
    (28, json.dumps({"messages": [user("Is the Agent free?"), assistant("Yes, it is.")]})),
    (29, json.dumps({"messages": [SYSTEM, assistant("Welcome to Lumenfold Sync!")]})),
    (30, chat(user("What happens to old versions?"), assistant(LONG_ANSWER))),
    (31, chat(user("What is the sync interval?"), assistant("Five minutes."))),
    (32, chat(user("what is the SYNC interval"), assistant("five minutes!"))),
    (33, chat(user("A folder stopped syncing, how do I restart it?"), assistant(SIMILAR))),
    (
        34,
        chat(
            user("A folder stopped syncing, how do I restart it?"),
            assistant(SIMILAR.replace("grey", "gray")),
        ),
    ),
    (35, chat(user("how do I reset my recovery key"), assistant("You cannot; keep it safe."))),
    (
        36,
        chat(
            user(
                "I read the manual. Question: which port does the Cloud Relay use for "
                "outgoing connections?"
            ),
            assistant("Port 443."),
        ),
    ),
    (37, chat(user("Can two offices share one Hub?"), assistant("Yes, over Cloud Relay."))),
    (38, chat(user("Why?"), assistant("x", weight=float("nan")))),
]
NOT_UTF8_LINE = 39

EXPECTED_PROBLEMS = [  # lines that do not become examples
    (2, "invalid_json"),
    (3, "data_type"),
    (4, "missing_messages_list"),
    (5, "data_type"),
    (38, "invalid_json"),
    (39, "invalid_json"),
]
EXPECTED_ISSUES = [  # (line, category, severity) over the examples that imported
    (6, "message_missing_key", "error"),
    (7, "message_missing_key", "error"),
    (8, "message_unrecognized_key", "error"),
    (9, "unrecognized_role", "error"),
    (9, "example_missing_assistant_message", "error"),
    (10, "missing_content", "error"),
    (11, "missing_content", "error"),
    (12, "example_missing_assistant_message", "error"),
    (13, "invalid_weight", "error"),
    (14, "invalid_weight", "error"),
    (15, "invalid_tools", "error"),
    (16, "invalid_tool_calls", "error"),
    (17, "tool_call_missing_key", "error"),
    (18, "tool_call_missing_key", "error"),
    (19, "tool_call_missing_key", "error"),
    (19, "tool_call_missing_key", "error"),
    (20, "invalid_tool_arguments", "error"),
    (21, "invalid_tool_arguments", "error"),
    (22, "tool_message_missing_id", "error"),
    (23, "unknown_tool_call_id", "error"),
    (28, "missing_system_message", "warning"),
    (29, "missing_user_message", "warning"),
    (30, "too_many_tokens", "warning"),
    (31, "duplicate", "warning"),
    (32, "near_duplicate", "warning"),
    (34, "near_duplicate", "warning"),
    (35, "leakage", "warning"),
    (36, "leakage", "warning"),
]


def jsonl_bytes() -> bytes:
    rows = dict(LINES)
    last = max(rows)
    text = "\n".join(rows.get(n, "") for n in range(1, last + 1)).encode("utf-8")
    return text + b"\n\xff\xfe{}\n"


def test_every_category_is_reported_on_its_line_and_valid_lines_import() -> None:
    result = parse_chat_jsonl(jsonl_bytes())
    problems = sorted((p.line, p.category) for p in result.problems)
    assert problems == sorted(EXPECTED_PROBLEMS)
    assert all(p.severity == "error" and p.index == -1 for p in result.problems)

    report = validate_examples(
        result.examples,
        model=MODEL,
        lines=result.lines,
        token_limit=200,
        evaluation_questions=EVALUATION,
    )
    found = sorted((i.line, i.category, i.severity) for i in report.issues)
    assert found == sorted(EXPECTED_ISSUES)
    # Every line that is neither a problem nor has an error imported as an example.
    imported = set(result.lines)
    assert imported == {n for n, _ in LINES} - {n for n, _ in EXPECTED_PROBLEMS}
    clean = imported - {line for line, _, severity in EXPECTED_ISSUES if severity == "error"}
    assert {1, 24, 25, 26, 37} <= clean
    for issue in report.issues:
        assert result.lines[issue.index] == issue.line


def test_messages_name_the_field_and_the_reason() -> None:
    result = parse_chat_jsonl(jsonl_bytes())
    report = validate_examples(
        result.examples,
        model=MODEL,
        lines=result.lines,
        token_limit=200,
        evaluation_questions=EVALUATION,
    )
    by_line: dict[int | None, list[str]] = {}
    for issue in [*result.problems, *report.issues]:
        by_line.setdefault(issue.line, []).append(issue.message)

    def text(line: int) -> str:
        return " | ".join(by_line[line])

    assert "column" in text(2)
    assert "messages[1] is a string" in text(5)
    assert "messages[2] has no 'role'" in text(6)
    assert "messages[2] has no 'content'" in text(7)
    assert "'thinking'" in text(8)
    assert "messages[2].role is 'bot'" in text(9)
    assert "messages[2].content is null" in text(10)
    assert "messages[1].content is empty" in text(11)
    assert "messages[2].weight is 2" in text(13)
    assert "messages[1].weight is only allowed on assistant messages" in text(14)
    assert "tools is an object, not a list" in text(15)
    assert "messages[2].tool_calls is an object, not a list" in text(16)
    assert "messages[2].tool_calls[0] has no 'id'" in text(17)
    assert "has no 'function'" in text(18)
    assert "function has no 'name'" in text(19) and "function has no 'arguments'" in text(19)
    assert "messages[2].tool_calls[0].function.arguments is an object" in text(20)
    assert "is not valid JSON" in text(21)
    assert "messages[3] (a tool reply) has no tool_call_id" in text(22)
    assert "'call_9'" in text(23)
    assert "over the 200-token" in text(30)
    assert "line 1" in text(31) and "line 1" in text(32) and "line 33" in text(34)
    assert "evaluation question 1" in text(35) and "evaluation question 2" in text(36)
    assert "NaN" in text(38)
    assert "UTF-8" in text(39)


def test_the_sample_dataset_gives_exactly_its_planted_defects() -> None:
    result = read_chat_jsonl(SAMPLE_DATASET)
    assert result.ok and len(result.examples) == 60
    report = validate_examples(result.examples, model=MODEL, lines=result.lines)
    found = [(i.line, i.category) for i in report.issues]
    assert found == [
        (17, "example_missing_assistant_message"),
        (38, "unrecognized_role"),
        (38, "example_missing_assistant_message"),
        (52, "duplicate"),
    ]
    assert "'bot'" in report.issues[1].message
    assert "line 9" in report.issues[3].message
    assert [i.severity for i in report.issues] == ["error", "error", "error", "warning"]
    assert report.counts() == {
        "example_missing_assistant_message": 2,
        "unrecognized_role": 1,
        "duplicate": 1,
    }
    assert summarize(report.issues).splitlines()[0] == "error example_missing_assistant_message: 2"


def test_validation_accepts_raw_values_and_examples_alike() -> None:
    raw: list[Any] = ["not an object", {"messages": "nope"}, {"messages": []}]
    report = validate_examples(raw, model=MODEL)
    assert [(i.index, i.category) for i in report.issues] == [
        (0, "data_type"),
        (1, "missing_messages_list"),
        (2, "missing_messages_list"),
    ]
    assert report.tokens == [None, None, None] and not report.ok


def test_check_example_gives_live_feedback_while_editing() -> None:
    example = TrainingExample((Message("system", "Be brief."), Message("user", "Hi")))
    assert [i.category for i in check_example(example)] == ["example_missing_assistant_message"]
    fixed = TrainingExample((*example.messages, Message("assistant", "Hello.", weight=1)))
    assert check_example(fixed) == []
    assert [i.category for i in check_example(TrainingExample((Message("user", "Hi"),)))] == [
        "example_missing_assistant_message",
        "missing_system_message",
    ]


def test_the_cookbook_crash_cases_are_counted_not_raised() -> None:
    examples = [
        TrainingExample.from_openai(
            {"messages": [SYSTEM, user("Hi"), assistant("Hello", weight=0), assistant("Bye")]}
        ),
        TrainingExample.from_openai(
            {"messages": [SYSTEM, user("Hi"), assistant(None, tool_calls=[call("c", **WEATHER)])]}
        ),
    ]
    report = validate_examples(examples, model=MODEL)
    assert report.ok and report.issues == []
    assert all(t is not None and t.total > 0 for t in report.tokens)


@pytest.mark.parametrize("threshold", [0.8, 0.9])
def test_near_duplicates_match_a_brute_force_search(threshold: float) -> None:
    from tests.finetune.datagen import generated_examples

    examples = generated_examples(600, duplicate_every=0, near_every=15)
    texts = [
        [w for m in e.messages if m.role != "system" for w in normalised_words(m.text)]
        for e in examples
    ]
    pairs = [set(itertools.pairwise(words)) for words in texts]
    expected = {
        j
        for j in range(len(pairs))
        if any(len(pairs[i] & pairs[j]) >= threshold * len(pairs[i] | pairs[j]) for i in range(j))
    }
    assert len(expected) >= 30  # the planted ones, give or take a short text
    report = validate_examples(examples, model=MODEL, near_duplicate_threshold=threshold)
    found = [i.index for i in report.issues if i.category == "near_duplicate"]
    assert set(found) == expected and len(found) == len(expected)
    again = validate_examples(examples, model=MODEL, near_duplicate_threshold=threshold)
    assert again.issues == report.issues
