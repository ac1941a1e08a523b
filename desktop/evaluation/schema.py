"""The evaluation's tables: eval sets and their questions, runs and one result per
question of a run, and retrieval sweeps (schema version 12)."""

from __future__ import annotations

from desktop.workspace.migration import Migration

TABLES = ("eval_sets", "eval_questions", "eval_runs", "eval_results", "eval_sweeps")
"""The tables this package owns: no module outside it names them."""

EVALUATION_V12 = Migration(
    12,
    "evaluation: eval sets, questions, runs, per-question results, retrieval sweeps",
    """
CREATE TABLE eval_sets (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    format     TEXT NOT NULL DEFAULT '{}',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
) STRICT;
CREATE TABLE eval_questions (
    id         INTEGER PRIMARY KEY,
    set_id     INTEGER NOT NULL REFERENCES eval_sets(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    question   TEXT NOT NULL,
    answer     TEXT NOT NULL DEFAULT '',
    alternatives TEXT NOT NULL DEFAULT '[]',
    answerable INTEGER NOT NULL DEFAULT 1,
    sources    TEXT NOT NULL DEFAULT '[]',
    tags       TEXT NOT NULL DEFAULT '[]',
    origin     TEXT NOT NULL DEFAULT '',
    updated_at REAL NOT NULL
) STRICT;
CREATE INDEX eval_questions_by_set ON eval_questions(set_id, position);
CREATE TABLE eval_runs (
    id          INTEGER PRIMARY KEY,
    set_id      INTEGER REFERENCES eval_sets(id) ON DELETE SET NULL,
    set_name    TEXT NOT NULL,
    set_hash    TEXT NOT NULL,
    mode        TEXT NOT NULL,
    model       TEXT NOT NULL DEFAULT '',
    config      TEXT NOT NULL DEFAULT '{}',
    status      TEXT NOT NULL,
    planned     INTEGER NOT NULL,
    metrics     TEXT NOT NULL DEFAULT '{}',
    error       TEXT NOT NULL DEFAULT '',
    created_at  REAL NOT NULL,
    finished_at REAL
) STRICT;
CREATE INDEX eval_runs_by_set ON eval_runs(set_id, created_at);
CREATE TABLE eval_results (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
    question_id INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    status      TEXT NOT NULL,
    data        TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL,
    UNIQUE (run_id, question_id)
) STRICT;
CREATE TABLE eval_sweeps (
    id         INTEGER PRIMARY KEY,
    set_id     INTEGER REFERENCES eval_sets(id) ON DELETE SET NULL,
    set_name   TEXT NOT NULL,
    created_at REAL NOT NULL,
    data       TEXT NOT NULL DEFAULT '{}'
) STRICT;
""",
)
