"""The headless commands, run as a user would: as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop import __version__

ROOT = Path(__file__).resolve().parents[1]


def ragtune(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "desktop", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_help_lists_the_commands() -> None:
    result = ragtune("--help")
    assert result.returncode == 0
    assert "settings" in result.stdout
    assert "--data-dir" in result.stdout and "--json" in result.stdout


def test_version() -> None:
    result = ragtune("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ragtune {__version__}"


def test_settings_show_never_prints_the_key(tmp_path: Path) -> None:
    secret = "sk-cli-secret-0123456789"
    env = {"OPENAI_API_KEY": secret, "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    human = ragtune("--data-dir", str(tmp_path), "settings", "show", env=env)
    machine = ragtune("settings", "show", "--json", "--data-dir", str(tmp_path), env=env)
    assert human.returncode == 0 and machine.returncode == 0
    assert secret not in human.stdout + human.stderr + machine.stdout + machine.stderr
    data = json.loads(machine.stdout)
    assert data["api_key"] == "set"
    assert data["effective"]["base_url"] == "http://127.0.0.1:9/v1"
    assert data["effective"]["base_url_from_env"] is True
    assert "override" in human.stdout


def test_usage_errors_exit_2_with_a_reason() -> None:
    result = ragtune("no-such-command")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
