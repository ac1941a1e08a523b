"""prepare_request: pure, synchronous, and every rejection names its field."""

from __future__ import annotations

import pytest

from desktop.finetune.jobs import next_poll_seconds
from desktop.finetune.requests import JobRequestError, prepare_request


def test_defaults_are_auto_and_send_no_hyperparameters() -> None:
    request = prepare_request(model=" gpt-4o-mini ", data_kind="chat")
    assert (request.model, request.method) == ("gpt-4o-mini", "supervised")
    assert (request.epochs, request.batch_size, request.learning_rate_multiplier) == (
        "auto",
        "auto",
        "auto",
    )
    assert request.beta is None
    api = request.with_files("file-train", "file-valid").to_api()
    assert api == {
        "model": "gpt-4o-mini",
        "training_file": "file-train",
        "validation_file": "file-valid",
        "method": {"type": "supervised"},
    }


def test_form_strings_become_numbers() -> None:
    request = prepare_request(
        model="gpt-4.1-mini",
        epochs="3",
        batch_size=" 8 ",
        learning_rate_multiplier="0.5",
        suffix="support-v2",
        seed="42",
    ).with_files("file-1")
    assert request.to_api() == {
        "model": "gpt-4.1-mini",
        "training_file": "file-1",
        "method": {
            "type": "supervised",
            "supervised": {
                "hyperparameters": {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 0.5}
            },
        },
        "suffix": "support-v2",
        "seed": 42,
    }


def test_dpo_carries_beta() -> None:
    request = prepare_request(model="gpt-4o", method="DPO", beta="0.1", data_kind="preference")
    assert request.with_files("f").to_api()["method"] == {
        "type": "dpo",
        "dpo": {"hyperparameters": {"beta": 0.1}},
    }
    assert prepare_request(model="gpt-4o", method="dpo").beta == "auto"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"model": ""}, "model", "choose a base model"),
        ({"model": "gpt 4o"}, "model", "spaces"),
        ({"method": "reinforcement"}, "method", "unknown method 'reinforcement'"),
        ({"method": "dpo", "data_kind": "chat"}, "method", "DPO needs preference data"),
        ({"method": "supervised", "data_kind": "preference"}, "method", "choose method dpo"),
        ({"epochs": 0}, "epochs", "from 1 to 50"),
        ({"epochs": "2.5"}, "epochs", "whole number"),
        ({"epochs": True}, "epochs", "whole number"),
        ({"epochs": "many"}, "epochs", "'many'"),
        ({"batch_size": 1000}, "batch_size", "from 1 to 256"),
        ({"learning_rate_multiplier": 0}, "learning_rate_multiplier", "above 0"),
        ({"learning_rate_multiplier": "nan"}, "learning_rate_multiplier", "above 0"),
        ({"beta": 0.1}, "beta", "only applies to DPO"),
        ({"method": "dpo", "beta": 3}, "beta", "at most 2"),
        ({"suffix": "x" * 65}, "suffix", "at most 64"),
        ({"suffix": "a:b"}, "suffix", "':'"),
        ({"seed": -1}, "seed", "from 0 to"),
        ({"seed": "auto"}, "seed", "whole number"),
    ],
)
def test_bad_values_name_the_field(kwargs: dict[str, object], field: str, words: str) -> None:
    arguments: dict[str, object] = {"model": "gpt-4o-mini", **kwargs}
    with pytest.raises(JobRequestError) as caught:
        prepare_request(**arguments)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert words in str(caught.value)


def test_a_request_without_a_training_file_cannot_be_sent() -> None:
    with pytest.raises(JobRequestError, match="training_file"):
        prepare_request(model="gpt-4o-mini").to_api()


def test_polling_stops_for_finished_jobs_and_slows_when_idle() -> None:
    now = 10_000.0
    for status in ("succeeded", "failed", "cancelled"):
        assert next_poll_seconds(status, now, now=now) is None
    running = next_poll_seconds("running", now, now=now)
    queued = next_poll_seconds("queued", now, now=now)
    assert running is not None and queued is not None and running < queued
    idle = next_poll_seconds("running", now - 3600, now=now)
    assert idle is not None and idle > running
    assert next_poll_seconds("queued", now - 10**6, now=now) == 240.0
    # A status the app has never seen is still polled, at the default pace.
    assert next_poll_seconds("migrating_weights", None) == 30.0
