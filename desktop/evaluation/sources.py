"""Expected sources, located in the library, and which retrieved chunks cover them.

An expected source names a document (title, file name, path or id) and, where known, a
passage (its text and/or offsets). It is resolved to a document id and a character span
in that document's text; a chunk covers it when it is a chunk of that document and
(for a span) overlaps it by at least half of the shorter of the two. Chunks are
compared by offsets, never by id, so a set keeps its meaning when the library is
re-chunked, and the offline sweep scores its scratch chunks the same way."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePath

from desktop.evaluation import metrics
from desktop.evaluation.records import ExpectedSource

MIN_OVERLAP = 0.5
"""Share of the shorter of chunk and passage that must overlap for a chunk to cover it."""


@dataclass(frozen=True)
class DocumentRef:
    """What the resolver needs of a library document."""

    id: int
    title: str
    source_path: str


@dataclass(frozen=True)
class Located:
    """An expected source found in the library: the document and the span (None: the
    whole document)."""

    document_id: int
    start: int | None = None
    end: int | None = None

    @property
    def length(self) -> int:
        return 0 if self.start is None or self.end is None else self.end - self.start


@dataclass(frozen=True)
class ChunkSpan:
    """A retrieved (or scratch) chunk, by position."""

    document_id: int
    start: int
    end: int
    text: str = ""


def overlap(a_start: int, a_end: int, b_start: int, b_end: int) -> int:
    return max(0, min(a_end, b_end) - max(a_start, b_start))


def covers(chunk: ChunkSpan, source: Located) -> bool:
    if chunk.document_id != source.document_id:
        return False
    if source.start is None or source.end is None:
        return True
    shared = overlap(chunk.start, chunk.end, source.start, source.end)
    shorter = min(chunk.end - chunk.start, source.end - source.start)
    return shared > 0 and shared >= MIN_OVERLAP * max(1, shorter)


def _passage_pattern(passage: str) -> re.Pattern[str] | None:
    words = passage.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(w) for w in words), re.IGNORECASE)


class SourceResolver:
    """Finds expected sources in the library's documents; each document's text is read
    once (``text_of``), on the first source that needs it."""

    def __init__(self, documents: Sequence[DocumentRef], text_of: Callable[[int], str]) -> None:
        self._text_of = text_of
        self._texts: dict[int, str] = {}
        self._by_name: dict[str, int] = {}
        self._ids = [d.id for d in documents]
        for document in documents:
            for name in (
                str(document.id),
                document.title,
                document.source_path,
                PurePath(document.source_path).name,
                PurePath(document.source_path).stem,
            ):
                if name:
                    self._by_name.setdefault(name.strip().lower(), document.id)
        self._cache: dict[ExpectedSource, Located | None] = {}

    def text(self, document_id: int) -> str:
        if document_id not in self._texts:
            self._texts[document_id] = self._text_of(document_id)
        return self._texts[document_id]

    def document_id(self, reference: str) -> int | None:
        key = reference.strip().lower()
        if key in self._by_name:
            return self._by_name[key]
        name = PurePath(key).name
        return self._by_name.get(name) or self._by_name.get(PurePath(name).stem)

    def locate(self, source: ExpectedSource) -> Located | None:
        """The source in the library, or None when its document is not there (or its
        passage is in no document)."""
        if source in self._cache:
            return self._cache[source]
        found = self._locate(source)
        self._cache[source] = found
        return found

    def _locate(self, source: ExpectedSource) -> Located | None:
        document = self.document_id(source.document) if source.document else None
        if (source.document and document is None) or (document is None and not source.passage):
            return None
        candidates = [document] if document is not None else self._ids
        for candidate in candidates:
            assert candidate is not None
            if not source.passage and source.start is None:
                return Located(candidate)
            text = self.text(candidate)
            if source.start is not None and source.end is not None:
                span = text[source.start : source.end]
                if not source.passage or " ".join(span.split()) == " ".join(source.passage.split()):
                    return Located(candidate, source.start, min(source.end, len(text)))
            if source.passage:
                exact = text.find(source.passage)
                if exact >= 0:
                    return Located(candidate, exact, exact + len(source.passage))
                pattern = _passage_pattern(source.passage)
                match = pattern.search(text) if pattern else None
                if match:
                    return Located(candidate, match.start(), match.end())
        if document is not None:
            return Located(document)  # the passage moved or was edited: the document
        return None

    def locate_all(self, sources: Sequence[ExpectedSource]) -> list[Located]:
        return [found for s in sources if (found := self.locate(s)) is not None]


def coverage(chunks: Sequence[ChunkSpan], located: Sequence[Located]) -> list[frozenset[int]]:
    return [frozenset(i for i, s in enumerate(located) if covers(c, s)) for c in chunks]


def passage_recall(chunks: Sequence[ChunkSpan], located: Sequence[Located]) -> float:
    """The share of the expected passages' characters inside ``chunks`` (a document-level
    source counts in full when any chunk of its document is there)."""
    if not located:
        return 0.0
    total = inside = 0.0
    for source in located:
        if source.start is None or source.end is None:
            total += 1
            inside += float(any(c.document_id == source.document_id for c in chunks))
            continue
        spans = sorted(
            (max(c.start, source.start), min(c.end, source.end))
            for c in chunks
            if c.document_id == source.document_id
            and overlap(c.start, c.end, source.start, source.end)
        )
        covered = 0
        reach = source.start
        for start, end in spans:
            start = max(start, reach)
            if end > start:
                covered += end - start
                reach = end
        total += 1
        inside += covered / max(1, source.length)
    return inside / total


def retrieval_scores(
    chunks: Sequence[ChunkSpan],
    located: Sequence[Located] | None,
    references: Sequence[str],
    k: int,
) -> dict[str, float]:
    """The retrieval metrics of one question (``metrics`` module docstring). ``chunks``
    are in rank order, at least 10 deep when there are that many; ``located`` is None
    when the question has no expected source (then only ``answer_in_context@k``)."""
    scores: dict[str, float] = {}
    if located:
        covered = coverage(chunks, located)
        scores[metrics.HIT_1] = metrics.hit_at(covered, 1)
        scores[metrics.HIT_5] = metrics.hit_at(covered, 5)
        scores[metrics.HIT_K] = metrics.hit_at(covered, k)
        scores[metrics.MRR] = metrics.reciprocal_rank(covered)
        scores[metrics.NDCG_10] = metrics.ndcg_at(covered, len(located), 10)
        scores[metrics.RECALL_K] = passage_recall(chunks[:k], located)
    if references:
        scores[metrics.ANSWER_IN_CONTEXT] = metrics.answer_in_context(
            references, [c.text for c in chunks[:k]]
        )
    return scores
