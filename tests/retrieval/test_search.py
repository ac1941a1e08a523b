from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop.progress import run_to_end
from desktop.retrieval.embedders import EmbedderKey, LocalModelEmbedder
from desktop.retrieval.indexing import plan_index, run_index
from desktop.retrieval.lexical import LexicalHit, fts_query
from desktop.retrieval.search import Retriever, SearchFilters, SearchSettings, fuse
from desktop.retrieval.vector_index import VectorHit, VectorIndex
from desktop.workspace import Workspace
from tests.retrieval.conftest import DOCS, import_texts


def test_each_mode_ranks_the_matching_chunk_first_with_its_breakdown(
    indexed: Retriever,
) -> None:
    for mode in ("vector", "lexical", "hybrid"):
        result = indexed.search("what does error LFS-4012 mean", SearchSettings(mode=mode, k=3))
        top = result.results[0]
        assert top.document == "Errors", mode
        assert top.rank == 1 and top.text.startswith("# Errors")
        assert top.source_path.endswith("errors.md")
        assert top.start == 0 and top.end == len(DOCS["errors.md"])
        assert top.heading_path == ("Errors",)
        # Lexical mode embeds nothing (it works without an index), so it has no cosine.
        assert (top.cosine is None) == (mode == "lexical")
        if mode in ("lexical", "hybrid"):
            assert top.bm25 is not None and top.bm25 > 0 and top.lexical_rank == 1
        if mode in ("vector", "hybrid"):
            assert top.vector_rank == 1
        if mode == "hybrid":
            assert top.fused == pytest.approx(0.5 / 61 + 0.5 / 61)
        assert result.latency_ms > 0


def test_filters_apply_before_ranking(indexed: Retriever, workspace: Workspace) -> None:
    pricing_id = (
        workspace.connection()
        .execute("SELECT id FROM documents WHERE title = 'Plans'")
        .fetchone()[0]
    )
    result = indexed.search(
        "LFS-4012 quota", SearchSettings(k=5), SearchFilters(document_ids=(pricing_id,))
    )
    assert [r.document for r in result.results] == ["Plans"]
    none = indexed.search("LFS-4012", SearchSettings(k=5), SearchFilters(formats=("pdf",)))
    assert none.results == []


def test_results_under_the_threshold_are_marked_and_not_usable(indexed: Retriever) -> None:
    result = indexed.search(
        "refund money returned warehouse", SearchSettings(mode="vector", k=4, threshold=0.3)
    )
    marked = [r.below_threshold for r in result.results]
    assert marked[0] is False and True in marked
    assert all((r.cosine or 0) >= 0.3 for r in result.usable)
    assert len(result.usable) < len(result.results)


def test_an_automatic_threshold_is_the_embedders_own(indexed: Retriever) -> None:
    """Cosines live on each embedder's scale: unless set, the threshold is the one the
    embedder declares (a bundled model's config.json), else the usual 0.2."""
    from desktop.retrieval.embedders import DEFAULT_THRESHOLD, LocalModelEmbedder
    from desktop.settings import AUTO_THRESHOLD, Settings

    assert Settings().similarity_threshold == AUTO_THRESHOLD
    question = "refund money returned warehouse"
    auto = SearchSettings(mode="vector", k=4, threshold=AUTO_THRESHOLD)
    result = indexed.search(question, auto)
    assert result.settings.threshold == DEFAULT_THRESHOLD  # what applied, for the panel
    assert [r.below_threshold for r in result.results] == [
        (r.cosine or 0) < DEFAULT_THRESHOLD for r in result.results
    ]
    indexed.embedder.similarity_threshold = 0.99  # type: ignore[union-attr]
    strict = indexed.search(question, auto)
    assert strict.settings.threshold == 0.99 and strict.usable == []
    chosen = indexed.search(question, SearchSettings(mode="vector", k=4, threshold=0.0))
    assert len(chosen.usable) == 4  # a threshold set by the user is the one that applies
    assert LocalModelEmbedder("minilm-l6-v2-static256").similarity_threshold == 0.4
    assert LocalModelEmbedder("minilm-l6-v2-int8").similarity_threshold == DEFAULT_THRESHOLD


def test_searches_are_logged_for_the_decide_tab(indexed: Retriever, workspace: Workspace) -> None:
    indexed.search("port", SearchSettings())
    rows = workspace.connection().execute("SELECT kind, mode, k FROM search_log").fetchall()
    assert [tuple(r) for r in rows] == [("search", "hybrid", 5)]


def test_the_vector_index_follows_deletes_and_inserts(
    indexed: Retriever, workspace: Workspace
) -> None:
    indexed.sync()
    assert len(indexed.index) == 4
    errors_id = (
        workspace.connection()
        .execute("SELECT id FROM documents WHERE title = 'Errors'")
        .fetchone()[0]
    )
    with workspace.transaction() as tx:
        tx.execute("DELETE FROM documents WHERE id = ?", (errors_id,))
    result = indexed.search("LFS-4012", SearchSettings(mode="vector", k=4))
    assert "Errors" not in [r.document for r in result.results]
    assert len(indexed.index) == 3


def test_fusion_is_weighted_reciprocal_rank() -> None:
    vector = [VectorHit(1, 0.9, 1), VectorHit(2, 0.8, 2)]
    lexical = [LexicalHit(2, 5.0, 1), LexicalHit(3, 4.0, 2)]
    fused = dict(fuse(vector, lexical, vector_weight=0.5))
    assert fused[2] == pytest.approx(0.5 / 62 + 0.5 / 61)
    assert fused[1] == pytest.approx(0.5 / 61)
    assert max(fused, key=fused.get) == 2
    assert dict(fuse(vector, lexical, vector_weight=1.0))[3] == 0


def test_fts_syntax_in_a_question_is_plain_text() -> None:
    assert (
        fts_query('error "NEAR" AND text:col*') == '"error" OR "near" OR "and" OR "text" OR "col"'
    )
    assert fts_query("?!") is None


def test_top_k_matches_a_brute_force_ranking() -> None:
    rng = np.random.default_rng(7)
    matrix = rng.normal(size=(500, 16)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    index = VectorIndex.from_arrays(
        EmbedderKey("t", "m", 16),
        np.arange(500, dtype=np.int64) + 1000,
        np.zeros(500, dtype=np.int64),
        matrix,
    )
    query = matrix[42]
    hits = index.search(query, 5)
    expected = np.argsort(-(matrix @ query))[:5] + 1000
    assert [h.chunk_id for h in hits] == list(expected)
    assert hits[0].chunk_id == 1042 and hits[0].cosine == pytest.approx(1.0)


def test_offline_with_no_key_a_fresh_workspace_answers_with_the_bundled_model(
    workspace: Workspace, tmp_path: Path
) -> None:
    """conftest blocks every non-loopback connection: this runs with no network."""
    import_texts(workspace, tmp_path / "docs", DOCS)
    embedder = LocalModelEmbedder()
    plan = plan_index(workspace, embedder)
    assert plan.paid is False and plan.cost_usd == 0.0
    run_to_end(run_index(workspace, embedder, plan))
    result = Retriever(workspace, embedder).search(
        "How long until I get my money back?", SearchSettings(mode="vector", k=2)
    )
    assert result.results[0].document == "Refunds"


def test_words_in_most_chunks_are_left_out_of_the_lexical_query(workspace: Workspace) -> None:
    """They add nothing to BM25 but make it score every chunk (slow at 100k chunks)."""
    from desktop.retrieval.lexical import informative_words, lexical_search

    with workspace.transaction() as tx:
        tx.execute(
            "INSERT INTO documents(id, source_path, title, format, size_bytes, "
            "modified_time, content_hash, imported_at, updated_at, text) "
            "VALUES (1, '/d', 'D', 'text', 0, 0, 'h', 0, 0, '')"
        )
        tx.executemany(
            "INSERT INTO chunks(document_id, idx, char_start, char_end, text, token_count, "
            "text_hash) VALUES (1, ?, 0, 1, ?, 1, ?)",
            (
                (i, f"the hub box item{i}" + (" quota" if i == 7 else ""), str(i))
                for i in range(1200)
            ),
        )
    # question words go first, then the words found in most chunks
    assert informative_words(workspace, "What is the quota of the hub") == "quota"
    assert informative_words(workspace, "the hub box") in ("hub", "box")  # the rarest is kept
    # in any form: the stemmed index counts "hubs" and "boxes" as "hub" and "box"
    assert informative_words(workspace, "quota of the hubs and boxes") == "quota"
    assert lexical_search(workspace, "the hub quota", 3)[0].chunk_id == 8
