"""Fixtures for the job tracker: a workspace with the job tables (created here until
the lead's migration is in schema.py), datasets, and providers talking to the fake
server."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from desktop.finetune.examples import Message, PreferenceExample, TrainingExample
from desktop.finetune.job_store import JobStore
from desktop.finetune.providers import CompatibleFineTuneProvider, OpenAIFineTuneProvider
from desktop.finetune.store import DatasetStore
from desktop.workspace import Workspace
from tests.helpers.fake_openai import FakeOpenAI

MODEL = "gpt-4o-mini"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def workspace_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.ragtune.sqlite"


@pytest.fixture
def workspace(workspace_path: Path) -> Iterator[Workspace]:
    ws = Workspace(workspace_path)
    yield ws
    ws.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(workspace: Workspace, clock: Clock) -> JobStore:
    return JobStore(workspace, clock=clock)


@pytest.fixture
def datasets(workspace: Workspace) -> DatasetStore:
    return DatasetStore(workspace)


def chat_examples(n: int = 12, validation: int = 2, topic: str = "invoices") -> list[Any]:
    examples = []
    for i in range(n):
        examples.append(
            TrainingExample(
                messages=(
                    Message("system", "You answer support questions briefly."),
                    Message("user", f"Question {i} about {topic}: how do I handle case {i}?"),
                    Message("assistant", f"For case {i} of {topic}, open settings and pick {i}."),
                ),
                split="validation" if i >= n - validation else "train",
            )
        )
    return examples


def preference_examples(n: int = 12) -> list[Any]:
    return [
        PreferenceExample(
            input=(Message("user", f"Summarise report {i} in one line."),),
            preferred_output=(Message("assistant", f"Report {i}: revenue grew."),),
            non_preferred_output=(Message("assistant", f"I cannot summarise report {i}."),),
        )
        for i in range(n)
    ]


@pytest.fixture
def chat_dataset(datasets: DatasetStore) -> str:
    dataset = datasets.create_dataset("Support replies", MODEL)
    datasets.add_examples(dataset.id, chat_examples())
    return dataset.name


ProviderFactory = Callable[..., OpenAIFineTuneProvider]


@pytest.fixture
def make_provider(fake_openai: FakeOpenAI) -> Iterator[ProviderFactory]:
    """Providers on the fake server; every client made here is closed afterwards."""
    clients: list[openai.OpenAI] = []

    def make(
        cls: type[OpenAIFineTuneProvider] = OpenAIFineTuneProvider,
        *,
        max_retries: int = 0,
        timeout: float = 5.0,
        **kwargs: Any,
    ) -> OpenAIFineTuneProvider:
        client = openai.OpenAI(
            base_url=fake_openai.base_url,
            api_key="sk-test",
            max_retries=max_retries,
            timeout=timeout,
        )
        clients.append(client)
        return cls(client, timeout=timeout, **kwargs)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def provider(make_provider: ProviderFactory) -> OpenAIFineTuneProvider:
    return make_provider()


@pytest.fixture
def compatible(make_provider: ProviderFactory) -> OpenAIFineTuneProvider:
    return make_provider(CompatibleFineTuneProvider)


class DroppingServer:
    """Accepts HTTP requests and resets the connection halfway through the body: a
    connection dropped during an upload."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen()
        self._socket.settimeout(0.05)
        self._stop = threading.Event()
        self.hits = 0
        self._thread = threading.Thread(target=self._serve, name="DroppingServer", daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._socket.getsockname()[1]}/v1"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _address = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            with conn:
                self.hits += 1
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    conn.recv(8192)  # the headers and the start of the body
                # Close with RST: the client sees a dropped connection, not an answer.
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


@pytest.fixture
def dropping_server() -> Iterator[DroppingServer]:
    server = DroppingServer()
    yield server
    server.close()
