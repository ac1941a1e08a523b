"""The retrieval test panel shows what the chat would get: the same search, the same
settings, the results under the threshold greyed, filters applied before ranking."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from desktop.context import AppContext
from desktop.retrieval.search import SearchFilters
from desktop.retrieval.service import RetrievalService
from desktop.ui.chat.results_model import BELOW_COLOUR
from desktop.ui.chat.retrieval_panel import RetrievalPanel
from desktop.workers import TaskManager


@pytest.fixture
def panel(
    qtbot: QtBot, chat_context: AppContext, retrieval: RetrievalService, tasks: TaskManager
) -> RetrievalPanel:
    widget = RetrievalPanel(chat_context, tasks, retrieval, lambda title, error: None)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitUntil(lambda: widget.document_filter.count() == 4, timeout=5000)  # 3 docs
    return widget


def search(qtbot: QtBot, panel: RetrievalPanel, query: str) -> None:
    panel.query.setText(query)
    with qtbot.waitSignal(panel.searched, timeout=10_000):
        panel.search()


def test_the_panel_shows_what_the_retriever_returns(
    qtbot: QtBot, panel: RetrievalPanel, retrieval: RetrievalService
) -> None:
    panel.threshold.setValue(0.3)
    search(qtbot, panel, "When do I get my money back?")
    expected = retrieval.search(
        "When do I get my money back?", panel.current_settings(), log_kind=None
    )
    model = panel.model
    assert [model.result(r).chunk_id for r in range(model.rowCount())] == [
        r.chunk_id for r in expected.results
    ]
    for row in range(model.rowCount()):
        below = model.result(row).below_threshold
        colour = model.data(model.index(row, 0), Qt.ItemDataRole.ForegroundRole)
        assert (colour == BELOW_COLOUR) is below
    assert f"{len(expected.usable)} sent to the model" in panel.summary.text()


def test_filters_apply_before_ranking(qtbot: QtBot, panel: RetrievalPanel) -> None:
    panel.document_filter.setCurrentIndex(panel.document_filter.findText("Network"))
    assert panel.filters() == SearchFilters(document_ids=(panel.document_filter.currentData(),))
    search(qtbot, panel, "When do I get my money back?")
    documents = {panel.model.result(r).document for r in range(panel.model.rowCount())}
    assert documents == {"Network"}
    panel.document_filter.setCurrentIndex(0)
    panel.format_filter.setCurrentIndex(panel.format_filter.findData("pdf"))
    search(qtbot, panel, "When do I get my money back?")
    assert panel.model.rowCount() == 0
