"""What the chunk inspector shows for one document and one strategy, computed in one
place so the inspector, the comparison and ``ragtune chunks`` agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from desktop.library.chunking import (
    Chunk,
    ChunkingStrategy,
    ChunkStats,
    chunk_stats,
    chunk_text,
    size_histogram,
)
from desktop.tokens import get_tokenizer

HISTOGRAM_BINS = 12


@dataclass(frozen=True)
class ChunkingView:
    strategy: ChunkingStrategy | None  # None: the chunks stored in the library
    chunks: Sequence[Chunk]
    stats: ChunkStats
    histogram: list[tuple[int, int, int]]


def view_of(
    chunks: Sequence[Chunk], text: str, strategy: ChunkingStrategy | None = None
) -> ChunkingView:
    return ChunkingView(
        strategy, chunks, chunk_stats(chunks, text), size_histogram(chunks, HISTOGRAM_BINS)
    )


def preview(
    text: str, pages: Sequence[int], strategy: ChunkingStrategy, encoding: str
) -> ChunkingView:
    """Re-chunk a document without touching the library."""
    chunks = chunk_text(text, strategy, pages=pages, tokenizer=get_tokenizer(encoding))
    return view_of(chunks, text, strategy)
