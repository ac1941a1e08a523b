"""The retrieval test panel shows what the chat would get: the same search, the same
settings, the results under the threshold greyed, filters applied before ranking."""

from __future__ import annotations

from typing import Any

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


def test_the_threshold_steps_down_to_auto_and_the_line_says_which_applied(
    qtbot: QtBot, panel: RetrievalPanel, chat_context: AppContext, retrieval: RetrievalService
) -> None:
    from desktop.retrieval.search import threshold_of
    from desktop.settings import AUTO_THRESHOLD

    assert panel.threshold.text() == "min cosine 0.00"  # the fixture's setting
    panel.threshold.stepBy(-1)  # one step below 0: auto, the embedder's own
    assert panel.threshold.text() == "min cosine: auto"
    assert panel.current_settings().threshold == AUTO_THRESHOLD
    qtbot.waitUntil(
        lambda: chat_context.settings.similarity_threshold == AUTO_THRESHOLD, timeout=5000
    )
    search(qtbot, panel, "When do I get my money back?")
    own = threshold_of(retrieval.retriever().embedder)
    assert own == 0.4  # the default static model's; MiniLM's would be 0.2
    assert "min cosine 0.40" in panel.summary.text()
    panel.threshold.stepBy(1)
    qtbot.waitUntil(lambda: chat_context.settings.similarity_threshold == 0.0, timeout=5000)
    search(qtbot, panel, "When do I get my money back?")
    assert "min cosine 0.00" in panel.summary.text()


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


class Prefers:
    """A reranker that puts the chunk holding ``word`` first, whatever the first stage said."""

    name = "prefers"

    def __init__(self, word: str) -> None:
        self.word = word

    def scores(self, query: str, passages: list[str]) -> list[float]:
        return [0.9 if self.word in p else 0.1 for p in passages]


def cells(panel: RetrievalPanel, row: int) -> dict[str, str]:
    model = panel.model
    return {model.HEADERS[c]: model.data(model.index(row, c)) for c in range(model.columnCount())}


def test_the_panel_shows_each_stage_and_what_reranking_changed(
    qtbot: QtBot,
    panel: RetrievalPanel,
    retrieval: RetrievalService,
    monkeypatch: pytest.MonkeyPatch,
    qtmodeltester: Any,
) -> None:
    monkeypatch.setattr(
        retrieval,
        "reranker",
        lambda name=None, window=None: None if name == "off" else Prefers("LFS-4012"),
    )
    panel.k.setValue(1)
    panel.rerank.setCurrentIndex(panel.rerank.findData("off"))
    search(qtbot, panel, "When do I get my money back?")
    first = cells(panel, 0)
    assert first["Source"].startswith("Refunds")  # the first search's best
    assert first["Rerank"] == "–" and first["Moved"] == ""
    assert first["Before rerank"] == "1" and first["Fused"] != "–"
    assert first["Vec. #"] == "1" and first["Cosine"] != "–"
    assert "reranked" not in panel.summary.text()

    panel.rerank.setCurrentIndex(panel.rerank.findData("maxsim"))
    search(qtbot, panel, "When do I get my money back?")
    assert panel.model.rowCount() == 1  # k = 1: what the chat gets
    top = cells(panel, 0)
    assert top["Source"].startswith("Errors") and top["Rerank"] == "0.900"
    before = int(top["Before rerank"])
    assert before > 1 and top["Moved"] == f"▲{before - 1}"
    assert "reranked by prefers (3 candidates)" in panel.summary.text()
    assert "1 brought in from further down" in panel.summary.text()

    # All candidates: what reranking pushed out of the top k is listed, greyed, with why.
    panel.show_candidates.setChecked(True)
    assert panel.model.rowCount() == 3
    refunds = next(r for r in range(3) if cells(panel, r)["Source"].startswith("Refunds"))
    assert cells(panel, refunds)["Before rerank"] == "1"
    assert cells(panel, refunds)["Moved"].startswith("▼")
    index = panel.model.index(refunds, 0)
    assert panel.model.data(index, Qt.ItemDataRole.ForegroundRole) is not None
    tooltip = panel.model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "outside the top 1" in tooltip and "not sent to the model" in tooltip
    qtmodeltester.check(panel.model)
    # The reranker chosen here is the chat's too.
    qtbot.waitUntil(lambda: panel.context.settings.rerank == "maxsim", timeout=5000)
