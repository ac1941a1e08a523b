"""The figures of issue 14 on the ranking side: hit@1 / hit@5 / MRR at k = 5 before and
after (stemmed BM25, question words left out, the reranker) on the sample library and on
a second, independent set, and the latency of reranking and of a whole question.

Run from the repository root with the app's venv::

    .venv/bin/python tests/benchmarks/bench_ranking.py [--parts quality,latency]

Question sets (a hit is a top-k chunk of the right document holding >= 50% of the quoted
answer, as in bench_retrieval.py part 4):

- the sample library: resources/samples, data/sample_questions.jsonl (60 questions);
- the second set: data/second_set/ (8 documents written for it, md/txt/html, and 40
  questions), imported from outside resources/;
- the tuning set: data/tuning_set/ (8 documents, 56 questions). The reranker's choices
  (MaxSim over every query token, no blend with the first stage's order, the window
  chosen by the question's content words, its size) were made on it and on the 40
  passages of retrieval_set.py, never on the two sets above; it is printed for
  completeness, not as a result.

Latency: reranking 25 candidates (the model's cache off, so every candidate is read
afresh) against embedding one query in the same run; and a whole question (embed +
hybrid + rerank + prompt) at 10,000 chunks of the sample prose (vectors random, with the
real model's key, so the query is embedded for real and the index has the real size),
against the same question without the reranker. Both print the load average: the two
cores are shared with other processes, which slows every wall-clock figure.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from desktop.chat.prompt import build_prompt  # noqa: E402
from desktop.library.repository import Library  # noqa: E402
from desktop.library.service import LibraryService  # noqa: E402
from desktop.progress import run_to_end  # noqa: E402
from desktop.retrieval import lexical, search  # noqa: E402
from desktop.retrieval.embedders import LocalModelEmbedder  # noqa: E402
from desktop.retrieval.indexing import plan_index, run_index  # noqa: E402
from desktop.retrieval.rerank import DEFAULT_WINDOW, MaxSimReranker, Reranker  # noqa: E402
from desktop.retrieval.search import Retriever, SearchSettings  # noqa: E402
from desktop.settings import Settings  # noqa: E402
from desktop.workspace import Workspace  # noqa: E402
from tests.benchmarks.bench_retrieval import (  # noqa: E402
    QUESTIONS,
    SAMPLES,
    CachedQueries,
    Question,
    Score,
    build_corpus,
    heading,
    insert_random_vectors,
    is_hit,
    line,
    print_header,
    quote_span,
)

DATA = ROOT / "tests" / "benchmarks" / "data"
SETS = (
    ("sample library", SAMPLES, QUESTIONS, True),
    (
        "second set",
        DATA / "second_set" / "documents",
        DATA / "second_set" / "questions.jsonl",
        True,
    ),
    (
        "tuning set",
        DATA / "tuning_set" / "documents",
        DATA / "tuning_set" / "questions.jsonl",
        False,
    ),
)
K = 5
CANDIDATES = 25
TARGET = {"sample library": (0.75, 0.95, 0.82)}
RERANK_TARGET_MS = 150.0
QUESTION_TARGET_MS = 250.0
LATENCY_CHUNKS = 10_000
WINDOWS = (64, 96)


def as_written(
    workspace: Workspace, text: str, k: int, document_ids: Sequence[int] | None = None
) -> list[lexical.LexicalHit]:
    """BM25 over the words as written, as before issue 14 (every word kept but those in
    over ``COMMON_TERM_SHARE`` of the chunks), from an index of this connection's own: the
    app has kept one full-text index, the stemmed one, since schema 14."""
    conn = workspace.connection()
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.as_written "
        "USING fts5(text, tokenize='unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.as_written_terms "
        "USING fts5vocab(temp, as_written, 'row')"
    )
    if conn.execute("SELECT 1 FROM temp.as_written LIMIT 1").fetchone() is None:
        conn.execute("INSERT INTO temp.as_written(rowid, text) SELECT id, text FROM chunks")
    words = lexical.content_words(lexical._WORD.findall(text))
    total = Library(workspace).chunk_count()
    if len(words) > 1 and total >= 1000:
        marks = ",".join("?" * len(words))
        frequency = dict(
            conn.execute(
                f"SELECT term, doc FROM temp.as_written_terms WHERE term IN ({marks})", words
            ).fetchall()
        )
        kept = [w for w in words if frequency.get(w, 0) <= lexical.COMMON_TERM_SHARE * total]
        words = kept or [min(words, key=lambda w: frequency.get(w, 0))]
    query = lexical.fts_query(" ".join(words))
    if query is None or k <= 0:
        return []
    sql = "SELECT rowid, -bm25(as_written) AS score FROM temp.as_written WHERE as_written MATCH ?"
    params: list[object] = [query]
    if document_ids is not None:
        allowed = Library(workspace).chunk_ids_in(document_ids)
        sql += " AND rowid IN (SELECT value FROM json_each(?))"
        params.append(json.dumps(allowed))
    rows = conn.execute(sql + " ORDER BY score DESC, rowid LIMIT ?", [*params, k]).fetchall()
    return [lexical.LexicalHit(int(r[0]), float(r[1]), n) for n, r in enumerate(rows, start=1)]


@contextlib.contextmanager
def lexical_as(*, stemmed: bool, question_words_out: bool) -> Iterator[None]:
    """BM25 with stemming and question-word removal each on or off; both off is BM25 as
    it was before issue 14 (the words as written, every word kept but the common ones)."""
    original_search, original_words = search.lexical_search, lexical.content_words
    if not stemmed:
        search.lexical_search = as_written  # type: ignore[assignment]
    if not question_words_out:
        lexical.content_words = lambda words: list(dict.fromkeys(w.lower() for w in words))
    try:
        yield
    finally:
        search.lexical_search = original_search
        lexical.content_words = original_words


@dataclasses.dataclass(frozen=True)
class Config:
    label: str
    stemmed: bool = True
    question_words_out: bool = True
    reranker: Reranker | None = None
    mode: str = "hybrid"


def load_set(
    folder: Path, documents: Path, questions_file: Path, embedder: LocalModelEmbedder, name: str
) -> tuple[Workspace, list[Question], dict[str, tuple[int, tuple[int, int]]], int]:
    workspace = Workspace(folder / f"{name.replace(' ', '-')}.ragtune.sqlite")
    run_to_end(LibraryService(workspace, Settings()).import_paths([documents]))
    run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    library = Library(workspace)
    by_name = {Path(d.source_path).name: d for d in library.documents()}
    questions = [
        Question(**json.loads(row))
        for row in questions_file.read_text(encoding="utf-8").splitlines()
        if row.strip()
    ]
    chunks = library.chunks()
    spans: dict[str, tuple[int, tuple[int, int]]] = {}
    whole = 0
    for question in questions:
        document = by_name.get(question.document)
        span = quote_span(library.text(document.id)[0], question.answer) if document else None
        if document is None or span is None:
            line(f"WARNING {question.id}: quote not found; counted a miss")
            continue
        spans[question.id] = (document.id, span)
        whole += any(
            c.document_id == document.id and c.start <= span[0] and span[1] <= c.end for c in chunks
        )
    line(
        f"{name}: {len(by_name)} documents, {len(chunks)} chunks, {len(questions)} questions "
        f"({sum(q.kind == 'paraphrase' for q in questions)} paraphrase); quotes located "
        f"{len(spans)}, wholly inside one chunk {whole}"
    )
    return workspace, questions, spans, len(chunks)


def rank_of(result: search.SearchResult, span: tuple[int, tuple[int, int]]) -> int | None:
    document_id, (start, end) = span
    for chunk in result.results:
        if chunk.document_id == document_id and is_hit(chunk.start, chunk.end, (start, end)):
            return chunk.rank
    return None


def evaluate(
    retriever: Retriever,
    questions: list[Question],
    spans: dict[str, tuple[int, tuple[int, int]]],
    config: Config,
) -> tuple[dict[str, Score], float]:
    """Scores at k = 5, and recall@25 of the first stage (what a reranker can reach)."""
    scores = {"all": Score(), "paraphrase": Score(), "keyword": Score()}
    reachable = 0
    settings = SearchSettings(mode=config.mode, k=K, rerank_candidates=CANDIDATES)
    wide = SearchSettings(mode=config.mode, k=CANDIDATES)
    with lexical_as(stemmed=config.stemmed, question_words_out=config.question_words_out):
        for question in questions:
            rank = None
            if question.id in spans:
                result = retriever.search(
                    question.question, settings, log_kind=None, reranker=config.reranker
                )
                rank = rank_of(result, spans[question.id])
                first = retriever.search(question.question, wide, log_kind=None)
                reachable += rank_of(first, spans[question.id]) is not None
            scores["all"].add(rank)
            scores[question.kind].add(rank)
    return scores, reachable / max(1, len(questions))


def bench_quality(folder: Path, embedder: LocalModelEmbedder) -> None:
    heading(f"Ranking quality, k = {K} (hit@1, hit@5, MRR)")
    window = MaxSimReranker(window=DEFAULT_WINDOW)
    before = {"stemmed": False, "question_words_out": False}
    configs = (
        Config("lexical: words as written, every word (before)", **before, mode="lexical"),
        Config("lexical: stemmed", question_words_out=False, mode="lexical"),
        Config("lexical: stemmed, question words left out", mode="lexical"),
        Config("hybrid: before (BM25 as written, no reranker)", **before),
        Config("hybrid: BM25 stemmed", question_words_out=False),
        Config("hybrid: BM25 stemmed, question words left out"),
        *(
            Config(
                f"  + MaxSim, {size}-token window, {CANDIDATES} candidates"
                + (" (default)" if size == DEFAULT_WINDOW else ""),
                reranker=window if size == DEFAULT_WINDOW else MaxSimReranker(window=size),
            )
            for size in WINDOWS
        ),
        Config(
            f"  + MaxSim, whole chunk, {CANDIDATES} candidates",
            reranker=MaxSimReranker(window=0),
        ),
        Config(f"hybrid before + MaxSim, {DEFAULT_WINDOW}-token window", **before, reranker=window),
    )
    for name, documents, questions_file, reported in SETS:
        line()
        workspace, questions, spans, _ = load_set(folder, documents, questions_file, embedder, name)
        if not reported:
            line(
                "  (used to choose the reranker's settings: printed for completeness, not a result)"
            )
        retriever = Retriever(workspace, CachedQueries(embedder))
        line(f"  {'configuration':<58}{'all':<20}{'paraphrase':<20}{'keyword':<20}recall@25")
        line(f"  {'':<58}{'hit@1 hit@5  MRR':<20}")
        for config in configs:
            scores, reach = evaluate(retriever, questions, spans, config)
            line(
                f"  {config.label:<58}{scores['all'].cells():<20}"
                f"{scores['paraphrase'].cells():<20}{scores['keyword'].cells():<20}{reach:.2f}"
            )
            target = TARGET.get(name)
            if target and config.reranker is window and config.stemmed:
                s = scores["all"]
                got = (s.hit1 / s.n, s.hit5 / s.n, s.reciprocal / s.n)
                line(
                    "  figures to reach (hit@1 ≥ {:.2f}, hit@5 ≥ {:.2f}, MRR ≥ {:.2f}): ".format(
                        *target
                    )
                    + ", ".join(
                        f"{label} {'yes' if g >= t else 'NO'}"
                        for label, g, t in zip(("hit@1", "hit@5", "MRR"), got, target, strict=True)
                    )
                )
        workspace.close()


def median_ms(times: Sequence[float]) -> float:
    return statistics.median(times) * 1000


def bench_latency(folder: Path, embedder: LocalModelEmbedder, quick: bool) -> None:
    heading(f"Reranking {CANDIDATES} candidates (cache off: every candidate read afresh)")
    workspace = Workspace(folder / "latency-samples.ragtune.sqlite")
    run_to_end(LibraryService(workspace, Settings()).import_paths([SAMPLES]))
    run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    questions = [
        Question(**json.loads(row)).question
        for row in QUESTIONS.read_text(encoding="utf-8").splitlines()
    ]
    retriever = Retriever(workspace, CachedQueries(embedder))
    candidate_texts = [
        [c.text for c in retriever.search(q, SearchSettings(k=CANDIDATES), log_kind=None).results]
        for q in questions
    ]
    workspace.close()
    embedder.embed(["warm-up"])
    rerankers = {
        **{
            f"{size}-token window" + (" (default)" if size == DEFAULT_WINDOW else ""): (
                MaxSimReranker(window=size, cache_bytes=0)
            )
            for size in WINDOWS
        },
        "whole chunk": MaxSimReranker(window=0, cache_bytes=0),
    }
    for reranker in rerankers.values():
        reranker.scores("warm-up", candidate_texts[0][:2])
    embed_times = []
    for question in questions:
        started = time.perf_counter()
        embedder.embed([question + " "])  # a text the cache has not seen
        embed_times.append(time.perf_counter() - started)
    line(
        f"baseline, same run: embedding one question {median_ms(embed_times):.1f} ms median "
        f"over {len(questions)} questions"
    )
    for label, reranker in rerankers.items():
        times, cpu = [], []
        for question, texts in zip(questions, candidate_texts, strict=True):
            began, began_cpu = time.perf_counter(), time.process_time()
            reranker.scores(question, texts)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        ordered = sorted(times)
        line(
            f"MaxSim, {label}: median {median_ms(times):.0f} ms, 90th percentile "
            f"{ordered[int(0.9 * (len(ordered) - 1))] * 1000:.0f} ms, CPU "
            f"{median_ms(cpu):.0f} ms median ({median_ms(times) / median_ms(embed_times):.1f}× "
            f"one query's embedding); under {RERANK_TARGET_MS:.0f} ms: "
            f"{'yes' if median_ms(times) <= RERANK_TARGET_MS else 'NO'}"
        )
        if os.getloadavg()[0] > 1.0:
            line(
                f"  the cores were shared: with both to itself the candidates run two at a "
                f"time, so about {median_ms(cpu) / 2:.0f} ms (CPU / 2: an estimate, not a "
                "measurement)"
            )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    line(f"[load average {load}]")

    chunks = 2_000 if quick else LATENCY_CHUNKS
    heading(f"A whole question at {chunks:,} chunks: embed + hybrid + rerank + prompt")
    corpus = build_corpus(folder / "latency-corpus", chunks)
    hashes = [h for h in Library(corpus).chunk_keys().text_hashes]
    insert_random_vectors(corpus, embedder.key, hashes, seed=14)
    retriever = Retriever(corpus, embedder)
    retriever.sync()
    default = MaxSimReranker(window=DEFAULT_WINDOW, cache_bytes=0)
    default.load()
    settings = SearchSettings(k=K, rerank_candidates=CANDIDATES)
    retriever.search("warm-up question", settings, log_kind=None)
    figures: dict[str, list[float]] = {"without reranker": [], "with reranker (default)": []}
    cpu: dict[str, list[float]] = {label: [] for label in figures}
    parts: dict[str, list[float]] = {"embed": [], "rerank": []}
    for number, question in enumerate(questions):
        for label, reranker in (
            ("without reranker", None),
            ("with reranker (default)", default),
        ):
            text = f"{question} {number}"  # never the same text twice: no cache helps
            began, began_cpu = time.perf_counter(), time.process_time()
            result = retriever.search(text, settings, log_kind=None, reranker=reranker)
            build_prompt(text, result.usable, model="gpt-4.1-mini")
            figures[label].append(time.perf_counter() - began)
            cpu[label].append(time.process_time() - began_cpu)
            if reranker is not None:
                parts["embed"].append(result.embed_ms / 1000)
                parts["rerank"].append(result.rerank_ms / 1000)
    for label, times in figures.items():
        line(
            f"{label}: median {median_ms(times):.0f} ms per question (CPU "
            f"{median_ms(cpu[label]):.0f} ms, on up to 2 cores)"
        )
    with_reranker = median_ms(figures["with reranker (default)"])
    line(
        f"  of which embedding the question {median_ms(parts['embed']):.0f} ms and reranking "
        f"{median_ms(parts['rerank']):.0f} ms (medians); under {QUESTION_TARGET_MS:.0f} ms: "
        f"{'yes' if with_reranker <= QUESTION_TARGET_MS else 'NO'}"
    )
    if os.getloadavg()[0] > 1.0:
        alone = median_ms(cpu["without reranker"])
        extra = median_ms(cpu["with reranker (default)"]) - alone
        line(
            f"  the cores were shared: with both to itself, about {alone + extra / 2:.0f} ms "
            "(the search's CPU time, plus the reranking's over two cores: an estimate, not "
            "a measurement)"
        )
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    line(f"[load average {load}]")
    corpus.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", default="quality,latency")
    parser.add_argument("--quick", action="store_true", help="2,000 chunks for the latency")
    parser.add_argument(
        "--model", help="the local embedder (default: the app's), e.g. minilm-l6-v2-static256"
    )
    args = parser.parse_args(argv)
    parts = {p.strip() for p in args.parts.split(",")}
    started = time.perf_counter()
    print_header(argparse.Namespace(quick=args.quick))
    embedder = LocalModelEmbedder(args.model)
    print(f"Embedder: {embedder.key.label()}")
    with tempfile.TemporaryDirectory(prefix="bench-ranking-") as tmp:
        if "quality" in parts:
            bench_quality(Path(tmp), embedder)
        if "latency" in parts:
            bench_latency(Path(tmp), embedder, args.quick)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nTotal {time.perf_counter() - started:.0f} s; load average at the end: {load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
