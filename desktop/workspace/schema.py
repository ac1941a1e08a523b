"""Forward migrations, one per schema version. A migration is never edited after it has
shipped: a change to the schema is a new entry at the end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    sql: str


DATASET_MIGRATION_DESCRIPTION = "fine-tuning datasets and training examples"
DATASET_MIGRATION_SQL = """
CREATE TABLE datasets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    model      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE TABLE training_examples (
    id         INTEGER PRIMARY KEY,
    dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    data       TEXT NOT NULL,
    tags       TEXT NOT NULL DEFAULT '[]',
    notes      TEXT NOT NULL DEFAULT '',
    split      TEXT NOT NULL DEFAULT 'train' CHECK (split IN ('train', 'validation')),
    updated_at REAL NOT NULL
) STRICT;
CREATE INDEX training_examples_by_dataset ON training_examples(dataset_id, position);
"""


JOBS_MIGRATION_DESCRIPTION = "fine-tuning jobs: uploaded files, jobs, events, metrics, checkpoints"
JOBS_MIGRATION_SQL = """
CREATE TABLE fine_tune_files (
    id           INTEGER PRIMARY KEY,
    provider     TEXT NOT NULL,
    base_url     TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    purpose      TEXT NOT NULL,
    filename     TEXT NOT NULL,
    size_bytes   INTEGER NOT NULL,
    dataset_id   INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    dataset_name TEXT NOT NULL DEFAULT '',
    split        TEXT NOT NULL DEFAULT 'train',
    file_id      TEXT,
    status       TEXT NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    attempts     INTEGER NOT NULL DEFAULT 0,
    created_at   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    UNIQUE (provider, base_url, sha256, purpose)
) STRICT;
CREATE TABLE fine_tune_jobs (
    id               INTEGER PRIMARY KEY,
    provider         TEXT NOT NULL,
    base_url         TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    status           TEXT NOT NULL,
    model            TEXT NOT NULL,
    method           TEXT NOT NULL DEFAULT 'supervised',
    fine_tuned_model TEXT,
    training_file    TEXT NOT NULL DEFAULT '',
    validation_file  TEXT,
    dataset_id       INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    dataset_name     TEXT NOT NULL DEFAULT '',
    request          TEXT NOT NULL DEFAULT '{}',
    data             TEXT NOT NULL DEFAULT '{}',
    error            TEXT,
    created_at       REAL NOT NULL,
    finished_at      REAL,
    synced_at        REAL,
    last_change_at   REAL NOT NULL,
    result_loaded    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (provider, base_url, job_id)
) STRICT;
CREATE INDEX fine_tune_jobs_by_job_id ON fine_tune_jobs(job_id);
CREATE TABLE fine_tune_events (
    id         INTEGER PRIMARY KEY,
    job        INTEGER NOT NULL REFERENCES fine_tune_jobs(id) ON DELETE CASCADE,
    event_id   TEXT NOT NULL,
    created_at REAL NOT NULL,
    level      TEXT NOT NULL,
    type       TEXT NOT NULL,
    message    TEXT NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}',
    UNIQUE (job, event_id)
) STRICT;
CREATE INDEX fine_tune_events_by_time ON fine_tune_events(job, created_at);
CREATE TABLE fine_tune_metrics (
    job                            INTEGER NOT NULL
                                   REFERENCES fine_tune_jobs(id) ON DELETE CASCADE,
    step                           INTEGER NOT NULL,
    train_loss                     REAL,
    valid_loss                     REAL,
    train_mean_token_accuracy      REAL,
    valid_mean_token_accuracy      REAL,
    full_valid_loss                REAL,
    full_valid_mean_token_accuracy REAL,
    from_events                    INTEGER NOT NULL DEFAULT 0,
    from_result_file               INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job, step)
) STRICT;
CREATE TABLE fine_tune_checkpoints (
    id            INTEGER PRIMARY KEY,
    job           INTEGER NOT NULL REFERENCES fine_tune_jobs(id) ON DELETE CASCADE,
    checkpoint_id TEXT NOT NULL,
    step          INTEGER NOT NULL,
    model         TEXT NOT NULL,
    metrics       TEXT NOT NULL DEFAULT '{}',
    created_at    REAL NOT NULL,
    UNIQUE (job, checkpoint_id)
) STRICT;
"""
"""Tables for the job tracker. They reference ``datasets`` (schema 5), so this is the
migration after it."""


DECISION_MIGRATION_DESCRIPTION = "decision: checklist answers, inputs and snapshots"
DECISION_MIGRATION_SQL = """
CREATE TABLE decision_answers (
    question_id TEXT PRIMARY KEY,
    answer      TEXT NOT NULL CHECK (answer IN ('yes', 'no', 'unsure')),
    updated_at  REAL NOT NULL
) STRICT;
CREATE TABLE decision_inputs (
    id                INTEGER PRIMARY KEY CHECK (id = 1),
    latency_budget_ms REAL,
    requests_per_day  INTEGER,
    system_prompt     TEXT NOT NULL DEFAULT '',
    updated_at        REAL NOT NULL
) STRICT;
CREATE TABLE decision_snapshots (
    id             INTEGER PRIMARY KEY,
    at             REAL NOT NULL,
    answers        TEXT NOT NULL,
    evidence       TEXT NOT NULL,
    recommendation TEXT NOT NULL
) STRICT;
CREATE INDEX decision_snapshots_by_time ON decision_snapshots(at);
"""


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
    Migration(
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
    ),
    Migration(
        4,
        "chat: conversations and their turns",
        """
        CREATE TABLE conversations (
            id          INTEGER PRIMARY KEY,
            title       TEXT NOT NULL,
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL
        ) STRICT;
        CREATE TABLE chat_turns (
            id              INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            position        INTEGER NOT NULL,
            question        TEXT NOT NULL,
            answer          TEXT NOT NULL DEFAULT '',
            status          TEXT NOT NULL,
            note            TEXT NOT NULL DEFAULT '',
            model           TEXT NOT NULL,
            mode            TEXT NOT NULL,
            sources         TEXT NOT NULL DEFAULT '[]',
            citations       TEXT NOT NULL DEFAULT '[]',
            prompt          TEXT NOT NULL DEFAULT '{}',
            usage           TEXT NOT NULL DEFAULT '{}',
            latency_ms      REAL,
            retrieval_ms    REAL,
            created_at      REAL NOT NULL
        ) STRICT;
        CREATE INDEX chat_turns_by_conversation ON chat_turns(conversation_id, position);
        """,
    ),
    Migration(5, DATASET_MIGRATION_DESCRIPTION, DATASET_MIGRATION_SQL),
    Migration(6, JOBS_MIGRATION_DESCRIPTION, JOBS_MIGRATION_SQL),
    Migration(7, DECISION_MIGRATION_DESCRIPTION, DECISION_MIGRATION_SQL),
    Migration(
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
    ),
    Migration(
        9,
        "retrieval: document frequency of each indexed term (fts5vocab)",
        """
        CREATE VIRTUAL TABLE chunks_fts_terms USING fts5vocab(chunks_fts, 'row');
        """,
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version
