"""Issue 15, point 8: a streamed answer that is cut off (the connection closes, a chunk
is malformed, the server stalls) keeps its partial text with a note, and ``ragtune ask``
exits 1; ``--json`` keeps the partial answer and its status. A stall is reported as a
timeout, not as a lost connection."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.commands.test_chat_cmd import prepare
from tests.helpers.fake_openai import FakeOpenAI
from tests.test_cli import ragtune

REPLY = "The Hub listens on port 47120 for the agents [1]."


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"cut_stream_after": 4}, "the stream ended without a finish reason"),
        ({"cut_stream_after": 4, "abrupt": True}, "the connection to 127.0.0.1"),
        ({"malformed_chunk": True}, "sent a malformed part of the answer"),
    ],
    ids=["no-finish-reason", "connection-closed", "malformed-chunk"],
)
def test_a_cut_answer_exits_1_and_keeps_its_text(
    tmp_path: Path, fake_openai: FakeOpenAI, fault: dict, words: str
) -> None:
    data = prepare(tmp_path)
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    fake_openai.chat_reply = REPLY
    fake_openai.inject("/v1/chat/completions", times=2, **fault)
    human = ragtune("--data-dir", data, "ask", "Which port?", env=env)
    assert human.returncode == 1, human.stdout
    assert human.stdout.startswith("The ")  # what arrived was printed and kept
    assert "The answer was cut off before the model finished" in human.stderr
    assert words in human.stderr
    machine = ragtune("--data-dir", data, "ask", "Which port?", "--json", env=env)
    assert machine.returncode == 1
    result = json.loads(machine.stdout)
    assert result["status"] == "cut_off"
    assert result["answer"].startswith("The ") and result["answer"] != REPLY
    assert words in result["note"]


def test_a_stalled_stream_is_a_timeout(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = prepare(tmp_path)
    assert ragtune("--data-dir", data, "settings", "set", "request_timeout", "1").returncode == 0
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    fake_openai.chat_reply = REPLY
    fake_openai.inject("/v1/chat/completions", stall_after=3)  # role, "The ", "Hub "
    machine = ragtune("--data-dir", data, "ask", "Which port?", "--json", env=env)
    assert machine.returncode == 1
    result = json.loads(machine.stdout)
    assert result["status"] == "cut_off"
    assert result["answer"] == "The Hub "
    assert "stopped sending the answer for more than 1 s (timeout)" in result["note"]
    assert "connection" not in result["note"] and "ReadTimeout" not in result["note"]
