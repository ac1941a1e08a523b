"""Retrieval as the app and the commands use it: which embedder the settings mean, the
index plan and run, and a cached ``Retriever`` per embedder."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from desktop.progress import Progress
from desktop.providers.client import ProviderAccess
from desktop.retrieval.embedders import (
    DEFAULT_EMBEDDING_PRICES,
    Embedder,
    LocalModelEmbedder,
    OpenAIEmbedder,
)
from desktop.retrieval.indexing import IndexPlan, IndexResult, index_status, plan_index, run_index
from desktop.retrieval.search import Retriever, SearchFilters, SearchResult, SearchSettings
from desktop.settings import OPENAI_BASE_URL, Settings
from desktop.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStatus:
    embedder: str
    chunks: int
    embedded: int
    truncated: int

    @property
    def complete(self) -> bool:
        return self.embedded >= self.chunks

    def describe(self) -> str:
        if self.chunks == 0:
            return "The library is empty."
        text = f"{self.embedded:,} of {self.chunks:,} chunks embedded with {self.embedder}"
        if self.truncated:
            text += (
                f"; {self.truncated:,} longer than the model's window were embedded "
                "from their beginning"
            )
        return text + "."


def search_settings(settings: Settings) -> SearchSettings:
    return SearchSettings(
        mode=settings.search_mode,
        k=settings.search_k,
        threshold=settings.similarity_threshold,
        vector_weight=settings.hybrid_vector_weight,
    )


def prices(settings: Settings) -> dict[str, float]:
    merged = dict(DEFAULT_EMBEDDING_PRICES)
    merged.update(
        {k: float(v) for k, v in settings.embedding_prices.items() if isinstance(v, int | float)}
    )
    return merged


class RetrievalService:
    """One per app (or command run). Embedders and retrievers are cached, because the
    local model and the vector matrix are expensive to load."""

    def __init__(
        self,
        workspace: Workspace,
        settings: Callable[[], Settings],
        provider: ProviderAccess,
    ) -> None:
        self.workspace = workspace
        self._settings = settings
        self.provider = provider
        self._lock = threading.Lock()
        self._embedders: dict[tuple[str, ...], Embedder] = {}
        self._retrievers: dict[object, Retriever] = {}

    def choice(self, requested: str | None = None) -> str:
        """'local' or 'openai' for ``requested`` (or the setting), resolving 'auto'."""
        choice = requested or self.settings.retrieval_embedder
        if choice not in ("auto", "local", "openai"):
            raise ValueError(f"unknown embedder {choice!r}: use local or openai")
        if choice != "auto":
            return choice
        # Decided without reading the keychain (that may open an unlock prompt).
        settings, env = self.settings, self.provider.env
        if env.api_key or env.base_url:
            return "openai"
        local_server = settings.base_url.rstrip("/") != OPENAI_BASE_URL
        return "openai" if local_server or settings.api_key_saved else "local"

    @property
    def settings(self) -> Settings:
        return self._settings()

    def search_settings(self) -> SearchSettings:
        return search_settings(self.settings)

    def embedder(self, requested: str | None = None) -> Embedder:
        settings = self.settings
        choice = self.choice(requested)
        if choice == "local":
            cache_key: tuple[str, ...] = ("local", settings.local_model)
        else:
            config = self.provider.config()
            cache_key = (
                "openai",
                config.base_url,
                settings.embedding_model,
                str(settings.embedding_dimensions),
                str(bool(config.api_key)),
            )
        with self._lock:
            embedder = self._embedders.get(cache_key)
            if embedder is None:
                if choice == "local":
                    embedder = LocalModelEmbedder(settings.local_model)
                else:
                    client = self.provider.client()
                    embedder = OpenAIEmbedder(
                        client,
                        settings.embedding_model,
                        dimensions=settings.embedding_dimensions or None,
                    )
                self._embedders[cache_key] = embedder
        return embedder

    def retriever(self, requested: str | None = None) -> Retriever:
        embedder = self.embedder(requested)
        key = embedder.key
        with self._lock:
            retriever = self._retrievers.get(key)
            if retriever is None:
                retriever = Retriever(self.workspace, embedder)
                self._retrievers[key] = retriever
        return retriever

    def plan(self, requested: str | None = None) -> tuple[Embedder, IndexPlan]:
        embedder = self.embedder(requested)
        return embedder, plan_index(self.workspace, embedder, prices(self.settings))

    def status(self, requested: str | None = None) -> IndexStatus:
        embedder = self.embedder(requested)
        chunks, embedded, truncated = index_status(self.workspace, embedder.key)
        return IndexStatus(embedder.key.label(), chunks, embedded, truncated)

    def lexical_retriever(self) -> Retriever:
        """BM25 alone: needs no embedder (and so no model load or key)."""
        with self._lock:
            retriever = self._retrievers.get("lexical")
            if retriever is None:
                retriever = self._retrievers["lexical"] = Retriever(self.workspace, None)
        return retriever

    def search(
        self,
        query: str,
        settings: SearchSettings | None = None,
        filters: SearchFilters | None = None,
        *,
        embedder: str | None = None,
        log_kind: str | None = "search",
    ) -> SearchResult:
        """What the chat, the retrieval test panel and ``ragtune search`` all call."""
        settings = settings or self.search_settings()
        retriever = (
            self.lexical_retriever() if settings.mode == "lexical" else self.retriever(embedder)
        )
        return retriever.search(query, settings, filters, log_kind=log_kind)

    def index(self, embedder: Embedder, plan: IndexPlan) -> Generator[Progress, None, IndexResult]:
        return run_index(self.workspace, embedder, plan)
