"""Issue 15, point 1: a server that echoes the key, and a password inside the base URL,
never reach the screen, the workspace or the log: not through ``ask``, ``jobs create``,
``jobs list``, ``settings show``, a stored upload error or a log line."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from desktop.logs import redact, register_secret
from desktop.paths import AppPaths
from desktop.providers.client import ProviderConfig
from tests.commands.test_chat_cmd import prepare
from tests.commands.test_jobs_cmd import CREATE, _imported
from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune

# Neither starts with "sk-": only knowing the configured key can hide them.
PLAIN_KEY = "Zq7wPlainKey0123456789abcdefXY"
SK_KEY = "sk-proj-EchoedKey0123456789abcdef"


def everything_written(data: str) -> str:
    """The text of every file under the data dir (workspace, settings, logs)."""
    return "".join(
        p.read_bytes().decode("utf-8", "replace") for p in Path(data).rglob("*") if p.is_file()
    )


def _env(fake: FakeOpenAI, key: str) -> dict[str, str]:
    return {"OPENAI_API_KEY": key, "OPENAI_BASE_URL": fake.base_url}


@pytest.mark.parametrize("key", [PLAIN_KEY, SK_KEY])
def test_ask_never_prints_a_key_the_server_echoes(
    tmp_path: Path, fake_openai: FakeOpenAI, key: str
) -> None:
    data = prepare(tmp_path)
    fake_openai.echo_key = True
    fake_openai.inject("/v1/chat/completions", 401, times=2)
    human = ragtune("--data-dir", data, "ask", "Which port?", env=_env(fake_openai, key))
    machine = ragtune(
        "--data-dir", data, "ask", "Which port?", "--json", env=_env(fake_openai, key)
    )
    assert human.returncode == machine.returncode == 1
    assert "rejected the API key" in human.stderr
    for shown in (human.stdout, human.stderr, machine.stdout, machine.stderr):
        assert key not in shown
    assert "Incorrect API key provided: «redacted»" in human.stderr
    assert json.loads(machine.stdout)["status"] == "error"
    assert key not in everything_written(data)


@pytest.mark.parametrize("key", [PLAIN_KEY, SK_KEY])
def test_jobs_create_and_list_never_print_or_store_an_echoed_key(
    tmp_path: Path, fake_openai: FakeOpenAI, key: str
) -> None:
    data = _imported(tmp_path)
    fake_openai.echo_key = True
    fake_openai.inject("/v1/files", 401, method="POST")
    created = ragtune("--data-dir", data, *CREATE, "--yes", env=_env(fake_openai, key))
    assert created.returncode == 1
    assert "rejected the API key" in created.stderr
    assert key not in created.stdout + created.stderr
    path = AppPaths.resolve(data).workspace_file("default")
    with closing(sqlite3.connect(path)) as db:
        (error,) = db.execute("SELECT error FROM fine_tune_files").fetchone()
    assert "rejected the API key" in error and key not in error

    fake_openai.inject("/v1/fine_tuning/jobs", 401, method="GET")
    for args in (("jobs", "list"), ("jobs", "list", "--json")):
        listed = ragtune("--data-dir", data, *args, env=_env(fake_openai, key))
        assert listed.returncode == 0
        assert key not in listed.stdout + listed.stderr
        fake_openai.inject("/v1/fine_tuning/jobs", 401, method="GET")
    assert key not in everything_written(data)


def test_a_password_in_the_base_url_is_never_shown(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = prepare(tmp_path)
    password = "hunter2-base-url-password"
    base_url = fake_openai.base_url.replace("http://", f"http://alice:{password}@")
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": base_url}
    shown = ragtune("--data-dir", data, "settings", "show", env=env)
    as_json = ragtune("--data-dir", data, "settings", "show", "--json", env=env)
    assert shown.returncode == as_json.returncode == 0
    assert "alice:***@127.0.0.1" in shown.stdout
    assert json.loads(as_json.stdout)["effective"]["base_url"].startswith("http://alice:***@")
    fake_openai.inject("/v1/chat/completions", 500)
    failed = ragtune("--data-dir", data, "ask", "Which port?", env=env)
    for output in (shown.stdout, as_json.stdout, failed.stdout + failed.stderr):
        assert password not in output
    assert password not in everything_written(data)


def test_the_host_shown_in_messages_has_no_password() -> None:
    config = ProviderConfig("https://bob:s3cret-pass@proxy.example:8443/v1", None, 5.0, 0)
    assert config.host == "proxy.example:8443"
    assert "s3cret-pass" not in json.dumps(config.redacted())


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Incorrect API key provided: sk-proj-AbCdEf0123456789xyz.", "AbCdEf0123456789xyz"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("sent header api-key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a3928"),
        ('{"api_key": "abc-DEF-123-ghi-456"}', "abc-DEF-123-ghi-456"),
        ("Incorrect API key provided: gsk_0123456789abcdefABCDEF", "0123456789abcdefABCDEF"),
        ("GET https://carol:pa55-w0rd@llm.internal/v1/models failed", "pa55-w0rd"),
        ("token hf_abcdefghijklmnopqrstuvwxyz0123 rejected", "abcdefghijklmnopqrstuvwxyz0123"),
    ],
)
def test_redact_hides_common_key_shapes(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_redact_hides_a_registered_key_of_any_shape() -> None:
    key = "plain0key0without0prefix0XY77"
    register_secret(key)
    assert redact(f"The server said {key} is wrong") == "The server said «redacted» is wrong"


def test_redact_leaves_ordinary_words_alone() -> None:
    text = "Could not reach 127.0.0.1:9 (ConnectError). Check the base URL http://h:11434/v1"
    assert redact(text) == text
