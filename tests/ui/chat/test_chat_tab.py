from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QUrl
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.retrieval.service import RetrievalService, search_settings
from desktop.ui.chat.chat_tab import ChatTab
from desktop.warmup import warm_up
from desktop.workers import TaskManager
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.responsiveness import Heartbeat

QUESTION = "When do I get my money back?"


@pytest.fixture
def chat(
    qtbot: QtBot, chat_context: AppContext, retrieval: RetrievalService, tasks: TaskManager
) -> ChatTab:
    warm_up(chat_context)  # as the app does after its first paint
    tab = ChatTab(chat_context, tasks, retrieval, lambda title, error: None)
    qtbot.addWidget(tab)
    tab.resize(1300, 800)
    tab.show()
    qtbot.waitUntil(lambda: tab.model.count() > 0, timeout=5000)  # models listed
    return tab


def ask_and_wait(qtbot: QtBot, chat: ChatTab, question: str = QUESTION) -> None:
    chat.input.setPlainText(question)
    worker = chat.ask()
    assert worker is not None
    qtbot.waitUntil(lambda: chat.active is None, timeout=20_000)


def test_an_answer_streams_into_the_view_with_its_sources_and_citations(
    qtbot: QtBot,
    chat: ChatTab,
    fake_openai: FakeOpenAI,
    retrieval: RetrievalService,
    chat_context: AppContext,
) -> None:
    fake_openai.chat_reply = (
        "Refunds arrive within 14 days [1]. The port is listed "
        "elsewhere [2]. " + "More words follow here. " * 10
    )
    fake_openai.stream_delay = 0.02
    lengths: list[int] = []
    chat.input.setPlainText(QUESTION)
    with Heartbeat() as heartbeat:
        chat.ask()
        card = chat.view.cards[-1]
        while chat.active is not None:
            qtbot.wait(15)
            lengths.append(len(card.text))
    heartbeat.assert_kept_ticking()
    growth = sorted(set(lengths))
    assert len(growth) > 10, "the answer arrived in pieces, not all at once"
    assert card.status == "complete"
    assert "Refunds arrive within 14 days" in card.answer.toPlainText()

    # The sources pane shows what the retrieval layer returns for the same question.
    expected = retrieval.search(QUESTION, search_settings(chat_context.settings), log_kind=None)
    shown = chat.sources.sources
    assert [(s.chunk_id, round(s.score, 6), s.cosine) for s in shown] == [
        (r.chunk_id, round(r.score, 6), r.cosine) for r in expected.usable
    ]
    assert chat.sources.cited == [1, 2]
    pane_text = chat.sources.browser.toPlainText()
    assert f"[1] {shown[0].document}" in pane_text and "cited" in pane_text
    assert f"cosine {shown[0].cosine:.3f}" in pane_text

    # A citation in the answer links to its chunk.
    card.answer.anchorClicked.emit(QUrl("cite:2"))
    assert chat.sources.current == 2
    assert "[[2]](cite:2)" in card.answer.document().toMarkdown().replace("\\", "")

    # The conversation was saved and listed.
    qtbot.waitUntil(lambda: chat.conversation_list.count() == 1, timeout=5000)
    assert chat.conversation_list.item(0).text() == QUESTION


def test_stop_ends_the_answer_within_200_ms_and_keeps_it(
    qtbot: QtBot, chat: ChatTab, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_reply = " ".join(f"word{i}" for i in range(400))
    fake_openai.stream_delay = 0.05
    chat.input.setPlainText(QUESTION)
    chat.ask()
    card = chat.view.cards[-1]
    qtbot.waitUntil(lambda: len(card.text.split()) >= 3, timeout=10_000)
    pressed = time.perf_counter()
    chat.stop_button.click()
    qtbot.waitUntil(lambda: chat.active is None, timeout=2000)
    assert time.perf_counter() - pressed < 0.2
    assert card.status == "stopped"
    assert "Stopped" in card.note.text()
    assert card.text.startswith("word0")
    assert card.retry_button.isVisible()


def test_an_error_is_a_message_in_the_conversation_which_stays_usable(
    qtbot: QtBot, chat: ChatTab, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/chat/completions", 401)
    ask_and_wait(qtbot, chat)
    failed = chat.view.cards[-1]
    assert failed.status == "error"
    assert "rejected the API key (401 Unauthorized)" in failed.note.text()
    assert failed.settings_button.isVisible()
    ask_and_wait(qtbot, chat)
    assert chat.view.cards[-1].status == "complete"
    assert len(chat.view.cards) == 2


def test_a_retired_model_offers_the_models_the_server_lists(qtbot: QtBot, chat: ChatTab) -> None:
    chat.model.setCurrentText("gpt-3-retired")
    ask_and_wait(qtbot, chat)
    note = chat.view.cards[-1].note.text()
    assert "404" in note and "Models this server lists:" in note and "gpt-4.1-mini" in note


def test_a_cut_stream_keeps_the_partial_answer_and_says_so(
    qtbot: QtBot, chat: ChatTab, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/chat/completions", cut_stream_after=4)
    ask_and_wait(qtbot, chat)
    card = chat.view.cards[-1]
    assert card.status == "cut_off"
    assert card.text and "cut off" in card.note.text()


def test_compare_shows_four_columns_with_latency_and_tokens(
    qtbot: QtBot, chat: ChatTab, fake_openai: FakeOpenAI
) -> None:
    fake_openai.models.append("ft:gpt-4.1-mini:acme::abc123")
    chat.refresh_models()
    qtbot.waitUntil(lambda: "ft:gpt-4.1-mini:acme::abc123" in chat.models, timeout=5000)
    view = chat.compare(QUESTION)
    assert view is not None
    qtbot.addWidget(view)
    assert [c.label for c in view.columns] == [
        "Base model alone",
        "Base + RAG",
        "Fine-tuned alone",
        "Fine-tuned + RAG",
    ]
    qtbot.waitUntil(lambda: all("s ·" in m.text() for m in view.metrics), timeout=20_000)
    assert all("tokens" in m.text() for m in view.metrics)
    models = [r.json["model"] for r in fake_openai.requests_to("/v1/chat/completions")]
    assert models == [
        "gpt-4.1-mini",
        "gpt-4.1-mini",
        "ft:gpt-4.1-mini:acme::abc123",
        "ft:gpt-4.1-mini:acme::abc123",
    ]
    grounded = [
        r.json["messages"][-1]["content"].startswith("Sources:")
        for r in fake_openai.requests_to("/v1/chat/completions")
    ]
    assert grounded == [False, True, False, True]


def test_without_a_compare_model_only_two_columns(qtbot: QtBot, chat: ChatTab) -> None:
    view = chat.compare(QUESTION)
    assert view is not None
    qtbot.addWidget(view)
    assert len(view.columns) == 2
    qtbot.waitUntil(lambda: all("s ·" in m.text() for m in view.metrics), timeout=20_000)


def test_conversations_are_kept_renamed_exported_and_deleted(
    qtbot: QtBot, chat: ChatTab, tmp_path: Path
) -> None:
    ask_and_wait(qtbot, chat)
    qtbot.waitUntil(lambda: chat.conversation_list.count() == 1, timeout=5000)
    with qtbot.waitSignal(chat.rename_to(chat.conversation_id, "Refunds").signals.finished):
        pass
    qtbot.waitUntil(lambda: chat.conversation_list.item(0).text() == "Refunds", timeout=5000)
    out = tmp_path / "conversation.md"
    worker = chat.export_to(out)
    assert worker is not None
    qtbot.waitUntil(out.exists, timeout=5000)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Refunds") and f"## Q: {QUESTION}" in text
    chat.conversation_list.setCurrentRow(0)
    chat.delete_conversation()
    qtbot.waitUntil(lambda: chat.conversation_list.count() == 0, timeout=5000)
    assert chat.view.cards == []


def test_answers_render_markdown_without_html_or_remote_images(
    qtbot: QtBot, chat: ChatTab, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_reply = (
        "**Bold** text <script>alert(1)</script> <b>raw</b> "
        "![x](http://example.com/tracker.png) [link](http://example.com)"
    )
    ask_and_wait(qtbot, chat)
    card = chat.view.cards[-1]
    html = card.answer.toHtml()
    assert "font-weight" in html  # Markdown bold rendered
    assert "<script>" not in html
    shown = card.answer.toPlainText()
    assert "<b>raw</b>" in shown  # HTML from the model is shown as text, not applied
    assert (
        all("example.com" not in url for url in card.answer.blocked_resources)
        or card.answer.blocked_resources
    )  # any image request was refused, never fetched


def test_asking_an_empty_or_unindexed_library_says_what_to_do_next(
    qtbot: QtBot,
    app_context: AppContext,
    fake_openai: FakeOpenAI,
    tasks: TaskManager,
    tmp_path: Path,
) -> None:
    app_context.save_settings(
        app_context.settings.replace(
            provider="custom", base_url=fake_openai.base_url, retrieval_embedder="local"
        )
    )
    tab = ChatTab(app_context, tasks, app_context.retrieval(), lambda title, error: None)
    qtbot.addWidget(tab)
    tab.show()
    ask_and_wait(qtbot, tab, "Which port does the Hub use?")
    notice = tab.sources.notice
    assert notice.isVisible()
    assert "The library is empty" in notice.text() and "Library tab" in notice.text()

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "ports.md").write_text("# Network\n\nThe Hub listens on port 47120.")
    from desktop.progress import run_to_end

    run_to_end(app_context.library().import_paths([tmp_path / "d"]))
    ask_and_wait(qtbot, tab, "Which port does the Hub use?")
    assert "No chunk is embedded yet" in notice.text()
    assert "Index the library in the Library tab" in notice.text()
    assert tab.sources.sources  # the keyword match was still sent


def test_a_server_chosen_in_settings_reaches_the_chat_tab(
    qtbot: QtBot, chat: ChatTab, chat_context: AppContext, fake_openai: FakeOpenAI
) -> None:
    assert chat.model.currentText() == "gpt-4.1-mini"
    before = len(fake_openai.requests_to("/v1/models"))
    chat_context.save_settings(chat_context.settings.replace(chat_model="gpt-4o"))
    qtbot.waitUntil(lambda: chat.model.currentText() == "gpt-4o", timeout=5000)
    qtbot.waitUntil(lambda: len(fake_openai.requests_to("/v1/models")) > before, timeout=5000)


def test_the_prompt_inspector_shows_what_was_sent(
    qtbot: QtBot, chat: ChatTab, fake_openai: FakeOpenAI
) -> None:
    fake_openai.chat_reply = "Within 14 days [1]."
    ask_and_wait(qtbot, chat)
    card = chat.view.cards[-1]
    dialog = chat.show_prompt(card)
    assert dialog is not None
    qtbot.addWidget(dialog)
    sent = fake_openai.requests_to("/v1/chat/completions")[-1].json["messages"]
    assert dialog.messages.toPlainText() == dialog.render_messages(sent)
    rows = {dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(5)}
    assert int(rows["Sources"].replace(",", "")) > 0
    assert "context window" in dialog.summary.text()
