"""Asking a question: retrieve, build the prompt, stream the answer, keep the record.

One generator per question, run on a worker: it yields the retrieved sources first (so
they are on screen before the first token), then the answer's deltas, and returns the
``AnswerRecord`` it saved to the conversation."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from desktop.chat.answer import AnswerDelta, AnswerOutcome, RateLimitWait, stream_answer
from desktop.chat.citations import cited_numbers
from desktop.chat.history import ChatHistory
from desktop.chat.prompt import PromptPlan, Turn, build_prompt
from desktop.progress import CancelToken, drive
from desktop.providers.client import ProviderAccess, ProviderConfig, make_client
from desktop.retrieval.search import RetrievedChunk, SearchResult, SearchSettings
from desktop.settings import Settings
from desktop.workspace import Workspace

if TYPE_CHECKING:
    import openai

    from desktop.retrieval.service import RetrievalService

NO_PROVIDER = (
    "Answering needs a chat model: set an API key, or the address of a local "
    "OpenAI-compatible server, in Settings. The retrieved sources are shown."
)


@dataclass(frozen=True)
class AskOptions:
    model: str
    mode: str = "rag"  # rag: grounded in retrieved chunks | none: the model alone
    search: SearchSettings = field(default_factory=SearchSettings)
    system_prompt: str | None = None
    max_tokens: int | None = None
    embedder: str | None = None  # local | openai; None: the workspace's own (RetrievalService)


@dataclass(frozen=True)
class SourcesReady:
    result: SearchResult


@dataclass
class AnswerRecord:
    conversation_id: int | None
    turn_id: int | None
    question: str
    options: AskOptions
    outcome: AnswerOutcome
    search: SearchResult | None
    plan: PromptPlan | None
    cited: list[int]

    @property
    def sources(self) -> list[RetrievedChunk]:
        return self.plan.sources if self.plan else (self.search.usable if self.search else [])

    @property
    def unused(self) -> list[int]:
        return [n for n in range(1, len(self.sources) + 1) if n not in self.cited]

    def to_json(self) -> dict[str, Any]:
        outcome = self.outcome
        return {
            "answer": outcome.text,
            "status": outcome.status,
            "note": outcome.status_note(),
            "model": self.options.model,
            "mode": self.options.mode,
            "citations": self.cited,
            "sources": [{"number": n, **s.to_json()} for n, s in enumerate(self.sources, start=1)],
            "usage": outcome.usage,
            "latency_ms": round(outcome.latency_ms, 1),
            "first_token_ms": None
            if outcome.first_token_ms is None
            else round(outcome.first_token_ms, 1),
            "retrieval_ms": None if self.search is None else round(self.search.latency_ms, 1),
        }


def plan_json(plan: PromptPlan | None) -> dict[str, Any]:
    if plan is None:
        return {}
    return {
        "messages": plan.messages,
        "parts": {p.name: p.tokens for p in plan.parts},
        "total_tokens": plan.total_tokens,
        "context_limit": plan.context_limit,
        "reserved_for_answer": plan.reserved_for_answer,
        "omitted_sources": [s.to_json() for s in plan.omitted_sources],
        "omitted_turns": plan.omitted_turns,
        "model": plan.model,
    }


def chat_client(config: ProviderConfig) -> openai.OpenAI:
    """No automatic retries for answers: a 429 is waited out visibly by the caller, and
    an open stream is never retried by the SDK anyway."""
    return make_client(dataclasses.replace(config, max_retries=0))


class ChatSession:
    """The chat's front door: the Chat tab, ``ragtune ask`` and the evaluation runs call
    it. Receives the workspace, the settings in force, the provider and retrieval; the
    client factory is injectable (tests count requests through it)."""

    def __init__(
        self,
        workspace: Workspace,
        settings: Callable[[], Settings],
        provider: ProviderAccess,
        retrieval: RetrievalService | None,
        *,
        client_factory: Callable[[ProviderConfig], openai.OpenAI] = chat_client,
    ) -> None:
        self.workspace = workspace
        self._settings = settings
        self.provider = provider
        self.retrieval = retrieval
        self.client_factory = client_factory
        self.history = ChatHistory(workspace)

    def ask(
        self,
        question: str,
        options: AskOptions,
        *,
        conversation_id: int | None = None,
        cancel: CancelToken | None = None,
        history: Sequence[Turn] | None = None,
        sources: SearchResult | None = None,
    ) -> Generator[SourcesReady | AnswerDelta | RateLimitWait, None, AnswerRecord]:
        """``sources``: in RAG mode, retrieved already (an evaluation run searches on its
        own, without logging its searches as the user's)."""
        cancel = cancel or CancelToken()
        store = self.history
        if history is None:
            history = [
                Turn(t.question, t.answer)
                for t in (store.turns(conversation_id) if conversation_id else [])
                if t.answer
            ]
        search: SearchResult | None = None
        if options.mode == "rag":
            if sources is not None:
                search = sources
            elif self.retrieval is None:
                raise ValueError("retrieval is needed to answer in RAG mode")
            else:
                search = self.retrieval.search(
                    question, options.search, embedder=options.embedder, log_kind="answer"
                )
            yield SourcesReady(search)
        config = self.provider.config()
        plan: PromptPlan | None = None
        if config.needs_key and not config.api_key:
            outcome = AnswerOutcome(
                "", "no_provider", options.model, error=NO_PROVIDER, error_kind="no_provider"
            )
        else:
            plan = build_prompt(
                question,
                search.usable if search else None,
                history,
                model=options.model,
                system_prompt=options.system_prompt,
                limit_override=int(self._settings().extra.get("context_limit", 0) or 0),
            )
            client = self.client_factory(config)
            try:
                outcome = yield from stream_answer(
                    client,
                    plan.messages,
                    model=options.model,
                    host=config.host,
                    cancel=cancel,
                    timeout=config.timeout,
                    max_tokens=options.max_tokens,
                )
            finally:
                client.close()
        cited = cited_numbers(outcome.text, len(plan.sources)) if plan else []
        record = AnswerRecord(
            conversation_id, None, question, options, outcome, search, plan, cited
        )
        if conversation_id is not None:
            note = outcome.status_note()
            record.turn_id = store.add_turn(
                conversation_id,
                question=question,
                answer=outcome.text,
                status=outcome.status,
                note=note,
                model=options.model,
                mode=options.mode,
                sources=[s.to_json() for s in record.sources],
                citations=cited,
                prompt=plan_json(plan),
                usage=outcome.usage,
                latency_ms=outcome.latency_ms,
                retrieval_ms=search.latency_ms if search else None,
            )
        return record

    def compare(
        self,
        question: str,
        columns: Sequence[CompareColumn],
        search: SearchSettings,
        *,
        cancel: CancelToken | None = None,
    ) -> Generator[ColumnDone, None, list[AnswerRecord]]:
        """The same question, one column at a time; nothing is added to a conversation."""
        cancel = cancel or CancelToken()
        records: list[AnswerRecord] = []
        for index, column in enumerate(columns):
            if cancel.cancelled:
                break
            started = time.perf_counter()
            record = drive(
                self.ask(
                    question,
                    AskOptions(model=column.model, mode=column.mode, search=search),
                    cancel=cancel,
                    history=(),
                )
            )
            record.outcome.latency_ms = (time.perf_counter() - started) * 1000
            records.append(record)
            yield ColumnDone(index, record)
        return records


@dataclass(frozen=True)
class CompareColumn:
    label: str
    model: str
    mode: str  # rag | none


def compare_columns(base_model: str, fine_tuned: str | None) -> list[CompareColumn]:
    """Base alone, base + RAG, and the same for a fine-tuned model when there is one."""
    columns = [
        CompareColumn("Base model alone", base_model, "none"),
        CompareColumn("Base + RAG", base_model, "rag"),
    ]
    if fine_tuned:
        columns += [
            CompareColumn("Fine-tuned alone", fine_tuned, "none"),
            CompareColumn("Fine-tuned + RAG", fine_tuned, "rag"),
        ]
    return columns


@dataclass(frozen=True)
class ColumnDone:
    index: int
    record: AnswerRecord
