"""Embedders: text in, unit-length float32 vectors out.

Two kinds: the bundled local model (no network, no key; ``local_embedder``) and any
OpenAI-compatible server. The OpenAI one batches by count and by tokens within the API's
limits, and cuts an input over the per-input limit explicitly (the cut is reported, never
silent). Its responses are checked before anyone sees them (``providers.validate``), and
it waits out rate limits itself: capped, second by second, cancellable between steps
(``providers.retry``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from desktop.progress import Progress, drive
from desktop.providers.client import host_of
from desktop.providers.retry import RetryWait, with_retries
from desktop.providers.validate import embedding_matrix, parse_json
from desktop.tokens import encoding_for_model, get_tokenizer

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

#: The similarity threshold for embedders that do not declare their own: cosines on the
#: scale of MiniLM and OpenAI's models, where unrelated texts score near 0 and the chunk
#: that answers a question ~0.3-0.6.
DEFAULT_THRESHOLD = 0.2

# The API's documented limits (see shared NOTES): per request and per input.
MAX_INPUTS_PER_REQUEST = 2048
MAX_TOKENS_PER_REQUEST = 300_000
MAX_TOKENS_PER_INPUT = 8192
NATIVE_DIMENSIONS = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}
# USD per million input tokens; defaults only, the user can edit them in Settings.
DEFAULT_EMBEDDING_PRICES = {
    "text-embedding-3-small": 0.02,
    "text-embedding-3-large": 0.13,
    "text-embedding-ada-002": 0.10,
}


@dataclass(frozen=True)
class EmbedderKey:
    """What a cached vector belongs to: vectors of different keys never mix."""

    embedder: str
    model: str
    dimensions: int

    def label(self) -> str:
        return f"{self.model} ({self.dimensions} dims, {self.embedder})"


class Embedder(Protocol):
    """``embed`` embeds passages (the library's chunks), ``embed_query`` a search query:
    some models (e5) expect a different prefix for each."""

    @property
    def key(self) -> EmbedderKey: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def paid(self) -> bool: ...

    @property
    def windowed(self) -> bool:
        """True: a text over ``max_tokens`` is embedded whole (in windows); False: cut."""
        ...

    def embed(self, texts: Sequence[str]) -> FloatArray: ...

    def embed_query(self, text: str) -> FloatArray: ...

    def count_tokens(self, text: str) -> int: ...

    def batches(self, texts: Sequence[str]) -> list[list[int]]: ...


def normalise(vectors: FloatArray) -> FloatArray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32, copy=False)


class LocalModelEmbedder:
    """The bundled model behind the common interface."""

    paid = False
    windowed = True

    def __init__(self, model: str | None = None, *, threads: int = 2) -> None:
        from desktop.retrieval.local_embedder import DEFAULT_MODEL, LocalEmbedder

        self.model = LocalEmbedder(model or DEFAULT_MODEL, threads=threads)

    @property
    def key(self) -> EmbedderKey:
        return EmbedderKey("local", self.model.model, self.model.dimensions)

    @property
    def max_tokens(self) -> int:
        return self.model.max_tokens

    @property
    def reference_rate(self) -> float | None:
        return self.model.reference_rate

    @property
    def similarity_threshold(self) -> float:
        declared = self.model.similarity_threshold
        return DEFAULT_THRESHOLD if declared is None else declared

    def embed(self, texts: Sequence[str]) -> FloatArray:
        return self.model.embed(list(texts))

    def embed_query(self, text: str) -> FloatArray:
        return self.model.embed_query(text)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def batches(self, texts: Sequence[str]) -> list[list[int]]:
        # Small batches keep progress and cancel responsive; the model's speed does not
        # depend on batch size beyond a few dozen texts.
        return [list(range(i, min(i + 64, len(texts)))) for i in range(0, len(texts), 64)]


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible server through the official SDK. Retries
    are this class's, not the SDK's: as many attempts as the injected client's
    ``max_retries`` allows, each wait capped and reported (``embed_steps``); ``sleep`` is
    injectable so tests do not wait."""

    paid = True
    windowed = False
    similarity_threshold = DEFAULT_THRESHOLD

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        dimensions: int | None = None,
        max_inputs: int = MAX_INPUTS_PER_REQUEST,
        max_request_tokens: int = MAX_TOKENS_PER_REQUEST,
        max_input_tokens: int = MAX_TOKENS_PER_INPUT,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.client = client
        self.attempts = 1 + max(0, int(getattr(client, "max_retries", 0) or 0))
        # The SDK would wait out a Retry-After of up to 2 minutes silently: this loop
        # waits instead (capped, visible), so the SDK makes one attempt per call.
        self._once = client.with_options(max_retries=0)
        self.host = host_of(str(client.base_url))
        self.sleep = sleep
        self.model = model
        self._dimensions = dimensions
        self.max_inputs = max_inputs
        self.max_request_tokens = max_request_tokens
        self.max_input_tokens = max_input_tokens
        self._tokenizer: Any = None
        self._known_dimensions: int | None = dimensions or NATIVE_DIMENSIONS.get(model)

    @property
    def key(self) -> EmbedderKey:
        if self._known_dimensions is None:
            # A model we do not know (a local server's): ask once for its size.
            probe = drive(self._attempts(["dimension probe"]), self._report)
            self._known_dimensions = int(probe.shape[1])
        return EmbedderKey("openai", self.model, self._known_dimensions)

    @property
    def max_tokens(self) -> int:
        return self.max_input_tokens

    @property
    def tokenizer(self) -> Any:
        """Loaded on first use: a search that embeds one short question never needs it
        (loading the BPE ranks is a second of a command's start-up)."""
        if self._tokenizer is None:
            self._tokenizer = get_tokenizer(encoding_for_model(self.model))
        return self._tokenizer

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count(text)

    def fit(self, text: str) -> str:
        """The part of ``text`` the API accepts: the first ``max_input_tokens`` tokens."""
        if len(text.encode("utf-8")) <= self.max_input_tokens:
            return text  # a byte-level BPE token is at least one byte: it fits
        tokens = self.tokenizer.encode(text)
        if len(tokens) <= self.max_input_tokens:
            return text
        return self.tokenizer.decode(tokens[: self.max_input_tokens])

    def batches(self, texts: Sequence[str]) -> list[list[int]]:
        """Indexes of ``texts`` grouped into requests: at most ``max_inputs`` inputs and
        ``max_request_tokens`` tokens each (inputs counted after cutting to the limit)."""
        batches: list[list[int]] = []
        current: list[int] = []
        current_tokens = 0
        for index, text in enumerate(texts):
            tokens = min(self.count_tokens(text), self.max_input_tokens)
            if current and (
                len(current) >= self.max_inputs or current_tokens + tokens > self.max_request_tokens
            ):
                batches.append(current)
                current, current_tokens = [], 0
            current.append(index)
            current_tokens += tokens
        if current:
            batches.append(current)
        return batches

    def embed(self, texts: Sequence[str]) -> FloatArray:
        """Embed texts that fit one request (use ``batches`` to split a large list). A
        rate limit is waited out here without reporting (a search's query)."""
        return drive(self.embed_steps(texts), self._report)

    def embed_steps(self, texts: Sequence[str]) -> Generator[RetryWait, None, FloatArray]:
        """``embed``, yielding each second of a wait the server asked for."""
        if not texts:
            return np.zeros((0, self.key.dimensions), dtype=np.float32)
        if self._known_dimensions is None:
            _ = self.key  # probe once for the size every answer must have
        return (yield from self._attempts([self.fit(t) for t in texts]))

    def embed_query(self, text: str) -> FloatArray:
        return self.embed([text])[0]

    def _attempts(self, inputs: list[str]) -> Generator[RetryWait, None, FloatArray]:
        if any(not text.strip() for text in inputs):
            raise ValueError("the embeddings API refuses empty inputs")
        return (
            yield from with_retries(
                lambda: self._request(inputs),
                host=self.host,
                attempts=self.attempts,
                sleep=self.sleep,
            )
        )

    def _report(self, wait: RetryWait) -> None:
        log.info("Embeddings: %s", wait.message())

    def _request(self, inputs: list[str]) -> FloatArray:
        """One request; the answer is checked before it is returned (``BadResponse``)."""
        extra: dict[str, Any] = {}
        if self._dimensions:
            extra["dimensions"] = self._dimensions
        raw = self._once.embeddings.with_raw_response.create(
            model=self.model, input=inputs, **extra
        )
        response = parse_json(raw, host=self.host)
        return embedding_matrix(
            getattr(response, "data", None),
            count=len(inputs),
            dimensions=self._known_dimensions,
            host=self.host,
            model=self.model,
        )


def embed_batch(
    embedder: Embedder, texts: Sequence[str], done: int, total: int
) -> Generator[Progress, None, FloatArray]:
    """One batch of an index run; while the server asks to wait, the countdown is shown
    as the run's progress message (and the run can be stopped between its seconds)."""
    steps = getattr(embedder, "embed_steps", None)
    if steps is None:
        return embedder.embed(texts)
    operation = steps(texts)
    while True:
        try:
            wait = next(operation)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        yield Progress(done, total, wait.message())
