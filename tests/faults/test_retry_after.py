"""Issue 15, point 6: a server's Retry-After is obeyed up to a cap (60 s), the wait is
counted down where the user looks (the answer's note, the index progress, a line on the
command line's stderr), it can be cancelled, and past the cap the call gives up at once
with a sentence saying how long the server asked for. No test here waits long: sleeps
are injected or the wait is cancelled."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from desktop.chat.answer import RateLimitWait, stream_answer
from desktop.progress import Cancelled, CancelToken, Progress, drive, run_to_end
from desktop.providers.retry import MAX_RETRY_WAIT, WaitTooLong
from desktop.retrieval.embedders import OpenAIEmbedder
from desktop.retrieval.indexing import index_status, plan_index, run_index
from desktop.workspace import Workspace
from tests.commands.test_chat_cmd import prepare
from tests.helpers.fake_openai import FakeOpenAI
from tests.retrieval.conftest import import_texts
from tests.test_cli import ragtune

DOCS = {"a.md": "# A\n\nApples and pears.", "b.md": "# B\n\nBoats and harbours."}
MESSAGES = [{"role": "user", "content": "Hello?"}]


def test_the_cap_is_a_minute() -> None:
    assert MAX_RETRY_WAIT == 60.0


@pytest.mark.parametrize(("asked", "said"), [(3600, "1 h"), (120, "2 min")])
def test_ask_gives_up_at_once_on_a_long_retry_after(
    tmp_path: Path, fake_openai: FakeOpenAI, asked: int, said: str
) -> None:
    data = prepare(tmp_path)
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    fake_openai.inject("/v1/chat/completions", 429, retry_after=asked, times=5)
    failed = ragtune("--data-dir", data, "ask", "Which port?", env=env)
    assert failed.returncode == 1
    assert f"asked to wait {said} before trying again" in failed.stderr
    assert "longer than the 60 s RAGTune waits" in failed.stderr
    assert len(fake_openai.requests_to("/v1/chat/completions")) == 1


def test_ask_counts_a_short_wait_down_on_stderr(tmp_path: Path, fake_openai: FakeOpenAI) -> None:
    data = prepare(tmp_path)
    env = {"OPENAI_API_KEY": "sk-cli", "OPENAI_BASE_URL": fake_openai.base_url}
    fake_openai.inject("/v1/chat/completions", 429, retry_after=1)
    answered = ragtune("--data-dir", data, "ask", "Which port?", env=env)
    assert answered.returncode == 0, answered.stderr
    assert "is rate limiting requests (429): trying again in 1 s (attempt 2 of 4)" in (
        answered.stderr
    )


def test_the_answer_counts_down_and_stops_at_once(fake_openai: FakeOpenAI) -> None:
    fake_openai.inject("/v1/chat/completions", 429, retry_after=45)
    cancel = CancelToken()
    seen: list[RateLimitWait] = []
    with openai.OpenAI(base_url=fake_openai.base_url, api_key="sk-t", max_retries=0) as client:
        operation = stream_answer(
            client, MESSAGES, model="gpt-4.1-mini", host="fake", cancel=cancel
        )
        outcome = None
        while True:
            try:
                event = next(operation)
            except StopIteration as stop:
                outcome = stop.value
                break
            if isinstance(event, RateLimitWait):
                seen.append(event)
                cancel.cancel()  # the Stop button during the wait
    assert [w.seconds for w in seen] == [45]
    assert (
        seen[0].message() == "fake is rate limiting requests (429): trying again in 45 s "
        "(attempt 2 of 4)"
    )
    assert outcome is not None and outcome.status == "stopped"


class Sleeps:
    """Records the sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def patient(fake_openai: FakeOpenAI) -> openai.OpenAI:
    """A client allowing two retries, as the settings' default does."""
    with openai.OpenAI(
        base_url=fake_openai.base_url, api_key="sk-t", max_retries=2, timeout=10
    ) as client:
        yield client


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def embedder(
    workspace: Workspace, tmp_path: Path, patient: openai.OpenAI, sleeps: Sleeps
) -> OpenAIEmbedder:
    """Two documents to embed, with an embedder whose waits are only recorded."""
    import_texts(workspace, tmp_path / "docs", DOCS)
    return OpenAIEmbedder(patient, "text-embedding-3-small", sleep=sleeps)


def test_indexing_shows_the_countdown_and_waits_no_more_than_asked(
    workspace: Workspace, embedder: OpenAIEmbedder, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/embeddings", 503, retry_after=30)
    steps: list[Progress] = []
    drive(run_index(workspace, embedder, plan_index(workspace, embedder)), steps.append)
    countdown = [s.message for s in steps if "trying again" in s.message]
    assert countdown[0] == (
        f"127.0.0.1:{fake_openai.port} answered 503: trying again in 30 s (attempt 2 of 3)"
    )
    assert countdown[-1].endswith("trying again in 1 s (attempt 2 of 3)")
    assert len(countdown) == 30 and sum(sleeps.calls) == 30
    assert len(fake_openai.requests_to("/v1/embeddings")) == 2  # the SDK did not retry too
    assert index_status(workspace, embedder.key)[1] == 2


def test_indexing_gives_up_on_a_long_retry_after_and_keeps_nothing_half_done(
    workspace: Workspace, embedder: OpenAIEmbedder, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/embeddings", 503, retry_after=120, times=3)
    with pytest.raises(WaitTooLong) as caught:
        run_to_end(run_index(workspace, embedder, plan_index(workspace, embedder)))
    assert str(caught.value).startswith(
        f"127.0.0.1:{fake_openai.port} answered 503 and asked to wait 2 min before trying "
        "again (Retry-After), longer than the 60 s RAGTune waits on its own."
    )
    assert sleeps.calls == []
    assert len(fake_openai.requests_to("/v1/embeddings")) == 1
    assert index_status(workspace, embedder.key)[1] == 0


def test_indexing_can_be_cancelled_during_the_wait(
    workspace: Workspace, embedder: OpenAIEmbedder, sleeps: Sleeps, fake_openai: FakeOpenAI
) -> None:
    fake_openai.inject("/v1/embeddings", 429, retry_after=50)
    cancel = CancelToken()

    def step(progress: Progress) -> None:
        if "trying again" in progress.message:
            cancel.cancel()

    with pytest.raises(Cancelled):
        drive(run_index(workspace, embedder, plan_index(workspace, embedder)), step, cancel)
    assert sum(sleeps.calls) <= 1
    assert index_status(workspace, embedder.key)[1] == 0
