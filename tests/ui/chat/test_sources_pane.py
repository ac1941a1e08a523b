"""The sources pane's score breakdown carries the reranker's score and the place the
chunk had before reranking."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from desktop.retrieval.search import RetrievedChunk
from desktop.ui.chat.sources_pane import SourcesPane


def chunk(**changes: object) -> RetrievedChunk:
    values: dict[str, object] = dict(
        rank=1,
        chunk_id=7,
        document_id=1,
        document="Refunds",
        source_path="/docs/refunds.md",
        page=None,
        heading_path=("Refunds",),
        start=0,
        end=40,
        text="Money is returned within 14 days.",
        score=0.0163,
        cosine=0.612,
        bm25=2.5,
        vector_rank=2,
        lexical_rank=4,
        fused=0.0163,
        below_threshold=False,
        first_rank=3,
    )
    values.update(changes)
    return RetrievedChunk(**values)  # type: ignore[arg-type]


def test_the_breakdown_shows_the_rerank_score_and_the_place_before_it(qtbot: QtBot) -> None:
    pane = SourcesPane()
    qtbot.addWidget(pane)
    reranked = chunk(score=0.734, rerank=0.734)
    pane.show_sources([reranked], [1], [], "money back")
    text = pane.browser.toPlainText()
    assert "rerank 0.734 · was #3 before reranking · fused 0.0163 · cosine 0.612" in text
    assert "vector #2 · lexical #4" in text

    pane.show_sources([chunk(first_rank=1)], [1], [], "money back")
    text = pane.browser.toPlainText()
    assert "score 0.0163 · cosine 0.612" in text and "rerank" not in text
