"""``ragtune decide``: the evidence, the recommendation and its reasons, headless."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktop.commands.result import CommandError, CommandResult


def register(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    decide = subparsers.add_parser(
        "decide",
        parents=[common],
        help="RAG, fine-tuning or both: evidence and reasons",
        description="Prints the evidence measured in the workspace, the recommendation and "
        "its reasons. Answers come from FILE (JSON: question id → yes/no/unsure, "
        "plus optional inputs) or from those saved in the Decide tab.",
    )
    decide.add_argument("--answers", type=Path, metavar="FILE")
    decide.set_defaults(handler=decide_command)


def decide_command(args: argparse.Namespace) -> CommandResult:
    from datetime import datetime

    from desktop.commands.common import context_from
    from desktop.decision.service import AnswersFileError

    service = context_from(args).decision()
    try:
        data, text = service.headless(args.answers, datetime.now().astimezone())
    except (AnswersFileError, OSError) as exc:
        raise CommandError(str(exc)) from exc
    return CommandResult(data, text)
