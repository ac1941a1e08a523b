"""``ragtune``: with no command it opens the window; with a command it runs the same
domain code headless, for scripts and automation.

Exit codes: 0 success, 1 failure (one line on stderr says why), 2 bad usage."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from desktop import __version__
from desktop.commands.result import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    CommandError,
    CommandResult,
)

Handler = Callable[[argparse.Namespace], "CommandResult | int"]
log = logging.getLogger("desktop.cli")


def _common_options(*, top_level: bool) -> argparse.ArgumentParser:
    """Options accepted both before and after the command name."""
    default = None if top_level else argparse.SUPPRESS
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--data-dir",
        default=default,
        metavar="DIR",
        help="keep data, settings and logs under DIR (default: the user dirs)",
    )
    parent.add_argument(
        "--workspace", default=default, metavar="NAME", help="workspace to use (default: 'default')"
    )
    parent.add_argument(
        "--json",
        action="store_true",
        default=default if not top_level else False,
        help="print machine-readable JSON",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ragtune",
        description="RAGTune: RAG, fine-tuning, or both? Run without a command to open the app.",
        parents=[_common_options(top_level=True)],
    )
    parser.add_argument("--version", action="version", version=f"ragtune {__version__}")
    parser.add_argument(
        "--selftest",
        action="store_true",
        help="start, exercise the core on a bundled sample in a temporary "
        "workspace, print one line and exit",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="open the window, save a picture of it to PNG once painted, "
        "print what it shows and exit (for docs and smoke tests)",
    )
    parser.add_argument("--tab", metavar="NAME", help="open the window on this tab")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    common = _common_options(top_level=False)
    from desktop.commands import register_all

    register_all(sub, common)
    return parser


def _emit(result: CommandResult, as_json: bool) -> None:
    """Print a result. Known secrets (the configured key, a password in the base URL)
    are removed whatever the command put in it; ordinary text is left as it is."""
    from desktop.logs import redact_known

    if as_json:
        print(redact_known(json.dumps(result.data, indent=2, ensure_ascii=False, default=str)))
    elif result.text:
        print(redact_known(result.text))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "data_dir", None):
        # For the whole process (and what it starts): code with no context at hand, such
        # as finding the optional models unpacked under ``models`` of the data folder,
        # resolves the same folder.
        from desktop.paths import DATA_DIR_ENV

        os.environ[DATA_DIR_ENV] = str(Path(args.data_dir).expanduser().resolve())
    if args.selftest:
        from desktop.selftest import run_selftest

        return run_selftest(args)
    if args.command is None:
        from desktop.app import run_app

        return run_app(args)
    handler: Handler = args.handler
    from desktop.logs import redact

    name = _start_logging(args)
    try:
        outcome = handler(args)
    except CommandError as exc:
        log.warning("%s failed: %s", name, exc)
        print(f"ragtune: error: {redact(str(exc))}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        log.warning("%s interrupted", name)
        print("ragtune: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        from desktop.errors import user_message

        log.exception("%s failed", name)
        print(f"ragtune: error: {user_message(exc)}", file=sys.stderr)
        return EXIT_FAILURE
    if isinstance(outcome, int):
        log.info("%s finished (exit %d)", name, outcome)
        return outcome
    log.info("%s finished (exit %d)", name, outcome.exit_code)
    try:
        _emit(outcome, bool(getattr(args, "json", False)))
    except BrokenPipeError:
        # The reader went away (``ragtune documents | head``): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return outcome.exit_code


def _start_logging(args: argparse.Namespace) -> str:
    """Commands log to the app's rotating log file, under ``--data-dir`` when given (the
    command and its action only: arguments may be private)."""
    from desktop.logs import setup_logging
    from desktop.paths import AppPaths

    name = " ".join(
        str(part) for part in ("ragtune", args.command, getattr(args, "action", None)) if part
    )
    try:
        paths = AppPaths.resolve(getattr(args, "data_dir", None)).ensure()
        setup_logging(paths.log_dir)
    except OSError as exc:  # a read-only data dir must not stop a read-only command
        print(f"ragtune: warning: no log file ({exc})", file=sys.stderr)
        return name
    log.info("%s (RAGTune %s)", name, __version__)
    return name


def main_gui() -> int:
    """Entry point of the windowed launcher (no console on Windows)."""
    return main()


if __name__ == "__main__":
    raise SystemExit(main())
