"""Helpers shared by the headless commands."""

from __future__ import annotations

import argparse

from desktop.context import AppContext


def context_from(args: argparse.Namespace) -> AppContext:
    return AppContext.create(
        data_dir=getattr(args, "data_dir", None), workspace=getattr(args, "workspace", None)
    )
