"""``ragtune import``, ``documents`` and ``chunks`` as subprocesses, as a script would
run them."""

from __future__ import annotations

import json
from pathlib import Path

from desktop.library.chunking import Sentences, chunk_text
from desktop.tokens import get_tokenizer
from tests.helpers.documents import write_mixed_folder
from tests.test_cli import ragtune


def test_import_reports_each_file_and_exits_0_with_skips(tmp_path: Path) -> None:
    write_mixed_folder(tmp_path / "docs")
    data = str(tmp_path / "data")
    result = ragtune("--data-dir", data, "import", str(tmp_path / "docs"), "--json")
    assert result.returncode == 0, result.stderr
    files = {Path(f["path"]).name: f for f in json.loads(result.stdout)["files"]}
    assert files["notes.txt"]["outcome"] == "imported"
    assert files["corrupt.pdf"]["outcome"] == "skipped" and files["corrupt.pdf"]["reason"]

    again = ragtune("--data-dir", data, "import", str(tmp_path / "docs"))
    assert again.returncode == 0
    assert "unchanged" in again.stdout and "5 unchanged, 3 skipped" in again.stdout
    assert "skipped   " in again.stdout and "corrupt" in again.stdout


def test_import_in_reading_processes_from_the_command_line(tmp_path: Path) -> None:
    """``--processes 2`` reads every file in two processes, started from the ``ragtune``
    process itself (the packaged app's smoke test runs the same command)."""
    write_mixed_folder(tmp_path / "docs")
    data = str(tmp_path / "data")
    result = ragtune(
        "--data-dir", data, "import", str(tmp_path / "docs"), "--processes", "2", "--json"
    )
    assert result.returncode == 0, result.stderr
    reported = json.loads(result.stdout)
    assert reported["warnings"] == []
    assert reported["summary"].startswith("5 added, 3 skipped")
    refused = ragtune("--data-dir", data, "import", str(tmp_path / "docs"), "--processes", "-1")
    assert refused.returncode == 1
    assert "--processes must be between 0 and 64" in refused.stderr


def test_import_of_a_missing_path_fails_with_one_line(tmp_path: Path) -> None:
    result = ragtune("--data-dir", str(tmp_path), "import", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert result.stderr.strip() == f"ragtune: error: no such file or folder: {tmp_path / 'nope'}"


def test_documents_and_chunks(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    text = "First sentence here. Second one follows. " * 40
    (tmp_path / "doc.txt").write_text(text)
    assert ragtune("--data-dir", data, "import", str(tmp_path / "doc.txt")).returncode == 0

    listed = json.loads(ragtune("--data-dir", data, "documents", "--json").stdout)
    assert [(d["title"], d["format"]) for d in listed] == [("doc", "text")]
    assert listed[0]["chunks"] >= 1

    preview = ragtune(
        "--data-dir",
        data,
        "chunks",
        "doc.txt",
        "--strategy",
        "sentences",
        "--size",
        "50",
        "--overlap",
        "1",
        "--json",
    )
    assert preview.returncode == 0, preview.stderr
    shown = json.loads(preview.stdout)
    expected = chunk_text(text, Sentences(50, 1), tokenizer=get_tokenizer(shown["encoding"]))
    assert [(c["start"], c["end"], c["tokens"]) for c in shown["chunks"]] == [
        (c.start, c.end, c.token_count) for c in expected
    ]
    assert shown["stored"] is False and shown["applied"] is None
    # The preview did not change the library...
    stored = json.loads(ragtune("--data-dir", data, "chunks", "doc", "--json").stdout)
    assert stored["stored"] is True
    assert len(stored["chunks"]) == listed[0]["chunks"]
    # ...until --apply.
    applied = json.loads(
        ragtune(
            "--data-dir",
            data,
            "chunks",
            "1",
            "--strategy",
            "sentences",
            "--size",
            "50",
            "--apply",
            "--json",
        ).stdout
    )
    assert applied["applied"]["added"] == len(applied["chunks"])
    after = json.loads(ragtune("--data-dir", data, "documents", "--json").stdout)
    assert after[0]["chunks"] == len(applied["chunks"])


def test_import_json_names_every_file_not_imported_and_the_warnings(tmp_path: Path) -> None:
    """Issue 15 point 12 / issue 17 point 3: before, '1 other files ignored' named none,
    and an unreadable folder was a line on stderr only."""
    import os

    folder = tmp_path / "docs"
    write_mixed_folder(folder)
    (folder / "archive.xyz").write_bytes(b"\x00 data")
    (folder / "NOTES").write_text("Extension-less notes are text.\n", encoding="utf-8")
    os.symlink("loop", folder / "loop")  # a link to itself
    locked = folder / "locked"
    locked.mkdir()
    (locked / "secret.txt").write_text("x")
    locked.chmod(0)
    try:
        # root reads anything: no warning to expect then
        expected_warning = None if os.access(locked, os.R_OK) else str(locked)
        result = ragtune("--data-dir", str(tmp_path / "d"), "import", str(folder), "--json")
    finally:
        locked.chmod(0o700)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    not_imported = {Path(f["path"]).name: f["reason"] for f in data["not_imported"]}
    assert not_imported["archive.xyz"] == "unsupported format “.xyz”"
    assert "corrupt" in not_imported["corrupt.pdf"]
    assert "binary" in not_imported["binary.txt"]
    files = {Path(f["path"]).name: f["outcome"] for f in data["files"]}
    assert files["NOTES"] == "imported"
    warnings = {w["path"]: w["reason"] for w in data["warnings"]}
    assert "symlink loop" in warnings.pop(str(folder / "loop"))
    if expected_warning:
        assert "cannot list the folder" in warnings.pop(expected_warning)
    assert warnings == {}
    shown = "2 warnings" if expected_warning else "1 warning"
    assert data["summary"].endswith(shown) or f"{shown}," in data["summary"]
    assert "1 warnings" not in data["summary"]
