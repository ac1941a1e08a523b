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
)

LATEST_VERSION = MIGRATIONS[-1].version
