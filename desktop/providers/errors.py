"""Provider failures in words a user can act on. Each message names the host and says
what to check; none contains the key: everything leaving here passes ``redact``, because
servers quote what they were sent (some echo the whole key in a 401)."""

from __future__ import annotations

import json
import logging

from desktop.logs import redact

log = logging.getLogger(__name__)
BEGINNING_SHOWN = 60


class ReadableError(Exception):
    """A failure whose ``str()`` is already the sentence to show (redacted)."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class BadResponse(ReadableError):
    """The server answered, but not with what the API promises."""


def beginning(text: str | bytes | None, size: int = BEGINNING_SHOWN) -> str:
    """The first characters of a body, on one line, for a message."""
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    flat = " ".join(text.split())
    return flat[:size] + ("…" if len(flat) > size else "")


def not_json(
    host: str,
    content_type: str | None,
    body: str | bytes | None,
    *,
    expected: str = "the API's JSON",
) -> BadResponse:
    """The message for a 200 whose body is not what the API sends (a proxy's error page,
    a login portal, an event stream where a page was expected)."""
    kind = (content_type or "").split(";")[0].strip() or "none given"
    start = beginning(body)
    begins = f"; begins: {start}" if start else "; the body was empty"
    return BadResponse(
        f"The server at {host} sent something that is not {expected} (content type "
        f"{kind}{begins}). A proxy or login page may be in the way, or the server is not "
        "fully OpenAI-compatible: check the base URL."
    )


def server_message(exc: BaseException) -> str:
    """The provider's own words from an SDK error (its ``error.message``), redacted."""
    return redact(_server_words(exc))


def _server_words(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(body.get("message"), str):
            return str(body["message"])
    message = getattr(exc, "message", None)
    return str(message or exc)


def retry_after_seconds(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    value = headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def explain(exc: BaseException, *, host: str, timeout: float | None = None) -> str:
    """One readable sentence or two for any error the SDK raises, secrets removed."""
    return redact(_explain(exc, host=host, timeout=timeout))


def _explain(exc: BaseException, *, host: str, timeout: float | None = None) -> str:
    import openai

    if isinstance(exc, ReadableError):
        return str(exc)
    if isinstance(exc, json.JSONDecodeError):
        return str(not_json(host, None, exc.doc))
    if isinstance(exc, openai.APIResponseValidationError):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None) or {}
        body = exc.body if isinstance(exc.body, str | bytes) else None
        return str(not_json(host, headers.get("content-type"), body))
    detail = _server_words(exc)
    if isinstance(exc, openai.AuthenticationError):
        return (
            f"{host} rejected the API key (401 Unauthorized). Check the key in Settings; "
            f"server said: {detail}"
        )
    if isinstance(exc, openai.PermissionDeniedError):
        return f"{host} refused the request (403 Forbidden): {detail}"
    if isinstance(exc, openai.NotFoundError):
        return (
            f"{host} answered 404 Not Found: {detail}. If this is a model, it may be retired "
            "or unknown to this server; if it is the server, check the base URL ends in /v1."
        )
    if isinstance(exc, openai.RateLimitError):
        wait = retry_after_seconds(exc)
        when = f" It asked to wait {wait:g} s." if wait is not None else ""
        return f"{host} is rate limiting requests (429 Too Many Requests).{when} {detail}"
    if isinstance(exc, openai.APITimeoutError):
        limit = f" within {timeout:g} s" if timeout else ""
        return (
            f"{host} did not answer{limit} (timeout). The server may be overloaded or the "
            "model still loading; try again or raise the timeout in Settings."
        )
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        reason = f" ({type(cause).__name__}: {cause})" if cause else ""
        return (
            f"Could not reach {host}{reason}. Check the base URL, your network, and that the "
            "server is running."
        )
    if isinstance(exc, openai.InternalServerError):
        status = getattr(exc, "status_code", 500)
        return f"{host} had a server error ({status}): {detail}. Try again later."
    if isinstance(exc, openai.APIStatusError):
        return f"{host} answered {exc.status_code}: {detail}"
    return unreadable(exc, host=host)


def unreadable(exc: BaseException, *, host: str) -> str:
    """For a failure inside the SDK that is not one of its errors (a response it could
    not make sense of): no internal text on screen; the details go to the log."""
    log.warning("Unexpected failure talking to %s", host, exc_info=exc)
    return (
        f"The server at {host} answered in a way RAGTune could not read "
        f"({type(exc).__name__}); it may not be fully OpenAI-compatible. The details are "
        "in the log."
    )
