"""Search: vector, lexical (BM25) or hybrid (reciprocal rank fusion), then optionally a
reranker over the best candidates (desktop/retrieval/rerank.py), with every result's score
breakdown and source. The retrieval test panel, ``ragtune search`` and the chat all call
``Retriever.search`` with the same settings, so what the panel shows is what the chat
gets. Results under the similarity threshold are kept (to be shown greyed) but marked, and
never sent to the model; the threshold is on the cosine whether or not a reranker ordered
the results. Cosines live on each embedder's own scale (a static model's run ~0.3 higher
than MiniLM's), so the threshold, unless set (a negative one: ``settings.AUTO_THRESHOLD``), is
the embedder's own."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from desktop.library.repository import Library
from desktop.retrieval.embedders import DEFAULT_THRESHOLD, Embedder
from desktop.retrieval.lexical import LexicalHit, lexical_search
from desktop.retrieval.rerank import DEFAULT_CANDIDATES, Reranker, RerankError, rerank_order
from desktop.retrieval.search_log import SearchLog
from desktop.retrieval.vector_index import VectorHit, VectorIndex
from desktop.workspace import Workspace

MODES = ("hybrid", "vector", "lexical")
RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al.); 60 is customary


@dataclass(frozen=True)
class SearchSettings:
    mode: str = "hybrid"
    k: int = 5
    threshold: float = 0.0  # minimum cosine sent to the model; AUTO_THRESHOLD: the embedder's
    vector_weight: float = 0.5  # hybrid: share of the vector ranking in the fusion
    candidates: int = 50  # per ranking, before fusion
    rerank_candidates: int = DEFAULT_CANDIDATES  # the first stage's best, read by a reranker


@dataclass(frozen=True)
class SearchFilters:
    document_ids: tuple[int, ...] | None = None
    formats: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None

    @property
    def active(self) -> bool:
        return any(v is not None for v in (self.document_ids, self.formats, self.tags))


@dataclass(frozen=True)
class RetrievedChunk:
    rank: int
    chunk_id: int
    document_id: int
    document: str
    source_path: str
    page: int | None
    heading_path: tuple[str, ...]
    start: int
    end: int
    text: str
    score: float  # what the ranking used: fused score, cosine or BM25 by mode
    cosine: float | None
    bm25: float | None
    vector_rank: int | None
    lexical_rank: int | None
    fused: float | None
    below_threshold: bool
    rerank: float | None = None  # the reranker's score, when one ordered the results
    first_rank: int | None = None  # the place before reranking: fused, vector or BM25 rank

    @classmethod
    def from_json(cls, data: dict[str, object]) -> RetrievedChunk:
        """Back from ``to_json`` (a saved answer's sources)."""
        return cls(
            rank=int(data["rank"]),
            chunk_id=int(data["chunk_id"]),  # type: ignore[arg-type]
            document_id=int(data["document_id"]),  # type: ignore[arg-type]
            document=str(data["document"]),
            source_path=str(data["source_path"]),
            page=data.get("page"),  # type: ignore[arg-type]
            heading_path=tuple(data.get("headings") or ()),  # type: ignore[arg-type]
            start=int(data["start"]),
            end=int(data["end"]),  # type: ignore[arg-type]
            text=str(data["text"]),
            score=float(data["score"]),  # type: ignore[arg-type]
            cosine=data.get("cosine"),
            bm25=data.get("bm25"),  # type: ignore[arg-type]
            vector_rank=data.get("vector_rank"),  # type: ignore[arg-type]
            lexical_rank=data.get("lexical_rank"),  # type: ignore[arg-type]
            fused=data.get("fused"),  # type: ignore[arg-type]
            below_threshold=bool(data.get("below_threshold")),
            rerank=data.get("rerank"),  # type: ignore[arg-type]
            first_rank=data.get("first_rank"),  # type: ignore[arg-type]
        )

    def to_json(self) -> dict[str, object]:
        return {
            "rank": self.rank,
            "score": self.score,
            "cosine": self.cosine,
            "bm25": self.bm25,
            "vector_rank": self.vector_rank,
            "lexical_rank": self.lexical_rank,
            "fused": self.fused,
            "rerank": self.rerank,
            "first_rank": self.first_rank,
            "below_threshold": self.below_threshold,
            "document": self.document,
            "document_id": self.document_id,
            "source_path": self.source_path,
            "page": self.page,
            "headings": list(self.heading_path),
            "start": self.start,
            "end": self.end,
            "chunk_id": self.chunk_id,
            "text": self.text,
        }


@dataclass(frozen=True)
class SearchResult:
    query: str
    settings: SearchSettings
    results: list[RetrievedChunk]
    latency_ms: float
    embed_ms: float
    indexed_chunks: int
    total_chunks: int
    notes: list[str] = field(default_factory=list)
    candidates: list[RetrievedChunk] = field(default_factory=list)
    """Every chunk the reranker read, in its order (the results are the first k): what
    reranking moved into or out of the top k. Without a reranker, the results."""
    reranker: str | None = None  # the reranker's name, when one ordered the results
    rerank_ms: float = 0.0

    @property
    def usable(self) -> list[RetrievedChunk]:
        """What may be sent to the model: above the similarity threshold."""
        return [r for r in self.results if not r.below_threshold]


def threshold_of(embedder: Embedder | None) -> float:
    """The similarity threshold an embedder's cosines call for (declared by a bundled
    model's ``config.json``; ``DEFAULT_THRESHOLD`` otherwise)."""
    value = getattr(embedder, "similarity_threshold", None)
    return DEFAULT_THRESHOLD if value is None else float(value)


def fuse(
    vector: list[VectorHit], lexical: list[LexicalHit], vector_weight: float, k: int = RRF_K
) -> list[tuple[int, float]]:
    """Weighted reciprocal rank fusion: each list adds weight / (k + rank)."""
    scores: dict[int, float] = {}
    for hit in vector:
        scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + vector_weight / (k + hit.rank)
    for hit in lexical:
        scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + (1 - vector_weight) / (k + hit.rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


class Retriever:
    """Holds the vector index of one embedder for one workspace; thread-safe to call
    from workers one at a time (the UI runs searches on one queue)."""

    def __init__(self, workspace: Workspace, embedder: Embedder | None) -> None:
        self.workspace = workspace
        self.library = Library(workspace)
        self.embedder = embedder
        self.index = VectorIndex(embedder.key) if embedder is not None else None

    def sync(self) -> None:
        if self.index is not None:
            self.index.sync(self.workspace)

    def _document_filter(self, filters: SearchFilters) -> list[int] | None:
        if not filters.active:
            return None
        return self.library.documents_matching(filters.document_ids, filters.formats, filters.tags)

    def search(
        self,
        query: str,
        settings: SearchSettings | None = None,
        filters: SearchFilters | None = None,
        *,
        log_kind: str | None = "search",
        reranker: Reranker | None = None,
    ) -> SearchResult:
        """``reranker``: orders the first stage's ``rerank_candidates`` best again."""
        settings = settings or SearchSettings()
        filters = filters or SearchFilters()
        if settings.mode not in MODES:
            raise ValueError(f"unknown search mode {settings.mode!r}; use one of {MODES}")
        started = time.perf_counter()
        if settings.threshold < 0:  # the result names the threshold that applied
            settings = dataclasses.replace(settings, threshold=threshold_of(self.embedder))
        notes: list[str] = []
        allowed_docs = self._document_filter(filters)
        mode = settings.mode
        use_vectors = mode in ("vector", "hybrid") and self.index is not None
        if mode != "lexical" and self.index is None:
            notes.append("no embedder is configured: lexical search only")
            mode = "lexical"
        # How many of the first stage's best are read: the top k, or the reranker's share.
        depth = max(settings.k, settings.rerank_candidates) if reranker else settings.k
        # Each list of a hybrid search goes deeper than the fused result it feeds.
        first = depth if mode != "hybrid" else max(depth, settings.candidates)
        vector_hits: list[VectorHit] = []
        query_vector = None
        embed_ms = 0.0
        if use_vectors and self.index is not None and self.embedder is not None:
            self.sync()
            embed_started = time.perf_counter()
            query_vector = self.embedder.embed_query(query)
            embed_ms = (time.perf_counter() - embed_started) * 1000
            vector_hits = self.index.search(query_vector, first, self.index.allowed(allowed_docs))
        lexical_hits: list[LexicalHit] = []
        if mode in ("lexical", "hybrid"):
            lexical_hits = lexical_search(self.workspace, query, first, allowed_docs)

        by_vector = {h.chunk_id: h for h in vector_hits}
        by_lexical = {h.chunk_id: h for h in lexical_hits}
        if mode == "vector":
            ranked = [(h.chunk_id, h.cosine) for h in vector_hits]
        elif mode == "lexical":
            ranked = [(h.chunk_id, h.bm25) for h in lexical_hits]
        else:
            ranked = fuse(vector_hits, lexical_hits, settings.vector_weight)
        ranked = ranked[:depth]
        cosines = {cid: h.cosine for cid, h in by_vector.items()}
        if query_vector is not None and self.index is not None:
            missing = [cid for cid, _ in ranked if cid not in cosines]
            cosines.update(self.index.cosines(query_vector, missing))
        candidates = self._hydrate(ranked, cosines, by_vector, by_lexical, settings, mode)
        reranked_by, rerank_ms = None, 0.0
        if reranker is not None and candidates:
            rerank_started = time.perf_counter()
            try:
                candidates = reranked(
                    candidates, reranker.scores(query, [c.text for c in candidates])
                )
                reranked_by = reranker.name
            except RerankError as error:
                notes.append(
                    f"Reranking with {reranker.name} failed ({error}); the results are in "
                    "the first search's order"
                )
            rerank_ms = (time.perf_counter() - rerank_started) * 1000
        results = candidates[: settings.k]
        latency_ms = (time.perf_counter() - started) * 1000
        total, indexed = self._counts()
        notes.extend(self._coverage_notes(total, indexed, use_vectors))
        if log_kind:
            SearchLog(self.workspace).record(
                log_kind, settings.mode, settings.k, latency_ms, len(results)
            )
        return SearchResult(
            query,
            settings,
            results,
            latency_ms,
            embed_ms,
            indexed,
            total,
            notes,
            candidates=candidates if reranked_by else results,
            reranker=reranked_by,
            rerank_ms=rerank_ms,
        )

    def _coverage_notes(self, total: int, indexed: int, use_vectors: bool) -> list[str]:
        """What a user should do when the library cannot answer fully: said in words, with
        the place to do it, instead of an unexplained empty or thin result."""
        if total == 0:
            return [
                "The library is empty, so there is nothing to retrieve: import documents in "
                "the Library tab (or with `ragtune import`)."
            ]
        if not use_vectors or self.embedder is None:
            return []
        label = self.embedder.key.label()
        if indexed == 0:
            return [
                f"No chunk is embedded yet with {label}: only keyword (BM25) matches were "
                "used. Index the library in the Library tab (or with `ragtune index`)."
            ]
        if indexed < total:
            return [
                f"{indexed:,} of {total:,} chunks are embedded with {label}: the others "
                "were found by keywords only. Index the rest in the Library tab."
            ]
        return []

    def _counts(self) -> tuple[int, int]:
        total = self.library.chunk_count()
        return total, len(self.index) if self.index is not None else 0

    def _hydrate(
        self,
        ranked: list[tuple[int, float]],
        cosines: dict[int, float],
        by_vector: dict[int, VectorHit],
        by_lexical: dict[int, LexicalHit],
        settings: SearchSettings,
        mode: str,
    ) -> list[RetrievedChunk]:
        if not ranked:
            return []
        info = self.library.chunk_sources([cid for cid, _ in ranked])
        results = []
        for rank, (chunk_id, score) in enumerate(ranked, start=1):
            source = info.get(chunk_id)
            if source is None:  # deleted between ranking and reading
                continue
            cosine = cosines.get(chunk_id)
            vector_hit, lexical_hit = by_vector.get(chunk_id), by_lexical.get(chunk_id)
            results.append(
                RetrievedChunk(
                    rank=rank,
                    chunk_id=chunk_id,
                    document_id=source.document_id,
                    document=source.document,
                    source_path=source.source_path,
                    page=source.page,
                    heading_path=source.heading_path,
                    start=source.start,
                    end=source.end,
                    text=source.text,
                    score=float(score),
                    cosine=cosine,
                    bm25=lexical_hit.bm25 if lexical_hit else None,
                    vector_rank=vector_hit.rank if vector_hit else None,
                    lexical_rank=lexical_hit.rank if lexical_hit else None,
                    fused=float(score) if mode == "hybrid" else None,
                    below_threshold=cosine is not None and cosine < settings.threshold,
                    first_rank=rank,
                )
            )
        return results


def reranked(candidates: list[RetrievedChunk], scores: list[float]) -> list[RetrievedChunk]:
    """``candidates`` in the reranker's order, each with its score and new rank (the
    first stage's rank stays in ``first_rank``)."""
    return [
        dataclasses.replace(candidates[i], rank=rank, score=scores[i], rerank=scores[i])
        for rank, i in enumerate(rerank_order(scores), start=1)
    ]
