"""Expected sources located in documents, and which chunks cover them (by overlap, so a
set keeps its meaning when the library is re-chunked)."""

from __future__ import annotations

import pytest

from desktop.evaluation.records import ExpectedSource
from desktop.evaluation.sources import (
    ChunkSpan,
    DocumentRef,
    Located,
    SourceResolver,
    covers,
    passage_recall,
    retrieval_scores,
)

TEXTS = {
    1: "# Refunds\n\nMoney is returned within 14 days\nafter the device arrives.",
    2: "# Network\n\nThe Hub listens on TCP port 47120.",
}
DOCUMENTS = [
    DocumentRef(1, "Refund policy", "/docs/refund-policy.txt"),
    DocumentRef(2, "Network", "/docs/ports.md"),
]


@pytest.fixture
def resolver() -> SourceResolver:
    return SourceResolver(DOCUMENTS, TEXTS.__getitem__)


def test_documents_are_found_by_title_file_name_stem_path_or_id(
    resolver: SourceResolver,
) -> None:
    for name in ("Refund policy", "refund-policy.txt", "refund-policy", "/docs/refund-policy.txt"):
        assert resolver.document_id(name) == 1, name
    assert resolver.document_id("2") == 2
    assert resolver.document_id("missing.md") is None


def test_passages_are_found_across_line_breaks_and_case(resolver: SourceResolver) -> None:
    text = TEXTS[1]
    start = text.index("within")
    found = resolver.locate(ExpectedSource("refund-policy.txt", "WITHIN 14 days after the"))
    assert found == Located(1, start, text.index(" device"))
    # No document named: the passage is looked for in every document.
    assert resolver.locate(ExpectedSource("", "TCP port 47120")) == Located(
        2, TEXTS[2].index("TCP"), len(TEXTS[2]) - 1
    )
    # Offsets that still match are kept; a passage that moved falls back to the document.
    assert resolver.locate(ExpectedSource("ports.md", "", 4, 11)) == Located(2, 4, 11)
    assert resolver.locate(ExpectedSource("ports.md", "no such words")) == Located(2)
    assert resolver.locate(ExpectedSource("gone.md", "anything")) is None


def test_coverage_needs_half_of_the_shorter_span() -> None:
    passage = Located(1, 100, 200)
    assert covers(ChunkSpan(1, 0, 150), passage)  # 50 of the 100-char passage
    assert not covers(ChunkSpan(1, 0, 140), passage)  # 40 of 100
    assert covers(ChunkSpan(1, 190, 205), passage)  # 10 of a 15-char chunk
    assert not covers(ChunkSpan(2, 100, 200), passage)  # another document
    assert covers(ChunkSpan(1, 5000, 6000), Located(1))  # any chunk of the document


def test_passage_recall_counts_characters_once() -> None:
    passage = [Located(1, 100, 200)]
    assert passage_recall([ChunkSpan(1, 0, 150), ChunkSpan(1, 120, 180)], passage) == 0.8
    assert passage_recall([ChunkSpan(1, 0, 300)], passage) == 1.0
    assert passage_recall([ChunkSpan(2, 0, 300)], passage) == 0.0
    assert passage_recall([ChunkSpan(1, 0, 1)], [Located(1), Located(2)]) == 0.5


def test_retrieval_scores_of_one_question() -> None:
    chunks = [
        ChunkSpan(2, 0, 50, "The Hub listens on TCP port 47120."),
        ChunkSpan(1, 100, 200, "Money is returned within 14 days."),
    ]
    scores = retrieval_scores(chunks, [Located(1, 120, 180)], ["14 days"], k=1)
    assert scores == {
        "hit@1": 0.0,
        "hit@5": 1.0,
        "hit@k": 0.0,
        "mrr": 0.5,
        "ndcg@10": pytest.approx(0.6309, abs=1e-4),  # 1/log2(3) over an ideal of 1
        "recall@k": 0.0,
        "answer_in_context@k": 0.0,
    }
    # Without an expected source only the answer is looked for.
    assert retrieval_scores(chunks, None, ["14 days"], k=2) == {"answer_in_context@k": 1.0}
