"""Embedding the library's chunks: plan (what is missing, how many tokens, what it costs),
then run in batches. Vectors are cached by (embedder, model, dimensions, text hash), so a
re-chunk embeds only new text and switching models back costs nothing. Each batch is
saved in its own transaction: a cancelled, failed or killed run resumes where it stopped."""

from __future__ import annotations

import time
from collections.abc import Generator
from dataclasses import dataclass

import numpy as np

from desktop.library.repository import Library
from desktop.progress import Progress
from desktop.retrieval.embedders import Embedder, EmbedderKey, embed_batch
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


def _embedded(workspace: Workspace, key: EmbedderKey) -> dict[str, bool]:
    """Text hash → whether its vector was embedded from a cut text, for ``key``."""
    rows = workspace.connection().execute(
        "SELECT text_hash, truncated FROM embeddings WHERE embedder = ? AND model = ? "
        "AND dimensions = ?",
        (key.embedder, key.model, key.dimensions),
    )
    return {str(digest): bool(cut) for digest, cut in rows}


def index_status(workspace: Workspace, key: EmbedderKey) -> tuple[int, int, int]:
    """(chunks, chunks with a vector for ``key``, of those embedded from a cut text)."""
    hashes = Library(workspace).chunk_keys().text_hashes
    embedded = _embedded(workspace, key)
    have = [embedded[h] for h in hashes if h in embedded]
    return len(hashes), len(have), sum(have)


def plan_index(
    workspace: Workspace, embedder: Embedder, prices: dict[str, float] | None = None
) -> IndexPlan:
    key = embedder.key
    hashes = Library(workspace).chunk_keys().text_hashes
    embedded = _embedded(workspace, key)
    wanted = [h for h in dict.fromkeys(hashes) if h not in embedded]  # first use first
    texts = Library(workspace).texts_for_hashes(wanted)
    missing = tuple((h, texts[h]) for h in wanted if h in texts)
    tokens = sum(min(embedder.count_tokens(text), embedder.max_tokens) for _, text in missing)
    price = (prices or {}).get(key.model) if embedder.paid else 0.0
    return IndexPlan(key, len(hashes), missing, tokens, price, embedder.paid)


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
        vectors = yield from embed_batch(embedder, [texts[i] for i in batch], done, len(texts))
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
