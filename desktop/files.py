"""Writing files so that a failure never leaves half a file: write to a temporary file
beside the target, flush it to disk, then rename it into place. And keeping the user's
files private: folders 0700, files 0600 (the temporary file of an atomic write is
already created 0600, so the file it becomes is private too)."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def _tighten(path: Path, allowed: int) -> None:
    """Remove permission bits outside ``allowed`` (POSIX only; Windows folders in the
    user profile are private by their ACLs). A missing path is left alone."""
    if os.name != "posix":
        return
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~allowed:
            os.chmod(path, current & allowed)
    except FileNotFoundError:
        return
    except PermissionError:  # someone else's file: nothing we may change
        return


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) so only the user can enter it; tighten it
    if it exists with wider permissions."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _tighten(path, PRIVATE_DIR)
    return path


def private_file(path: Path, *, create: bool = False) -> Path:
    """Tighten an existing file to 0600; with ``create``, make it (empty, 0600) first if
    it is missing, so whatever writes it later (SQLite, Qt) keeps those permissions."""
    path = Path(path)
    if create:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE)
        os.close(fd)
    _tighten(path, PRIVATE_FILE)
    return path


def tighten_files_in(folder: Path) -> None:
    """Make the files directly inside ``folder`` private (what an older version left
    readable). Links are not followed: their targets are not ours to change."""
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_file() and not entry.is_symlink():
            _tighten(entry, PRIVATE_FILE)


@contextmanager
def atomic_text_file(path: Path) -> Iterator[TextIO]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """``write`` fills a temporary file beside ``path`` (for writers that want a file
    name, such as a PDF printer), which then replaces ``path`` in one rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path, text: str) -> None:
    with atomic_text_file(path) as handle:
        handle.write(text)


def write_jsonl_atomic(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """One JSON object a line (UTF-8, not ASCII-escaped); returns the number of lines."""
    count = 0
    with atomic_text_file(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
