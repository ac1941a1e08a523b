"""BM25 matches word forms (the stemmed index), keeps quoted phrases exact, and leaves a
typed question's question words out."""

from __future__ import annotations

from pathlib import Path

from desktop.retrieval.lexical import (
    content_words,
    informative_words,
    lexical_search,
    phrase_query,
    sync_stemmed,
)
from desktop.retrieval.service import RetrievalService
from desktop.workspace import Workspace
from tests.helpers.old_workspace import old_workspace
from tests.retrieval.conftest import import_texts

DOCS = {
    "refunds.md": "# Refunds\n\nMoney is returned within 14 days after the device arrives "
    "back at our warehouse.",
    "shipping.md": "# Shipping\n\nParcels are shipped by courier; the arrival of a parcel is "
    "tracked online.",
    "ports.md": "# Network\n\nThe Hub listens on TCP port 47120 for Agents on the LAN.",
}


def titles(workspace: Workspace, hits: list) -> list[str]:
    conn = workspace.connection()
    return [
        conn.execute(
            "SELECT d.title FROM chunks c JOIN documents d ON d.id = c.document_id WHERE c.id = ?",
            (hit.chunk_id,),
        ).fetchone()[0]
        for hit in hits
    ]


def test_a_word_finds_its_other_forms(workspace: Workspace, tmp_path: Path) -> None:
    import_texts(workspace, tmp_path / "docs", DOCS)
    assert titles(workspace, lexical_search(workspace, "return", 3)) == ["Refunds"]
    assert titles(workspace, lexical_search(workspace, "returns", 3)) == ["Refunds"]
    assert titles(workspace, lexical_search(workspace, "ship", 3)) == ["Shipping"]
    # The words as written (before issue 14) miss them.
    assert lexical_search(workspace, '"return"', 3) == []
    assert lexical_search(workspace, '"ship"', 3) == []


def test_a_quoted_phrase_matches_as_written(workspace: Workspace, tmp_path: Path) -> None:
    import_texts(workspace, tmp_path / "docs", DOCS)
    assert titles(workspace, lexical_search(workspace, '"arrives back"', 3)) == ["Refunds"]
    # Another form of the words is not the phrase; unquoted, the stems match.
    assert lexical_search(workspace, '"arrive back"', 3) == []
    assert titles(workspace, lexical_search(workspace, "arrive back", 3))[0] == "Refunds"
    # The phrase is required; the other words only add to the score.
    hits = lexical_search(workspace, 'parcel "arrives back"', 3)
    assert titles(workspace, hits) == ["Refunds"]
    assert phrase_query('When "arrives back" money') == (
        '("arrives back") AND ("money" OR "arrives back")'
    )
    assert phrase_query("no phrase here") is None


def test_the_stemmed_index_follows_the_library(workspace: Workspace, tmp_path: Path) -> None:
    service = import_texts(workspace, tmp_path / "docs", DOCS)
    assert titles(workspace, lexical_search(workspace, "listening", 3)) == ["Network"]
    assert sync_stemmed(workspace) == (0, 0)  # nothing changed since
    document = next(d for d in service.documents() if d.title == "Network")
    with workspace.transaction() as tx:
        tx.execute("DELETE FROM documents WHERE id = ?", (document.id,))
    assert lexical_search(workspace, "listening", 3) == []
    import_texts(
        workspace,
        tmp_path / "more",
        {"ports.md": "# Network\n\nThe Hub now listens on port 47200."},
    )
    assert titles(workspace, lexical_search(workspace, "listening port", 3)) == ["Network"]
    rows = workspace.connection().execute("SELECT COUNT(*) FROM chunks_fts_stem").fetchone()[0]
    chunks = workspace.connection().execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    assert rows == chunks


def test_question_words_are_left_out_before_bm25() -> None:
    words = ["How", "long", "do", "I", "have", "to", "return", "it"]
    assert content_words(words) == ["long", "return"]
    # A query of question words only stays searchable.
    assert content_words(["Where", "is", "it"]) == ["where", "is", "it"]


def test_a_typed_question_finds_the_passage(workspace: Workspace, tmp_path: Path) -> None:
    import_texts(workspace, tmp_path / "docs", DOCS)
    assert informative_words(workspace, "How long do I have to return it?") == "long return"
    hits = lexical_search(workspace, "How long do I have to return the device?", 3)
    assert titles(workspace, hits)[0] == "Refunds"


def test_an_index_run_brings_the_stemmed_index_up_to_date(retrieval: RetrievalService) -> None:
    """So the first search after a large import does not pay for it."""
    conn = retrieval.workspace.connection()
    stemmed = conn.execute("SELECT COUNT(*) FROM chunks_fts_stem").fetchone()[0]
    assert stemmed == conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0] > 0
    assert sync_stemmed(retrieval.workspace) == (0, 0)


def test_a_phrase_is_matched_as_the_index_of_the_words_as_written_matched_it(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Across punctuation, case and accents, in any script, by FTS5's own tokenizer (as
    the index of the words as written did until schema 14)."""
    import_texts(
        workspace,
        tmp_path / "docs",
        {
            "latin.md": "# Latin\n\nMoney is returned once it Arrives, back at the "
            "Crème-Brûlée café.",
            "marks.md": "# Marks\n\nहिन्दी भाषा is written with vowel signs.",
            "symbols.md": "# Symbols\n\nThe Acme™ Widget ships at 25℃.",
            "greek.md": "# Greek\n\nΟΔΟΣ.ΑΘΗΝΑ is one address.",
        },
    )

    def found(query: str) -> list[str]:
        return titles(workspace, lexical_search(workspace, query, 5))

    assert found('"arrives back"') == ["Latin"]
    assert found('"creme brulee cafe" "money is"') == ["Latin"]
    assert found('"arrive back"') == []  # another form of the word
    assert found('"arrives at"') == []  # not next to each other
    assert found('"हिन्दी भाषा"') == ["Marks"]
    assert found('"acme widget"') == ["Symbols"]
    assert found('"οδος αθηνα"') == ["Greek"]


def test_a_phrase_skips_chunks_that_hold_only_other_forms_of_its_words(
    workspace: Workspace, tmp_path: Path
) -> None:
    """The stemmed index finds "arrive back" and "arrived back" for "arrives back"; the
    chunk that holds the phrase itself comes first even when those score higher."""
    import_texts(
        workspace,
        tmp_path / "docs",
        {
            "often.md": "# Often\n\nArrive back early. They arrived back late. Arriving back.",
            "once.md": "# Once\n\nThe parcel arrives back at the depot with a long report "
            "about the route, the driver and the weather on the day.",
        },
    )
    assert titles(workspace, lexical_search(workspace, '"arrives back"', 5)) == ["Once"]
    assert titles(workspace, lexical_search(workspace, "arrives back", 5)) == ["Often", "Once"]


def test_a_phrase_held_by_one_chunk_among_many_with_other_forms_is_found(
    workspace: Workspace, tmp_path: Path
) -> None:
    """Candidates are checked a batch at a time, best first, until k hold the phrase."""
    notes = {
        f"n{i:02}.md": f"# Note {i}\n\nThey arrived back. Arrive back soon." for i in range(70)
    }
    notes["z.md"] = "# Depot\n\nThe parcel arrives back at the depot after a long day out."
    import_texts(workspace, tmp_path / "docs", notes)
    assert titles(workspace, lexical_search(workspace, '"arrives back"', 3)) == ["Depot"]
    assert len(lexical_search(workspace, '"arrived back"', 100)) == 70


def test_a_version_13_workspace_keeps_one_full_text_index(tmp_path: Path) -> None:
    """Until schema 14 triggers on the chunks kept a second full-text index, of the words as
    written (~14% of an import); it is dropped, and words and phrases are found as before."""
    path = old_workspace(
        tmp_path / "old.ragtune.sqlite",
        13,
        [
            "INSERT INTO documents(id, source_path, title, format, size_bytes, modified_time, "
            "content_hash, imported_at, updated_at, text) VALUES (1, '/r.md', 'Refunds', "
            "'markdown', 1, 0, 'h', 0, 0, 'Money is returned when the device arrives back.')",
            "INSERT INTO chunks(document_id, idx, char_start, char_end, text, token_count, "
            "text_hash) VALUES (1, 0, 0, 47, 'Money is returned when the device arrives "
            "back.', 9, 'h1')",
        ],
    )
    with Workspace(path) as workspace:
        objects = {
            str(name)
            for (name,) in workspace.connection().execute(
                "SELECT name FROM sqlite_master WHERE name LIKE 'chunks_fts%'"
            )
        }
        assert objects == {
            "chunks_fts_stem",
            "chunks_fts_stem_state",
            "chunks_fts_stem_terms",
            *(
                f"chunks_fts_stem_{part}"
                for part in ("data", "idx", "content", "docsize", "config")
            ),
        }
        triggers = workspace.connection().execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'chunks'"
        )
        assert sorted(str(name) for (name,) in triggers) == [
            "index_generation_chunk_delete",
            "index_generation_chunk_insert",
            "index_generation_chunk_update",
        ]
        assert titles(workspace, lexical_search(workspace, "return", 3)) == ["Refunds"]
        assert titles(workspace, lexical_search(workspace, '"arrives back"', 3)) == ["Refunds"]
        assert lexical_search(workspace, '"arrive back"', 3) == []
