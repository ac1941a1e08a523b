"""Issue 15, point 5: a 200 whose body is not the API's JSON (a proxy's HTML page) is
named as such, with its content type and first characters, wherever a response is
read: embeddings, the chat answer, the model list, the fine-tuning calls."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from desktop.progress import run_to_end
from desktop.providers.check import check_connection
from desktop.providers.client import ProviderConfig
from desktop.providers.errors import explain
from desktop.providers.validate import BadResponse
from desktop.retrieval.embedders import OpenAIEmbedder
from desktop.retrieval.indexing import index_status, plan_index, run_index
from desktop.workspace import Workspace
from tests.commands.test_chat_cmd import prepare
from tests.helpers.fake_openai import FakeOpenAI
from tests.retrieval.conftest import import_texts
from tests.test_cli import ragtune

PAGE = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body>nginx</body>"


def proxy_page(fake: FakeOpenAI, path: str, content_type: str = "text/html", **kw: object) -> None:
    fake.inject(path, 200, body=PAGE, content_type=content_type, **kw)


@pytest.mark.parametrize("content_type", ["text/html", "application/json"])
def test_embeddings(
    content_type: str,
    workspace: Workspace,
    tmp_path: Path,
    client: openai.OpenAI,
    fake_openai: FakeOpenAI,
) -> None:
    import_texts(workspace, tmp_path / "docs", {"a.md": "# A\n\nSome words."})
    embedder = OpenAIEmbedder(client, "text-embedding-3-small")
    proxy_page(fake_openai, "/v1/embeddings", content_type)
    with pytest.raises(BadResponse) as caught:
        run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    message = str(caught.value)
    assert f"The server at 127.0.0.1:{fake_openai.port} sent something that is not " in message
    assert f"content type {content_type}; begins: <!DOCTYPE html> <html><head>" in message
    assert "Expecting value" not in message
    assert index_status(workspace, embedder.key)[1] == 0


def test_ask_says_what_came_instead_of_the_answer(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = prepare(tmp_path)
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    proxy_page(fake_openai, "/v1/chat/completions")
    failed = ragtune("--data-dir", data, "ask", "Which port?", env=env)
    assert failed.returncode == 1
    assert "content type text/html; begins: <!DOCTYPE html>" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_the_connection_check_and_the_model_list(fake_openai: FakeOpenAI) -> None:
    config = ProviderConfig(fake_openai.base_url, "sk-check", 5.0, 0)
    proxy_page(fake_openai, "/v1/models")
    report = check_connection(config)
    assert not report.ok
    assert "content type text/html; begins: <!DOCTYPE html>" in report.message
    assert "AttributeError" not in report.message and "'str'" not in report.message


def test_a_jobs_list_behind_a_proxy(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = str(tmp_path / "data")
    env = {"OPENAI_API_KEY": "sk-jobs", "OPENAI_BASE_URL": fake_openai.base_url}
    proxy_page(fake_openai, "/v1/fine_tuning/jobs", method="GET")
    listed = ragtune("--data-dir", data, "jobs", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    proxy_page(fake_openai, "/v1/fine_tuning/jobs", method="GET")
    human = ragtune("--data-dir", data, "jobs", "list", env=env)
    assert "could not refresh" in human.stdout
    assert "content type text/html; begins: <!DOCTYPE html>" in human.stdout
    assert "_set_private_attributes" not in human.stdout + human.stderr


def test_explain_words_a_json_error_without_python_text() -> None:
    try:
        json.loads(PAGE)
    except json.JSONDecodeError as exc:
        text = explain(exc, host="proxy.example")
    assert text.startswith("The server at proxy.example sent something that is not the API's")
    assert "begins: <!DOCTYPE html>" in text and "Expecting value" not in text
