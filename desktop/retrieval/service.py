"""Retrieval as the app and the commands use it: which embedder the settings mean, the
index plan and run, and a cached ``Retriever`` per embedder."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass

from desktop.events import EventBus, Topic
from desktop.progress import Progress
from desktop.providers.client import ProviderAccess
from desktop.retrieval.embedders import (
    DEFAULT_EMBEDDING_PRICES,
    DEFAULT_THRESHOLD,
    NATIVE_DIMENSIONS,
    Embedder,
    EmbedderKey,
    LocalModelEmbedder,
    OpenAIEmbedder,
)
from desktop.retrieval.indexing import IndexPlan, IndexResult, index_status, plan_index, run_index
from desktop.retrieval.lexical import sync_stemmed
from desktop.retrieval.rerank import (
    RERANKERS,
    LLMReranker,
    MaxSimReranker,
    Reranker,
    RerankError,
)
from desktop.retrieval.search import (
    Retriever,
    SearchFilters,
    SearchResult,
    SearchSettings,
    threshold_of,
)
from desktop.settings import OPENAI_BASE_URL, Settings
from desktop.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexStatus:
    embedder: str
    chunks: int
    embedded: int
    truncated: int  # cut at the embedder's limit
    windowed: int = 0  # longer than the model's window, embedded whole in windows

    @property
    def complete(self) -> bool:
        return self.embedded >= self.chunks

    def describe(self) -> str:
        if self.chunks == 0:
            return "The library is empty."
        text = f"{self.embedded:,} of {self.chunks:,} chunks embedded with {self.embedder}"
        if self.windowed:
            text += (
                f"; {self.windowed:,} longer than the model's window were embedded in "
                "windows (whole)"
            )
        if self.truncated:
            text += (
                f"; {self.truncated:,} longer than the model's limit were embedded "
                "from their beginning"
            )
        return text + "."


ACTIVE_EMBEDDER_META = "retrieval.embedder"
RATE_META = "retrieval.rate."  # + embedder/model: tokens per second measured here
#: Runs shorter than this many tokens do not replace the measured rate (too noisy).
RATE_MIN_TOKENS = 20_000


@dataclass(frozen=True)
class EmbedderChoice:
    """An embedder as the user chooses it: the bundled model or the provider's."""

    kind: str  # local | openai
    model: str
    dimensions: int = 0  # 0: the model's native size

    @property
    def paid(self) -> bool:
        return self.kind == "openai"

    def label(self) -> str:
        if self.kind == "local":
            return f"{self.model} (bundled, offline)"
        size = f", {self.dimensions} dims" if self.dimensions else ""
        return f"{self.model} (your provider{size})"


def choice_of_key(key: EmbedderKey) -> EmbedderChoice:
    if key.embedder == "local":
        return EmbedderChoice("local", key.model)
    native = NATIVE_DIMENSIONS.get(key.model)
    return EmbedderChoice("openai", key.model, 0 if native == key.dimensions else key.dimensions)


def _rate_name(key: EmbedderKey) -> str:
    return f"{key.embedder}/{key.model}"


def search_settings(settings: Settings) -> SearchSettings:
    return SearchSettings(
        mode=settings.search_mode,
        k=settings.search_k,
        threshold=settings.similarity_threshold,
        vector_weight=settings.hybrid_vector_weight,
        rerank_candidates=settings.rerank_candidates,
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
        events: EventBus | None = None,
    ) -> None:
        self.workspace = workspace
        self._settings = settings
        self.provider = provider
        self.events = events or EventBus()
        self._lock = threading.Lock()
        self._embedders: dict[tuple[str, ...], Embedder] = {}
        self._retrievers: dict[object, Retriever] = {}
        self._maxsim: dict[int, MaxSimReranker] = {}
        #: How large vector files get their approximate index (``VectorIndex``): the app
        #: loads or builds it in the background; one-shot commands set "never".
        self.approximate = "background"

    def choice(self, requested: str | None = None) -> EmbedderChoice:
        """Which embedder a search or an index run uses: the one ``requested`` ("local" or
        "openai", with the settings' model for it); else the one this workspace's vectors
        come from (so ``ragtune index --embedder local`` then ``ragtune search`` searches
        those vectors); else the settings' choice, "auto" resolved."""
        settings = self.settings
        if requested is not None:
            return self._choice_of(requested, settings)
        active = self.active()
        if active is not None:
            return active
        return self._choice_of(settings.retrieval_embedder, settings)

    def target(self) -> EmbedderChoice:
        """The embedder an index run uses when not told: the one chosen in the settings
        (Library tab or Settings dialog); with "auto", the workspace's own, else the
        resolved default. Searches keep using the workspace's embedder until this one's
        index is complete."""
        settings = self.settings
        if settings.retrieval_embedder != "auto":
            return self._choice_of(settings.retrieval_embedder, settings)
        return self.active() or self._choice_of("auto", settings)

    def chosen_settings(self, choice: EmbedderChoice) -> Settings:
        """The settings that make ``choice`` the embedder to index with."""
        settings = self.settings
        if choice.kind == "local":
            return settings.replace(retrieval_embedder="local", local_model=choice.model)
        return settings.replace(
            retrieval_embedder="openai",
            embedding_model=choice.model,
            embedding_dimensions=choice.dimensions,
        )

    def _choice_of(self, kind: str, settings: Settings) -> EmbedderChoice:
        if kind not in ("auto", "local", "openai"):
            raise ValueError(f"unknown embedder {kind!r}: use local or openai")
        if kind == "auto":
            kind = self._auto(settings)
        if kind == "local":
            return EmbedderChoice("local", settings.local_model)
        return EmbedderChoice("openai", settings.embedding_model, settings.embedding_dimensions)

    def _auto(self, settings: Settings) -> str:
        # Decided without reading the keychain (that may open an unlock prompt).
        env = self.provider.env
        if env.api_key or env.base_url:
            return "openai"
        local_server = settings.base_url.rstrip("/") != OPENAI_BASE_URL
        return "openai" if local_server or settings.api_key_saved else "local"

    def active(self) -> EmbedderChoice | None:
        """The embedder whose vectors this workspace's searches use: recorded when an
        index run completes, so a half-done switch to another model keeps the old one."""
        raw = self.workspace.get_meta(ACTIVE_EMBEDDER_META)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return EmbedderChoice(str(data["kind"]), str(data["model"]), int(data["dimensions"]))
        except (ValueError, KeyError, TypeError):
            log.warning("The workspace's embedder record is unreadable; using the settings")
            return None

    def _record_active(self, choice: EmbedderChoice) -> None:
        self.workspace.set_meta(
            ACTIVE_EMBEDDER_META,
            json.dumps(
                {"kind": choice.kind, "model": choice.model, "dimensions": choice.dimensions}
            ),
        )

    def options(self) -> list[EmbedderChoice]:
        """What the user can pick: every bundled model (offline, free), then the
        provider's embedding model."""
        from desktop.retrieval.local_embedder import available_models

        settings = self.settings
        local = [EmbedderChoice("local", name) for name in available_models()]
        remote = EmbedderChoice("openai", settings.embedding_model, settings.embedding_dimensions)
        return [*local, remote]

    @property
    def settings(self) -> Settings:
        return self._settings()

    def search_settings(self) -> SearchSettings:
        return search_settings(self.settings)

    def embedder(self, requested: str | EmbedderChoice | None = None) -> Embedder:
        choice = requested if isinstance(requested, EmbedderChoice) else self.choice(requested)
        if choice.kind == "local":
            cache_key: tuple[str, ...] = ("local", choice.model)
        else:
            config = self.provider.config()
            cache_key = (
                "openai",
                config.base_url,
                choice.model,
                str(choice.dimensions),
                str(bool(config.api_key)),
            )
        with self._lock:
            embedder = self._embedders.get(cache_key)
            if embedder is None:
                if choice.kind == "local":
                    embedder = LocalModelEmbedder(choice.model)
                else:
                    embedder = OpenAIEmbedder(
                        self.provider.client(), choice.model, dimensions=choice.dimensions or None
                    )
                self._embedders[cache_key] = embedder
        return embedder

    def threshold(self, requested: str | EmbedderChoice | None = None) -> float:
        """The similarity threshold searches with ``requested`` apply: the settings' own,
        or with "auto" the embedder's (a local model's, read from its config; the
        provider's models: ``DEFAULT_THRESHOLD``, without opening a client)."""
        chosen = self.settings.similarity_threshold
        if chosen >= 0:
            return chosen
        choice = requested if isinstance(requested, EmbedderChoice) else self.choice(requested)
        if choice.kind != "local":
            return DEFAULT_THRESHOLD
        return threshold_of(self.embedder(choice))

    def retriever(self, requested: str | EmbedderChoice | None = None) -> Retriever:
        return self._retriever_of(self.embedder(requested))

    def _retriever_of(self, embedder: Embedder) -> Retriever:
        key = embedder.key
        with self._lock:
            retriever = self._retrievers.get(key)
            if retriever is None:
                retriever = Retriever(self.workspace, embedder)
                if retriever.index is not None:
                    retriever.index.approximate_mode = self.approximate
                self._retrievers[key] = retriever
        if retriever.index is not None:
            # Read on every use: a change in Settings rebuilds the approximate index in
            # the background at the next search, the current one answering meanwhile.
            retriever.index.storage = "int8" if self.settings.compact_vectors else "float32"
        return retriever

    def plan(self, requested: str | EmbedderChoice | None = None) -> tuple[Embedder, IndexPlan]:
        """What an index run would embed, and its cost; ``requested`` None: ``target()``."""
        embedder = self.embedder(requested if requested is not None else self.target())
        plan = plan_index(self.workspace, embedder, prices(self.settings), self._rate(embedder))
        return embedder, plan

    def _rate(self, embedder: Embedder) -> tuple[float, str] | None:
        """Tokens per second for a local model's time estimate: the last long run in this
        workspace, else the rate measured for the model on two cores when it was added."""
        if embedder.paid:
            return None
        measured = self.workspace.get_meta(RATE_META + _rate_name(embedder.key))
        if measured:
            try:
                return float(measured), "at the rate measured on this computer"
            except ValueError:
                pass
        reference = getattr(embedder, "reference_rate", None)
        if reference:
            return float(reference), "at the rate measured on 2 cores; a first run measures yours"
        return None

    def status(self, requested: str | EmbedderChoice | None = None) -> IndexStatus:
        embedder = self.embedder(requested)
        chunks, embedded, truncated, windowed = index_status(self.workspace, embedder.key)
        return IndexStatus(embedder.key.label(), chunks, embedded, truncated, windowed)

    def lexical_retriever(self) -> Retriever:
        """BM25 alone: needs no embedder (and so no model load or key)."""
        with self._lock:
            retriever = self._retrievers.get("lexical")
            if retriever is None:
                retriever = self._retrievers["lexical"] = Retriever(self.workspace, None)
        return retriever

    def reranker(self, name: str | None = None, window: int | None = None) -> Reranker | None:
        """The reranker ``name`` ("off", "maxsim", "llm"; default: the settings'), or None
        for "off"; ``window``: MaxSim's tokens per candidate (default: the settings').
        The bundled one is loaded once and kept."""
        settings = self.settings
        name = settings.rerank if name is None else name
        if name not in RERANKERS:
            raise ValueError(f"unknown reranker {name!r}; use one of {', '.join(RERANKERS)}")
        if name == "off":
            return None
        if name == "llm":
            return LLMReranker(self._ask_chat_model, settings.chat_model)
        window = settings.rerank_window if window is None else window
        with self._lock:
            reranker = self._maxsim.get(window)
            if reranker is None:
                reranker = self._maxsim[window] = MaxSimReranker(window=window)
        return reranker

    def _ask_chat_model(self, prompt: str) -> str:
        import openai

        try:
            response = self.provider.client().chat.completions.create(
                model=self.settings.chat_model,
                messages=[{"role": "user", "content": prompt}],
                temperature=0,
            )
        except openai.OpenAIError as error:
            raise RerankError(f"the provider answered {type(error).__name__}") from error
        choice = response.choices[0] if response.choices else None
        return (choice.message.content or "") if choice is not None else ""

    def search(
        self,
        query: str,
        settings: SearchSettings | None = None,
        filters: SearchFilters | None = None,
        *,
        embedder: str | None = None,
        log_kind: str | None = "search",
        rerank: str | None = None,
        rerank_window: int | None = None,
    ) -> SearchResult:
        """What the chat, the retrieval test panel and ``ragtune search`` all call;
        ``rerank`` and ``rerank_window`` override the settings' reranker ("off", "maxsim",
        "llm") and its window."""
        settings = settings or self.search_settings()
        reranker = self.reranker(rerank, rerank_window)
        if isinstance(reranker, MaxSimReranker):
            reranker.load_in_background()  # while the embedder loads (the SDK, a model)
        retriever = (
            self.lexical_retriever() if settings.mode == "lexical" else self.retriever(embedder)
        )
        return retriever.search(query, settings, filters, log_kind=log_kind, reranker=reranker)

    def index(
        self, embedder: Embedder, plan: IndexPlan, *, wait_for_search_index: bool = False
    ) -> Generator[Progress, None, IndexResult]:
        """Embed what ``plan`` found missing, then bring the vector file (and, for a large
        library, the approximate index) up to date so the next search opens at once; a
        cancelled run keeps what it embedded, and others hear of it either way.
        ``wait_for_search_index``: build the approximate index here rather than on a
        background thread (``ragtune index``: the process ends after this)."""
        try:
            result = yield from run_index(self.workspace, embedder, plan)
            # The stemmed BM25 index catches up here, so the next search need not (about
            # 0.5 s per 10,000 new chunks).
            sync_stemmed(self.workspace)
            if not embedder.paid and result.tokens >= RATE_MIN_TOKENS and result.seconds > 0:
                self.workspace.set_meta(
                    RATE_META + _rate_name(embedder.key), f"{result.tokens / result.seconds:.1f}"
                )
            chunks, embedded, _cut, _windowed = index_status(self.workspace, embedder.key)
            retriever = self._retriever_of(embedder)
            if retriever.index is not None:
                yield Progress(0, 0, "updating the vector file")
                mode = retriever.index.approximate_mode
                if wait_for_search_index:
                    retriever.index.approximate_mode = "now"
                try:
                    retriever.index.sync(self.workspace)
                finally:
                    retriever.index.approximate_mode = mode
            if embedded >= chunks:
                self._record_active(choice_of_key(embedder.key))
            return result
        finally:
            self.events.publish(Topic.INDEX)
