"""Issue 15, point 15: a JSONL line holding the same key twice in one object is an error
naming the line and the key (JSON readers silently keep the last one; the user never
meant both). Hypothesis builds lines from the chat format and repeats one key somewhere
in them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desktop.finetune.jsonl import _shown_key, iter_json_lines, parse_chat_jsonl
from tests.finetune.test_jsonl import openai_lines

GOOD = json.dumps({"messages": [{"role": "user", "content": "Hi"}]})


def objects(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], dict]]:
    """Every JSON object inside ``value`` with its path, outermost first."""
    found: list[tuple[tuple[Any, ...], dict]] = []
    if isinstance(value, dict):
        found.append((path, value))
        for key, inner in value.items():
            found += objects(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += objects(inner, (*path, index))
    return found


def dumps_repeating(value: Any, target: tuple[Any, ...], key: str, here: tuple = ()) -> str:
    """``json.dumps`` that writes ``key`` twice in the object at ``target`` (first with a
    decoy value)."""
    if isinstance(value, dict):
        parts = [
            f"{json.dumps(k)}: {dumps_repeating(v, target, key, (*here, k))}"
            for k, v in value.items()
        ]
        if here == target:
            parts.insert(0, f'{json.dumps(key)}: "decoy"')
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        items = [dumps_repeating(v, target, key, (*here, i)) for i, v in enumerate(value)]
        return "[" + ", ".join(items) + "]"
    return json.dumps(value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(openai_lines(), st.data())
def test_a_repeated_key_anywhere_in_a_line_is_named(line: dict[str, Any], data: Any) -> None:
    candidates = [(path, obj) for path, obj in objects(line) if obj]
    path, obj = data.draw(st.sampled_from(candidates))
    key = data.draw(st.sampled_from(sorted(obj)))
    text = GOOD + "\n" + dumps_repeating(line, path, key) + "\n" + GOOD + "\n"
    result = parse_chat_jsonl(text)
    assert result.lines == [1, 3]
    [problem] = result.problems
    assert problem.line == 2
    assert problem.message.startswith("the key ") and " appears twice " in problem.message
    assert _shown_key(key) in problem.message


def test_the_reason_names_the_line_and_the_key() -> None:
    line = '{"messages": [{"role": "user", "role": "assistant", "content": "Hi"}]}'
    [(number, value, reason)] = list(iter_json_lines(line.encode()))
    assert (number, value) == (1, None)
    assert reason == (
        'the key "role" appears twice in one object; JSON readers would keep only the last '
        "one, so say which one is meant"
    )
    result = parse_chat_jsonl(GOOD + "\n" + line + "\n")
    assert result.describe() == "1 example(s) read; 1 line(s) could not be read"
    assert result.problems[0].line == 2


def test_a_key_that_cannot_be_printed_is_shown_escaped() -> None:
    line = '{"messages": [], "\\ud800": 1, "\\ud800": 2}'
    [(_, _, reason)] = list(iter_json_lines(line.encode()))
    assert reason is not None and reason.startswith('the key "\\ud800" appears twice')
    reason.encode("utf-8")  # printable
    long = "k" * 100
    [(_, _, reason)] = list(iter_json_lines(f'{{"{long}": 1, "{long}": 2}}'.encode()))
    assert reason is not None and '"kkkk' in reason and "…" in reason and long not in reason
