"""Build the double-click app and smoke-test it, as a user would get it: the PyInstaller
bundle runs ``--selftest`` offscreen, and the .deb installs, starts through its launcher
and uninstalls without leaving anything. About a minute; run by the full test command
(and so by CI) on every submission."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("RAGTUNE_FULL_TESTS") == "1"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (FULL or os.environ.get("RAGTUNE_BUILD_TESTS") == "1"),
        reason="builds the bundle: run by the full test command, or set RAGTUNE_BUILD_TESTS=1",
    ),
]


def run(*command: str, timeout: int) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_the_bundle_and_the_deb_build_and_pass_the_smoke_test() -> None:
    built = run("bash", "packaging/build.sh", timeout=900)
    assert "bundle: dist/ragtune" in built
    can_install = shutil.which("dpkg") is not None and (
        os.geteuid() == 0 or shutil.which("sudo") is not None
    )
    smoke = run("bash", "packaging/smoke.sh", *(["--deb"] if can_install else []), timeout=900)
    assert "smoke: ok: --selftest" in smoke
    assert "smoke: all checks passed" in smoke
    if can_install:
        assert "smoke: ok: dpkg -r removed all" in smoke
