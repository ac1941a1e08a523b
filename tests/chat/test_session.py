"""Asking questions against the fake OpenAI server: streaming, stop, every error the
issue names, citations, history."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from desktop.chat.answer import AnswerDelta, RateLimitWait
from desktop.chat.history import ChatHistory
from desktop.chat.session import AnswerRecord, AskOptions, SourcesReady
from desktop.context import AppContext
from desktop.progress import CancelToken
from desktop.retrieval.search import SearchSettings
from desktop.retrieval.service import RetrievalService
from tests.helpers.chat_workspace import session
from tests.helpers.fake_openai import FakeOpenAI

RAG = AskOptions(model="gpt-4.1-mini", mode="rag", search=SearchSettings(k=3, threshold=0.0))


def run(operation) -> tuple[list[object], AnswerRecord]:
    events = []
    while True:
        try:
            events.append(next(operation))
        except StopIteration as stop:
            return events, stop.value


def test_a_grounded_answer_streams_token_by_token_with_sources_first(
    chat_context: AppContext, retrieval: RetrievalService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_reply = "Refunds arrive within 14 days [1]."
    history = ChatHistory(chat_context.workspace)
    conversation = history.create()
    events, record = run(
        session(chat_context, retrieval).ask(
            "When do I get my money back?",
            RAG,
            conversation_id=conversation,
        )
    )
    assert isinstance(events[0], SourcesReady)
    deltas = [e.text for e in events if isinstance(e, AnswerDelta)]
    assert len(deltas) >= 5  # word by word, not one block
    assert "".join(deltas) == record.outcome.text == "Refunds arrive within 14 days [1]."
    assert record.outcome.status == "complete" and record.outcome.ok
    assert record.sources[0].document == "Refunds"
    assert record.cited == [1]
    assert record.unused == list(range(2, len(record.sources) + 1))
    sent = fake_openai.requests_to("/v1/chat/completions")[0].json
    assert sent["stream"] is True
    assert '<source id="1" document="Refunds"' in sent["messages"][-1]["content"]
    assert record.outcome.usage.get("total_tokens", 0) > 0

    turns = history.turns(conversation)
    assert [(t.question, t.answer, t.status) for t in turns] == [
        ("When do I get my money back?", "Refunds arrive within 14 days [1].", "complete")
    ]
    assert turns[0].prompt["parts"]["sources"] > 0
    assert history.conversations()[0].title == "When do I get my money back?"
    markdown = history.export_markdown(conversation)
    assert "## Q: When do I get my money back?" in markdown
    assert "1. Refunds (cited" in markdown and "retrieved, not cited" in markdown


def test_a_follow_up_sees_the_earlier_turn(
    chat_context: AppContext, retrieval: RetrievalService, fake_openai: FakeOpenAI
) -> None:
    history = ChatHistory(chat_context.workspace)
    conversation = history.create()
    run(session(chat_context, retrieval).ask("Which port?", RAG, conversation_id=conversation))
    run(
        session(chat_context, retrieval).ask(
            "And on which network?", RAG, conversation_id=conversation
        )
    )
    messages = fake_openai.requests_to("/v1/chat/completions")[1].json["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "Which port?"


def test_stop_ends_the_stream_at_once_and_keeps_the_partial_answer(
    chat_context: AppContext, retrieval: RetrievalService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_reply = " ".join(f"word{i}" for i in range(200))
    fake_openai.stream_delay = 0.05
    cancel = CancelToken()
    operation = session(chat_context, retrieval).ask("Tell me everything", RAG, cancel=cancel)
    events = []
    for event in operation:
        events.append(event)
        if len([e for e in events if isinstance(e, AnswerDelta)]) == 3:
            break
    stopped_at = time.perf_counter()
    threading.Timer(0, cancel.cancel).start()
    _, record = run(operation)
    assert time.perf_counter() - stopped_at < 0.2
    assert record.outcome.status == "stopped"
    assert record.outcome.text.startswith("word0 word1")
    assert "Stopped" in record.outcome.status_note()


@pytest.mark.parametrize(
    ("fault", "status", "kind", "words"),
    [
        ({"status": 401}, "error", "auth", "rejected the API key"),
        ({"status": 429, "retry_after": 60}, "error", "rate_limit", "rate limiting"),
        ({"status": 500}, "error", "server", "server error"),
        ({"delay": 3}, "error", "timeout", "did not answer within 1 s"),
        ({"cut_stream_after": 4}, "cut_off", "incomplete", "without a finish reason"),
        (
            {"cut_stream_after": 4, "abrupt": True},
            "cut_off",
            "connection",
            "connection to 127.0.0.1",
        ),
        ({"malformed_chunk": True}, "cut_off", "malformed", "malformed"),
    ],
    ids=["401", "429", "500", "timeout", "no-finish-reason", "connection-lost", "malformed"],
)
def test_each_failure_gives_its_message_and_keeps_what_arrived(
    chat_context: AppContext,
    retrieval: RetrievalService,
    fake_openai: FakeOpenAI,
    fault: dict,
    status: str,
    kind: str,
    words: str,
) -> None:
    chat_context.save_settings(chat_context.settings.replace(request_timeout=1.0))
    times = 4 if fault.get("status") == 429 else 1
    fake_openai.inject("/v1/chat/completions", times=times, **fault)
    if fault.get("status") == 429:
        fault_wait = CancelToken()
        operation = session(chat_context, retrieval).ask("Which port?", RAG, cancel=fault_wait)
        events = []
        for event in operation:
            events.append(event)
            if isinstance(event, RateLimitWait):
                assert event.seconds == 60  # the server's Retry-After is shown
                fault_wait.cancel()
        assert any(isinstance(e, RateLimitWait) for e in events)
        return
    history = ChatHistory(chat_context.workspace)
    conversation = history.create()
    _, record = run(
        session(chat_context, retrieval).ask("Which port?", RAG, conversation_id=conversation)
    )
    assert record.outcome.status == status
    assert record.outcome.error_kind == kind
    assert words in record.outcome.status_note()
    if status == "cut_off":
        assert record.outcome.text  # the partial answer is kept
    # The conversation stays usable: the next question is answered normally.
    _, after = run(
        session(chat_context, retrieval).ask("Which port?", RAG, conversation_id=conversation)
    )
    assert after.outcome.status == "complete"
    assert [t.status for t in history.turns(conversation)] == [status, "complete"]


def test_a_429_is_waited_out_and_then_answered(
    chat_context: AppContext, retrieval: RetrievalService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/chat/completions", 429, retry_after=0.3)
    events, record = run(session(chat_context, retrieval).ask("Which port?", RAG))
    waits = [e for e in events if isinstance(e, RateLimitWait)]
    assert [w.seconds for w in waits] == [0.3]
    assert record.outcome.status == "complete"


def test_an_unknown_model_is_a_404_with_a_readable_message(
    chat_context: AppContext, retrieval: RetrievalService
) -> None:
    _, record = run(
        session(chat_context, retrieval).ask(
            "Which port?", AskOptions(model="gpt-retired-2024", mode="rag")
        )
    )
    assert record.outcome.error_kind == "not_found"
    assert "retired or unknown" in record.outcome.status_note()


def test_without_a_provider_the_sources_still_come(app_context: AppContext, tmp_path: Path) -> None:
    from desktop.progress import run_to_end

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ports.md").write_text("# Network\n\nThe Hub listens on port 47120.")
    app_context.save_settings(app_context.settings.replace(retrieval_embedder="local"))
    run_to_end(app_context.library().import_paths([tmp_path / "d"]))
    events, record = run(
        app_context.chat().ask(
            "Which port?",
            AskOptions(model="gpt-4.1-mini", mode="rag", search=SearchSettings(mode="lexical")),
        )
    )
    assert isinstance(events[0], SourcesReady)
    assert record.outcome.status == "no_provider"
    assert "Settings" in record.outcome.status_note()
    assert record.sources[0].document == "Network"


def test_no_retrieval_mode_sends_no_sources(
    chat_context: AppContext, retrieval: RetrievalService, fake_openai: FakeOpenAI
) -> None:
    events, record = run(
        session(chat_context, retrieval).ask("Hi?", AskOptions(model="gpt-4.1-mini", mode="none"))
    )
    assert not any(isinstance(e, SourcesReady) for e in events)
    assert fake_openai.requests_to("/v1/chat/completions")[0].json["messages"][-1] == {
        "role": "user",
        "content": "Hi?",
    }
    assert record.sources == []
