"""Helpers shared by the headless commands: the app context for a run, and the one way
a command drives a long operation (progress on a terminal, Ctrl+C to cancel)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from desktop.commands.result import CommandError
from desktop.context import AppContext
from desktop.progress import Cancelled, CancelToken, Progress, drive

T = TypeVar("T")


def context_from(args: argparse.Namespace) -> AppContext:
    return AppContext.create(
        data_dir=getattr(args, "data_dir", None), workspace=getattr(args, "workspace", None)
    )


def progress_line(step: Progress) -> str:
    if step.total:
        return f"{step.done}/{step.total} {step.message}"
    return step.message


@contextmanager
def ctrl_c_cancels(cancel: CancelToken) -> Iterator[None]:
    """The first Ctrl+C asks the operation to stop at its next step (it finishes what it
    must, nothing is left half-written); a second one interrupts at once."""
    if not _main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt
        cancel.cancel()
        print("\nragtune: stopping… (Ctrl+C again to interrupt)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def run_operation(
    operation: Generator[Any, None, T],
    args: argparse.Namespace,
    *,
    on_event: Callable[[Any], object] | None = None,
    cancel: CancelToken | None = None,
    stops_itself: bool = False,
) -> T:
    """Drive ``operation`` as a command: ``Progress`` steps are shown on one line of a
    terminal's stderr (never with --json or when stderr is a file), other events go to
    ``on_event``; Ctrl+C cancels cooperatively. A cancelled operation fails the command
    with "cancelled" unless it ``stops_itself`` (it returns what it has)."""
    cancel = cancel or CancelToken()
    show = sys.stderr.isatty() and not getattr(args, "json", False)
    shown = False

    def step(event: Any) -> None:
        nonlocal shown
        if isinstance(event, Progress):
            if show:
                print(f"\r{progress_line(event)[:78]:78}", end="", file=sys.stderr, flush=True)
                shown = True
        elif on_event is not None:
            on_event(event)

    try:
        with ctrl_c_cancels(cancel):
            return drive(operation, step, cancel, stops_itself=stops_itself)
    except Cancelled:
        raise CommandError("cancelled; nothing was left half-done") from None
    finally:
        if shown:
            print(file=sys.stderr)
