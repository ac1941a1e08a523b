"""Embedding the library's chunks: plan (what is missing, how many tokens, what it costs),
then run in batches. Vectors are cached by (embedder, model, dimensions, text hash), so a
re-chunk embeds only new text and switching models back costs nothing. Each batch is
saved in its own transaction: a cancelled, failed or killed run resumes where it stopped."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from desktop.progress import Progress
from desktop.retrieval.embedders import Embedder, EmbedderKey
from desktop.workspace import Workspace


@dataclass(frozen=True)
class IndexPlan:
    key: EmbedderKey
    total_chunks: int
    missing: tuple[tuple[str, str], ...]  # (text hash, text) not embedded yet, unique
    tokens: int
    price_per_million: float | None
    paid: bool

    @property
    def cost_usd(self) -> float | None:
        if self.price_per_million is None:
            return None
        return self.tokens / 1_000_000 * self.price_per_million

    def describe(self) -> str:
        if not self.missing:
            return f"All {self.total_chunks:,} chunks are embedded with {self.key.label()}."
        cost = self.cost_usd
        price = (
            (
                f", estimated cost ${cost:,.4f}"
                if cost is not None
                else ", cost unknown (no price set for this model)"
            )
            if self.paid
            else ""
        )
        return (
            f"{len(self.missing):,} of {self.total_chunks:,} chunks to embed with "
            f"{self.key.label()}: {self.tokens:,} tokens{price}."
        )


@dataclass(frozen=True)
class IndexResult:
    key: EmbedderKey
    embedded: int
    truncated: int
    requests: int
    seconds: float


def index_status(workspace: Workspace, key: EmbedderKey) -> tuple[int, int, int]:
    """(chunks, chunks with a vector for ``key``, of those embedded from a cut text)."""
    row = (
        workspace.connection()
        .execute(
            "SELECT COUNT(*), COUNT(e.id), COALESCE(SUM(e.truncated), 0) FROM chunks c "
            "LEFT JOIN embeddings e ON e.text_hash = c.text_hash AND e.embedder = ? "
            "AND e.model = ? AND e.dimensions = ?",
            (key.embedder, key.model, key.dimensions),
        )
        .fetchone()
    )
    return int(row[0]), int(row[1]), int(row[2])


def plan_index(
    workspace: Workspace, embedder: Embedder, prices: dict[str, float] | None = None
) -> IndexPlan:
    key = embedder.key
    conn = workspace.connection()
    total = int(conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])
    rows = conn.execute(
        "SELECT c.text_hash, MIN(c.text) FROM chunks c WHERE NOT EXISTS ("
        " SELECT 1 FROM embeddings e WHERE e.text_hash = c.text_hash AND e.embedder = ?"
        " AND e.model = ? AND e.dimensions = ?) GROUP BY c.text_hash ORDER BY MIN(c.id)",
        (key.embedder, key.model, key.dimensions),
    ).fetchall()
    missing = tuple((str(r[0]), str(r[1])) for r in rows)
    tokens = sum(min(embedder.count_tokens(text), embedder.max_tokens) for _, text in missing)
    price = (prices or {}).get(key.model) if embedder.paid else 0.0
    return IndexPlan(key, total, missing, tokens, price, embedder.paid)


def run_index(
    workspace: Workspace, embedder: Embedder, plan: IndexPlan
) -> Generator[Progress, None, IndexResult]:
    key = plan.key
    texts = [text for _, text in plan.missing]
    batches = embedder.batches(texts)
    started = time.monotonic()
    done = truncated = 0
    yield Progress(0, len(texts), f"embedding with {key.label()}")
    for number, batch in enumerate(batches, start=1):
        vectors = embedder.embed([texts[i] for i in batch])
        if vectors.shape != (len(batch), key.dimensions):
            raise RuntimeError(
                f"expected {len(batch)}×{key.dimensions} vectors, got "
                f"{vectors.shape[0]}×{vectors.shape[1]}"
            )
        cut = [embedder.count_tokens(texts[i]) > embedder.max_tokens for i in batch]
        now = time.time()
        with workspace.transaction() as tx:
            tx.executemany(
                "INSERT OR REPLACE INTO embeddings(embedder, model, dimensions, text_hash, "
                "vector, truncated, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (
                        key.embedder,
                        key.model,
                        key.dimensions,
                        plan.missing[i][0],
                        np.ascontiguousarray(vectors[row], dtype="<f4").tobytes(),
                        int(c),
                        now,
                    )
                    for row, (i, c) in enumerate(zip(batch, cut, strict=True))
                ),
            )
        done += len(batch)
        truncated += sum(cut)
        elapsed = time.monotonic() - started
        rate = done / elapsed if elapsed > 0 else 0.0
        eta = (len(texts) - done) / rate if rate > 0 else 0.0
        yield Progress(
            done,
            len(texts),
            f"{done:,}/{len(texts):,} chunks · {rate:,.0f}/s · "
            f"ETA {int(eta) // 60}:{int(eta) % 60:02d} "
            f"(request {number}/{len(batches)})",
        )
    return IndexResult(key, done, truncated, len(batches), time.monotonic() - started)
