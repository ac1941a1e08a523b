"""The retrieval sweep, offline: a grid of chunking strategy × size × embedder × search
mode × k over an eval set, scored with the retrieval metrics, with no chat model.

Nothing in the library changes while it runs. Each chunking of the grid cuts the
library's document texts into scratch chunks in memory (``desktop.library.chunking``,
as the library would), embeds them with the grid's embedder (``Embedder.embed``; the
workspace's vectors are neither read nor written) and searches them with numpy (vector),
a BM25 of its own (k1 1.2, b 0.75, as SQLite FTS5's) and the app's reciprocal rank
fusion (hybrid). Chunks are built once per chunking and embedded once per chunking and
embedder (texts already embedded for another chunking are reused); the search modes
and the values of k reuse them. Expected sources map to scratch chunks by character
overlap, as they map to the library's (``sources.py``).

"Apply this configuration" goes through the library's front door (plan, then apply the
re-chunk) and the settings; that is the service's job, not this module's."""

from __future__ import annotations

import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from desktop.evaluation import metrics
from desktop.evaluation.records import EvalQuestion
from desktop.evaluation.sources import ChunkSpan, Located, SourceResolver, retrieval_scores
from desktop.library.chunking import (
    STRATEGIES,
    ChunkingStrategy,
    FixedWords,
    RecursiveTokens,
    Sentences,
    Structure,
    chunk_text,
)
from desktop.progress import CancelToken, Progress
from desktop.retrieval.embedders import Embedder
from desktop.retrieval.lexical import LexicalHit
from desktop.retrieval.search import MODES, RRF_K, fuse
from desktop.retrieval.vector_index import VectorHit
from desktop.tokens import Tokenizer

FloatArray = npt.NDArray[np.float32]

SIZE_UNITS = {
    "fixed_words": "words",
    "sentences": "tokens",
    "recursive_tokens": "tokens",
    "structure": "tokens",
}
"""A size in the grid is the strategy's own size: words for fixed word windows, tokens
for the others."""
CANDIDATES = 50
"""Per ranking, before hybrid fusion (the app's ``SearchSettings.candidates``)."""
BM25_K1, BM25_B = 1.2, 0.75
_WORD = re.compile(r"\w+", re.UNICODE)


class SweepError(ValueError):
    pass


def strategy_for(name: str, size: int) -> ChunkingStrategy:
    """The strategy ``name`` at ``size`` (overlaps as the library's defaults scale)."""
    if name not in STRATEGIES:
        raise SweepError(f"unknown chunking strategy {name!r}; use {', '.join(STRATEGIES)}")
    if size < 8:
        raise SweepError(f"a chunk size of {size} is too small to measure (at least 8)")
    if name == "fixed_words":
        return FixedWords(size_words=size, overlap_words=0)
    if name == "sentences":
        return Sentences(max_tokens=size, overlap_sentences=1)
    if name == "recursive_tokens":
        return RecursiveTokens(chunk_tokens=size, overlap_tokens=min(32, size // 8))
    return Structure(max_tokens=size)


@dataclass(frozen=True)
class SweepGrid:
    strategies: tuple[str, ...]
    sizes: tuple[int, ...]
    embedders: tuple[str, ...]
    """Bundled model names, or "openai" for the provider's model (it costs money)."""
    modes: tuple[str, ...]
    ks: tuple[int, ...]
    vector_weight: float = 0.5

    def check(self) -> None:
        for name, values in (
            ("strategies", self.strategies),
            ("sizes", self.sizes),
            ("modes", self.modes),
            ("ks", self.ks),
        ):
            if not values:
                raise SweepError(f"the sweep needs at least one value for {name}")
        for strategy in self.strategies:
            for size in self.sizes:
                strategy_for(strategy, size)
        bad = [m for m in self.modes if m not in MODES]
        if bad:
            raise SweepError(f"unknown search mode {bad[0]!r}; use {', '.join(MODES)}")
        if any(k < 1 for k in self.ks):
            raise SweepError("every k must be at least 1")
        if self.uses_vectors and not self.embedders:
            raise SweepError("vector and hybrid search need at least one embedder")

    @property
    def uses_vectors(self) -> bool:
        return any(m != "lexical" for m in self.modes)

    @property
    def chunkings(self) -> list[tuple[str, int]]:
        return [(s, n) for s in self.strategies for n in self.sizes]

    def configurations(self) -> int:
        per_chunking = sum(len(self.embedders) if m != "lexical" else 1 for m in self.modes)
        return len(self.chunkings) * per_chunking * len(self.ks)

    def to_json(self) -> dict[str, Any]:
        return {
            "strategies": list(self.strategies),
            "sizes": list(self.sizes),
            "embedders": list(self.embedders),
            "modes": list(self.modes),
            "ks": list(self.ks),
            "vector_weight": self.vector_weight,
        }


@dataclass(frozen=True)
class SweepRow:
    strategy: str
    size: int
    embedder: str
    """"" for lexical search, which needs none."""
    mode: str
    k: int
    chunks: int
    metrics: dict[str, float | None]

    def label(self) -> str:
        unit = SIZE_UNITS.get(self.strategy, "tokens")
        embedder = f" · {self.embedder}" if self.embedder else ""
        return f"{self.strategy} {self.size} {unit}{embedder} · {self.mode} · k={self.k}"

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "size": self.size,
            "embedder": self.embedder,
            "mode": self.mode,
            "k": self.k,
            "chunks": self.chunks,
            "metrics": self.metrics,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SweepRow:
        return cls(
            str(data["strategy"]),
            int(data["size"]),
            str(data.get("embedder") or ""),
            str(data["mode"]),
            int(data["k"]),
            int(data.get("chunks") or 0),
            dict(data.get("metrics") or {}),
        )


@dataclass(frozen=True)
class SweepResult:
    rows: tuple[SweepRow, ...]
    grid: SweepGrid
    questions: int
    """Questions scored (with an expected source found in the library, or an answer)."""
    skipped: int
    builds: dict[str, int] = field(default_factory=dict)
    """How often chunks were cut ("chunkings") and embedded ("embeddings")."""
    seconds: float = 0.0

    def best(self, metric: str = metrics.HIT_5) -> SweepRow | None:
        scored = [r for r in self.rows if r.metrics.get(metric) is not None]
        return max(scored, key=lambda r: (r.metrics[metric] or 0.0, -r.k)) if scored else None

    def to_json(self) -> dict[str, Any]:
        return {
            "grid": self.grid.to_json(),
            "questions": self.questions,
            "skipped": self.skipped,
            "builds": self.builds,
            "seconds": round(self.seconds, 2),
            "rows": [r.to_json() for r in self.rows],
        }


@dataclass(frozen=True)
class ScratchDocument:
    id: int
    text: str
    pages: tuple[int, ...] = ()


class ScratchBM25:
    """BM25 over a list of texts, in memory: the postings of each word as numpy arrays."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.size = len(texts)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.zeros(len(texts), dtype=np.float32)
        for index, text in enumerate(texts):
            words = Counter(_WORD.findall(text.lower()))
            lengths[index] = sum(words.values())
            for word, count in words.items():
                postings[word].append((index, count))
        mean = float(lengths.mean()) if len(texts) else 1.0
        self._norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / max(mean, 1e-9))
        self._postings: dict[str, tuple[npt.NDArray[np.int64], FloatArray, float]] = {}
        for word, items in postings.items():
            rows = np.fromiter((i for i, _ in items), dtype=np.int64, count=len(items))
            tf = np.fromiter((c for _, c in items), dtype=np.float32, count=len(items))
            df = len(items)
            idf = math.log(1 + (self.size - df + 0.5) / (df + 0.5))
            self._postings[word] = (rows, tf, idf)

    def search(self, query: str, depth: int) -> list[tuple[int, float]]:
        scores = np.zeros(self.size, dtype=np.float32)
        touched = False
        for word in dict.fromkeys(_WORD.findall(query.lower())):
            found = self._postings.get(word)
            if found is None:
                continue
            rows, tf, idf = found
            scores[rows] += idf * tf * (BM25_K1 + 1) / (tf + self._norm[rows])
            touched = True
        if not touched:
            return []
        hits = np.flatnonzero(scores > 0)
        depth = min(depth, hits.size)
        if depth <= 0:
            return []
        top = hits[np.argpartition(-scores[hits], depth - 1)[:depth]]
        top = top[np.lexsort((top, -scores[top]))]
        return [(int(i), float(scores[i])) for i in top]


def _vector_ranking(matrix: FloatArray, query: FloatArray, depth: int) -> list[tuple[int, float]]:
    if matrix.shape[0] == 0:
        return []
    scores = matrix @ query
    depth = min(depth, scores.shape[0])
    top = np.argpartition(-scores, depth - 1)[:depth]
    top = top[np.lexsort((top, -scores[top]))]
    return [(int(i), float(scores[i])) for i in top]


def rank(
    mode: str,
    query: str,
    query_vector: FloatArray | None,
    matrix: FloatArray | None,
    lexical: ScratchBM25,
    depth: int,
    vector_weight: float,
) -> list[int]:
    """Chunk indexes, best first, as the app's search would rank them."""
    if mode == "lexical":
        return [i for i, _ in lexical.search(query, depth)]
    assert query_vector is not None and matrix is not None
    if mode == "vector":
        return [i for i, _ in _vector_ranking(matrix, query_vector, depth)]
    vector = [
        VectorHit(i, s, r)
        for r, (i, s) in enumerate(_vector_ranking(matrix, query_vector, CANDIDATES), 1)
    ]
    words = [LexicalHit(i, s, r) for r, (i, s) in enumerate(lexical.search(query, CANDIDATES), 1)]
    return [i for i, _ in fuse(vector, words, vector_weight, RRF_K)[:depth]]


@dataclass
class _Scored:
    """A question the sweep can score, with its sources located in the documents."""

    question: EvalQuestion
    located: list[Located] | None
    references: tuple[str, ...]


EmbedderFor = Callable[[str], Embedder]


def run_sweep(
    grid: SweepGrid,
    questions: Sequence[EvalQuestion],
    documents: Sequence[ScratchDocument],
    resolver: SourceResolver,
    embedder_for: EmbedderFor,
    tokenizer: Tokenizer,
    *,
    cancel: CancelToken | None = None,
) -> Generator[Progress, None, SweepResult]:
    """The grid over the documents' texts (a progress generator: chunking, embedding and
    scoring report between steps; a cancel stops between steps, with nothing to undo)."""
    grid.check()
    cancel = cancel or CancelToken()
    started = time.perf_counter()
    scored: list[_Scored] = []
    for question in questions:
        located = resolver.locate_all(question.sources) if question.sources else []
        references = question.references if question.answerable else ()
        if located or references:
            scored.append(_Scored(question, located or None, references))
    skipped = len(questions) - len(scored)
    if not scored:
        raise SweepError(
            "no question of the set has an expected source found in the library or a "
            "reference answer: the sweep has nothing to score"
        )
    depth = max(max(grid.ks), 10)
    chunkings = grid.chunkings
    steps = len(chunkings) * (1 + len(grid.embedders) * int(grid.uses_vectors))
    step = 0
    builds = {"chunkings": 0, "embeddings": 0}
    query_vectors: dict[str, FloatArray] = {}
    text_vectors: dict[str, dict[str, FloatArray]] = defaultdict(dict)
    rows: list[SweepRow] = []
    for strategy_name, size in chunkings:
        cancel.raise_if_cancelled()
        strategy = strategy_for(strategy_name, size)
        yield Progress(step, steps, f"Chunking: {strategy_name} {size}")
        spans: list[ChunkSpan] = []
        for document in documents:
            for chunk in chunk_text(
                document.text, strategy, pages=document.pages, tokenizer=tokenizer
            ):
                spans.append(ChunkSpan(document.id, chunk.start, chunk.end, chunk.text))
        builds["chunkings"] += 1
        step += 1
        lexical = ScratchBM25([s.text for s in spans])

        chunking = _Chunking(strategy_name, size, spans, lexical)
        if "lexical" in grid.modes:
            cancel.raise_if_cancelled()
            rows += _rows(grid, scored, chunking, "lexical", "", None, None, depth)
        vector_modes = [m for m in grid.modes if m != "lexical"]
        for embedder_name in grid.embedders if vector_modes else ():
            embedder = embedder_for(embedder_name)
            if embedder_name not in query_vectors:
                query_vectors[embedder_name] = yield from _embed(
                    embedder, [item.question.question for item in scored], cancel, step, steps
                )
            cache = text_vectors[embedder_name]
            missing = list(dict.fromkeys(c.text for c in spans if c.text not in cache))
            yield Progress(step, steps, f"Embedding {len(missing):,} chunks: {embedder_name}")
            vectors = yield from _embed(embedder, missing, cancel, step, steps)
            cache.update(zip(missing, vectors, strict=True))
            matrix = (
                np.stack([cache[c.text] for c in spans]).astype(np.float32)
                if spans
                else np.zeros((0, embedder.key.dimensions), dtype=np.float32)
            )
            builds["embeddings"] += 1
            step += 1
            for mode in vector_modes:
                cancel.raise_if_cancelled()
                rows += _rows(
                    grid,
                    scored,
                    chunking,
                    mode,
                    embedder_name,
                    query_vectors[embedder_name],
                    matrix,
                    depth,
                )
    yield Progress(steps, steps, "Sweep done")
    return SweepResult(
        tuple(rows), grid, len(scored), skipped, builds, time.perf_counter() - started
    )


@dataclass(frozen=True)
class _Chunking:
    strategy: str
    size: int
    spans: list[ChunkSpan]
    lexical: ScratchBM25


def _rows(
    grid: SweepGrid,
    scored: Sequence[_Scored],
    chunking: _Chunking,
    mode: str,
    embedder_name: str,
    query_vectors: FloatArray | None,
    matrix: FloatArray | None,
    depth: int,
) -> list[SweepRow]:
    """One row per k for one chunking, embedder and mode (rankings made once)."""
    rankings = [
        rank(
            mode,
            item.question.question,
            query_vectors[n] if query_vectors is not None else None,
            matrix,
            chunking.lexical,
            depth,
            grid.vector_weight,
        )
        for n, item in enumerate(scored)
    ]
    return [
        SweepRow(
            chunking.strategy,
            chunking.size,
            embedder_name,
            mode,
            k,
            len(chunking.spans),
            _mean_scores(scored, rankings, chunking.spans, k),
        )
        for k in grid.ks
    ]


def _embed(
    embedder: Embedder, texts: Sequence[str], cancel: CancelToken, step: int, steps: int
) -> Generator[Progress, None, FloatArray]:
    if not texts:
        return np.zeros((0, embedder.key.dimensions), dtype=np.float32)
    parts = []
    done = 0
    for batch in embedder.batches(texts):
        cancel.raise_if_cancelled()
        parts.append(embedder.embed([texts[i] for i in batch]))
        done += len(batch)
        yield Progress(step, steps, f"Embedding: {done:,} of {len(texts):,}")
    return np.concatenate(parts).astype(np.float32, copy=False)


def _mean_scores(
    scored: Sequence[_Scored], rankings: Sequence[list[int]], spans: Sequence[ChunkSpan], k: int
) -> dict[str, float | None]:
    per_question = [
        retrieval_scores([spans[i] for i in ranking], s.located, s.references, k)
        for s, ranking in zip(scored, rankings, strict=True)
    ]
    out: dict[str, float | None] = {}
    for key in metrics.RETRIEVAL_KEYS:
        value, count = metrics.mean_of(per_question, key)
        if count:
            out[key] = None if value is None else round(value, 4)
    return out
