"""The library's tables: documents, their chunks, and the import history."""

from __future__ import annotations

from desktop.workspace.migration import Migration

TABLES = ("documents", "chunks", "import_runs", "library_events")
"""The tables this package owns: no module outside it names them."""

LIBRARY_V2 = Migration(
    2,
    "library: documents, chunks, import history",
    """
        CREATE TABLE documents (
            id            INTEGER PRIMARY KEY,
            source_path   TEXT NOT NULL UNIQUE,
            title         TEXT NOT NULL,
            format        TEXT NOT NULL,
            size_bytes    INTEGER NOT NULL,
            page_count    INTEGER,
            modified_time REAL NOT NULL,
            content_hash  TEXT NOT NULL,
            encoding      TEXT,
            imported_at   REAL NOT NULL,
            updated_at    REAL NOT NULL,
            text          TEXT NOT NULL,
            pages         TEXT NOT NULL DEFAULT '[]',
            status        TEXT NOT NULL DEFAULT 'ok'
        ) STRICT;
        CREATE TABLE chunks (
            id           INTEGER PRIMARY KEY,
            document_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            idx          INTEGER NOT NULL,
            char_start   INTEGER NOT NULL,
            char_end     INTEGER NOT NULL,
            text         TEXT NOT NULL,
            token_count  INTEGER NOT NULL,
            page         INTEGER,
            heading_path TEXT NOT NULL DEFAULT '[]',
            text_hash    TEXT NOT NULL
        ) STRICT;
        CREATE INDEX chunks_by_document ON chunks(document_id, idx);
        CREATE INDEX chunks_by_text_hash ON chunks(text_hash);
        CREATE TABLE import_runs (
            id          INTEGER PRIMARY KEY,
            started_at  REAL NOT NULL,
            finished_at REAL,
            kind        TEXT NOT NULL,
            cancelled   INTEGER NOT NULL DEFAULT 0
        ) STRICT;
        CREATE TABLE library_events (
            id          INTEGER PRIMARY KEY,
            run_id      INTEGER REFERENCES import_runs(id) ON DELETE CASCADE,
            document_id INTEGER REFERENCES documents(id) ON DELETE SET NULL,
            source_path TEXT NOT NULL,
            kind        TEXT NOT NULL,
            detail      TEXT NOT NULL DEFAULT '',
            at          REAL NOT NULL
        ) STRICT;
        CREATE INDEX library_events_by_run ON library_events(run_id);
        CREATE INDEX library_events_by_time ON library_events(at);
        """,
)

LIBRARY_V10 = Migration(
    10,
    "library: document metadata (headers, language, OCR pages) and attached documents",
    """
        ALTER TABLE documents ADD COLUMN metadata TEXT NOT NULL DEFAULT '{}';
        ALTER TABLE documents ADD COLUMN parent_id INTEGER
            REFERENCES documents(id) ON DELETE CASCADE;
        CREATE INDEX documents_by_parent ON documents(parent_id);
        """,
)

LIBRARY_V13 = Migration(
    13,
    "library: no index of chunks by text hash (nothing looks them up by it; it cost ~6% of "
    "an import)",
    """
        DROP INDEX IF EXISTS chunks_by_text_hash;
        """,
)
