"""Forward migrations, one per schema version. A migration is never edited after it has
shipped: a change to the schema is a new entry at the end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "workspace metadata",
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;
        """,
    ),
    Migration(
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
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
