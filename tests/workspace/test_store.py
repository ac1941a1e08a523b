from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from desktop.workspace import Workspace, WorkspaceError, WorkspaceTooNewError
from desktop.workspace.schema import LATEST_VERSION


def test_new_workspace_is_wal_with_foreign_keys_at_latest_schema(tmp_path: Path) -> None:
    with Workspace(tmp_path / "w.ragtune.sqlite") as ws:
        conn = ws.connection()
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert ws.schema_version == LATEST_VERSION
        assert ws.name == "w"


def test_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "w.ragtune.sqlite"
    with Workspace(path) as ws:
        ws.set_meta("answer", "42")
    with Workspace(path) as ws:
        assert ws.get_meta("answer") == "42"


def test_a_newer_schema_is_refused_and_the_file_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.ragtune.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE from_the_future (x)")
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.commit()
    conn.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(WorkspaceTooNewError, match="newer RAGTune") as caught:
        Workspace(path)
    assert "was not changed" in str(caught.value)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_file_that_is_not_a_database_is_refused_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "junk.ragtune.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(WorkspaceError, match=r"junk\.ragtune\.sqlite"):
        Workspace(path)


def test_a_failed_transaction_leaves_the_previous_state(tmp_path: Path) -> None:
    with Workspace(tmp_path / "w.ragtune.sqlite") as ws:
        ws.set_meta("k", "before")

        def change_then_fail() -> None:
            with ws.transaction() as tx:
                tx.execute("UPDATE meta SET value = 'during' WHERE key = 'k'")
                tx.execute("INSERT INTO meta(key, value) VALUES ('other', 'x')")
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError):
            change_then_fail()
        assert ws.get_meta("k") == "before"
        assert ws.get_meta("other") is None


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from desktop.workspace import Workspace

    ws = Workspace(Path(sys.argv[1]))
    with ws.transaction() as tx:
        tx.execute("CREATE TABLE IF NOT EXISTS rows (n INTEGER PRIMARY KEY, payload BLOB)")
        tx.executemany("INSERT INTO rows(n, payload) VALUES (?, ?)",
                       ((i, b"a" * 200) for i in range(1000)))
    with ws.transaction() as tx:
        # Big enough that SQLite spills uncommitted pages into the WAL before the kill.
        tx.executemany("INSERT INTO rows(n, payload) VALUES (?, ?)",
                       ((i, b"b" * 4000) for i in range(1000, 20000)))
        tx.execute("UPDATE rows SET payload = x'00' WHERE n < 500")
        print("IN_TRANSACTION", flush=True)
        time.sleep(60)
    """
)


def test_a_process_killed_mid_transaction_leaves_the_earlier_state(tmp_path: Path) -> None:
    path = tmp_path / "w.ragtune.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "IN_TRANSACTION"
        assert Path(f"{path}-wal").stat().st_size > 1_000_000  # the write really was under way
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stdout:
            proc.stdout.close()
    with Workspace(path) as ws:
        conn = ws.connection()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT count(*) FROM rows").fetchone()[0] == 1000
        assert conn.execute("SELECT count(*) FROM rows WHERE payload = x'00'").fetchone()[0] == 0
        assert ws.schema_version == LATEST_VERSION
