"""The chat's tables: conversations and their turns."""

from __future__ import annotations

from desktop.workspace.migration import Migration

TABLES = ("conversations", "chat_turns")
"""The tables this package owns: no module outside it names them."""

CHAT_V4 = Migration(
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
)
