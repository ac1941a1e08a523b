"""The Decide tab over a real workspace: answers move the recommendation and are kept,
reasons open their cards, the banner says what changed, the report is exported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pypdfium2
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.decision.checklist import QUESTIONS, Answer
from desktop.decision.store import DecisionStore
from desktop.ui.decision.cards import CARD_ID_ROLE, ComparisonModel
from desktop.ui.decision.decide_tab import DecideTab
from desktop.workers import TaskError, TaskManager
from tests.decision.builders import NOW, Builder, chat

Errors = list[tuple[str, TaskError]]


@pytest.fixture
def errors() -> Errors:
    return []


@pytest.fixture
def library(app_context: AppContext) -> Builder:
    """Four documents, one changed lately (a knowledge need) and 20 plain replies."""
    build = Builder(app_context.workspace)
    run = build.run("import", 100)
    for n in range(4):
        build.document(f"d{n}.md", "Refunds are paid within fourteen days. " * 30, 100, 20)
        build.event(run, f"d{n}.md", "added", 100)
    later = build.run("rescan", 5)
    build.event(later, "d1.md", "updated", 5)
    build.dataset("replies", [chat(f"Sure, here is reply {n}.") for n in range(20)])
    return build


@pytest.fixture
def open_tab(
    qtbot: QtBot, app_context: AppContext, tasks: TaskManager, errors: Errors
) -> Callable[[], DecideTab]:
    """A Decide tab shown over the test's workspace; call again to reopen it."""

    def make() -> DecideTab:
        tab = DecideTab(app_context, tasks, lambda t, e: errors.append((t, e)), now=lambda: NOW)
        qtbot.addWidget(tab)
        tab.resize(1400, 900)
        with qtbot.waitSignal(tab.saved, timeout=20_000):
            tab.show()
        assert not tab.busy
        return tab

    return make


def settle(qtbot: QtBot, tab: DecideTab) -> None:
    qtbot.waitUntil(lambda: not tab.busy, timeout=20_000)


def test_answers_move_the_recommendation_and_are_kept(
    qtbot: QtBot,
    open_tab: Callable[[], DecideTab],
    library: Builder,
    app_context: AppContext,
    errors: Errors,
) -> None:
    tab = open_tab()
    # Nothing answered and one moderate measurement: not a recommendation yet.
    assert (
        tab.panel.choice_label.text() == "Not enough to recommend yet (the measurements lean RAG)"
    )
    change = tab.cards["change"]
    assert "1 of 4 documents changed" in change.evidence_label.text()
    assert "RAG (moderate)" in change.lean_label.text()
    assert "20 valid examples" in tab.cards["examples"].evidence_label.text()
    assert tab.cards["change"].answer is Answer.UNSURE

    qtbot.mouseClick(tab.cards["repeated_prompt"].buttons[Answer.YES], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(tab.cards["attribution"].buttons[Answer.YES], Qt.MouseButton.LeftButton)
    assert tab.panel.choice_label.text() == "Both"
    assert "Both: fine-tune for format and style" in tab.panel.summary_label.text()
    assert "fine-tuning (moderate)" in tab.cards["repeated_prompt"].lean_label.text()
    assert "RAG (strong)" in tab.cards["attribution"].lean_label.text()
    assert {"repeated_prompt", "attribution", "change"} <= set(tab.panel.reason_card_ids())
    tab.latency_budget.setValue(800)
    tab.requests_per_day.setValue(5000)
    # A long prompt sent 5,000 times a day: the measurement now agrees with the answer.
    tab.system_prompt.setPlainText("Answer as the support team, briefly and politely. " * 60)
    settle(qtbot, tab)
    assert "tokens a day" in tab.cards["repeated_prompt"].evidence_label.text()
    assert "fine-tuning (strong)" in tab.cards["repeated_prompt"].lean_label.text()
    assert tab.panel.choice_label.text() == "Both"

    saved = DecisionStore(app_context.workspace).answers()
    assert saved.get("repeated_prompt") is Answer.YES
    assert saved.get("attribution") is Answer.YES
    assert saved.inputs.latency_budget_ms == 800
    tab.close()

    reopened = open_tab()
    assert reopened.cards["repeated_prompt"].answer is Answer.YES
    assert reopened.cards["attribution"].answer is Answer.YES
    assert reopened.cards["change"].answer is Answer.UNSURE
    assert reopened.latency_budget.value() == 800
    assert reopened.requests_per_day.value() == 5000
    assert reopened.system_prompt.toPlainText().startswith("Answer as the support team")
    assert reopened.panel.choice_label.text() == "Both"
    assert reopened.banner.isHidden()  # nothing changed since the last visit
    assert errors == []


def test_the_banner_says_what_changed_since_the_last_visit(
    qtbot: QtBot, open_tab: Callable[[], DecideTab], library: Builder, errors: Errors
) -> None:
    tab = open_tab()
    assert tab.banner.isHidden()  # a first visit has nothing to compare with
    tab.close()

    run = library.run("import", 1)
    for n in range(4, 7):
        library.document(f"d{n}.md", "Shipping takes three working days. " * 30, 1, 20)
        library.event(run, f"d{n}.md", "added", 1)
    reopened = open_tab()
    assert not reopened.banner.isHidden()
    assert "3 documents added since your last visit" in reopened.banner.text
    assert any("library's size" in change for change in reopened.changes)
    assert errors == []


def test_refresh_recomputes_from_new_evidence(
    qtbot: QtBot, open_tab: Callable[[], DecideTab], library: Builder
) -> None:
    tab = open_tab()
    assert "no searches recorded yet" in tab.cards["latency"].evidence_label.text()
    for n, latency in enumerate((20.0, 25.0, 30.0, 35.0, 40.0)):
        library.search(latency, days=n + 1)
    with qtbot.waitSignal(tab.refreshed, timeout=20_000):
        tab.refresh()
    settle(qtbot, tab)
    assert "p95" in tab.cards["latency"].evidence_label.text()
    assert "40 ms" in tab.cards["latency"].evidence_label.text()
    assert "Latency" in tab.changes[0] or any("latency" in c for c in tab.changes)


def test_clicking_a_reason_scrolls_to_its_card(
    qtbot: QtBot, open_tab: Callable[[], DecideTab], library: Builder
) -> None:
    tab = open_tab()
    qtbot.mouseClick(tab.cards["repeated_prompt"].buttons[Answer.YES], Qt.MouseButton.LeftButton)
    settle(qtbot, tab)
    tab.scroll.verticalScrollBar().setValue(0)
    reasons = tab.panel.reasons
    row = next(
        i for i in range(reasons.count()) if reasons.item(i).data(CARD_ID_ROLE) == "repeated_prompt"
    )
    rect = reasons.visualItemRect(reasons.item(row))
    qtbot.mouseClick(reasons.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    card = tab.cards["repeated_prompt"]
    assert tab.scroll.verticalScrollBar().value() > 0
    top = card.mapTo(tab.scroll.widget(), card.rect().topLeft()).y()
    viewport_top = tab.scroll.verticalScrollBar().value()
    assert viewport_top <= top < viewport_top + tab.scroll.viewport().height()
    assert card.property("highlighted") is True


def test_the_comparison_table_has_every_aspect_with_measured_figures(
    qtbot: QtBot, open_tab: Callable[[], DecideTab], library: Builder, qtmodeltester
) -> None:
    tab = open_tab()
    qtmodeltester.check(tab.comparison)
    model = tab.table.model()
    aspects = [model.index(r, ComparisonModel.ASPECT).data() for r in range(model.rowCount())]
    assert aspects == [
        "Freshness",
        "Training data needed",
        "Compute cost",
        "Latency",
        "Transparency",
        "Knowledge scope",
        "Format control",
        "Grounding",
        "Setup complexity",
        "Measured on your questions",
    ]
    measured = {
        model.index(r, ComparisonModel.ASPECT).data(): model.index(
            r, ComparisonModel.MEASURED
        ).data()
        for r in range(model.rowCount())
    }
    assert measured["Freshness"].startswith("1 of 4 documents changed")
    assert "20 valid examples" in measured["Training data needed"]
    assert measured["Transparency"] == "not measured here"
    assert len(QUESTIONS) == len(tab.cards) == 9


def test_the_report_is_exported_as_markdown_and_pdf(
    qtbot: QtBot, open_tab: Callable[[], DecideTab], library: Builder, tmp_path: Path
) -> None:
    tab = open_tab()
    qtbot.mouseClick(tab.cards["repeated_prompt"].buttons[Answer.YES], Qt.MouseButton.LeftButton)
    settle(qtbot, tab)
    chosen: list[str] = []

    def choose(title: str, name: str, file_filter: str) -> Path:
        chosen.append(name)
        return tmp_path / "out" / name

    tab.choose_path = choose
    with qtbot.waitSignal(tab.exported, timeout=10_000) as markdown_done:
        qtbot.mouseClick(tab.markdown_button, Qt.MouseButton.LeftButton)
    markdown_path = markdown_done.args[0]
    assert markdown_path.name == "decision-default-2026-11-23.md"
    markdown = markdown_path.read_text(encoding="utf-8")
    assert "**Both**, confidence" in markdown
    assert "| 7 | Is the system prompt long and repeated on every request? | Yes |" in markdown

    with qtbot.waitSignal(tab.exported, timeout=10_000) as pdf_done:
        qtbot.mouseClick(tab.pdf_button, Qt.MouseButton.LeftButton)
    pdf_path = pdf_done.args[0]
    assert pdf_path.read_bytes().startswith(b"%PDF")
    document = pypdfium2.PdfDocument(pdf_path)
    try:
        text = " ".join(document[i].get_textpage().get_text_range() for i in range(len(document)))
    finally:
        document.close()
    flat = " ".join(text.split())
    assert "RAG or fine-tuning: the decision" in flat
    assert "Both, confidence" in flat
    assert "Both: fine-tune for format and style, retrieve for facts." in flat
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(chosen)  # no temp left


def test_an_export_that_is_cancelled_writes_nothing(
    qtbot: QtBot, open_tab: Callable[[], DecideTab], library: Builder
) -> None:
    tab = open_tab()
    tab.choose_path = lambda title, name, file_filter: None
    assert tab.export_markdown() is None
    assert tab.export_pdf() is None


def test_a_job_accepted_elsewhere_reaches_card_9_without_a_restart(
    qtbot: QtBot, open_tab: Callable[[], DecideTab], app_context: AppContext, library: Builder
) -> None:
    from desktop.events import Topic
    from desktop.finetune.job_store import JobStore

    app_context.save_settings(
        app_context.settings.replace(provider="custom", base_url="http://127.0.0.1:9/v1")
    )
    tab = open_tab()
    settle(qtbot, tab)
    assert (
        "no job from this workspace has been accepted"
        in tab.cards["provider"].evidence_label.text()
    )
    JobStore(app_context.workspace).save_job(
        "compatible",
        "http://127.0.0.1:9/v1",
        {"id": "ftjob-1", "status": "succeeded", "model": "gpt-4.1-mini", "created_at": 1},
    )
    app_context.events.publish(Topic.JOBS)  # as the job tracker does after a sync
    qtbot.waitUntil(
        lambda: (
            "1 job from this workspace was accepted" in tab.cards["provider"].evidence_label.text()
        ),
        timeout=20_000,
    )
