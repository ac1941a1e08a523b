"""Tests of the fake OpenAI server, driven by the real ``openai`` client over HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import openai
import pytest

from tests.helpers.fake_openai import (
    DEFAULT_MODELS,
    FakeOpenAI,
    count_tokens,
    default_chat_reply,
    fake_openai_server,
)

USER = [{"role": "user", "content": "How do tides work?"}]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    yield from fake_openai_server()


@pytest.fixture
def client(server: FakeOpenAI) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=5) as c:
        yield c


def cosine(a: list[float], b: list[float]) -> float:
    va, vb = np.asarray(a), np.asarray(b)
    return float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb)))


def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


# --------------------------------------------------------------------------- models


def test_models_list_and_retrieve(server: FakeOpenAI, client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == list(DEFAULT_MODELS)
    server.models.append("ft:gpt-4o-mini:acme::abc123")
    ids = [m.id for m in client.models.list()]
    assert "ft:gpt-4o-mini:acme::abc123" in ids
    model = client.models.retrieve("ft:gpt-4o-mini:acme::abc123")
    assert model.id == "ft:gpt-4o-mini:acme::abc123"
    assert model.owned_by == "org-fake"
    with pytest.raises(openai.NotFoundError) as info:
        client.models.retrieve("gpt-9")
    assert info.value.code == "model_not_found"


def test_records_requests_with_headers(server: FakeOpenAI, client: openai.OpenAI) -> None:
    client.models.list()
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.body is None
    server.clear_requests()
    assert server.requests == []


def test_unknown_route_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError, match=r"Invalid URL \(GET /v1/nowhere\)"):
        client.get("/nowhere", cast_to=object)


# --------------------------------------------------------------------------- embeddings


def test_embeddings_sdk_default_is_base64_and_decodes(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    texts = ["tides follow the moon", "the moon pulls tides", "sourdough bread recipe"]
    result = client.embeddings.create(model="text-embedding-3-small", input=texts)
    assert server.requests[-1].json["encoding_format"] == "base64"  # the SDK's default
    vectors = [d.embedding for d in result.data]
    assert [d.index for d in result.data] == [0, 1, 2]
    assert all(len(v) == 1536 for v in vectors)
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-5)
    assert cosine(vectors[0], vectors[1]) > 0.5
    assert abs(cosine(vectors[0], vectors[2])) < 0.2
    again = client.embeddings.create(model="text-embedding-3-small", input=texts[0])
    assert again.data[0].embedding == vectors[0]
    assert result.usage.prompt_tokens == sum(count_tokens(t) for t in texts)
    assert result.usage.total_tokens == result.usage.prompt_tokens


def test_embeddings_float_matches_base64_and_dimensions(client: openai.OpenAI) -> None:
    text = "a question about tides"
    as_float = client.embeddings.create(
        model="text-embedding-3-large", input=text, encoding_format="float"
    )
    assert len(as_float.data[0].embedding) == 3072
    as_b64 = client.embeddings.create(model="text-embedding-3-large", input=text)
    np.testing.assert_allclose(as_float.data[0].embedding, as_b64.data[0].embedding, rtol=1e-6)
    short = client.embeddings.create(model="text-embedding-3-large", input=text, dimensions=256)
    assert len(short.data[0].embedding) == 256
    # Matryoshka-like: the short vector is the normalised prefix of the full one.
    prefix = np.asarray(as_float.data[0].embedding[:256])
    np.testing.assert_allclose(short.data[0].embedding, prefix / np.linalg.norm(prefix), atol=1e-5)
    ada = client.embeddings.create(model="text-embedding-ada-002", input=text)
    assert len(ada.data[0].embedding) == 1536


def test_embeddings_accept_token_arrays(client: openai.OpenAI) -> None:
    result = client.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3], [4, 5]])
    assert len(result.data) == 2
    assert result.usage.prompt_tokens == 5


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"model": "text-embedding-ada-002", "dimensions": 256}, openai.BadRequestError, "dim"),
        ({"input": ""}, openai.BadRequestError, "empty string"),
        ({"input": ["ok", ""]}, openai.BadRequestError, "empty string"),
        ({"input": ["x"] * 2049}, openai.BadRequestError, "max number of inputs is 2048"),
        ({"input": "w " * 8193}, openai.BadRequestError, "maximum context length"),
        ({"model": "text-embedding-4"}, openai.NotFoundError, "does not exist"),
        ({"model": "gpt-4o-mini"}, openai.BadRequestError, "does not support embeddings"),
    ],
)
def test_embeddings_limits(
    client: openai.OpenAI, kwargs: dict[str, object], error: type[Exception], fragment: str
) -> None:
    params: dict[str, object] = {"model": "text-embedding-3-small", "input": "hello", **kwargs}
    with pytest.raises(error, match=fragment):
        client.embeddings.create(**params)  # type: ignore[arg-type]


def test_embeddings_2048_inputs_are_fine(server: FakeOpenAI, client: openai.OpenAI) -> None:
    result = client.embeddings.create(
        model="text-embedding-3-small", input=[f"text {i}" for i in range(2048)], dimensions=8
    )
    assert len(result.data) == 2048
    assert len(server.requests_to("/v1/embeddings")) == 1


def test_unknown_embedding_model_code(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.embeddings.create(model="nope", input="x")
    assert info.value.status_code == 404
    assert info.value.code == "model_not_found"


# --------------------------------------------------------------------------- chat


def test_chat_default_reply_quotes_question_and_cites(client: openai.OpenAI) -> None:
    plain = client.chat.completions.create(model="gpt-4.1-mini", messages=USER)
    assert plain.choices[0].message.content == "Here is a fake answer to: How do tides work?"
    assert plain.choices[0].finish_reason == "stop"
    messages = [
        {"role": "system", "content": "Answer from the sources.\n[1] Moon.\n[2] Sun."},
        *USER,
    ]
    cited = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    content = cited.choices[0].message.content or ""
    assert "How do tides work?" in content
    assert content.endswith("[1]")
    assert cited.usage is not None
    assert cited.usage.completion_tokens == count_tokens(content)


def test_chat_reply_is_configurable(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.chat_reply = "Fixed."
    result = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert result.choices[0].message.content == "Fixed."
    server.chat_reply = lambda body: f"{len(body['messages'])} message(s)"
    result = client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert result.choices[0].message.content == "1 message(s)"


def test_chat_max_tokens_truncates(client: openai.OpenAI) -> None:
    result = client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, max_completion_tokens=3
    )
    assert result.choices[0].message.content == "Here is a "
    assert result.choices[0].finish_reason == "length"


def test_chat_unknown_model(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-9", messages=USER)
    assert info.value.code == "model_not_found"


def test_chat_stream_word_by_word_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    with stream:
        chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices]
    text = "".join(d for d in deltas if d)
    assert text == default_chat_reply({"messages": USER})
    assert len([d for d in deltas if d]) == len(text.split())
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == count_tokens(text)


def test_chat_stream_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    with client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as s:
        chunks = list(s)
    assert all(c.choices for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_stream_cut_short_raises_nothing(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.inject("/v1/chat/completions", cut_stream_after=3)
    with client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as s:
        chunks = list(s)
    assert len(chunks) == 3
    assert all(c.choices[0].finish_reason is None for c in chunks)
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Here is "


def test_stream_cut_abruptly_is_a_connection_error(
    server: FakeOpenAI, client: openai.OpenAI
) -> None:
    server.inject("/v1/chat/completions", cut_stream_after=2, abrupt=True)
    received = []
    with (
        pytest.raises(openai.APIConnectionError),
        client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as s,
    ):
        received.extend(s)
    assert len(received) == 2


def test_stream_malformed_chunk(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.inject("/v1/chat/completions", malformed_chunk=True)
    received = []
    with (
        pytest.raises(json.JSONDecodeError),
        client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True) as s,
    ):
        received.extend(s)
    assert [c.choices[0].delta.content for c in received] == ["", "Here "]


def test_stream_delay_and_client_stop(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.chat_reply = " ".join(f"w{i}" for i in range(40))
    server.stream_delay = 0.02
    started = time.monotonic()
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    first = next(stream)
    second = next(stream)
    assert (first.choices[0].delta.role, second.choices[0].delta.content) == ("assistant", "w0 ")
    assert time.monotonic() - started >= 0.015
    stream.close()  # what a Stop button does
    request = server.requests_to("/v1/chat/completions")[-1]
    assert wait_until(lambda: request.disconnected)


# --------------------------------------------------------------------------- auth and faults


def test_valid_keys_and_masked_message(server: FakeOpenAI) -> None:
    server.valid_keys = {"sk-good-key"}
    with (
        openai.OpenAI(base_url=server.base_url, api_key="sk-wrong-secret-key", max_retries=0) as c,
        pytest.raises(openai.AuthenticationError) as info,
    ):
        c.models.list()
    assert info.value.code == "invalid_api_key"
    assert "sk-wrong-secret-key" not in str(info.value)
    with openai.OpenAI(base_url=server.base_url, api_key="sk-good-key", max_retries=0) as c:
        assert c.models.list().data


def test_injected_401(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.inject("/v1/models", 401)
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    assert client.models.list().data  # used up after one request


def test_injected_404_names_the_model(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.inject("/v1/chat/completions", 404)
    with pytest.raises(openai.NotFoundError, match="`gpt-4o-mini` does not exist") as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert info.value.body == {
        "message": "The model `gpt-4o-mini` does not exist or you do not have access to it.",
        "type": "invalid_request_error",
        "param": None,
        "code": "model_not_found",
    }


def test_429_retry_after_is_honoured(server: FakeOpenAI) -> None:
    server.inject("/v1/embeddings", 429, retry_after=0.4)
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1) as c:
        result = c.embeddings.create(model="text-embedding-3-small", input="hello")
    assert len(result.data) == 1
    first, second = server.requests_to("/v1/embeddings")
    assert 0.38 <= second.timestamp - first.timestamp < 1.5
    assert second.headers["x-stainless-retry-count"] == "1"


def test_429_without_retries(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.inject("/v1/embeddings", 429, retry_after=7)
    with pytest.raises(openai.RateLimitError) as info:
        client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert info.value.response.headers["retry-after"] == "7"
    assert info.value.code == "rate_limit_exceeded"


def test_500_and_retries_consume_faults(server: FakeOpenAI) -> None:
    server.inject("/v1/models", 500, times=2, retry_after=0.01)
    with openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=1) as c:
        with pytest.raises(openai.InternalServerError):
            c.models.list()
        assert len(server.requests) == 2
        assert server.pending_faults == []
        assert c.models.list().data


def test_custom_fault_body_and_method_filter(server: FakeOpenAI, client: openai.OpenAI) -> None:
    quota = {
        "error": {"message": "Quota.", "type": "insufficient_quota", "code": "insufficient_quota"}
    }
    server.inject("/v1/files", 429, method="POST", body=quota)
    assert client.files.list().data == []  # GET is not targeted
    with pytest.raises(openai.RateLimitError) as info:
        client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune")
    assert info.value.code == "insufficient_quota"


def test_slow_response_times_out(server: FakeOpenAI) -> None:
    server.inject("/v1/chat/completions", delay=5)
    started = time.monotonic()
    with openai.OpenAI(
        base_url=server.base_url, api_key="sk-test", max_retries=0, timeout=0.2
    ) as c:
        with pytest.raises(openai.APITimeoutError):
            c.chat.completions.create(model="gpt-4o-mini", messages=USER)
        assert time.monotonic() - started < 2
        # A short delay alone just slows the answer down.
        server.inject("/v1/chat/completions", delay=0.05)
        assert c.chat.completions.create(model="gpt-4o-mini", messages=USER).choices


# --------------------------------------------------------------------------- files


def test_files_upload_list_content_delete(server: FakeOpenAI, client: openai.OpenAI) -> None:
    payload = b'{"messages": []}\r\n{"messages": []}\n\x00\xff'
    uploaded = client.files.create(file=("train.jsonl", payload), purpose="fine-tune")
    assert (uploaded.filename, uploaded.bytes, uploaded.purpose) == (
        "train.jsonl",
        len(payload),
        "fine-tune",
    )
    other = client.files.create(file=("notes.txt", b"hi"), purpose="user_data")
    assert [f.id for f in client.files.list()] == [other.id, uploaded.id]
    assert [f.id for f in client.files.list(purpose="fine-tune")] == [uploaded.id]
    assert client.files.retrieve(uploaded.id).filename == "train.jsonl"
    assert client.files.content(uploaded.id).content == payload
    assert server.file_contents[uploaded.id] == payload
    deleted = client.files.delete(uploaded.id)
    assert deleted.deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_fine_tune_upload_must_be_jsonl(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="jsonl"):
        client.files.create(file=("train.csv", b"a,b"), purpose="fine-tune")


# --------------------------------------------------------------------------- fine-tuning


def _training_file(server: FakeOpenAI) -> str:
    line = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    return server.add_file("\n".join([line] * 10) + "\n", "train.jsonl")["id"]


def test_fine_tuning_lifecycle(server: FakeOpenAI, client: openai.OpenAI) -> None:
    training = _training_file(server)
    job = client.fine_tuning.jobs.create(
        model="gpt-4o-mini",
        training_file=training,
        suffix="ragtune",
        seed=7,
        method={"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 2}}},
    )
    assert job.status == "validating_files"
    assert job.seed == 7
    assert job.hyperparameters.n_epochs == 2
    assert job.hyperparameters.batch_size == "auto"

    server.advance_job(job.id, "queued")
    server.advance_job(job.id, "running")
    running = client.fine_tuning.jobs.retrieve(job.id)
    assert running.status == "running"
    assert running.hyperparameters.batch_size == 1  # "auto" resolved once running
    assert running.method is not None
    assert running.method.supervised is not None

    for step, loss in enumerate([2.0, 1.5, 1.1], start=1):
        server.add_metrics(
            job.id, step, loss, valid_loss=loss + 0.1, train_mean_token_accuracy=0.5, total_steps=3
        )
    events = list(client.fine_tuning.jobs.list_events(job.id))
    metrics = [e for e in events if e.type == "metrics"]
    assert [e.data["step"] for e in metrics] == [3, 2, 1]  # type: ignore[index]  # newest first
    assert metrics[0].data == {  # type: ignore[comparison-overlap]
        "step": 3,
        "train_loss": 1.1,
        "valid_loss": pytest.approx(1.2),
        "total_steps": 3,
        "train_mean_token_accuracy": 0.5,
    }
    assert events[-1].message == f"Created fine-tuning job: {job.id}"

    model = server.succeed_job(job.id)
    done = client.fine_tuning.jobs.retrieve(job.id)
    assert done.status == "succeeded"
    assert done.fine_tuned_model == model
    assert model.startswith("ft:gpt-4o-mini:fake-org:ragtune:")
    assert done.trained_tokens == count_tokens(server.file_contents[training].decode()) * 2
    assert model in [m.id for m in client.models.list()]
    csv = client.files.content(done.result_files[0]).text
    assert csv.splitlines()[0].startswith("step,train_loss")
    assert csv.splitlines()[-1].startswith("3,1.1,0.5,")
    (checkpoint,) = client.fine_tuning.jobs.checkpoints.list(job.id)
    assert checkpoint.step_number == 3
    assert checkpoint.fine_tuned_model_checkpoint == f"{model}:ckpt-step-3"
    assert checkpoint.metrics.train_loss == 1.1
    assert "successfully completed" in client.fine_tuning.jobs.list_events(job.id).data[0].message
    reply = client.chat.completions.create(model=model, messages=USER)
    assert reply.model == model


def test_fine_tuning_failure(server: FakeOpenAI, client: openai.OpenAI) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4.1-mini", training_file=_training_file(server))
    server.fail_job(job.id, "Training file has too few examples.", "invalid_training_file")
    failed = client.fine_tuning.jobs.retrieve(job.id)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.code == "invalid_training_file"
    assert client.fine_tuning.jobs.list_events(job.id).data[0].level == "error"


def test_fine_tuning_cancel(server: FakeOpenAI, client: openai.OpenAI) -> None:
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=_training_file(server))
    server.advance_job(job.id, "running")
    assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
    with pytest.raises(openai.BadRequestError, match="already completed"):
        client.fine_tuning.jobs.cancel(job.id)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"training_file": "file-missing"}, "invalid training_file"),
        ({"model": "text-embedding-3-small"}, "not available for fine-tuning"),
        ({"validation_file": "file-missing"}, "invalid validation_file"),
    ],
)
def test_fine_tuning_rejects_bad_jobs(
    server: FakeOpenAI, client: openai.OpenAI, kwargs: dict[str, str], fragment: str
) -> None:
    params = {"model": "gpt-4o-mini", "training_file": _training_file(server), **kwargs}
    with pytest.raises(openai.BadRequestError, match=fragment):
        client.fine_tuning.jobs.create(**params)  # type: ignore[arg-type]


def test_fine_tuning_refusal(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.refuse_new_jobs = "Fine-tuning jobs can no longer be created for this organization."
    with pytest.raises(openai.PermissionDeniedError, match="no longer be created"):
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=_training_file(server))
    assert server.job_ids == []


def test_fine_tuning_pagination(server: FakeOpenAI, client: openai.OpenAI) -> None:
    training = _training_file(server)
    created = [
        client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=training).id
        for _ in range(5)
    ]
    server.clear_requests()
    first = client.fine_tuning.jobs.list(limit=2)
    assert first.has_more
    assert [j.id for j in first.data] == created[::-1][:2]
    assert [j.id for j in client.fine_tuning.jobs.list(limit=2)] == created[::-1]
    assert len(server.requests_to("/v1/fine_tuning/jobs", method="GET")) == 1 + 3
    last = client.fine_tuning.jobs.list(after=created[0])
    assert (last.data, last.has_more) == ([], False)

    for step in range(1, 8):
        server.add_metrics(created[0], step, 1.0 / step)
    events = list(client.fine_tuning.jobs.list_events(created[0], limit=3))
    assert len(events) == 7 + 2
    assert len({e.id for e in events}) == len(events)


# --------------------------------------------------------------------------- lifecycle


def test_reset_restores_defaults(server: FakeOpenAI, client: openai.OpenAI) -> None:
    server.models.append("ft:x")
    server.chat_reply = "x"
    server.inject("/v1/models", 500)
    _training_file(server)
    server.reset()
    assert server.requests == []
    assert server.pending_faults == []
    assert server.files == {}
    assert [m.id for m in client.models.list()] == list(DEFAULT_MODELS)


def test_close_does_not_hang_on_open_connections() -> None:
    before = threading.active_count()
    server = FakeOpenAI().start()
    client = openai.OpenAI(base_url=server.base_url, api_key="sk-test", max_retries=0)
    try:
        client.models.list()  # leaves a kept-alive connection open
        server.inject("/v1/models", delay=30)
        errors: list[Exception] = []

        def slow_call() -> None:
            try:
                client.models.list()
            except openai.APIConnectionError as exc:
                errors.append(exc)

        slow = threading.Thread(target=slow_call)
        slow.start()
        assert wait_until(lambda: len(server.requests) == 2)
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 1
        slow.join(timeout=2)
        assert not slow.is_alive()
        assert len(errors) == 1  # the dropped connection reaches the client as an error
    finally:
        client.close()
    assert threading.active_count() == before


def test_fixture_generator_reports_crashes_of_the_fake() -> None:
    generator = fake_openai_server()
    server = next(generator)
    server.handler_errors.append("Traceback: boom")
    with pytest.raises(AssertionError, match="boom"):
        next(generator)
