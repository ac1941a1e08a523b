"""Retrieval's tables: the embedding cache, the full-text index of the chunks, the search
log and the index generation counter.

Versions 3 and 8 shipped before each package owned its tables: they create the full-text
index over ``chunks`` (external content) and triggers on ``chunks``, and add the documents'
``tags`` column. Frozen as shipped; later migrations name only retrieval's tables."""

from __future__ import annotations

from desktop.workspace.migration import Migration

TABLES = (
    "embeddings",
    "chunks_fts",
    "chunks_fts_terms",
    "search_log",
    "index_generation",
    "chunks_fts_stem",
    "chunks_fts_stem_state",
    "chunks_fts_stem_terms",
)
"""The tables this package owns: no module outside it names them (``chunks_fts`` and
``chunks_fts_terms`` only from version 3 and 9 until version 14 dropped them)."""

RETRIEVAL_V3 = Migration(
    3,
    "retrieval: embedding cache, full-text index, search log, document tags",
    """
        CREATE TABLE embeddings (
            id          INTEGER PRIMARY KEY,
            embedder    TEXT NOT NULL,
            model       TEXT NOT NULL,
            dimensions  INTEGER NOT NULL,
            text_hash   TEXT NOT NULL,
            vector      BLOB NOT NULL,
            truncated   INTEGER NOT NULL DEFAULT 0,
            created_at  REAL NOT NULL,
            UNIQUE (embedder, model, dimensions, text_hash)
        ) STRICT;
        CREATE VIRTUAL TABLE chunks_fts USING fts5(
            text, content='chunks', content_rowid='id',
            tokenize='unicode61 remove_diacritics 2'
        );
        INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild');
        CREATE TRIGGER chunks_fts_insert AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
        END;
        CREATE TRIGGER chunks_fts_update AFTER UPDATE OF text ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
            INSERT INTO chunks_fts(rowid, text) VALUES (new.id, new.text);
        END;
        CREATE TABLE search_log (
            id          INTEGER PRIMARY KEY,
            at          REAL NOT NULL,
            kind        TEXT NOT NULL,
            mode        TEXT NOT NULL,
            k           INTEGER NOT NULL,
            latency_ms  REAL NOT NULL,
            results     INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX search_log_by_time ON search_log(at);
        ALTER TABLE documents ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
        """,
)

RETRIEVAL_V8 = Migration(
    8,
    "retrieval: a generation counter, so an unchanged vector index skips its sync",
    """
        CREATE TABLE index_generation (
            id    INTEGER PRIMARY KEY CHECK (id = 1),
            value INTEGER NOT NULL
        ) STRICT;
        INSERT INTO index_generation(id, value) VALUES (1, 0);
        CREATE TRIGGER index_generation_chunk_insert AFTER INSERT ON chunks BEGIN
            UPDATE index_generation SET value = value + 1 WHERE id = 1;
        END;
        CREATE TRIGGER index_generation_chunk_delete AFTER DELETE ON chunks BEGIN
            UPDATE index_generation SET value = value + 1 WHERE id = 1;
        END;
        CREATE TRIGGER index_generation_chunk_update AFTER UPDATE OF text_hash, document_id
        ON chunks BEGIN
            UPDATE index_generation SET value = value + 1 WHERE id = 1;
        END;
        CREATE TRIGGER index_generation_embedding_insert AFTER INSERT ON embeddings BEGIN
            UPDATE index_generation SET value = value + 1 WHERE id = 1;
        END;
        CREATE TRIGGER index_generation_embedding_delete AFTER DELETE ON embeddings BEGIN
            UPDATE index_generation SET value = value + 1 WHERE id = 1;
        END;
        """,
)

RETRIEVAL_V9 = Migration(
    9,
    "retrieval: document frequency of each indexed term (fts5vocab)",
    """
        CREATE VIRTUAL TABLE chunks_fts_terms USING fts5vocab(chunks_fts, 'row');
        """,
)

# The stemmed full-text index (issue 14): "return" finds "returns". Its own version number
# is set where MIGRATIONS orders it (desktop/workspace/schema.py); the SQL names only
# retrieval's tables. Unlike chunks_fts it keeps its own copy of each chunk's text
# (rowid = chunk id, text_hash to see a changed text) and no trigger on ``chunks`` keeps it
# in step: ``lexical.sync_stemmed`` does, on the search path, when the index generation
# (schema 8) moved. Without the old text an external-content table cannot be told what to
# forget once a chunk is gone, hence the copy. The FTS5 ``porter`` stemmer is English; the
# words of other languages are matched as ``unicode61`` splits them, as before.
STEM_TOKENIZER = "porter unicode61 remove_diacritics 2"
STEMMED_SQL = f"""
        CREATE VIRTUAL TABLE chunks_fts_stem USING fts5(
            text, text_hash UNINDEXED,
            tokenize='{STEM_TOKENIZER}'
        );
        CREATE TABLE chunks_fts_stem_state (
            id          INTEGER PRIMARY KEY CHECK (id = 1),
            generation  INTEGER NOT NULL
        ) STRICT;
        INSERT INTO chunks_fts_stem_state(id, generation) VALUES (1, -1);
        """


def stemmed_index(version: int) -> Migration:
    """The migration that adds the stemmed index, at ``version``."""
    return Migration(version, "retrieval: stemmed full-text index (porter)", STEMMED_SQL)


RETRIEVAL_V14 = Migration(
    14,
    "retrieval: one full-text index, the stemmed one (the words-as-written index kept by "
    "triggers on chunks was ~14% of an import and a second copy of every term)",
    """
        DROP TRIGGER IF EXISTS chunks_fts_insert;
        DROP TRIGGER IF EXISTS chunks_fts_delete;
        DROP TRIGGER IF EXISTS chunks_fts_update;
        DROP TABLE IF EXISTS chunks_fts_terms;
        DROP TABLE IF EXISTS chunks_fts;
        CREATE VIRTUAL TABLE chunks_fts_stem_terms USING fts5vocab(chunks_fts_stem, 'row');
        """,
)
