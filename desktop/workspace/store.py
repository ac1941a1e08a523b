"""SQLite access for one workspace: WAL mode, foreign keys, schema versioning in
``PRAGMA user_version``, and one helper for the rule that every multi-row change is one
transaction."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from desktop import __version__
from desktop.files import private_file
from desktop.workspace.schema import LATEST_VERSION, MIGRATIONS

log = logging.getLogger(__name__)

SUFFIX = ".ragtune.sqlite"


class WorkspaceError(Exception):
    """A workspace file that cannot be opened or used, with a reason a user can act on."""


class WorkspaceTooNewError(WorkspaceError):
    pass


class Workspace:
    """One workspace file. Each thread gets its own connection (SQLite connections must
    not be shared across threads); WAL lets readers run while the single writer writes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._refuse_unknown_files()
        self._make_private()
        self._migrate()

    @property
    def name(self) -> str:
        name = self.path.name
        return name[: -len(SUFFIX)] if name.endswith(SUFFIX) else self.path.stem

    # -- connections -------------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            _use_wal(conn)
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{self.path} is not a RAGTune workspace ({exc})") from exc
        return conn

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        if self._closed:
            raise WorkspaceError(f"workspace {self.name!r} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._open()
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: a crash or kill inside leaves the previous state."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._closed = True
            for conn in self._connections:
                try:
                    conn.close()
                except sqlite3.Error:  # pragma: no cover - closing is best effort
                    log.exception("closing a workspace connection")
            self._connections.clear()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.connection().execute("PRAGMA user_version").fetchone()[0])

    def _refuse_unknown_files(self) -> None:
        """Check an existing file read-only before anything writes to it: even switching
        the journal to WAL rewrites the header, and a newer or foreign file must be left
        byte for byte as it was."""
        if not self.path.exists():
            return
        try:
            probe = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
            try:
                version = int(probe.execute("PRAGMA user_version").fetchone()[0])
                probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                probe.close()
        except sqlite3.DatabaseError as exc:
            raise WorkspaceError(f"{self.path} is not a RAGTune workspace ({exc})") from exc
        if version > LATEST_VERSION:
            raise WorkspaceTooNewError(
                f"{self.path.name} was written by a newer RAGTune (schema {version}; this "
                f"version {__version__} knows up to {LATEST_VERSION}). Update RAGTune to open "
                "it; the file was not changed."
            )

    def _make_private(self) -> None:
        """The file holds the library and the conversations: 0600, created so before
        SQLite opens it (SQLite gives its -wal and -shm files the database's permissions),
        and tightened if an older version left it readable."""
        private_file(self.path, create=True)
        for suffix in ("-wal", "-shm", "-journal"):
            private_file(Path(f"{self.path}{suffix}"))

    def _migrate(self) -> None:
        """Bring the schema up to date. Another process may be creating or migrating the
        same file at this moment (two commands started together): each step runs under
        SQLite's write lock (BEGIN IMMEDIATE; the other waits up to the busy timeout) and
        re-reads the version inside it, so a step another process already made is
        skipped rather than run twice."""
        version = self.schema_version
        for migration in MIGRATIONS:
            if migration.version <= version:
                continue
            # executescript would commit implicitly; run statements inside one transaction
            # so a failed migration leaves the file at the previous version.
            with self.transaction() as tx:
                version = int(tx.execute("PRAGMA user_version").fetchone()[0])
                if migration.version <= version:
                    continue  # made by another process while this one waited
                log.info(
                    "Migrating %s to schema %d: %s",
                    self.path.name,
                    migration.version,
                    migration.description,
                )
                for statement in _statements(migration.sql):
                    tx.execute(statement)
                tx.execute(f"PRAGMA user_version = {migration.version:d}")
                if migration.version == 1:
                    tx.execute(
                        "INSERT INTO meta(key, value) VALUES ('created_at', ?), ('created_by', ?)",
                        (str(time.time()), __version__),
                    )

    # -- metadata --------------------------------------------------------------------------

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.connection().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def _statements(script: str) -> Iterator[str]:
    """Split a migration script at complete statements (sqlite3.complete_statement knows
    about semicolons inside strings and triggers)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            if buffer.strip():
                yield buffer.strip()
            buffer = ""
    if buffer.strip():
        yield buffer.strip()


def list_workspaces(directory: Path) -> list[str]:
    if not directory.is_dir():
        return []
    return sorted(p.name[: -len(SUFFIX)] for p in directory.glob(f"*{SUFFIX}"))


WAL_SWITCH_SECONDS = 30.0


def _use_wal(conn: sqlite3.Connection) -> None:
    """Switch a connection's database to WAL. Switching a new file needs its exclusive
    lock, and SQLite answers "database is locked" at once, without the busy timeout, when
    another process holds it (two processes creating one workspace: one in ten tries of
    tests/faults/test_concurrent_workspace.py). So wait here, as the timeout would have."""
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    delay = 0.005
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
