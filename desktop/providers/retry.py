"""Waiting for a server that asked to wait, the app's way: each wait is capped, shown
second by second, and can be cancelled. The SDK would honour a Retry-After of up to two
minutes silently on each of its retries, so calls that retry here are made with the
SDK's retries off, and this loop decides.

A server asking for more than ``MAX_RETRY_WAIT`` seconds is not waited for at all: the
call gives up at once with a sentence saying how long the server asked for."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TypeVar

from desktop.providers.errors import ReadableError, retry_after_seconds

T = TypeVar("T")

MAX_RETRY_WAIT = 60.0
"""The longest single wait on a server's word (Retry-After), in seconds."""
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 8.0
TICK = 1.0
"""A countdown step: how often a wait is reported (and how soon a cancel is noticed by
a driver that checks between steps)."""


@dataclass(frozen=True)
class RetryWait:
    """One step of a wait before a retry: yielded about once a second."""

    host: str
    seconds_left: float
    attempt: int  # the attempt that failed, from 1
    attempts: int  # how many are allowed in all
    reason: str  # what the server did, e.g. "is rate limiting requests (429)"

    def message(self) -> str:
        return (
            f"{self.host} {self.reason}: trying again in {math.ceil(self.seconds_left)} s "
            f"(attempt {self.attempt + 1} of {self.attempts})"
        )


class WaitTooLong(ReadableError):
    """The server asked to wait longer than the app waits on its own."""

    def __init__(self, host: str, seconds: float, reason: str, cap: float) -> None:
        super().__init__(
            f"{host} {reason} and asked to wait {duration(seconds)} before trying again "
            f"(Retry-After), longer than the {cap:g} s RAGTune waits on its own. Nothing "
            "more was sent; try again later."
        )
        self.seconds = seconds


def duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g} h"
    if seconds >= 120:
        return f"{seconds / 60:.3g} min"
    return f"{seconds:g} s"


def is_retryable(exc: BaseException) -> bool:
    """What the SDK itself would retry: rate limits, server errors, timeouts, dropped
    connections, 408 and 409."""
    import openai

    if isinstance(
        exc,
        openai.RateLimitError
        | openai.InternalServerError
        | openai.APITimeoutError
        | openai.APIConnectionError,
    ):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code in (408, 409)


def reason_of(exc: BaseException) -> str:
    import openai

    if isinstance(exc, openai.RateLimitError):
        return "is rate limiting requests (429)"
    if isinstance(exc, openai.APITimeoutError):
        return "did not answer in time"
    if isinstance(exc, openai.APIConnectionError):
        return "could not be reached"
    status = getattr(exc, "status_code", None)
    return f"answered {status}" if status else "failed"


def planned_wait(
    exc: BaseException, attempt: int, *, host: str, cap: float = MAX_RETRY_WAIT
) -> float:
    """Seconds to wait before the next attempt: the server's Retry-After when it gives
    one (``WaitTooLong`` past ``cap``), else a short exponential backoff."""
    asked = retry_after_seconds(exc)
    if asked is not None and math.isfinite(asked) and asked > 0:
        if asked > cap:
            raise WaitTooLong(host, asked, reason_of(exc), cap)
        return asked
    if asked is not None and not math.isfinite(asked):
        raise WaitTooLong(host, math.inf, reason_of(exc), cap)
    return min(FIRST_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)


def countdown(seconds: float, tick: float = TICK) -> Generator[tuple[float, float], None, None]:
    """(seconds left, step to sleep) pairs that add up to ``seconds``."""
    left = seconds
    while left > 0:
        step = min(tick, left)
        yield left, step
        left -= step


def with_retries(
    call: Callable[[], T],
    *,
    host: str,
    attempts: int,
    sleep: Callable[[float], object] = time.sleep,
    cap: float = MAX_RETRY_WAIT,
) -> Generator[RetryWait, None, T]:
    """Run ``call``; on a retryable failure wait (yielding a ``RetryWait`` each second,
    sleeping with ``sleep``) and try again, up to ``attempts`` calls in all. The last
    failure is raised as it came (``WaitTooLong`` when the server asked too much).
    Whoever drives this can stop it between steps."""
    attempts = max(1, attempts)
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:
            if attempt >= attempts or not is_retryable(exc):
                raise
            wait = planned_wait(exc, attempt, host=host, cap=cap)
            reason = reason_of(exc)
            for left, step in countdown(wait):
                yield RetryWait(host, left, attempt, attempts, reason)
                sleep(step)
