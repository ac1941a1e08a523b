"""Streaming an answer from a chat model, with the failures users meet named plainly.

A generator: it yields ``AnswerDelta`` as tokens arrive (and ``RateLimitWait`` each
second while it waits out a 429: at most ``MAX_RETRY_WAIT`` seconds, else it gives up at
once with the server's wish in words), and returns an ``AnswerOutcome`` that says how the
answer ended:
complete, stopped by the user, cut off (the stream ended without a finish reason, or the
connection dropped: the partial text is kept), or failed before any text. Stop works at
once: cancelling closes the stream, which the SDK's reading loop notices immediately."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop.progress import CancelToken
from desktop.providers.errors import explain, not_json
from desktop.providers.retry import RetryWait, WaitTooLong, countdown, planned_wait

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

MAX_RATE_LIMIT_WAITS = 3


@dataclass(frozen=True)
class AnswerDelta:
    text: str


@dataclass(frozen=True)
class RateLimitWait:
    """One second of a wait before asking again; ``seconds`` is what is left."""

    seconds: float
    attempt: int
    host: str = "the server"
    attempts: int = MAX_RATE_LIMIT_WAITS + 1

    def message(self) -> str:
        return RetryWait(
            self.host, self.seconds, self.attempt, self.attempts, reason_of_rate_limit()
        ).message()


@dataclass
class AnswerOutcome:
    text: str
    status: str  # complete | length | stopped | cut_off | error | no_provider
    model: str
    finish_reason: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    latency_ms: float = 0.0
    first_token_ms: float | None = None
    error: str | None = None
    error_kind: str | None = None  # auth | not_found | rate_limit | timeout | connection | ...

    @property
    def ok(self) -> bool:
        return self.status in ("complete", "length")

    def status_note(self) -> str:
        return {
            "complete": "",
            "length": "The answer reached the length limit and ends there.",
            "stopped": "Stopped: the answer ends where you stopped it.",
            "cut_off": "The answer was cut off before the model finished"
            + (f" ({self.error})" if self.error else "")
            + ". The partial text is kept; you can ask again.",
            "error": self.error or "The request failed.",
            "no_provider": self.error or "No chat model is configured.",
        }[self.status]


def reason_of_rate_limit() -> str:
    return "is rate limiting requests (429)"


def error_kind(exc: BaseException) -> str:
    import openai

    for kind, types in (
        ("auth", (openai.AuthenticationError, openai.PermissionDeniedError)),
        ("not_found", (openai.NotFoundError,)),
        ("rate_limit", (openai.RateLimitError,)),
        ("timeout", (openai.APITimeoutError,)),
        ("connection", (openai.APIConnectionError,)),
        ("server", (openai.InternalServerError,)),
    ):
        if isinstance(exc, types):
            return kind
    return "other"


def stream_answer(
    client: openai.OpenAI,
    messages: list[dict[str, str]],
    *,
    model: str,
    host: str,
    cancel: CancelToken | None = None,
    timeout: float | None = None,
    max_tokens: int | None = None,
) -> Generator[AnswerDelta | RateLimitWait, None, AnswerOutcome]:
    import openai

    cancel = cancel or CancelToken()
    started = time.perf_counter()
    outcome = AnswerOutcome("", "error", model)

    def finish(status: str, **changes: Any) -> AnswerOutcome:
        outcome.status = status
        outcome.latency_ms = (time.perf_counter() - started) * 1000
        for name, value in changes.items():
            setattr(outcome, name, value)
        return outcome

    extra: dict[str, Any] = {"stream_options": {"include_usage": True}}
    if max_tokens:
        extra["max_completion_tokens"] = max_tokens
    attempt = 0
    while True:
        if cancel.cancelled:
            return finish("stopped")
        try:
            stream = client.chat.completions.create(
                model=model, messages=messages, stream=True, **extra
            )
            break
        except openai.RateLimitError as exc:
            attempt += 1
            if attempt > MAX_RATE_LIMIT_WAITS:
                return finish("error", error=explain(exc, host=host), error_kind="rate_limit")
            try:
                wait = planned_wait(exc, attempt, host=host)
            except WaitTooLong as too_long:
                return finish("error", error=str(too_long), error_kind="rate_limit")
            for left, step in countdown(wait):
                yield RateLimitWait(left, attempt, host, MAX_RATE_LIMIT_WAITS + 1)
                if cancel.wait(step):
                    return finish("stopped")
        except openai.OpenAIError as exc:
            return finish(
                "error", error=explain(exc, host=host, timeout=timeout), error_kind=error_kind(exc)
            )

    refused = _not_a_stream(stream, host)
    if refused is not None:
        _close_quietly(stream)
        return finish("error", error=refused, error_kind="malformed")
    # Stop must not wait for the next token: closing the response makes the reading loop
    # raise at once (shared NOTES). Closing runs on its own thread, never the GUI's.
    cancel.on_cancel(
        lambda: threading.Thread(target=_close_quietly, args=(stream,), daemon=True).start()
    )
    parts: list[str] = []
    try:
        for chunk in stream:
            if cancel.cancelled:
                break
            if getattr(chunk, "usage", None):
                outcome.usage = chunk.usage.model_dump(exclude_none=True)
            for choice in chunk.choices:
                delta = choice.delta.content if choice.delta else None
                if delta:
                    if outcome.first_token_ms is None:
                        outcome.first_token_ms = (time.perf_counter() - started) * 1000
                    parts.append(delta)
                    outcome.text = "".join(parts)
                    yield AnswerDelta(delta)
                if choice.finish_reason:
                    outcome.finish_reason = choice.finish_reason
    except Exception as exc:  # the SDK's errors, and the HTTP layer's raised mid-stream
        if cancel.cancelled:
            return finish("stopped")
        kind = _cut_kind(exc)
        if kind not in ("malformed", "timeout", "connection"):
            log.warning("The answer stream from %s failed", host, exc_info=exc)
        return finish("cut_off", error=_cut_reason(kind, host, timeout), error_kind=kind)
    finally:
        _close_quietly(stream)
    if cancel.cancelled:
        return finish("stopped")
    if outcome.finish_reason is None:
        return finish(
            "cut_off", error="the stream ended without a finish reason", error_kind="incomplete"
        )
    return finish("length" if outcome.finish_reason == "length" else "complete")


def _cut_kind(exc: BaseException) -> str:
    """Why a stream that had started ended early: malformed | timeout | connection."""
    if isinstance(exc, json.JSONDecodeError):
        return "malformed"
    kind = error_kind(exc)
    if kind in ("timeout", "connection"):
        return kind
    # Read errors of the HTTP layer can surface as they are while a stream is read.
    names = {cls.__name__ for cls in type(exc).__mro__}
    if any("Timeout" in name for name in names):
        return "timeout"
    if names & {"ReadError", "RemoteProtocolError", "NetworkError", "ConnectionError"}:
        return "connection"
    return kind


def _cut_reason(kind: str, host: str, timeout: float | None) -> str:
    if kind == "malformed":
        return f"{host} sent a malformed part of the answer"
    if kind == "timeout":
        limit = f" for more than {timeout:g} s" if timeout else ""
        return (
            f"{host} stopped sending the answer{limit} (timeout); it may be overloaded, or "
            "the timeout in Settings may be too short for this model"
        )
    if kind == "connection":
        return f"the connection to {host} was lost"
    return f"the answer from {host} stopped unexpectedly (the details are in the log)"


def _not_a_stream(stream: Any, host: str) -> str | None:
    """A 200 that is not an event stream (a proxy's HTML page) would read as an empty
    answer: say what came instead."""
    response = getattr(stream, "response", None)
    headers = getattr(response, "headers", None)
    content_type = headers.get("content-type") if headers is not None else None
    if content_type is None or "event-stream" in content_type:
        return None
    try:
        start = next(iter(response.iter_bytes()), b"")
    except Exception:  # the body could not be read either: the content type says enough
        start = b""
    return str(not_json(host, content_type, start, expected="the API's event stream"))


def _close_quietly(stream: Any) -> None:
    try:
        stream.close()
    except Exception:
        log.debug("closing the answer stream failed", exc_info=True)
