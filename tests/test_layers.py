"""The domain layer never imports Qt (ARCHITECTURE.md): checked by importing every domain
module in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import desktop

ROOT = Path(__file__).resolve().parents[1]
NOT_DOMAIN = ("desktop.ui", "desktop.workers", "desktop.app", "desktop.__main__")


def domain_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(desktop.__path__, "desktop."):
        if not info.name.startswith(NOT_DOMAIN):
            names.append(info.name)
    return names


def test_domain_modules_do_not_import_qt() -> None:
    modules = domain_modules()
    assert "desktop.workspace.store" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.startswith('PySide6'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
