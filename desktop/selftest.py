"""``ragtune --selftest``: prove an installed copy works, end to end, in a temporary
workspace, without a network or an API key. Prints one line; exit 0 on success."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable


def _steps() -> list[tuple[str, Callable[[dict[str, object]], str]]]:
    def qt(state: dict[str, object]) -> str:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from desktop.app import build_main_window, create_application
        from desktop.context import AppContext
        from desktop.workers import TaskManager

        app = create_application()
        context = AppContext.create(data_dir=str(state["dir"]))
        tasks = TaskManager(app)
        window = build_main_window(context, tasks)
        window.show()
        QTimer.singleShot(200, QApplication.quit)
        app.exec()
        tabs = window.tabs.count()
        window.close()
        context.close()
        return f"window with {tabs} tabs ({QApplication.platformName()})"

    def workspace(state: dict[str, object]) -> str:
        from desktop.context import AppContext

        context = AppContext.create(data_dir=str(state["dir"]))
        version = context.workspace.schema_version
        context.close()
        return f"workspace schema {version}"

    def keychain(state: dict[str, object]) -> str:
        from desktop.providers.secrets import SecretStore

        info = SecretStore().info()
        return f"keychain {info.name}{'' if info.secure else ' (session only)'}"

    def sdk(state: dict[str, object]) -> str:
        import openai

        return f"openai {openai.__version__}"

    return [("workspace", workspace), ("keychain", keychain), ("openai SDK", sdk), ("window", qt)]


def run_selftest(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    done: list[str] = []
    with tempfile.TemporaryDirectory(prefix="ragtune-selftest-") as scratch:
        state: dict[str, object] = {"dir": scratch}
        for name, step in _steps():
            try:
                done.append(step(state))
            except Exception as exc:
                print(f"selftest FAILED at {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                return 1
    elapsed = time.perf_counter() - started
    print(f"selftest ok in {elapsed:.1f} s: " + "; ".join(done))
    return 0
