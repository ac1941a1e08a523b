"""Drafting examples from chunks with the real openai client against the fake server."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from desktop.finetune.generate import (
    ChunkFailure,
    GenerationResult,
    ProposedExample,
    generate_examples,
    parse_pairs,
)
from desktop.finetune.validation import validate_examples
from desktop.progress import CancelToken, Progress
from tests.finetune.conftest import MODEL
from tests.helpers.fake_openai import FakeOpenAI

CHUNKS = [
    "The Hub keeps deleted files for 30 days in the Recycle folder.",
    "GARBAGE",
    "Cloud Relay uses port 443 for outgoing connections only.",
    "The Agent checks for updates every night at 02:00.",
]


@dataclass(frozen=True)
class StoredChunkLike:
    text: str
    document_id: int
    index: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()


def passage(body: dict[str, Any]) -> str:
    match = re.search(r"<<<\n(.*)\n>>>", body["messages"][-1]["content"], re.DOTALL)
    assert match is not None
    return match.group(1)


def reply(body: dict[str, Any]) -> str:
    """Two pairs about the passage, in a different dress for each chunk."""
    text = passage(body)
    if text == "GARBAGE":
        return "Sorry, I cannot help with that."
    first = text.split(".")[0]
    pairs = [
        {"question": f"What about {first.lower()}?", "answer": f"{first}."},
        {"Question": f"Is it true that {first.lower()}?", "Answer": f"Yes: {first}."},
        {"question": "An extra one", "answer": "beyond per_chunk"},
    ]
    if "port" in text:
        return "Here you go:\n```json\n" + json.dumps({"pairs": pairs}) + "\n```"
    return json.dumps({"examples": pairs})


@pytest.fixture
def client(fake_openai: FakeOpenAI) -> Iterator[openai.OpenAI]:
    fake_openai.chat_reply = reply
    with openai.OpenAI(
        base_url=fake_openai.base_url, api_key="sk-test", max_retries=0, timeout=10
    ) as c:
        yield c


def run(generator: Any) -> tuple[list[Any], GenerationResult]:
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return events, stop.value


def test_examples_arrive_as_they_are_drafted_and_a_bad_reply_is_reported(
    client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    chunks = [StoredChunkLike(text, document_id=7, index=i) for i, text in enumerate(CHUNKS)]
    events, result = run(
        generate_examples(client, "gpt-4o-mini", chunks, per_chunk=2, system_prompt="Be brief.")
    )
    proposed = [e for e in events if isinstance(e, ProposedExample)]
    failures = [e for e in events if isinstance(e, ChunkFailure)]
    assert [p.chunk_index for p in proposed] == [0, 0, 2, 2, 3, 3]
    assert [f.chunk_index for f in failures] == [1]
    assert "no JSON" in failures[0].reason and failures[0].reply.startswith("Sorry")
    assert result.proposed == tuple(proposed) and result.failures == tuple(failures)
    assert (result.chunks_done, result.cancelled) == (4, False)
    # Progress comes before each chunk's request, then once at the end.
    progress = [e for e in events if isinstance(e, Progress)]
    assert [(p.done, p.total) for p in progress] == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]
    assert events.index(progress[1]) > events.index(proposed[1])

    example = proposed[2].example
    assert example.to_openai() == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": "What about cloud relay uses port 443 for outgoing connections only?",
            },
            {
                "role": "assistant",
                "content": "Cloud Relay uses port 443 for outgoing connections only.",
            },
        ]
    }
    assert example.tags == ("generated",) and "document 7, chunk 3" in example.notes
    report = validate_examples([p.example for p in proposed], model=MODEL)
    assert report.ok

    requests = fake_openai.requests_to("/v1/chat/completions")
    assert len(requests) == 4
    body = requests[0].json
    assert body["model"] == "gpt-4o-mini"
    assert body["response_format"] == {"type": "json_object"}
    instructions = body["messages"][0]["content"]
    assert "Write 2 question-and-answer pairs" in instructions
    assert "Use only what the passage states" in instructions and "JSON" in instructions


def test_a_cancel_stops_before_the_next_request_and_keeps_what_was_proposed(
    client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    cancel = CancelToken()
    generator = generate_examples(client, "gpt-4o-mini", CHUNKS, per_chunk=2, cancel=cancel)
    accepted = []
    events = []
    while True:
        try:
            event = next(generator)
        except StopIteration as stop:
            result = stop.value
            break
        events.append(event)
        if isinstance(event, ProposedExample):
            accepted.append(event.example)  # the reviewer accepts it...
            cancel.cancel()  # ...and stops the run
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1
    # The rest of the reply that had already arrived is still proposed.
    assert len(accepted) == 2 and [p.example for p in result.proposed] == accepted
    assert result.cancelled and result.chunks_done == 1
    assert isinstance(events[-1], Progress) and events[-1].message == "Cancelled"


def test_a_chunk_the_server_refuses_is_reported_and_a_wrong_key_stops_the_run(
    client: openai.OpenAI, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/chat/completions", 400, body={"error": {"message": "too long"}})
    _, result = run(generate_examples(client, "gpt-4o-mini", CHUNKS[2:], per_chunk=1))
    assert [f.reason for f in result.failures] == ["the server refused this chunk: too long"]
    assert len(result.proposed) == 1
    fake_openai.inject("/v1/chat/completions", 401)
    with pytest.raises(openai.AuthenticationError):
        run(generate_examples(client, "gpt-4o-mini", CHUNKS, per_chunk=1))


@pytest.mark.parametrize(
    ("reply_text", "pairs"),
    [
        ('{"examples": [{"question": "Q?", "answer": "A."}]}', [("Q?", "A.")]),
        ('[{"q": "Q?", "a": "A."}, {"q": "", "a": "x"}]', [("Q?", "A.")]),
        ('Sure! {"question": "Q?", "answer": "A."} Hope that helps.', [("Q?", "A.")]),
        ('```\n{"data": [["Q?", "A."]]}\n```', [("Q?", "A.")]),
        ('{"result": [{"prompt": "Q?", "completion": "A."}]}', [("Q?", "A.")]),
    ],
)
def test_replies_are_parsed_leniently(reply_text: str, pairs: list[tuple[str, str]]) -> None:
    assert parse_pairs(reply_text) == pairs


@pytest.mark.parametrize(
    "reply_text", ["", "no json here", '{"examples": []}', '{"examples": [{"q": 1']
)
def test_replies_without_pairs_raise(reply_text: str) -> None:
    with pytest.raises(ValueError, match="reply"):
        parse_pairs(reply_text)
