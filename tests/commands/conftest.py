"""In-process command tests: the fine-tuning front door on a test workspace, with an
OpenAI provider (no retries) on the fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from desktop.finetune.providers import OpenAIFineTuneProvider
from desktop.finetune.service import FineTuneService
from desktop.finetune.store import DatasetStore
from desktop.workspace import Workspace
from tests.finetune.jobs.conftest import MODEL, Clock, chat_examples
from tests.helpers.fake_openai import FakeOpenAI
from tests.helpers.finetune_service import finetune_service


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Workspace]:
    ws = Workspace(tmp_path / "commands.ragtune.sqlite")
    yield ws
    ws.close()


@pytest.fixture
def chat_dataset(workspace: Workspace) -> str:
    datasets = DatasetStore(workspace)
    dataset = datasets.create_dataset("Support replies", MODEL)
    datasets.add_examples(dataset.id, chat_examples())
    return dataset.name


@pytest.fixture
def service(workspace: Workspace, fake_openai: FakeOpenAI) -> Iterator[FineTuneService]:
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-test", max_retries=0)
    made = finetune_service(
        workspace,
        fake_openai,
        clock=Clock(),
        provider=lambda _config: OpenAIFineTuneProvider(client, timeout=5.0),
    )
    yield made
    made.close()
    client.close()
