"""A workspace file as an older RAGTune left it: the schema migrations up to a version,
nothing after (the tests of a migration open it with today's code)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from desktop.workspace.schema import MIGRATIONS
from desktop.workspace.store import _statements


def old_workspace(path: Path, version: int, rows: Iterable[str] = ()) -> Path:
    """Create ``path`` at schema ``version``, then run the SQL ``rows`` in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for migration in MIGRATIONS[:version]:
            for statement in _statements(migration.sql):
                conn.execute(statement)
        for statement in rows:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version:d}")
    finally:
        conn.close()
    return path
