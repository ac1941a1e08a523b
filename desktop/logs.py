"""Logging to a rotating file in the user log dir, with secrets scrubbed.

Every message built from a provider's answer or an exception passes ``redact`` before it
is shown, stored or logged: known secrets (the configured key, whatever its shape, and a
password inside the base URL, registered when they are read), anything shaped like a
common API key, labelled values ("api-key: …", "Authorization: Bearer …", "API key
provided: …") and passwords inside URLs. The log file and its folder are private."""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
from pathlib import Path

LOG_FILE = "ragtune.log"
REDACTED = "«redacted»"
# Keys whose vendor prefix says what they are: OpenAI (sk-, sk-proj-), Anthropic, Groq,
# Hugging Face, GitHub, Google, xAI, Replicate, Perplexity, NVIDIA, GitLab, Slack, Stripe.
_PREFIXED_KEY = re.compile(
    r"\b(?:sk|rk|pk)-[A-Za-z0-9_\-]{6,}"
    r"|\b(?:gsk_|hf_|ghp_|gho_|ghu_|ghs_|github_pat_|AIza|xai-|r8_|pplx-|nvapi-|glpat-"
    r"|xox[abpr]-|sk_live_|sk_test_)[A-Za-z0-9_\-]{10,}"
)
# A value after a label that says it is secret ("api-key: …", "Authorization: Bearer …",
# "API key provided: …", "password=…"). Eight characters at least: "api_key: set" is a
# state, not a key.
_LABELLED = re.compile(
    r"((?:authorization|proxy-authorization|x-api-key|api[-_ ]?key(?:\s+provided)?"
    r"|access[-_ ]?token|auth[-_ ]?token|client[-_ ]?secret|secret[-_ ]?key|password|passwd)"
    r"[\"']?\s*[:=]\s*[\"']?(?:bearer\s+|basic\s+)?)([^\s\"',;}]{8,})",
    re.IGNORECASE,
)
_BEARER = re.compile(r"\b((?:bearer|basic)\s+)([A-Za-z0-9._~+/=\-]{6,})", re.IGNORECASE)
# user:password@ inside any URL: the user stays (it helps to recognise the URL).
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*:)([^\s/@]+)@")
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(secret: str | None) -> None:
    """Make ``redact`` remove this exact string wherever it appears (the configured key,
    whatever its shape, so a server echoing it is caught)."""
    if secret and len(secret) >= 4:
        with _secrets_lock:
            _secrets.add(secret)


def redact_known(text: str) -> str:
    """Only what is certainly secret: registered secrets and passwords inside URLs. Safe
    on any text (a document quoted in a search result keeps its words)."""
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _URL_PASSWORD.sub(r"\1***@", text)


def redact(text: str) -> str:
    """Everything ``redact_known`` removes, plus anything shaped like a key: for error
    messages, notes and log lines, which quote servers and exceptions."""
    text = redact_known(text)
    text = _PREFIXED_KEY.sub(REDACTED, text)
    text = _LABELLED.sub(lambda m: m.group(1) + REDACTED, text)
    return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)


def url_password(url: str) -> str | None:
    """The password inside ``scheme://user:password@host`` (to register it as a secret)."""
    match = _URL_PASSWORD.search(url)
    return match.group(2) if match else None


def mask_url(url: str) -> str:
    """``https://user:pass@host/v1`` → ``https://user:***@host/v1``: how a base URL is
    shown, logged and recorded."""
    return _URL_PASSWORD.sub(r"\1***@", url)


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """Each log file is made 0600 as it is opened (rotation renames keep the mode)."""

    def _open(self):  # type: ignore[no-untyped-def]
        from desktop.files import private_file

        private_file(Path(self.baseFilename), create=True)
        return super()._open()


def setup_logging(log_dir: Path, *, level: int = logging.INFO, console: bool = False) -> Path:
    """Idempotent: calling it again (tests, a second window) replaces RAGTune's handlers.
    The folder is private (0700) and new log files are 0600; files an older version left
    readable are tightened by ``AppPaths.ensure`` when the app or a command starts."""
    from desktop.files import private_dir

    private_dir(log_dir)
    path = log_dir / LOG_FILE
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ragtune", False):
            root.removeHandler(handler)
            handler.close()
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    file_handler = PrivateRotatingFileHandler(
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
