"""The headless commands, run as a user would: as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from desktop import __version__

ROOT = Path(__file__).resolve().parents[1]


def ragtune(
    *args: str, env: dict[str, str] | None = None, inherit: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``ragtune``; ``env`` adds to this process's environment, or with
    ``inherit=False`` is the whole environment."""
    full_env = {**os.environ, **(env or {})} if inherit else dict(env or {})
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


def test_settings_set_checks_the_value_as_the_dialog_does(tmp_path: Path) -> None:
    data = str(tmp_path)
    changed = ragtune("--data-dir", data, "settings", "set", "search_k", "8", "--json")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout) == {"key": "search_k", "value": 8, "previous": 5}
    shown = json.loads(ragtune("--data-dir", data, "settings", "show", "--json").stdout)
    assert shown["settings"]["search_k"] == 8

    for args, reason in (
        (("search_k", "0"), "search_k must be between 1 and 50"),
        (("similarity_threshold", "1.5"), "must be between 0 and 1, or auto"),
        (("search_k", "many"), "search_k is a whole number"),
        (("search_mode", "fuzzy"), "search_mode must be one of: hybrid, vector, lexical"),
        (("base_url", "localhost:11434"), "must start with http:// or https://"),
        (("local_model", "no-such-model"), "local_model must be one of"),
        (("colour", "blue"), "unknown setting 'colour'"),
        (("api_key", "sk-should-never-be-stored"), "kept in the OS keychain"),
    ):
        refused = ragtune("--data-dir", data, "settings", "set", *args)
        assert refused.returncode == 1, args
        assert reason in refused.stderr, refused.stderr
    assert "sk-should-never-be-stored" not in "".join(
        p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()
    )
    shown = json.loads(ragtune("--data-dir", data, "settings", "show", "--json").stdout)
    assert shown["settings"]["search_k"] == 8  # nothing refused was written

    # The similarity threshold is "auto" (the embedder's own) until set, and can go back.
    assert "similarity_threshold auto" in ragtune("--data-dir", data, "settings", "show").stdout
    fixed = ragtune("--data-dir", data, "settings", "set", "similarity_threshold", "0.3")
    assert fixed.stdout.strip() == "similarity_threshold = 0.3"
    auto = ragtune("--data-dir", data, "settings", "set", "similarity_threshold", "auto")
    assert auto.returncode == 0 and auto.stdout.strip() == "similarity_threshold = auto"


def test_selftest_proves_every_step_an_install_needs(tmp_path: Path) -> None:
    """What the bundle's smoke test runs, from the source tree: import, chunk, embed,
    search, the approximate index, and a window whose every tab builds and draws a chart."""
    result = ragtune(
        "--selftest",
        env={
            "QT_QPA_PLATFORM": "offscreen",
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        },
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith("selftest ok in ")
    assert "found the answer" in line and "found the same chunk" in line
    assert "window with 5 tabs, 5 built, a chart drawn" in line
