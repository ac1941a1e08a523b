"""Looking at other processes through /proc (Linux): their parent, whether they still
run, and a process's children."""

from __future__ import annotations

import contextlib
from pathlib import Path


def parent_pid(pid: int) -> int:
    """``pid``'s parent, from /proc/PID/stat: "pid (name) state ppid ...", where the name
    may hold spaces and parentheses."""
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may not reap an orphan at once)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (not their own children)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            if parent_pid(int(stat.parent.name)) == pid:
                found.add(int(stat.parent.name))
    return found
