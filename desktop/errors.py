"""Turn any exception into a message a user can act on (worker errors, CLI failures).
The message is redacted: it is shown in dialogs and on the command line."""

from __future__ import annotations

import sys

from desktop.logs import redact


def user_message(exc: BaseException, *, host: str | None = None) -> str:
    return redact(_message(exc, host))


def _message(exc: BaseException, host: str | None) -> str:
    openai = sys.modules.get("openai")  # loaded by whoever raised an SDK error
    if openai is not None and isinstance(exc, openai.OpenAIError):
        from desktop.providers.errors import explain

        return explain(exc, host=host or _host_of(exc))
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    text = str(exc)
    return text if text else type(exc).__name__


def _host_of(exc: BaseException) -> str:
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    host = getattr(url, "host", None)
    return str(host) if host else "the server"
