"""What a headless command returns, and how it fails. Kept apart from ``desktop.cli`` so
the command modules never import the entry point that registers them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CommandError(Exception):
    """A failure to report as one line, without a traceback."""


@dataclass
class CommandResult:
    """What a command produced: ``data`` for --json, ``text`` for people."""

    data: Any
    text: str
    exit_code: int = EXIT_OK
