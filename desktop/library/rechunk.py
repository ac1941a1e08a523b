"""“Apply to library”: re-chunk every document with one strategy. Planned first (nothing
written, so the user can be told how many chunks change), then applied in one
transaction. Unchanged chunks keep their ids, so their embeddings are reused."""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

from desktop.library.chunking import Chunk, ChunkingStrategy, chunk_text, strategy_params
from desktop.library.repository import ChunkDiff, Library, diff_chunks
from desktop.progress import Progress
from desktop.tokens import Tokenizer


@dataclass(frozen=True)
class RechunkPlan:
    strategy: ChunkingStrategy
    encoding: str
    new_chunks: tuple[tuple[int, tuple[Chunk, ...]], ...]
    diff: ChunkDiff

    @property
    def documents(self) -> int:
        return len(self.new_chunks)

    def describe(self) -> str:
        d = self.diff
        return (
            f"Re-chunk {self.documents} document(s): {d.changed:,} chunk change(s) "
            f"({d.removed:,} removed, {d.added:,} added); {d.kept:,} chunk(s) stay as they are."
        )


def plan_rechunk(
    library: Library, strategy: ChunkingStrategy, tokenizer: Tokenizer
) -> Generator[Progress, None, RechunkPlan]:
    documents = library.documents()
    planned = []
    kept = added = removed = 0
    for number, document in enumerate(documents):
        yield Progress(number, len(documents), document.title)
        text, pages = library.text(document.id)
        chunks = tuple(chunk_text(text, strategy, pages=pages, tokenizer=tokenizer))
        diff = diff_chunks(library.chunks(document.id), chunks)
        kept, added, removed = kept + diff.kept, added + diff.added, removed + diff.removed
        planned.append((document.id, chunks))
    yield Progress(len(documents), len(documents), "planned")
    return RechunkPlan(strategy, tokenizer.name, tuple(planned), ChunkDiff(kept, added, removed))


def apply_rechunk(library: Library, plan: RechunkPlan) -> ChunkDiff:
    diff = library.replace_all_chunks(plan.new_chunks)
    library.set_chunking_config({**strategy_params(plan.strategy), "encoding": plan.encoding})
    return diff
