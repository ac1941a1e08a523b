"""Dataset export and upload: the bytes, re-use of unchanged files, and uploads that
fail or are cut short."""

from __future__ import annotations

import time
from pathlib import Path

import openai
import pytest

from desktop.finetune.examples import Message, TrainingExample
from desktop.finetune.job_store import JobStore
from desktop.finetune.jobs import export_dataset, upload_bytes, upload_dataset
from desktop.finetune.jsonl import export_chat_jsonl
from desktop.finetune.providers import OpenAIFineTuneProvider, ProviderError
from desktop.finetune.requests import DatasetNotReady, prepare_request
from desktop.finetune.store import DatasetStore
from desktop.progress import Progress, run_to_end
from tests.finetune.jobs.conftest import (
    MODEL,
    DroppingServer,
    ProviderFactory,
    chat_examples,
    preference_examples,
)
from tests.helpers.fake_openai import FakeOpenAI

BIG = b'{"messages": []}\n' * 150_000  # 2.5 MB: long enough to be cut mid-body


def posts(server: FakeOpenAI) -> int:
    return len(server.requests_to("/v1/files", "POST"))


def test_export_gives_the_bytes_the_export_command_writes(
    datasets: DatasetStore, chat_dataset: str, tmp_path: Path
) -> None:
    export = export_dataset(datasets, chat_dataset, model=MODEL)
    dataset = datasets.dataset_by_name(chat_dataset)
    assert dataset is not None
    export_chat_jsonl(
        datasets.examples(dataset.id), tmp_path / "train.jsonl", tmp_path / "valid.jsonl"
    )
    assert export.train == (tmp_path / "train.jsonl").read_bytes()
    assert export.validation == (tmp_path / "valid.jsonl").read_bytes()
    assert (export.kind, export.train_count, export.validation_count) == ("chat", 10, 2)
    assert export.warnings == ()
    assert export.filename("train").startswith("Support-replies-train-")
    assert export.filename("train").endswith(".jsonl")


def test_dataset_with_errors_is_refused_before_anything_is_sent(
    fake_openai: FakeOpenAI, datasets: DatasetStore
) -> None:
    dataset = datasets.create_dataset("Broken", MODEL)
    no_reply = TrainingExample(messages=(Message("user", "Where is my invoice?"),))
    datasets.add_examples(dataset.id, [*chat_examples(), no_reply])
    with pytest.raises(DatasetNotReady) as caught:
        export_dataset(datasets, "Broken", model=MODEL, provider_name="OpenAI")
    text = str(caught.value)
    assert "'Broken' has 1 error(s) that OpenAI would reject" in text
    assert "example 13" in text
    assert "example_missing_assistant_message" in text
    assert fake_openai.requests == []


def test_mixed_and_empty_datasets_are_refused(datasets: DatasetStore) -> None:
    empty = datasets.create_dataset("Empty")
    with pytest.raises(DatasetNotReady, match="no examples"):
        export_dataset(datasets, empty.id, model=MODEL)
    mixed = datasets.create_dataset("Mixed")
    datasets.add_examples(mixed.id, [*chat_examples(3, 0), *preference_examples(3)])
    with pytest.raises(DatasetNotReady, match="mixes 3 chat example"):
        export_dataset(datasets, "Mixed", model=MODEL)
    with pytest.raises(DatasetNotReady, match="no dataset named 'Nope'"):
        export_dataset(datasets, "Nope", model=MODEL)


def test_preference_dataset_exports_for_dpo_only(datasets: DatasetStore) -> None:
    dataset = datasets.create_dataset("Pairs")
    datasets.add_examples(dataset.id, preference_examples(12))
    export = export_dataset(datasets, "Pairs", model=MODEL)
    assert export.kind == "preference"
    assert export.validation is None and export.train.count(b"\n") == 12
    assert b'"preferred_output"' in export.train
    assert prepare_request(model=MODEL, method="dpo", data_kind=export.kind).method == "dpo"


def test_small_dataset_is_uploaded_with_a_warning(datasets: DatasetStore) -> None:
    dataset = datasets.create_dataset("Tiny")
    datasets.add_examples(dataset.id, chat_examples(4, 0))
    export = export_dataset(datasets, "Tiny", model=MODEL)
    assert export.warnings == ("4 training example(s): OpenAI needs at least 10 to start a job.",)


def test_reuploading_unchanged_data_reuses_the_file(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    export = export_dataset(datasets, chat_dataset, model=MODEL)
    first = run_to_end(upload_dataset(provider, store, export))
    assert posts(fake_openai) == 2  # training and validation
    assert not first.training.reused
    again = run_to_end(
        upload_dataset(provider, store, export_dataset(datasets, chat_dataset, model=MODEL))
    )
    assert posts(fake_openai) == 2  # no new upload
    assert again.training.reused and again.validation is not None and again.validation.reused
    assert (again.training_file, again.validation_file) == (
        first.training_file,
        first.validation_file,
    )
    assert len(store.uploaded_files()) == 2
    assert fake_openai.file_contents[again.training_file] == export.train

    # A changed dataset is new bytes: uploaded again, as a new record.
    dataset = datasets.dataset_by_name(chat_dataset)
    assert dataset is not None
    datasets.add_examples(dataset.id, chat_examples(1, 0, topic="refunds"))
    changed = run_to_end(
        upload_dataset(provider, store, export_dataset(datasets, chat_dataset, model=MODEL))
    )
    assert posts(fake_openai) == 3  # only the training file changed
    assert changed.training_file != first.training_file
    assert changed.validation_file == first.validation_file
    assert len(store.uploaded_files()) == 3


def test_same_bytes_to_another_server_are_uploaded_there(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    compatible: OpenAIFineTuneProvider,
    store: JobStore,
) -> None:
    upload_bytes(provider, store, filename="a.jsonl", data=b"{}\n")
    upload_bytes(compatible, store, filename="a.jsonl", data=b"{}\n")
    assert posts(fake_openai) == 2
    assert {f.provider for f in store.uploaded_files()} == {"openai", "compatible"}


def test_a_file_deleted_on_the_server_is_uploaded_again(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore
) -> None:
    first = upload_bytes(provider, store, filename="a.jsonl", data=b'{"a": 1}\n')
    assert first.file_id is not None
    provider.client.files.delete(first.file_id)
    second = upload_bytes(provider, store, filename="a.jsonl", data=b'{"a": 1}\n')
    assert not second.reused and second.file_id != first.file_id
    assert posts(fake_openai) == 2
    [record] = store.uploaded_files()
    assert (record.file_id, record.status, record.attempts) == (second.file_id, "uploaded", 2)


def test_upload_answered_500_is_retried_from_the_start_into_the_same_record(
    fake_openai: FakeOpenAI, provider: OpenAIFineTuneProvider, store: JobStore
) -> None:
    data = b'{"messages": [{"role": "user", "content": "hi"}]}\n' * 100
    fake_openai.inject("/v1/files", 500, method="POST")
    with pytest.raises(ProviderError) as caught:
        upload_bytes(provider, store, filename="train.jsonl", data=data)
    assert "Uploading train.jsonl (5,000 bytes) failed." in str(caught.value)
    assert "server error (500)" in str(caught.value)
    assert caught.value.retryable
    [failed] = store.uploaded_files()
    assert (failed.status, failed.file_id) == ("failed", None)
    assert "server error (500)" in failed.error

    retried = upload_bytes(provider, store, filename="train.jsonl", data=data)
    [record] = store.uploaded_files()
    assert (record.id, record.status, record.attempts) == (failed.id, "uploaded", 2)
    assert record.file_id == retried.file_id
    assert fake_openai.file_contents[retried.file_id or ""] == data  # sent whole
    assert posts(fake_openai) == 2
    assert len(fake_openai.files) == 1


def test_sdk_retry_of_a_cut_upload_keeps_one_record(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory, store: JobStore
) -> None:
    provider = make_provider(max_retries=1)
    fake_openai.inject("/v1/files", 502, method="POST")
    uploaded = upload_bytes(provider, store, filename="train.jsonl", data=b"{}\n" * 10)
    assert posts(fake_openai) == 2
    [record] = store.uploaded_files()
    assert (record.status, record.attempts, record.file_id) == ("uploaded", 1, uploaded.file_id)


def test_timed_out_upload_adopts_the_file_the_server_kept(
    fake_openai: FakeOpenAI, make_provider: ProviderFactory, store: JobStore
) -> None:
    provider = make_provider(timeout=0.3)
    data = b'{"x": 1}\n' * 50
    fake_openai.inject("/v1/files", method="POST", delay=0.8)
    with pytest.raises(ProviderError, match=r"did not answer within 0\.3 s") as caught:
        upload_bytes(provider, store, filename="slow.jsonl", data=data)
    assert caught.value.retryable
    assert store.uploaded_files()[0].status == "failed"
    deadline = time.monotonic() + 5
    while not fake_openai.files and time.monotonic() < deadline:  # the server finishes late
        time.sleep(0.02)
    [kept] = fake_openai.files

    again = upload_bytes(provider, store, filename="slow.jsonl", data=data)
    assert again.file_id == kept and again.reused
    assert posts(fake_openai) == 1  # not sent a second time
    [record] = store.uploaded_files()
    assert (record.status, record.file_id) == ("uploaded", kept)


def test_dropped_connection_during_upload(dropping_server: DroppingServer, store: JobStore) -> None:
    with openai.OpenAI(
        base_url=dropping_server.base_url, api_key="sk-test", max_retries=0, timeout=5
    ) as client:
        provider = OpenAIFineTuneProvider(client)
        for _attempt in range(2):
            with pytest.raises(ProviderError) as caught:
                upload_bytes(provider, store, filename="big.jsonl", data=BIG)
            text = str(caught.value)
            assert text.startswith("Uploading big.jsonl (2,550,000 bytes) failed. Could not reach")
            assert "127.0.0.1" in text and "Check the base URL" in text
            assert caught.value.retryable
    [record] = store.uploaded_files()
    assert (record.status, record.file_id, record.attempts) == ("failed", None, 2)
    assert dropping_server.hits >= 2


def test_upload_reports_progress(
    fake_openai: FakeOpenAI,
    provider: OpenAIFineTuneProvider,
    store: JobStore,
    datasets: DatasetStore,
    chat_dataset: str,
) -> None:
    export = export_dataset(datasets, chat_dataset, model=MODEL)
    total = len(export.train) + len(export.validation or b"")
    seen: list[tuple[int, int]] = []
    steps: list[Progress] = []
    operation = upload_dataset(provider, store, export, on_bytes=lambda d, t: seen.append((d, t)))
    while True:
        try:
            steps.append(next(operation))
        except StopIteration:
            break
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _t in seen] == sorted(d for d, _t in seen)
    assert [s.done for s in steps] == [0, len(export.train), len(export.train), total]
    assert steps[1].message.startswith("Uploaded Support-replies-train-")
    assert steps[-1].fraction == 1.0
