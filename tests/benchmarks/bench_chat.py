"""Retrieval + prompt assembly latency per question over a 100,000-chunk workspace: the
part of a RAG answer's "retrieval step" that is RAGTune's own (the model server's latency
is excluded: no request is sent). Compared with the same work at 1,000 chunks.

    .venv/bin/python tests/benchmarks/bench_chat.py [--chunks 100000] [--dims 1536]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from desktop.chat.prompt import build_prompt
from desktop.retrieval.embedders import EmbedderKey, normalise
from desktop.retrieval.search import Retriever, SearchSettings
from desktop.workspace import Workspace

# A Zipf-distributed vocabulary, like real text: a few words are everywhere, most are rare.
# (A tiny vocabulary would make every query word match every chunk, which no library does.)
VOCABULARY = [f"term{i}" for i in range(20_000)]


def words(rng: np.random.Generator, count: int) -> list[str]:
    ranks = np.minimum(rng.zipf(1.3, size=count), len(VOCABULARY)) - 1
    return [VOCABULARY[r] for r in ranks]


class StaticQueryEmbedder:
    """Stands in for the embedding call (excluded like the chat model's latency): returns
    a fixed unit vector per query text at once."""

    paid = False
    windowed = False
    max_tokens = 8192

    def __init__(self, dims: int) -> None:
        self.key = EmbedderKey("bench", "bench", dims)
        self.dims = dims

    def embed(self, texts: list[str]) -> np.ndarray:
        seeds = [int(hashlib.sha1(t.encode()).hexdigest()[:8], 16) for t in texts]
        return normalise(
            np.stack(
                [np.random.default_rng(s).normal(size=self.dims).astype(np.float32) for s in seeds]
            )
        )

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def batches(self, texts: list[str]) -> list[list[int]]:
        return [list(range(len(texts)))]


def build(path: Path, chunks: int, dims: int) -> Workspace:
    workspace = Workspace(path)
    rng = np.random.default_rng(1)
    documents = max(1, chunks // 50)
    with workspace.transaction() as tx:
        tx.executemany(
            "INSERT INTO documents(id, source_path, title, format, size_bytes, modified_time, "
            "content_hash, imported_at, updated_at, text) VALUES (?, ?, ?, 'text', 0, 0, ?, 0, "
            "0, '')",
            ((d + 1, f"/docs/{d}.txt", f"Document {d}", str(d)) for d in range(documents)),
        )
        rows = []
        vectors = []
        for i in range(chunks):
            text = " ".join(words(rng, 60)) + f" item{i}"
            digest = hashlib.sha256(text.encode()).hexdigest()
            rows.append((i // 50 + 1, i % 50, 0, len(text), text, 80, digest))
            vectors.append(digest)
        tx.executemany(
            "INSERT INTO chunks(document_id, idx, char_start, char_end, text, "
            "token_count, text_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        matrix = normalise(rng.normal(size=(chunks, dims)).astype(np.float32))
        tx.executemany(
            "INSERT INTO embeddings(embedder, model, dimensions, text_hash, vector, created_at) "
            "VALUES ('bench', 'bench', ?, ?, ?, 0)",
            ((dims, digest, matrix[i].tobytes()) for i, digest in enumerate(vectors)),
        )
    return workspace


def measure(workspace: Workspace, dims: int, questions: int) -> dict[str, float]:
    retriever = Retriever(workspace, StaticQueryEmbedder(dims))  # type: ignore[arg-type]
    started = time.perf_counter()
    retriever.sync()
    load = time.perf_counter() - started
    times, search_times = [], []
    rng = np.random.default_rng(2)
    for q in range(questions):
        question = " ".join(words(rng, 8)) + f"? {q}"
        t0 = time.perf_counter()
        result = retriever.search(question, SearchSettings(mode="hybrid", k=5), log_kind=None)
        t1 = time.perf_counter()
        build_prompt(question, result.usable, model="gpt-4.1-mini")
        t2 = time.perf_counter()
        search_times.append((t1 - t0) * 1000)
        times.append((t2 - t0) * 1000)
    ordered = sorted(times)
    return {
        "load_s": load,
        "median_ms": statistics.median(times),
        "p95_ms": ordered[int(0.95 * (len(ordered) - 1))],
        "search_median_ms": statistics.median(search_times),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=1536)
    parser.add_argument("--questions", type=int, default=50)
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for count in (1_000, args.chunks):
            started = time.perf_counter()
            workspace = build(Path(scratch) / f"w{count}.ragtune.sqlite", count, args.dims)
            built = time.perf_counter() - started
            results[count] = measure(workspace, args.dims, args.questions)
            workspace.close()
            r = results[count]
            print(
                f"{count:>7,} chunks × {args.dims}: built in {built:.1f} s, index loaded in "
                f"{r['load_s']:.2f} s; per question (hybrid k=5 + prompt): median "
                f"{r['median_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms "
                f"(search alone {r['search_median_ms']:.1f} ms)"
            )
    small, large = results[1_000], results[args.chunks]
    print(
        f"ratio {args.chunks:,} / 1,000 chunks: {large['median_ms'] / small['median_ms']:.1f}×"
        f" for {args.chunks // 1000}× the chunks"
    )
    print(json.dumps({str(k): v for k, v in results.items()}))


if __name__ == "__main__":
    main()
