"""A fine-tuning job request: its fields checked before anything is uploaded.

Prepare, then run: ``prepare_request`` checks every field synchronously (pure, no
network) and names the field it rejects; only the provider calls run on a worker. Values
may come straight from a form or the command line, so "auto or a number" is parsed here
once, for every caller."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

Json = dict[str, Any]
Auto = Literal["auto"]
DataKind = Literal["chat", "preference"]

METHODS = ("supervised", "dpo")

# Ranges OpenAI documents for the hyperparameters (others are rejected by the API).
EPOCHS_RANGE = (1, 50)
BATCH_SIZE_RANGE = (1, 256)
BETA_MAX = 2.0
SEED_MAX = 2**31 - 1
SUFFIX_MAX = 64


class RequestFields(TypedDict, total=False):
    """A job request's fields as a form or the command line gives them (``"3"``,
    ``"auto"``, numbers, None): what ``prepare_request`` checks."""

    model: object
    method: object
    epochs: object
    batch_size: object
    learning_rate_multiplier: object
    beta: object
    suffix: object
    seed: object


# -- errors --------------------------------------------------------------------------


class JobError(Exception):
    """A job operation that cannot be done; ``str()`` says why in user terms."""


class JobRequestError(JobError, ValueError):
    """A field of a job request is wrong; ``field`` names it for the form."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


class DatasetNotReady(JobError):
    """The dataset would be rejected (validation errors, no training examples)."""


class UnknownJob(JobError, LookupError):
    pass


# -- the request -----------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """A validated job request (build it with ``prepare_request``). The file ids are
    filled in after upload with ``with_files``."""

    model: str
    method: str = "supervised"
    epochs: int | Auto = "auto"
    batch_size: int | Auto = "auto"
    learning_rate_multiplier: float | Auto = "auto"
    beta: float | Auto | None = None
    suffix: str | None = None
    seed: int | None = None
    training_file: str | None = None
    validation_file: str | None = None
    metadata: Mapping[str, str] | None = None

    def with_files(self, training_file: str, validation_file: str | None = None) -> JobRequest:
        return dataclasses.replace(
            self, training_file=training_file, validation_file=validation_file
        )

    def hyperparameters(self) -> Json:
        """Only what the user set: "auto" is the API's default, and servers that only
        mimic the API are less likely to trip over fields they were not sent."""
        values: list[tuple[str, Any]] = [
            ("n_epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("learning_rate_multiplier", self.learning_rate_multiplier),
        ]
        if self.method == "dpo":
            values.append(("beta", self.beta if self.beta is not None else "auto"))
        return {key: value for key, value in values if value != "auto"}

    def to_api(self) -> Json:
        """Keyword arguments for ``client.fine_tuning.jobs.create``."""
        if not self.training_file:
            raise JobRequestError("training_file", "upload the dataset before creating the job")
        method: Json = {"type": self.method}
        hyper = self.hyperparameters()
        if hyper:
            method[self.method] = {"hyperparameters": hyper}
        params: Json = {"model": self.model, "training_file": self.training_file, "method": method}
        if self.validation_file:
            params["validation_file"] = self.validation_file
        if self.suffix:
            params["suffix"] = self.suffix
        if self.seed is not None:
            params["seed"] = self.seed
        if self.metadata:
            params["metadata"] = dict(self.metadata)
        return params

    def to_json(self) -> Json:
        data = dataclasses.asdict(self)
        data["metadata"] = dict(self.metadata) if self.metadata else None
        return data


def _text(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        return None
    return value.strip()


def _auto_or_number(name: str, value: object, problem: str) -> float | Auto:
    """'auto' (also for None or an empty field), or the value as a finite float."""
    if value is None:
        return "auto"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "auto"):
            return "auto"
        try:
            number = float(text)
        except ValueError:
            raise JobRequestError(name, problem) from None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise JobRequestError(name, problem)
    else:
        number = float(value)
    if not math.isfinite(number):
        raise JobRequestError(name, problem)
    return number


def _auto_or_int(name: str, value: object, low: int, high: int, what: str) -> int | Auto:
    problem = f"must be 'auto' or {what} from {low} to {high}, not {value!r}"
    number = _auto_or_number(name, value, problem)
    if number == "auto":
        return "auto"
    if number != int(number) or not low <= number <= high:
        raise JobRequestError(name, problem)
    return int(number)


def requested_epochs(value: object) -> int | None:
    """The epochs a form or command asks for, checked; None for "auto" (the provider
    chooses, and the estimate uses the default the provider would pick)."""
    epochs = _auto_or_int("epochs", value, *EPOCHS_RANGE, "a whole number")
    return None if epochs == "auto" else epochs


def _auto_or_float(
    name: str, value: object, high: float | None, allow_none: bool = False
) -> float | Auto:
    limit = f" and at most {high:g}" if high is not None else ""
    problem = f"must be 'auto' or a number above 0{limit}, not {value!r}"
    number = _auto_or_number(name, value, problem)
    if number == "auto":
        return "auto"
    if number <= 0 or (high is not None and number > high):
        raise JobRequestError(name, problem)
    return number


def prepare_request(
    *,
    model: object,
    method: object = "supervised",
    epochs: object = "auto",
    batch_size: object = "auto",
    learning_rate_multiplier: object = "auto",
    beta: object = None,
    suffix: object = None,
    seed: object = None,
    data_kind: DataKind | None = None,
    training_file: str | None = None,
    validation_file: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> JobRequest:
    """Check a job request before anything is uploaded. Values may come straight from a
    form or the command line (strings such as "3" or "auto"). ``data_kind`` says what
    the dataset holds, so DPO without preference pairs is caught here, not after an
    upload. Raises ``JobRequestError`` naming the field."""
    model_name = _text(model)
    if not model_name:
        raise JobRequestError("model", "choose a base model to fine-tune")
    if any(c.isspace() for c in model_name):
        raise JobRequestError("model", f"{model_name!r} is not a model name (it has spaces)")
    method_name = (_text(method) or "").lower()
    if method_name not in METHODS:
        raise JobRequestError(
            "method", f"unknown method {method!r}; choose one of: {', '.join(METHODS)}"
        )
    if method_name == "dpo" and data_kind == "chat":
        raise JobRequestError(
            "method",
            "DPO needs preference data (a preferred and a non-preferred reply per example); "
            "this dataset holds chat examples. Use supervised, or a preference dataset.",
        )
    if method_name == "supervised" and data_kind == "preference":
        raise JobRequestError(
            "method",
            "this dataset holds preference pairs, which train with DPO; choose method dpo.",
        )
    request_epochs = _auto_or_int("epochs", epochs, *EPOCHS_RANGE, "a whole number")
    request_batch = _auto_or_int("batch_size", batch_size, *BATCH_SIZE_RANGE, "a whole number")
    request_lrm = _auto_or_float("learning_rate_multiplier", learning_rate_multiplier, None)
    request_beta: float | Auto | None = None
    beta_is_auto = beta is None or (isinstance(beta, str) and beta.strip().lower() in ("", "auto"))
    if not beta_is_auto:
        if method_name != "dpo":
            raise JobRequestError("beta", "beta only applies to DPO; leave it empty for supervised")
        request_beta = _auto_or_float("beta", beta, BETA_MAX)
    elif method_name == "dpo":
        request_beta = _auto_or_float("beta", beta, BETA_MAX)
    request_suffix: str | None = None
    if suffix is not None:
        if not isinstance(suffix, str):
            raise JobRequestError("suffix", f"must be text, not {suffix!r}")
        request_suffix = suffix.strip() or None
        if request_suffix is not None:
            if len(request_suffix) > SUFFIX_MAX:
                raise JobRequestError(
                    "suffix",
                    f"is {len(request_suffix)} characters; at most {SUFFIX_MAX} are allowed",
                )
            if ":" in request_suffix or any(c.isspace() for c in request_suffix):
                raise JobRequestError(
                    "suffix", "may not contain ':' or spaces (it becomes part of the model name)"
                )
    request_seed: int | None = None
    if seed is not None and _text(seed) != "":
        problem = f"must be a whole number from 0 to {SEED_MAX}, not {seed!r}"
        try:
            seed_value = _auto_or_int("seed", seed, 0, SEED_MAX, "a whole number")
        except JobRequestError:
            raise JobRequestError("seed", problem) from None
        if seed_value == "auto":
            raise JobRequestError("seed", problem)
        request_seed = seed_value
    return JobRequest(
        model=model_name,
        method=method_name,
        epochs=request_epochs,
        batch_size=request_batch,
        learning_rate_multiplier=request_lrm,
        beta=request_beta,
        suffix=request_suffix,
        seed=request_seed,
        training_file=training_file or None,
        validation_file=validation_file or None,
        metadata=dict(metadata) if metadata else None,
    )
