"""Fine-tuning's tables: datasets and their examples (5); uploaded files, jobs, their
events, metrics and checkpoints (6, after 5 because they reference datasets)."""

from __future__ import annotations

from desktop.workspace.migration import Migration

TABLES = (
    "datasets",
    "training_examples",
    "fine_tune_files",
    "fine_tune_jobs",
    "fine_tune_events",
    "fine_tune_metrics",
    "fine_tune_checkpoints",
)
"""The tables this package owns: no module outside it names them."""

DATASETS_V5 = Migration(
    5,
    "fine-tuning datasets and training examples",
    """
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
""",
)

JOBS_V6 = Migration(
    6,
    "fine-tuning jobs: uploaded files, jobs, events, metrics, checkpoints",
    """
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
""",
)
