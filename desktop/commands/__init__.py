"""Headless commands. Each module has ``register(subparsers, common)`` that adds its
parser(s) and sets ``handler`` to a function taking the parsed arguments."""

from __future__ import annotations

import argparse

from desktop.commands import (
    chat_cmd,
    dataset_cmd,
    decide_cmd,
    eval_cmd,
    jobs_cmd,
    library_cmd,
    retrieval_cmd,
    settings_cmd,
)

MODULES = (
    settings_cmd,
    library_cmd,
    retrieval_cmd,
    chat_cmd,
    dataset_cmd,
    jobs_cmd,
    eval_cmd,
    decide_cmd,
)


def register_all(subparsers: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    for module in MODULES:
        module.register(subparsers, common)
