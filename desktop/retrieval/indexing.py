"""Embedding the library's chunks: plan (what is missing, how many tokens, what it costs),
then run in batches. Vectors are cached by (embedder, model, dimensions, text hash), so a
re-chunk embeds only new text and switching models back costs nothing. Each batch is
saved in its own transaction: a cancelled, failed or killed run resumes where it stopped.

A text longer than the embedder's window is either embedded whole in windows (the local
models) or cut at the limit (the API's 8,192 tokens); the cache row records which
(``embeddings.truncated``: 0 whole in one window, 1 cut, 2 embedded in windows), so the
index status can say so."""

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
    seconds: float | None = None  # estimated time: local models, from a measured rate
    rate_source: str = ""  # where the rate behind ``seconds`` was measured

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
        time_text = ""
        if self.seconds is not None:
            time_text = f", about {duration(self.seconds)}"
            if self.rate_source:
                time_text += f" ({self.rate_source})"
        return (
            f"{len(self.missing):,} of {self.total_chunks:,} chunks to embed with "
            f"{self.key.label()}: {self.tokens:,} tokens{price}{time_text}."
        )


def duration(seconds: float) -> str:
    """'40 s', '3 min 5 s', '2 h 10 min': how long, in words a user reads at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{max(1, seconds)} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@dataclass(frozen=True)
class IndexResult:
    key: EmbedderKey
    embedded: int
    truncated: int  # cut at the embedder's limit
    requests: int
    seconds: float
    windowed: int = 0  # longer than the window, embedded whole in windows
    tokens: int = 0


WHOLE, CUT, WINDOWED = 0, 1, 2  # embeddings.truncated


def _embedded(workspace: Workspace, key: EmbedderKey) -> dict[str, int]:
    """Text hash → how its vector was embedded (WHOLE, CUT or WINDOWED), for ``key``."""
    rows = workspace.connection().execute(
        "SELECT text_hash, truncated FROM embeddings WHERE embedder = ? AND model = ? "
        "AND dimensions = ?",
        (key.embedder, key.model, key.dimensions),
    )
    return {str(digest): int(how) for digest, how in rows}


def index_status(workspace: Workspace, key: EmbedderKey) -> tuple[int, int, int, int]:
    """(chunks, chunks with a vector for ``key``, of those embedded from a cut text, of
    those embedded in windows)."""
    hashes = Library(workspace).chunk_keys().text_hashes
    embedded = _embedded(workspace, key)
    have = [embedded[h] for h in hashes if h in embedded]
    return len(hashes), len(have), have.count(CUT), have.count(WINDOWED)


def plan_index(
    workspace: Workspace,
    embedder: Embedder,
    prices: dict[str, float] | None = None,
    rate: tuple[float, str] | None = None,
) -> IndexPlan:
    """What is missing for ``embedder`` and what it costs; ``rate`` (tokens per second,
    where it was measured) gives the time estimate."""
    key = embedder.key
    keys = Library(workspace).chunk_keys()
    hashes = keys.text_hashes
    embedded = _embedded(workspace, key)
    first: dict[str, int] = {}  # each text wanted once, by its first chunk (equal texts)
    for chunk_id, digest in zip(keys.ids, hashes, strict=True):
        if digest not in embedded:
            first.setdefault(digest, chunk_id)
    texts = Library(workspace).chunk_texts(first.values())
    # Only where the chunk still has that text (an id read above may have been reused).
    missing = tuple((h, texts[i][1]) for h, i in first.items() if texts.get(i, ("",))[0] == h)
    counts = (embedder.count_tokens(text) for _, text in missing)
    tokens = sum(counts) if embedder.windowed else sum(min(c, embedder.max_tokens) for c in counts)
    price = (prices or {}).get(key.model) if embedder.paid else 0.0
    seconds = tokens / rate[0] if rate and rate[0] > 0 and missing else None
    return IndexPlan(
        key,
        len(hashes),
        missing,
        tokens,
        price,
        embedder.paid,
        seconds,
        rate[1] if rate and seconds is not None else "",
    )


def run_index(
    workspace: Workspace, embedder: Embedder, plan: IndexPlan
) -> Generator[Progress, None, IndexResult]:
    key = plan.key
    texts = [text for _, text in plan.missing]
    batches = embedder.batches(texts)
    started = time.monotonic()
    done = truncated = windowed = tokens = 0
    yield Progress(0, len(texts), f"embedding with {key.label()}")
    for number, batch in enumerate(batches, start=1):
        vectors = yield from embed_batch(embedder, [texts[i] for i in batch], done, len(texts))
        if vectors.shape != (len(batch), key.dimensions):
            raise RuntimeError(
                f"expected {len(batch)}×{key.dimensions} vectors, got "
                f"{vectors.shape[0]}×{vectors.shape[1]}"
            )
        counts = [embedder.count_tokens(texts[i]) for i in batch]
        over = WINDOWED if embedder.windowed else CUT
        how = [over if count > embedder.max_tokens else WHOLE for count in counts]
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
                        h,
                        now,
                    )
                    for row, (i, h) in enumerate(zip(batch, how, strict=True))
                ),
            )
        done += len(batch)
        truncated += how.count(CUT)
        windowed += how.count(WINDOWED)
        tokens += sum(counts)
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
    return IndexResult(
        key, done, truncated, len(batches), time.monotonic() - started, windowed, tokens
    )
