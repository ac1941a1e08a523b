"""Embedders: text in, unit-length float32 vectors out.

Two kinds: the bundled local model (no network, no key; ``local_embedder``) and any
OpenAI-compatible server. The OpenAI one batches by count and by tokens within the API's
limits, and cuts an input over the per-input limit explicitly (the cut is reported, never
silent)."""

from __future__ import annotations

import base64
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from desktop.tokens import encoding_for_model, get_tokenizer

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float32]

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
    (with Retry-After) are the SDK's, configured on the injected client."""

    paid = True
    windowed = False

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        dimensions: int | None = None,
        max_inputs: int = MAX_INPUTS_PER_REQUEST,
        max_request_tokens: int = MAX_TOKENS_PER_REQUEST,
        max_input_tokens: int = MAX_TOKENS_PER_INPUT,
    ) -> None:
        self.client = client
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
            self._known_dimensions = int(self._request(["dimension probe"]).shape[1])
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

    def truncated(self, text: str) -> bool:
        return self.count_tokens(text) > self.max_input_tokens

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
        """Embed texts that fit one request (use ``batches`` to split a large list)."""
        if not texts:
            return np.zeros((0, self.key.dimensions), dtype=np.float32)
        return self._request([self.fit(t) for t in texts])

    def embed_query(self, text: str) -> FloatArray:
        return self.embed([text])[0]

    def _request(self, inputs: list[str]) -> FloatArray:
        if any(not text.strip() for text in inputs):
            raise ValueError("the embeddings API refuses empty inputs")
        extra: dict[str, Any] = {}
        if self._dimensions:
            extra["dimensions"] = self._dimensions
        response = self.client.embeddings.create(model=self.model, input=inputs, **extra)
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(inputs):
            raise RuntimeError(f"the server returned {len(rows)} vectors for {len(inputs)} inputs")
        return normalise(np.asarray([_vector(row.embedding) for row in rows], dtype=np.float32))


def _vector(value: Any) -> list[float] | FloatArray:
    if isinstance(value, str):  # base64 when the server ignores encoding_format
        return np.frombuffer(base64.b64decode(value), dtype="<f4")
    return value  # type: ignore[no-any-return]
