"""Issue 15, point 3: everything a command writes goes under ``--data-dir`` (nothing
under the home folder, tiktoken's cache included), and commands log to the same rotating
log file as the app."""

from __future__ import annotations

import os
from pathlib import Path

from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune


def isolated_env(home: Path) -> dict[str, str]:
    """A home folder of its own, and none of the variables that would point elsewhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.pop("TIKTOKEN_CACHE_DIR", None)
    env.pop("DATA_GYM_CACHE_DIR", None)
    env.pop("RAGTUNE_DATA_DIR", None)
    env["HOME"] = str(home)
    return env


def run(env: dict[str, str], *args: str) -> None:
    """``ragtune`` with exactly ``env`` (merged into os.environ, the removed variables
    would come back)."""
    result = ragtune(*args, env=env, inherit=False)
    assert result.returncode == 0, result.stderr


def test_a_command_run_writes_only_under_the_data_dir(
    tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "data"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ports.md").write_text("# Network\n\nThe Hub listens on port 47120.")
    env = isolated_env(home)
    run(env, "--data-dir", str(data), "import", str(docs))
    run(env, "--data-dir", str(data), "search", "port", "--mode", "lexical")
    ask_env = {**env, "OPENAI_API_KEY": "sk-files", "OPENAI_BASE_URL": fake_openai.base_url}
    run(ask_env, "--data-dir", str(data), "ask", "Which port?", "--no-retrieval")

    assert [str(p.relative_to(home)) for p in home.rglob("*")] == []
    cached = list((data / "cache" / "tiktoken").iterdir())
    assert cached, "the token encodings are cached under the data dir"
    log = (data / "logs" / "ragtune.log").read_text()
    assert "ragtune import" in log and "ragtune ask" in log
    assert "sk-files" not in log


def test_an_explicit_tiktoken_cache_is_kept(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    mine = tmp_path / "my-tiktoken-cache"
    env = {**isolated_env(home), "TIKTOKEN_CACHE_DIR": str(mine)}
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\nSome words to count.")
    run(env, "--data-dir", str(tmp_path / "data"), "import", str(docs))
    assert list(mine.iterdir())
    assert not (tmp_path / "data" / "cache" / "tiktoken").exists()


def test_commands_share_the_apps_log_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    result = ragtune("--data-dir", str(data), "settings", "show")
    assert result.returncode == 0
    assert "ragtune settings" in (data / "logs" / "ragtune.log").read_text()
