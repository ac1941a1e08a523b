"""A fake OpenAI-compatible HTTP server for the test suite.

Since openai 3.0 the SDK runs on ``httpx2``, which respx and pytest-httpx cannot intercept,
so tests point the *real* client at this server on 127.0.0.1 instead::

    with FakeOpenAI() as server, openai.OpenAI(base_url=server.base_url, api_key="sk-test") as c:
        c.embeddings.create(model="text-embedding-3-small", input=["a", "b"])
        assert len(server.requests_to("/v1/embeddings")) == 1

It serves models, embeddings, chat completions (plain and streamed), files and
fine-tuning jobs with their events and checkpoints. Everything is deterministic: embeddings
come from a hash of the words, the chat reply is fixed or chosen by the test, and
fine-tuning jobs only change state when the test calls ``advance_job`` / ``add_metrics`` /
``succeed_job`` / ``fail_job`` (never on wall-clock time).

Faults are injected per path with :meth:`FakeOpenAI.inject`. A fault with ``times=N`` is
consumed by the next N matching *HTTP requests*; the SDK's automatic retries are separate
requests and consume faults too (``max_retries=2`` means up to 3 requests).

Misbehaving servers (the hardening fault suite) are configured the same way:
``echo_key`` puts the caller's whole key into 401 messages, ``inject(corrupt=...)`` spoils
an embeddings response (see ``EMBEDDING_DEFECTS``), ``inject(status=200, body=...,
content_type="text/html")`` is a proxy's HTML page, ``inject(retry_after=3600)`` a long
Retry-After, and ``lists_as_event_stream`` answers list routes as an event stream.

Only the standard library and numpy are used.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.message
import email.parser
import hashlib
import itertools
import json
import os
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np

Json = dict[str, Any]
ChatReply = str | Callable[[Json], str] | None

DEFAULT_MODELS: tuple[str, ...] = (
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4o",
    "gpt-4o-mini",
    "text-embedding-3-small",
    "text-embedding-3-large",
    "text-embedding-ada-002",
)
"""Models listed by ``GET /v1/models`` after start or :meth:`FakeOpenAI.reset`."""

DEFAULT_EMBEDDING_DIMS: dict[str, int] = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
"""Native vector size of each embedding model."""

DEFAULT_FINE_TUNABLE: frozenset[str] = frozenset(
    {"gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini"}
)
"""Base models that accept fine-tuning jobs (``ft:`` models are always accepted)."""

EMBEDDING_DEFECTS = frozenset(
    {
        "nan",  # the first vector holds NaN
        "infinity",  # the first vector holds Infinity
        "null",  # the first vector holds a null instead of a number
        "zero",  # the first vector is all zeros
        "duplicate_index",  # the second item carries the first one's index
        "missing_index",  # the second item has no index at all
        "ragged",  # the first vector is half as long as the others
        "wrong_dimensions",  # every vector is 10 numbers long
        "missing_item",  # one item fewer than inputs
        "shuffled",  # items in reverse order with their right indices (valid)
    }
)
"""What ``inject(corrupt=...)`` can do to an embeddings response."""
WRONG_DIMENSIONS = 10
LIST_ROUTES = frozenset({"events", "checkpoints", "jobs", "files"})
"""Names accepted by ``lists_as_event_stream``."""

MAX_EMBEDDING_INPUTS = 2048
MAX_EMBEDDING_INPUT_TOKENS = 8192
MAX_EMBEDDING_REQUEST_TOKENS = 300_000
ORGANIZATION_ID = "org-fake"
TERMINAL_JOB_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
RESULT_CSV_HEADER = "step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"

# Words too common to say anything about similarity; kept out of the embedding bag.
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
        "what",
        "which",
        "who",
        "how",
        "why",
        "when",
        "where",
        "do",
        "does",
        "did",
        "not",
        "no",
        "can",
        "you",
        "your",
        "i",
        "we",
        "they",
        "he",
        "she",
        "them",
        "our",
        "my",
        "me",
    }
)
_SOURCE_REF = re.compile(r"\[(\d+)\]")
_WORD = re.compile(r"\w+")


# --------------------------------------------------------------------------- pure helpers


def count_tokens(text: str) -> int:
    """Approximate tokens as whitespace-separated words (≥ 1 for any non-empty text).

    Used for every ``usage`` figure and limit so tests can predict them.
    """
    return max(1, len(text.split())) if text else 0


@lru_cache(maxsize=4096)
def _word_vector(model: str, word: str, dims: int) -> np.ndarray:
    """A fixed pseudo-random unit-variance vector for one word of one model."""
    seed = int.from_bytes(hashlib.sha256(f"{model}\0{word}".encode()).digest()[:8], "little")
    vector = np.random.default_rng(seed).standard_normal(dims, dtype=np.float32)
    vector.setflags(write=False)
    return vector


def embed(item: str | list[int], model: str, dims: int, native_dims: int) -> np.ndarray:
    """Embed text (or a token array) as a normalised bag of hashed words.

    Each non-stopword gets a fixed random vector (seeded by model and word); the text's
    vector is their count-weighted sum, truncated to ``dims`` and L2-normalised, like the
    Matryoshka truncation ``dimensions`` performs on text-embedding-3. So identical text
    gives identical vectors, texts sharing words have a clearly higher cosine than
    unrelated ones (≈ 0), and different models give unrelated vectors.
    """
    if isinstance(item, str):
        words = _WORD.findall(item.lower())
        bag = [w for w in words if w not in _STOPWORDS] or words or [item]
    else:
        bag = [f"#{token}" for token in item]
    total = np.zeros(native_dims, dtype=np.float32)
    for word in bag:
        total += _word_vector(model, word, native_dims)
    vector = total[:dims]
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else vector


def message_text(message: Json) -> str:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def default_chat_reply(body: Json) -> str:
    """The reply used when ``chat_reply`` is None: deterministic, several words long.

    It quotes the last user message (so a test can tell which question was answered)
    and, when any message holds numbered sources such as ``[1]``, cites the lowest one.
    """
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [message_text(m) for m in messages if m.get("role") == "user"]
    question = " ".join(users[-1].split()) if users else ""
    if len(question) > 120:
        question = question[:117] + "..."
    refs = {int(n) for m in messages for n in _SOURCE_REF.findall(message_text(m))}
    if refs:
        return f"According to the sources, here is a fake answer to: {question} [{min(refs)}]"
    return f"Here is a fake answer to: {question}"


def split_stream_pieces(text: str) -> list[str]:
    """Split a reply into word-sized deltas whose concatenation is exactly ``text``."""
    return [piece for piece in re.split(r"(?<=\s)(?=\S)", text) if piece]


def error_body(
    message: str,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
) -> Json:
    """An OpenAI-shaped error document."""
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


def _mask_key(key: str) -> str:
    """Mask an API key the way OpenAI's 401 message does (never echo it whole)."""
    return f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "***"


def _parse_multipart(content_type: str, body: bytes) -> tuple[dict[str, str], dict[str, Any]]:
    """Parse multipart/form-data into (text fields, {name: (filename, bytes, type)}).

    Done by hand because ``cgi`` is gone from Python 3.13 and the ``email`` parser may
    rewrite line endings inside binary parts.
    """
    header = email.message.Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise _ApiError(400, "Missing multipart boundary.")
    fields: dict[str, str] = {}
    files: dict[str, Any] = {}
    delimiter = b"\r\n--" + boundary.encode("latin-1")
    for raw in (b"\r\n" + body).split(delimiter)[1:]:
        if raw.startswith(b"--"):
            break
        head, _, content = raw.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        part = email.parser.BytesHeaderParser().parsebytes(head + b"\r\n\r\n")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        filename = part.get_filename()
        if filename is None:
            fields[name] = content.decode("utf-8")
        else:
            files[name] = (filename, content, part.get_content_type())
    return fields, files


# --------------------------------------------------------------------------- records


@dataclass
class RecordedRequest:
    """One HTTP request as the server received it.

    ``headers`` keys are lower-cased; ``body`` is the parsed JSON document, the raw bytes
    when the body is not JSON (e.g. multipart uploads), or None when empty. ``timestamp``
    is ``time.monotonic()`` at arrival, so gaps between requests (retry back-off) can be
    measured. ``disconnected`` turns True when the client went away mid-response (e.g. a
    stream closed by a Stop button).
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    timestamp: float
    disconnected: bool = False

    @property
    def json(self) -> Json:
        """The body as a JSON object (empty dict if it was not one)."""
        return self.body if isinstance(self.body, dict) else {}


@dataclass
class Fault:
    """A pending fault; see :meth:`FakeOpenAI.inject`. ``remaining`` counts down."""

    path: str
    method: str | None
    remaining: int
    status: int | None
    retry_after: float | None
    delay: float | None
    cut_stream_after: int | None
    abrupt: bool
    body: Json | str | bytes | None
    malformed_chunk: bool
    content_type: str | None = None
    corrupt: str | None = None
    stall_after: int | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and path.startswith(self.path)
            and (self.method is None or self.method == method)
        )


@dataclass
class _Job:
    data: Json
    events: list[Json] = field(default_factory=list)
    metrics: list[Json] = field(default_factory=list)
    checkpoints: list[Json] = field(default_factory=list)


@dataclass
class _Reply:
    """What a route answers: a JSON/bytes body, or a list of SSE events to stream."""

    status: int = 200
    body: Json | bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    events: list[bytes] | None = None


class _ApiError(Exception):
    """Raised by routes to answer with an OpenAI-shaped error."""

    def __init__(
        self,
        status: int,
        message: str,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, type, param, code)


def _not_found(kind: str, object_id: str, param: str = "id") -> _ApiError:
    return _ApiError(404, f"No such {kind} object: {object_id}", param=param)


def _model_not_found(model: str) -> _ApiError:
    return _ApiError(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def _default_fault_body(status: int, body: Any, key: str | None = None) -> Json:
    """The error document an injected status answers with unless ``body`` is given
    (``key``: the caller's key, echoed whole in a 401 by a server that does that)."""
    model = body.get("model") if isinstance(body, dict) else None
    if status == 401:
        return error_body(
            f"Incorrect API key provided: {key or 'sk-***'}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        )
    if status == 404 and isinstance(model, str):
        return _model_not_found(model).body
    if status == 429:
        return error_body(
            "Rate limit reached for requests. Please try again later.",
            type="requests",
            code="rate_limit_exceeded",
        )
    if status >= 500:
        return error_body(
            "The server had an error while processing your request. Sorry about that!",
            type="server_error",
        )
    return error_body(f"Injected error {status}.")


# --------------------------------------------------------------------------- the server


class FakeOpenAI:
    """An OpenAI-compatible server on 127.0.0.1, configured and inspected by the test.

    Attributes a test may change at any time (reads happen under a lock per request):

    - ``valid_keys``: None accepts any ``Bearer`` key; a set makes other keys answer 401.
    - ``models``: ids listed by ``GET /v1/models``; chat and embeddings require them.
    - ``embedding_dims``: native dimensions of the embedding models.
    - ``fine_tunable``: base models accepted by ``POST /v1/fine_tuning/jobs``.
    - ``chat_reply``: None (see :func:`default_chat_reply`), a string, or a callable
      receiving the request JSON and returning the reply text (it runs under the
      server's lock, so it must not block; use ``inject(delay=...)`` for slowness).
    - ``stream_delay``: seconds to wait before each streamed chunk after the first.
    - ``refuse_new_jobs``: when set to a message, job creation answers
      ``refuse_new_jobs_status`` (403) with it, like a provider that stopped taking jobs.
    - ``echo_key``: 401 answers (injected, or a key not in ``valid_keys``) quote the
      caller's key whole, as some servers do ("Incorrect API key provided: <key>").
    - ``lists_as_event_stream``: names from ``LIST_ROUTES`` whose list route answers as
      a ``text/event-stream`` of its items instead of a JSON page (a server compatible in
      name only).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[RecordedRequest] = []
        self.handler_errors: list[str] = []
        """Unexpected exceptions inside the fake (bugs of the fake, not injected faults)."""
        self._restore_defaults()

    def _restore_defaults(self) -> None:
        with self._lock:
            self.valid_keys: set[str] | None = None
            self.models: list[str] = list(DEFAULT_MODELS)
            self.embedding_dims: dict[str, int] = dict(DEFAULT_EMBEDDING_DIMS)
            self.fine_tunable: set[str] = set(DEFAULT_FINE_TUNABLE)
            self.chat_reply: ChatReply = None
            self.stream_delay: float = 0.0
            self.refuse_new_jobs: str | None = None
            self.refuse_new_jobs_status: int = 403
            self.echo_key: bool = False
            self.lists_as_event_stream: set[str] = set()
            self.files: dict[str, Json] = {}
            self.file_contents: dict[str, bytes] = {}
            self._jobs: dict[str, _Job] = {}
            self._faults: list[Fault] = []
            self._ids = itertools.count(1)

    # ----------------------------------------------------------------- lifecycle

    def start(self) -> FakeOpenAI:
        """Bind 127.0.0.1 on a free port and serve from a background thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},  # close() waits up to one interval
            name=f"FakeOpenAI:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving, wake delayed handlers, drop open connections and join all threads."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.drop_connections()
        httpd.server_close()  # joins the handler threads (block_on_close)
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeOpenAI is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to ``openai.OpenAI`` (ends in ``/v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def reset(self) -> None:
        """Back to the state just after start: no requests, faults, files, jobs or config."""
        with self._lock:
            self._requests.clear()
            self.handler_errors.clear()
            self._restore_defaults()

    # ----------------------------------------------------------------- inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[RecordedRequest]:
        """Requests whose path starts with ``path_prefix`` (and with ``method`` if given)."""
        prefix = _normalise_path(path_prefix)
        return [
            r
            for r in self.requests
            if r.path.startswith(prefix) and (method is None or r.method == method.upper())
        ]

    def clear_requests(self) -> None:
        """Forget recorded requests but keep state and faults."""
        with self._lock:
            self._requests.clear()

    @property
    def pending_faults(self) -> list[Fault]:
        """Injected faults not yet used up."""
        with self._lock:
            return [f for f in self._faults if f.remaining > 0]

    # ----------------------------------------------------------------- faults

    def inject(
        self,
        path: str,
        status: int | None = None,
        *,
        times: int = 1,
        method: str | None = None,
        retry_after: float | None = None,
        delay: float | None = None,
        cut_stream_after: int | None = None,
        abrupt: bool = False,
        body: Json | str | bytes | None = None,
        malformed_chunk: bool = False,
        content_type: str | None = None,
        corrupt: str | None = None,
        stall_after: int | None = None,
    ) -> Fault:
        """Make the next ``times`` requests whose path starts with ``path`` misbehave.

        ``path`` is a prefix such as ``"/v1/chat/completions"`` (``/v1`` is added if
        missing). Faults are used in the order they were injected, one per request. Each
        SDK retry is a new request and consumes one use.

        - ``status`` (and/or ``body``): answer with that status and an OpenAI-shaped error
          (``body`` replaces it: a dict is sent as JSON, str/bytes as is). Skips auth.
        - ``retry_after``: adds a ``Retry-After`` header in seconds (the SDK honours it).
        - ``delay``: wait this long before answering (longer than the client's timeout
          makes it raise ``APITimeoutError``); combined with nothing else, the request is
          then served normally.
        - ``cut_stream_after``: a streamed chat answer ends after N ``data:`` events (the
          first carries the role, then one per word), with no finish_reason and no
          ``[DONE]``. The body ends cleanly, so the SDK raises nothing; with
          ``abrupt=True`` the connection drops mid-body and the SDK raises
          ``APIConnectionError``.
        - ``malformed_chunk``: a streamed chat answer carries an invalid-JSON event after
          its first word (the SDK raises ``json.JSONDecodeError``).
        - ``content_type``: the Content-Type of an injected ``body`` (e.g. ``text/html``
          with ``status=200``: a proxy's page where the API's JSON should be).
        - ``corrupt``: one of ``EMBEDDING_DEFECTS``; the embeddings response is served
          with that defect.
        - ``stall_after``: a streamed chat answer stops sending after N ``data:`` events
          and keeps the connection open until the server closes (a stalled server).
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        if corrupt is not None and corrupt not in EMBEDDING_DEFECTS:
            raise ValueError(f"corrupt must be one of {sorted(EMBEDDING_DEFECTS)}")
        fault = Fault(
            path=_normalise_path(path),
            method=method.upper() if method else None,
            remaining=times,
            status=status,
            retry_after=retry_after,
            delay=delay,
            cut_stream_after=cut_stream_after,
            abrupt=abrupt,
            body=body,
            malformed_chunk=malformed_chunk,
            content_type=content_type,
            corrupt=corrupt,
            stall_after=stall_after,
        )
        with self._lock:
            self._faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.remaining -= 1
                    return fault
        return None

    # ----------------------------------------------------------------- files

    def add_file(
        self, content: bytes | str, filename: str = "data.jsonl", purpose: str = "fine-tune"
    ) -> Json:
        """Store a file as if uploaded; returns its file object."""
        data = content.encode() if isinstance(content, str) else content
        with self._lock:
            file_id = self._new_id("file")
            obj: Json = {
                "id": file_id,
                "object": "file",
                "bytes": len(data),
                "created_at": int(time.time()),
                "filename": filename,
                "purpose": purpose,
                "status": "processed",
                "expires_at": None,
                "status_details": None,
            }
            self.files[file_id] = obj
            self.file_contents[file_id] = data
            return copy.deepcopy(obj)

    # ----------------------------------------------------------------- fine-tuning control

    def job(self, job_id: str) -> Json:
        """A copy of the job object as the API would return it."""
        with self._lock:
            return copy.deepcopy(self._get_job(job_id).data)

    @property
    def job_ids(self) -> list[str]:
        """Ids of all jobs, oldest first."""
        with self._lock:
            return list(self._jobs)

    def advance_job(self, job_id: str, status: str = "running") -> Json:
        """Move a job to ``status`` and log the event the real API would.

        ``succeeded``/``failed``/``cancelled`` delegate to :meth:`succeed_job`,
        :meth:`fail_job` and :meth:`cancel_job` with their defaults. Any other string is
        accepted (the API's status list grows over time).
        """
        if status == "succeeded":
            self.succeed_job(job_id)
            return self.job(job_id)
        if status == "failed":
            self.fail_job(job_id)
            return self.job(job_id)
        if status == "cancelled":
            self.cancel_job(job_id)
            return self.job(job_id)
        messages = {
            "validating_files": "Validating training file: {training_file}",
            "queued": "Files validated, moving job to queued state",
            "running": "Fine-tuning job started",
            "pausing": "Pausing fine-tuning job",
            "paused": "Fine-tuning job paused",
        }
        with self._lock:
            job = self._get_job(job_id)
            job.data["status"] = status
            if status == "running":
                self._resolve_hyperparameters(job)
                job.data["estimated_finish"] = int(time.time()) + 600
            template = messages.get(status, f"Job status changed to {status}")
            self._add_event(job, template.format(**job.data))
            return copy.deepcopy(job.data)

    def add_metrics(
        self,
        job_id: str,
        step: int,
        train_loss: float,
        valid_loss: float | None = None,
        *,
        train_mean_token_accuracy: float | None = None,
        valid_mean_token_accuracy: float | None = None,
        full_valid_loss: float | None = None,
        full_valid_mean_token_accuracy: float | None = None,
        total_steps: int | None = None,
    ) -> Json:
        """Log a ``metrics`` event for one training step (as the API does while running)."""
        values = {
            "step": step,
            "train_loss": train_loss,
            "valid_loss": valid_loss,
            "total_steps": total_steps,
            "train_mean_token_accuracy": train_mean_token_accuracy,
            "valid_mean_token_accuracy": valid_mean_token_accuracy,
            "full_valid_loss": full_valid_loss,
            "full_valid_mean_token_accuracy": full_valid_mean_token_accuracy,
        }
        data = {k: v for k, v in values.items() if v is not None}
        message = f"Step {step}{f'/{total_steps}' if total_steps else ''}: "
        message += f"training loss={train_loss:.4f}"
        if valid_loss is not None:
            message += f", validation loss={valid_loss:.4f}"
        with self._lock:
            job = self._get_job(job_id)
            job.metrics.append(data)
            return self._add_event(job, message, type="metrics", data=data)

    def add_checkpoint(self, job_id: str, step: int, metrics: Json | None = None) -> Json:
        """Add a checkpoint at ``step`` (metrics default to that step's logged metrics)."""
        with self._lock:
            job = self._get_job(job_id)
            if metrics is None:
                metrics = next((m for m in job.metrics if m["step"] == step), {"step": step})
            base = job.data["fine_tuned_model"] or self._fine_tuned_name(job)
            checkpoint: Json = {
                "id": self._new_id("ftckpt"),
                "object": "fine_tuning.job.checkpoint",
                "created_at": int(time.time()),
                "fine_tuned_model_checkpoint": f"{base}:ckpt-step-{step}",
                "fine_tuning_job_id": job_id,
                "metrics": {"step": step, **metrics},
                "step_number": step,
            }
            job.checkpoints.append(checkpoint)
            self._add_event(job, f"Checkpoint created at step {step}")
            return copy.deepcopy(checkpoint)

    def succeed_job(
        self,
        job_id: str,
        fine_tuned_model: str | None = None,
        result_file_csv: str | None = None,
        trained_tokens: int | None = None,
    ) -> str:
        """Finish a job successfully; returns the fine-tuned model id.

        Creates the ``step_metrics.csv`` result file (from the logged metrics unless
        ``result_file_csv`` is given), a checkpoint at the last step if none exist, and
        adds the model to ``models`` so chat requests can use it.
        """
        with self._lock:
            job = self._get_job(job_id)
            self._resolve_hyperparameters(job)
            model = fine_tuned_model or self._fine_tuned_name(job)
            job.data["fine_tuned_model"] = model
            if not job.checkpoints:
                self.add_checkpoint(job_id, job.metrics[-1]["step"] if job.metrics else 1)
            csv = result_file_csv if result_file_csv is not None else self._result_csv(job)
            result = self.add_file(csv, "step_metrics.csv", "fine-tune-results")
            if trained_tokens is None:
                training = self.file_contents.get(job.data["training_file"], b"")
                epochs = job.data["hyperparameters"].get("n_epochs")
                trained_tokens = count_tokens(training.decode("utf-8", "replace")) * (
                    epochs if isinstance(epochs, int) else 1
                )
            job.data.update(
                status="succeeded",
                finished_at=int(time.time()),
                result_files=[result["id"]],
                trained_tokens=trained_tokens,
                estimated_finish=None,
            )
            if model not in self.models:
                self.models.append(model)
            self._add_event(job, f"New fine-tuned model created: {model}")
            self._add_event(job, "The job has successfully completed")
            return model

    def fail_job(
        self,
        job_id: str,
        message: str = "The job failed due to an internal error.",
        code: str = "server_error",
        param: str | None = None,
    ) -> Json:
        """Fail a job with an ``error`` object and an error-level event."""
        with self._lock:
            job = self._get_job(job_id)
            job.data.update(
                status="failed",
                finished_at=int(time.time()),
                estimated_finish=None,
                error={"code": code, "message": message, "param": param},
            )
            self._add_event(job, message, level="error")
            return copy.deepcopy(job.data)

    def cancel_job(self, job_id: str) -> Json:
        """Cancel a job as ``POST .../cancel`` does (ValueError if already finished)."""
        with self._lock:
            job = self._get_job(job_id)
            if job.data["status"] in TERMINAL_JOB_STATUSES:
                raise ValueError(f"Job {job_id} is already {job.data['status']}")
            job.data.update(status="cancelled", finished_at=int(time.time()), estimated_finish=None)
            self._add_event(job, "Fine-tuning job cancelled")
            return copy.deepcopy(job.data)

    def _get_job(self, job_id: str) -> _Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise KeyError(f"no fine-tuning job {job_id!r}") from None

    def _new_id(self, prefix: str) -> str:
        digest = hashlib.sha256(f"{prefix}{next(self._ids)}".encode()).hexdigest()[:24]
        return f"{prefix}-{digest}"

    def _fine_tuned_name(self, job: _Job) -> str:
        base = job.data["model"].removeprefix("ft:").split(":")[0]
        suffix = job.data.get("user_provided_suffix") or ""
        return f"ft:{base}:fake-org:{suffix}:{job.data['id'][-8:]}"

    def _add_event(
        self,
        job: _Job,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: Json | None = None,
    ) -> Json:
        event: Json = {
            "id": self._new_id("ftevent"),
            "object": "fine_tuning.job.event",
            "created_at": int(time.time()),
            "level": level,
            "message": message,
            "data": data or {},
            "type": type,
        }
        job.events.append(event)
        return copy.deepcopy(event)

    @staticmethod
    def _resolve_hyperparameters(job: _Job) -> None:
        """Replace "auto" with concrete values, as the API does once training starts."""
        resolved = {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}
        hyper = job.data["hyperparameters"]
        for key, value in resolved.items():
            if hyper.get(key, "auto") == "auto":
                hyper[key] = value

    @staticmethod
    def _result_csv(job: _Job) -> str:
        lines = [RESULT_CSV_HEADER]
        for m in job.metrics:
            cells = (
                m.get("step"),
                m.get("train_loss"),
                m.get("train_mean_token_accuracy"),
                m.get("valid_loss"),
                m.get("valid_mean_token_accuracy"),
            )
            lines.append(",".join("" if c is None else str(c) for c in cells))
        return "\n".join(lines) + "\n"

    # ----------------------------------------------------------------- request handling

    def _serve(self, handler: _Handler) -> None:
        """Handle one request: record, apply faults, authenticate, route, answer."""
        url = urlsplit(handler.path)
        path = url.path
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        raw = handler.read_body()
        headers = {k.lower(): v for k, v in handler.headers.items()}
        body: Any = raw or None
        if raw and headers.get("content-type", "").startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw
        record = RecordedRequest(handler.command, path, query, headers, body, time.monotonic())
        handler.record = record
        with self._lock:
            self._requests.append(record)

        fault = self._take_fault(handler.command, path)
        if fault and fault.delay and self._stopping.wait(fault.delay):
            handler.close_connection = True
            return
        if fault and (fault.status is not None or fault.body is not None):
            status = fault.status or 200
            extra = {"Retry-After": _format_seconds(fault.retry_after)} if fault.retry_after else {}
            echoed = _bearer_key(headers) if self.echo_key else None
            fault_body = (
                fault.body if fault.body is not None else _default_fault_body(status, body, echoed)
            )
            reply = _Reply(status, _to_bytes_or_json(fault_body), headers=extra)
            if fault.content_type:
                reply.content_type = fault.content_type
            handler.send(reply)
            return

        try:
            self._authenticate(headers.get("authorization", ""))
            if isinstance(body, bytes) and not headers.get("content-type", "").startswith(
                "multipart/"
            ):
                raise _ApiError(
                    400,
                    "We could not parse the JSON body of your request. (HINT: This likely "
                    "means you aren't using your HTTP library correctly.)",
                )
            reply = self._route(handler.command, path, query, body, headers, fault)
        except _ApiError as err:
            reply = _Reply(err.status, err.body)
        if fault and fault.retry_after:
            reply.headers["Retry-After"] = _format_seconds(fault.retry_after)
        if reply.events is None:
            handler.send(reply)
        else:
            self._stream(handler, reply, fault)

    def _stream(self, handler: _Handler, reply: _Reply, fault: Fault | None) -> None:
        events = list(reply.events or [])
        if fault and fault.malformed_chunk:
            events.insert(min(2, len(events)), b'data: {"id": "chatcmpl-broken", "choices": [\n\n')
        if fault and fault.cut_stream_after is not None:
            events = events[: fault.cut_stream_after]
        handler.start_stream(reply)
        with self._lock:
            delay = self.stream_delay
        for i, event in enumerate(events):
            if i and delay and self._stopping.wait(delay):
                handler.close_connection = True
                return
            if fault and fault.stall_after == i:
                self._stopping.wait()  # until the server closes
                handler.close_connection = True
                return
            handler.write_chunk(event)
        if fault and fault.cut_stream_after is not None and fault.abrupt:
            handler.close_connection = True  # no terminating chunk: the body is incomplete
            return
        handler.write_chunk(b"")
        if fault and fault.cut_stream_after is not None:
            handler.close_connection = True

    def _authenticate(self, authorization: str) -> None:
        scheme, _, key = authorization.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise _ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        with self._lock:
            valid = self.valid_keys
        if valid is not None and key not in valid:
            shown = key if self.echo_key else _mask_key(key)
            raise _ApiError(
                401,
                f"Incorrect API key provided: {shown}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )

    _ROUTES: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
        (method, re.compile(f"^/v1{pattern}$"), name)
        for method, pattern, name in (
            ("GET", r"/models", "_list_models"),
            ("GET", r"/models/([^/]+)", "_get_model"),
            ("DELETE", r"/models/([^/]+)", "_delete_model"),
            ("POST", r"/embeddings", "_embeddings"),
            ("POST", r"/chat/completions", "_chat"),
            ("POST", r"/files", "_upload_file"),
            ("GET", r"/files", "_list_files"),
            ("GET", r"/files/([^/]+)", "_get_file"),
            ("DELETE", r"/files/([^/]+)", "_delete_file"),
            ("GET", r"/files/([^/]+)/content", "_file_content"),
            ("POST", r"/fine_tuning/jobs", "_create_job"),
            ("GET", r"/fine_tuning/jobs", "_list_jobs"),
            ("GET", r"/fine_tuning/jobs/([^/]+)", "_get_job_route"),
            ("POST", r"/fine_tuning/jobs/([^/]+)/cancel", "_cancel_job_route"),
            ("POST", r"/fine_tuning/jobs/([^/]+)/pause", "_pause_job_route"),
            ("POST", r"/fine_tuning/jobs/([^/]+)/resume", "_resume_job_route"),
            ("GET", r"/fine_tuning/jobs/([^/]+)/events", "_list_events"),
            ("GET", r"/fine_tuning/jobs/([^/]+)/checkpoints", "_list_checkpoints"),
        )
    )

    def _route(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        headers: dict[str, str],
        fault: Fault | None = None,
    ) -> _Reply:
        for route_method, pattern, name in self._ROUTES:
            match = pattern.match(path)
            if match and route_method == method:
                args = [unquote(g) for g in match.groups()]
                handler: Callable[..., _Reply] = getattr(self, name)
                request = _Request(query=query, body=body, headers=headers, fault=fault)
                with self._lock:
                    reply = handler(request, *args)
                    if isinstance(reply.body, dict):  # serialise now: state may change later
                        reply.body = json.dumps(reply.body).encode()
                    return reply
        raise _ApiError(404, f"Invalid URL ({method} {path})")

    # ----------------------------------------------------------------- routes: models

    def _model_object(self, model: str) -> Json:
        owner = ORGANIZATION_ID if model.startswith("ft:") else "system"
        return {"id": model, "object": "model", "created": 1_700_000_000, "owned_by": owner}

    def _list_models(self, _req: _Request) -> _Reply:
        return _Reply(body={"object": "list", "data": [self._model_object(m) for m in self.models]})

    def _get_model(self, _req: _Request, model: str) -> _Reply:
        if model not in self.models:
            raise _model_not_found(model)
        return _Reply(body=self._model_object(model))

    def _delete_model(self, _req: _Request, model: str) -> _Reply:
        if model not in self.models:
            raise _model_not_found(model)
        if not model.startswith("ft:"):
            raise _ApiError(403, "You have insufficient permissions for this operation.")
        self.models.remove(model)
        return _Reply(body={"id": model, "object": "model", "deleted": True})

    # ----------------------------------------------------------------- routes: embeddings

    def _embeddings(self, req: _Request) -> _Reply:
        body = req.json()
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _ApiError(400, "you must provide a model parameter", param="model")
        if model not in self.models:
            raise _model_not_found(model)
        native = self.embedding_dims.get(model)
        if native is None:
            raise _ApiError(400, f"The model `{model}` does not support embeddings.", param="model")
        items = _embedding_inputs(body.get("input"))
        dims = body.get("dimensions")
        if dims is None:
            dims = native
        elif not model.startswith("text-embedding-3"):
            raise _ApiError(
                400, "This model does not support specifying dimensions.", param="dimensions"
            )
        elif not isinstance(dims, int) or isinstance(dims, bool) or not 1 <= dims <= native:
            raise _ApiError(400, f"Invalid value for 'dimensions': {dims!r}.", param="dimensions")
        encoding = body.get("encoding_format", "float")
        if encoding not in ("float", "base64"):
            raise _ApiError(
                400, f"Invalid value for 'encoding_format': {encoding!r}.", param="encoding_format"
            )
        tokens = [count_tokens(i) if isinstance(i, str) else len(i) for i in items]
        for n in tokens:
            if n > MAX_EMBEDDING_INPUT_TOKENS:
                raise _ApiError(
                    400,
                    f"This model's maximum context length is {MAX_EMBEDDING_INPUT_TOKENS} "
                    f"tokens, however you requested {n} tokens. Please reduce your prompt.",
                    param="input",
                )
        if sum(tokens) > MAX_EMBEDDING_REQUEST_TOKENS:
            raise _ApiError(
                400,
                f"Requested {sum(tokens)} tokens, max {MAX_EMBEDDING_REQUEST_TOKENS} tokens "
                "per request",
                param="input",
                code="max_tokens_per_request",
            )
        vectors = [embed(item, model, dims, native) for item in items]
        defect = req.fault.corrupt if req.fault else None
        vectors = _spoil_vectors(vectors, defect)
        data = []
        for index, vector in enumerate(vectors):
            value: Any
            if defect == "null" and index == 0:
                value = [None, *vector.tolist()[1:]]
            elif encoding == "base64":
                value = base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
            else:
                value = vector.tolist()
            data.append({"object": "embedding", "index": index, "embedding": value})
        data = _spoil_items(data, defect)
        usage = {"prompt_tokens": sum(tokens), "total_tokens": sum(tokens)}
        return _Reply(body={"object": "list", "data": data, "model": model, "usage": usage})

    # ----------------------------------------------------------------- routes: chat

    def _chat(self, req: _Request) -> _Reply:
        body = req.json()
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _ApiError(400, "you must provide a model parameter", param="model")
        if model not in self.models:
            raise _model_not_found(model)
        if model in self.embedding_dims:
            raise _ApiError(
                404,
                "This is not a chat model and thus not supported in the v1/chat/completions "
                "endpoint.",
                param="model",
            )
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _ApiError(400, "[] is too short - 'messages'", param="messages")
        reply = self.chat_reply
        text = reply(body) if callable(reply) else reply
        if text is None:
            text = default_chat_reply(body)
        pieces = split_stream_pieces(text)
        limit = body.get("max_completion_tokens") or body.get("max_tokens")
        finish = "stop"
        if isinstance(limit, int) and len(pieces) > limit:
            pieces, finish = pieces[:limit], "length"
            text = "".join(pieces)
        prompt_tokens = sum(count_tokens(message_text(m)) for m in messages if isinstance(m, dict))
        completion_tokens = count_tokens(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        base: Json = {
            "id": self._new_id("chatcmpl"),
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_fake",
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            return _Reply(
                body={**base, "object": "chat.completion", "choices": [choice], "usage": usage}
            )
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        chunk_base = {**base, "object": "chat.completion.chunk"}
        if include_usage:
            chunk_base["usage"] = None

        def chunk(delta: Json, finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return _sse({**chunk_base, "choices": [choice]})

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": piece}) for piece in pieces]
        events.append(chunk({}, finish))
        if include_usage:
            events.append(_sse({**chunk_base, "choices": [], "usage": usage}))
        events.append(b"data: [DONE]\n\n")
        return _Reply(content_type="text/event-stream; charset=utf-8", events=events)

    # ----------------------------------------------------------------- routes: files

    def _upload_file(self, req: _Request) -> _Reply:
        content_type = req.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data") or not isinstance(req.body, bytes):
            raise _ApiError(400, "Expected a multipart/form-data request.")
        fields, files = _parse_multipart(content_type, req.body)
        purpose = fields.get("purpose")
        if not purpose:
            raise _ApiError(400, "Missing required parameter: 'purpose'.", param="purpose")
        if "file" not in files:
            raise _ApiError(400, "Missing required parameter: 'file'.", param="file")
        filename, content, _type = files["file"]
        if purpose == "fine-tune" and not filename.endswith(".jsonl"):
            raise _ApiError(
                400, "Invalid file format for Fine-Tuning API. Must be .jsonl", param="file"
            )
        return _Reply(body=self.add_file(content, filename, purpose))

    def _list_files(self, req: _Request) -> _Reply:
        items = list(self.files.values())
        if purpose := req.query.get("purpose"):
            items = [f for f in items if f["purpose"] == purpose]
        if req.query.get("order", "desc") == "desc":
            items.reverse()
        page = _paginate(items, req.query, default_limit=10_000)
        page["first_id"] = page["data"][0]["id"] if page["data"] else None
        page["last_id"] = page["data"][-1]["id"] if page["data"] else None
        return self._list_reply("files", page)

    def _file(self, file_id: str) -> Json:
        if file_id not in self.files:
            raise _not_found("File", file_id)
        return self.files[file_id]

    def _get_file(self, _req: _Request, file_id: str) -> _Reply:
        return _Reply(body=self._file(file_id))

    def _delete_file(self, _req: _Request, file_id: str) -> _Reply:
        self._file(file_id)
        del self.files[file_id]
        del self.file_contents[file_id]
        return _Reply(body={"id": file_id, "object": "file", "deleted": True})

    def _file_content(self, _req: _Request, file_id: str) -> _Reply:
        self._file(file_id)
        return _Reply(body=self.file_contents[file_id], content_type="application/octet-stream")

    # ----------------------------------------------------------------- routes: fine-tuning

    def _create_job(self, req: _Request) -> _Reply:
        if self.refuse_new_jobs:
            raise _ApiError(
                self.refuse_new_jobs_status,
                self.refuse_new_jobs,
                code="fine_tuning_unavailable",
            )
        body = req.json()
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise _ApiError(400, "Missing required parameter: 'model'.", param="model")
        if model not in self.fine_tunable and not (
            model.startswith("ft:") and model in self.models
        ):
            raise _ApiError(
                400,
                f"Model {model} is not available for fine-tuning or does not exist.",
                param="model",
                code="model_not_available",
            )
        for param in ("training_file", "validation_file"):
            file_id = body.get(param)
            if file_id is None and param == "validation_file":
                continue
            if not isinstance(file_id, str) or file_id not in self.files:
                raise _ApiError(400, f"invalid {param}: {file_id}", param=param)
            if self.files[file_id]["purpose"] != "fine-tune":
                raise _ApiError(
                    400, f"File {file_id} does not have purpose 'fine-tune'.", param=param
                )
        suffix = body.get("suffix")
        if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 64):
            raise _ApiError(400, "suffix must be a string of at most 64 characters", param="suffix")
        method = copy.deepcopy(body.get("method")) or {"type": "supervised"}
        kind = method.get("type", "supervised")
        settings = method.setdefault(kind, {})
        hyper = {
            "n_epochs": "auto",
            "batch_size": "auto",
            "learning_rate_multiplier": "auto",
            **(body.get("hyperparameters") or {}),
            **(settings.get("hyperparameters") or {}),
        }
        settings["hyperparameters"] = hyper  # the same dict: resolution shows in both places
        job_id = self._new_id("ftjob")
        seed = body.get("seed")
        data: Json = {
            "id": job_id,
            "object": "fine_tuning.job",
            "created_at": int(time.time()),
            "error": None,
            "fine_tuned_model": None,
            "finished_at": None,
            "hyperparameters": hyper,
            "model": model,
            "organization_id": ORGANIZATION_ID,
            "result_files": [],
            "seed": seed if isinstance(seed, int) else 1000 + len(self._jobs),
            "status": "validating_files",
            "trained_tokens": None,
            "training_file": body["training_file"],
            "validation_file": body.get("validation_file"),
            "estimated_finish": None,
            "integrations": body.get("integrations") or [],
            "metadata": body.get("metadata"),
            "method": method,
            "user_provided_suffix": suffix,
        }
        job = _Job(data)
        self._jobs[job_id] = job
        self._add_event(job, f"Created fine-tuning job: {job_id}")
        self._add_event(job, f"Validating training file: {data['training_file']}")
        return _Reply(body=data)

    def _job_route(self, job_id: str) -> _Job:
        if job_id not in self._jobs:
            raise _ApiError(404, f"Could not find fine tune job: {job_id}", param="fine_tune_id")
        return self._jobs[job_id]

    def _list_jobs(self, req: _Request) -> _Reply:
        items = [job.data for job in reversed(self._jobs.values())]
        return self._list_reply("jobs", _paginate(items, req.query, default_limit=20))

    def _get_job_route(self, _req: _Request, job_id: str) -> _Reply:
        return _Reply(body=self._job_route(job_id).data)

    def _cancel_job_route(self, _req: _Request, job_id: str) -> _Reply:
        job = self._job_route(job_id)
        if job.data["status"] in TERMINAL_JOB_STATUSES:
            raise _ApiError(400, f"Job has already completed: {job_id}", param="fine_tune_id")
        return _Reply(body=self.cancel_job(job_id))

    def _pause_job_route(self, _req: _Request, job_id: str) -> _Reply:
        if self._job_route(job_id).data["status"] != "running":
            raise _ApiError(400, f"Only running jobs can be paused: {job_id}")
        return _Reply(body=self.advance_job(job_id, "paused"))

    def _resume_job_route(self, _req: _Request, job_id: str) -> _Reply:
        if self._job_route(job_id).data["status"] != "paused":
            raise _ApiError(400, f"Only paused jobs can be resumed: {job_id}")
        return _Reply(body=self.advance_job(job_id, "running"))

    def _list_events(self, req: _Request, job_id: str) -> _Reply:
        events = list(reversed(self._job_route(job_id).events))
        return self._list_reply("events", _paginate(events, req.query, default_limit=20))

    def _list_checkpoints(self, req: _Request, job_id: str) -> _Reply:
        checkpoints = list(reversed(self._job_route(job_id).checkpoints))
        page = _paginate(checkpoints, req.query, default_limit=10)
        page["first_id"] = page["data"][0]["id"] if page["data"] else None
        page["last_id"] = page["data"][-1]["id"] if page["data"] else None
        return self._list_reply("checkpoints", page)

    def _list_reply(self, name: str, page: Json) -> _Reply:
        """A JSON page, or its items as an event stream when ``lists_as_event_stream``
        names this list."""
        if name not in self.lists_as_event_stream:
            return _Reply(body=page)
        events = [_sse(item) for item in page["data"]] + [b"data: [DONE]\n\n"]
        return _Reply(content_type="text/event-stream; charset=utf-8", events=events)


# --------------------------------------------------------------------------- route helpers


@dataclass
class _Request:
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    fault: Fault | None = None

    def json(self) -> Json:
        if not isinstance(self.body, dict):
            raise _ApiError(400, "The request body must be a JSON object.")
        return self.body


def _normalise_path(path: str) -> str:
    path = "/" + path.lstrip("/")
    return path if path.startswith("/v1/") or path == "/v1" else "/v1" + path


def _format_seconds(seconds: float | None) -> str:
    return str(int(seconds)) if seconds is not None and seconds == int(seconds) else str(seconds)


def _sse(document: Json) -> bytes:
    return b"data: " + json.dumps(document).encode() + b"\n\n"


def _bearer_key(headers: dict[str, str]) -> str | None:
    scheme, _, key = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return key.strip() or None


def _spoil_vectors(vectors: list[np.ndarray], defect: str | None) -> list[np.ndarray]:
    """The numbers part of an embeddings defect (see ``EMBEDDING_DEFECTS``)."""
    if defect is None or not vectors:
        return vectors
    vectors = [v.astype(np.float32, copy=True) for v in vectors]
    first = vectors[0]
    if defect == "nan":
        first[0] = np.nan
    elif defect == "infinity":
        first[0] = np.inf
    elif defect == "zero":
        first[:] = 0.0
    elif defect == "ragged":
        vectors[0] = first[: max(1, len(first) // 2)]
    elif defect == "wrong_dimensions":
        vectors = [v[:WRONG_DIMENSIONS] for v in vectors]
    return vectors


def _spoil_items(data: list[Json], defect: str | None) -> list[Json]:
    """The list part of an embeddings defect: indices, order, count."""
    if defect == "duplicate_index" and len(data) > 1:
        data[1]["index"] = data[0]["index"]
    elif defect == "missing_index" and len(data) > 1:
        del data[1]["index"]
    elif defect == "missing_item":
        data = data[:-1]
    elif defect == "shuffled":
        data = list(reversed(data))
    return data


def _to_bytes_or_json(body: Json | str | bytes) -> Json | bytes:
    return body.encode() if isinstance(body, str) else body


def _embedding_inputs(raw: Any) -> list[str | list[int]]:
    """Normalise ``input`` to a list of strings or token arrays, enforcing API limits."""

    def invalid(reason: str) -> _ApiError:
        return _ApiError(
            400,
            f"'$.input' is invalid: {reason}. Please check the API reference: "
            "https://platform.openai.com/docs/api-reference.",
            param="input",
        )

    def is_tokens(value: Any) -> bool:
        return isinstance(value, list) and all(
            isinstance(t, int) and not isinstance(t, bool) for t in value
        )

    if isinstance(raw, str):
        items: list[Any] = [raw]
    elif is_tokens(raw) and raw:
        items = [raw]
    elif isinstance(raw, list):
        items = raw
    else:
        raise invalid("expected a string or an array")
    if not items:
        raise invalid("empty array")
    if len(items) > MAX_EMBEDDING_INPUTS:
        raise _ApiError(
            400,
            f"Too many inputs. The max number of inputs is {MAX_EMBEDDING_INPUTS}. "
            "We recommend sending your inputs in batches.",
            param="input",
        )
    for item in items:
        if isinstance(item, str):
            if not item:
                raise invalid("empty string")
        elif not is_tokens(item) or not item:
            raise invalid("each item must be a non-empty string or token array")
    return items


def _paginate(items: list[Json], query: dict[str, str], *, default_limit: int) -> Json:
    """Cursor pagination as the API does it: ``after`` an id, ``limit``, ``has_more``.

    An unknown ``after`` gives an empty last page, so a client that loops on the cursor
    always stops.
    """
    try:
        limit = int(query.get("limit", default_limit))
    except ValueError:
        raise _ApiError(400, "limit must be an integer", param="limit") from None
    if limit < 1:
        raise _ApiError(400, "limit must be at least 1", param="limit")
    after = query.get("after")
    if after:
        position = next((i for i, item in enumerate(items) if item["id"] == after), None)
        items = [] if position is None else items[position + 1 :]
    return {"object": "list", "data": items[:limit], "has_more": len(items) > limit}


# --------------------------------------------------------------------------- HTTP plumbing


class _Server(ThreadingHTTPServer):
    """Joins handler threads on close and can drop kept-alive connections."""

    daemon_threads = False
    block_on_close = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        fake: FakeOpenAI,
    ) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), which can stall on a machine without DNS.
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name = "127.0.0.1"
        self.server_port = int(self.server_address[1])

    def track(self, connection: socket.socket, *, alive: bool) -> None:
        with self._connections_lock:
            if alive:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def drop_connections(self) -> None:
        """Shut down open sockets so handlers blocked on keep-alive reads return at once."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that went away; remember real failures of the fake."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        self.fake.handler_errors.append(traceback.format_exc())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    record: RecordedRequest | None = None

    def setup(self) -> None:
        super().setup()
        # Headers and body are separate writes: without this, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, alive=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, alive=False)

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        self.record = None
        try:
            self.server.fake._serve(self)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            if self.record is not None:
                self.record.disconnected = True
        except Exception:
            self.server.fake.handler_errors.append(traceback.format_exc())
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.send(_Reply(500, error_body("Fake server bug.", type="server_error")))

    def read_body(self) -> bytes:
        """Read the whole request body (Content-Length or chunked) before answering."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_head(self, reply: _Reply, extra: dict[str, str]) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("x-request-id", f"req_{os.urandom(12).hex()}")
        for name, value in {**reply.headers, **extra}.items():
            self.send_header(name, value)
        self.end_headers()

    def send(self, reply: _Reply) -> None:
        """Answer with a complete body (JSON document or bytes) and Content-Length."""
        if isinstance(reply.body, bytes):
            payload = reply.body
        else:
            payload = json.dumps(reply.body if reply.body is not None else {}).encode()
        self._send_head(reply, {"Content-Length": str(len(payload))})
        self.wfile.write(payload)
        self.wfile.flush()

    def start_stream(self, reply: _Reply) -> None:
        self._send_head(reply, {"Transfer-Encoding": "chunked", "Cache-Control": "no-cache"})

    def write_chunk(self, data: bytes) -> None:
        """Write one HTTP chunk (an empty one ends the body)."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


# --------------------------------------------------------------------------- pytest glue


def fake_openai_server() -> Iterator[FakeOpenAI]:
    """Generator for a pytest fixture: a started server, stopped afterwards.

    The teardown fails the test if the fake itself raised (a bug of the fake would
    otherwise look like a flaky 500 to the code under test).
    """
    with FakeOpenAI() as server:
        yield server
        errors = list(server.handler_errors)
    if errors:
        raise AssertionError("FakeOpenAI handler crashed:\n" + "\n".join(errors))
