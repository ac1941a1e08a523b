"""Provider failures in words a user can act on. Each message names the host and says
what to check; none contains the key: everything leaving here passes ``redact``, because
servers quote what they were sent (some echo the whole key in a 401)."""

from __future__ import annotations

import json

from desktop.logs import redact


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
    if isinstance(exc, json.JSONDecodeError):
        return f"{host} sent a malformed response ({exc.msg}); the answer was cut off."
    return f"{type(exc).__name__}: {exc}"
