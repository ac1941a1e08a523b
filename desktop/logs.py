"""Logging to a rotating file in the user log dir, with secrets scrubbed.

Every string that leaves the process through a log record or an error dialog passes
``redact``: known secrets (registered when a key is read or entered), anything shaped
like an OpenAI key, and Authorization header values."""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

LOG_FILE = "ragtune.log"
_KEY_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,})|((?:authorization|api[-_]key)[\"']?\s*[:=]\s*[\"']?"
    r"(?:bearer\s+)?)([^\s\"',}]+)",
    re.IGNORECASE,
)
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Make ``redact`` remove this exact string wherever it appears."""
    if secret and len(secret) >= 4:
        with _secrets_lock:
            _secrets.add(secret)


def redact(text: str) -> str:
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, "«redacted»")

    def scrub(match: re.Match[str]) -> str:
        if match.group(1):
            return "sk-«redacted»"
        return f"{match.group(2)}«redacted»"

    return _KEY_SHAPES.sub(scrub, text)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def setup_logging(log_dir: Path, *, level: int = logging.INFO, console: bool = False) -> Path:
    """Idempotent: calling it again (tests, a second window) replaces RAGTune's handlers."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / LOG_FILE
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ragtune", False):
            root.removeHandler(handler)
            handler.close()
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=5, encoding="utf-8", delay=True
    )
    file_handler.setFormatter(formatter)
    file_handler._ragtune = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(formatter)
        stream.setLevel(logging.WARNING)
        stream._ragtune = True  # type: ignore[attr-defined]
        root.addHandler(stream)
    root.setLevel(level)
    # The HTTP stack logs request headers at DEBUG; keep it out of the file regardless.
    for noisy in ("openai", "httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return path
