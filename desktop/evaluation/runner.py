"""Running an eval set: a progress generator, driven by the one driver (the tab's worker,
``ragtune eval run``).

Questions go to a bounded pool of requests in flight (``RunConfig.concurrency``); each
result is written as soon as it is done, one row per (run, question), so a run stopped
or killed half-way keeps what it answered and a resumed run skips those questions
(never counting one twice). Cancel stops issuing new questions and waits for the ones
in flight (a question waiting out a 429 stops waiting and is left for the resume).
429s are waited out as the chat does (``RateLimitWait``, honouring Retry-After); a
question whose call fails (401, unknown model, 500, timeout, a cut stream) is recorded
as failed with the reason, and the run goes on.

Retrieval is searched here (under one lock: the retriever is one index for all) without
being logged as the user's searches, so the Decide tab's latency evidence stays the
user's own."""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from desktop.chat.answer import RateLimitWait
from desktop.chat.session import AskOptions
from desktop.errors import user_message
from desktop.evaluation import metrics
from desktop.evaluation.costs import usage_cost
from desktop.evaluation.formats import check_format
from desktop.evaluation.judge import DEFAULT_JUDGE_PROMPT, judge_answer
from desktop.evaluation.records import (
    EvalQuestion,
    FormatSpec,
    JudgeVerdict,
    QuestionResult,
    RetrievedSource,
    RunConfig,
)
from desktop.evaluation.sources import ChunkSpan, SourceResolver, covers, retrieval_scores
from desktop.progress import CancelToken, Progress, drive
from desktop.retrieval.rerank import DEFAULT_CANDIDATES
from desktop.retrieval.search import SearchResult, SearchSettings

if TYPE_CHECKING:
    from desktop.chat.session import ChatSession
    from desktop.evaluation.store import EvalStore
    from desktop.retrieval.service import RetrievalService
    from desktop.settings import Settings

log = logging.getLogger(__name__)

METRIC_DEPTH = 10
"""Chunks retrieved per question for the metrics (nDCG@10), whatever the run's k."""
POLL_SECONDS = 0.1


@dataclass(frozen=True)
class QuestionDone:
    """Yielded as each question's result is written."""

    result: QuestionResult
    done: int
    total: int


@dataclass(frozen=True)
class RunOutcome:
    run_id: int
    status: str
    written: int
    """Results written by this execution (a resumed run adds to the earlier ones)."""


class SharedClient:
    """One HTTP client for all of a run's answers: a client per answer (what the chat
    makes) costs a TLS context each, about as much CPU as the rest of the answer. The
    chat closes its client after each answer, so ``close`` does nothing here; the run
    ``release``s it at its end."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def close(self) -> None:
        """The chat's close after each answer: the run closes it once, at its end."""

    def release(self) -> None:
        self._client.close()


def search_settings_of(config: RunConfig) -> SearchSettings:
    search = config.search
    return SearchSettings(
        mode=str(search.get("mode", "hybrid")),
        k=config.k,
        threshold=float(search.get("threshold", 0.0)),
        vector_weight=float(search.get("vector_weight", 0.5)),
        rerank_candidates=int(search.get("rerank_candidates") or DEFAULT_CANDIDATES),
    )


def rerank_in_force(settings: Settings) -> dict[str, Any]:
    """The reranker part of a run's search settings: what ``_retrieve`` will use."""
    in_force: dict[str, Any] = {"rerank": settings.rerank}
    if settings.rerank != "off":
        in_force["rerank_candidates"] = settings.rerank_candidates
    if settings.rerank == "maxsim":
        in_force["rerank_window"] = settings.rerank_window
    return in_force


class RunExecution:
    """One execution of a run (a fresh one, or the resume of a stopped one)."""

    def __init__(
        self,
        run_id: int,
        config: RunConfig,
        questions: Sequence[EvalQuestion],
        answered: set[int],
        *,
        store: EvalStore,
        resolver: SourceResolver,
        format: FormatSpec,
        retrieval: RetrievalService | None,
        chat: ChatSession | None,
        judge_client: Callable[[], Any] | None = None,
        prices: Mapping[str, Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self.config = config
        self.questions = list(questions)
        self.answered = set(answered)
        self.store = store
        self.resolver = resolver
        self.format = format
        self.retrieval = retrieval
        self.chat = chat
        self.judge_client = judge_client
        self.prices = prices
        self._search_lock = threading.Lock()
        self._waiting: dict[int, CancelToken] = {}
        self._waiting_lock = threading.Lock()
        self._judge: Any = None
        settings = search_settings_of(config)
        self._prompt_search = settings
        self._metric_search = dataclasses.replace(settings, k=max(settings.k, METRIC_DEPTH))

    # -- one question --------------------------------------------------------------------

    def _retrieve(self, question: EvalQuestion) -> tuple[SearchResult, dict[str, float]]:
        assert self.retrieval is not None
        with self._search_lock:
            result = self.retrieval.search(
                question.question,
                self._metric_search,
                log_kind=None,
                rerank=self.config.rerank,
                rerank_window=self.config.search.get("rerank_window"),
            )
        spans = [ChunkSpan(r.document_id, r.start, r.end, r.text) for r in result.results]
        located = self.resolver.locate_all(question.sources) if question.sources else None
        references = question.references if question.answerable else ()
        scores = retrieval_scores(spans, located, references, self.config.k)
        return result, scores

    def _retrieved(
        self, result: SearchResult, question: EvalQuestion
    ) -> tuple[RetrievedSource, ...]:
        located = self.resolver.locate_all(question.sources) if question.sources else None
        out = []
        for hit in result.results:
            span = ChunkSpan(hit.document_id, hit.start, hit.end)
            relevant = None
            if located is not None:
                relevant = any(covers(span, s) for s in located)
            out.append(
                RetrievedSource(
                    rank=hit.rank,
                    chunk_id=hit.chunk_id,
                    document=hit.document,
                    document_id=hit.document_id,
                    start=hit.start,
                    end=hit.end,
                    score=hit.score,
                    relevant=relevant,
                    text=hit.text if hit.rank <= self.config.k else "",
                )
            )
        return tuple(out)

    def answer_one(self, question: EvalQuestion, token: CancelToken) -> QuestionResult | None:
        """The question's result; None when it was stopped before it had one (left for
        the resume)."""
        assert question.id is not None
        base = {
            "question_id": question.id,
            "position": question.position,
            "question": question.question,
            "reference": question.answer,
            "answerable": question.answerable,
        }
        scores: dict[str, float | None] = {}
        retrieved: tuple[RetrievedSource, ...] = ()
        search: SearchResult | None = None
        try:
            if self.config.retrieves:
                search, found = self._retrieve(question)
                scores.update(found)
                retrieved = self._retrieved(search, question)
            if not self.config.answers:
                return QuestionResult(
                    **base,
                    status="ok",
                    retrieved=retrieved,
                    metrics=scores,
                    latency_ms=search.latency_ms if search else None,
                )
            return self._answer(question, token, base, scores, retrieved, search)
        except Exception as exc:
            log.info("Question %s failed: %s", question.id, exc, exc_info=True)
            return QuestionResult(
                **base, status="failed", error=user_message(exc), retrieved=retrieved
            )

    def _answer(
        self,
        question: EvalQuestion,
        token: CancelToken,
        base: dict[str, Any],
        scores: dict[str, float | None],
        retrieved: tuple[RetrievedSource, ...],
        search: SearchResult | None,
    ) -> QuestionResult | None:
        assert self.chat is not None and question.id is not None
        config = self.config
        options = AskOptions(
            model=config.model,
            mode="rag" if config.retrieves else "none",
            search=self._prompt_search,
            system_prompt=config.system_prompt or None,
        )
        for_prompt = None
        if search is not None:
            for_prompt = dataclasses.replace(search, results=search.results[: config.k])

        def step(event: object) -> None:
            if isinstance(event, RateLimitWait):
                with self._waiting_lock:
                    self._waiting[question.id or 0] = token

        record = drive(
            self.chat.ask(question.question, options, cancel=token, history=(), sources=for_prompt),
            step,
        )
        with self._waiting_lock:
            self._waiting.pop(question.id, None)
        outcome = record.outcome
        if outcome.status == "stopped":
            return None
        usage = {k: int(v) for k, v in outcome.usage.items() if isinstance(v, int)}
        if not outcome.ok:
            return QuestionResult(
                **base,
                status="failed",
                answer=outcome.text,
                error=outcome.status_note(),
                retrieved=retrieved,
                latency_ms=outcome.latency_ms,
                usage=usage,
            )
        scores.update(metrics.answer_scores(outcome.text, question.references, question.answerable))
        violation = None
        if self.format.declared:
            violation = check_format(outcome.text, self.format)
            scores[metrics.FORMAT_ADHERENCE] = float(violation is None)
        verdict = self._judge_one(question, outcome.text, record.sources)
        if verdict is not None and verdict.status == "judged":
            scores[metrics.CORRECT] = float(bool(verdict.correct))
            if config.retrieves and verdict.faithful is not None:
                scores[metrics.FAITHFUL] = float(verdict.faithful)
        return QuestionResult(
            **base,
            status="ok",
            answer=outcome.text,
            retrieved=retrieved,
            metrics=scores,
            judge=verdict,
            format_violation=violation,
            latency_ms=outcome.latency_ms,
            usage=usage,
            cost_usd=usage_cost(config.model, usage, self.prices),
        )

    def _judge_one(self, question: EvalQuestion, answer: str, sources: Any) -> JudgeVerdict | None:
        config = self.config
        if not config.judge_model or self.judge_client is None:
            return None
        if self._judge is None:
            self._judge = self.judge_client()
        return judge_answer(
            self._judge,
            config.judge_model,
            config.judge_prompt or DEFAULT_JUDGE_PROMPT,
            question=question.question,
            reference=question.answer,
            answer=answer,
            sources=[s.text for s in sources] if config.retrieves else [],
            wants_faithful=config.retrieves,
            explain=user_message,
        )

    # -- the run ---------------------------------------------------------------------------

    def run(self, cancel: CancelToken | None = None) -> Generator[Any, None, RunOutcome]:
        cancel = cancel or CancelToken()
        shared: SharedClient | None = None
        if self.chat is not None:
            made = self.chat.client_factory(self.chat.provider.config())
            shared = SharedClient(made)
            self.chat.client_factory = lambda _config: shared
        todo = [q for q in self.questions if q.id not in self.answered]
        total = len(self.questions)
        done = total - len(todo)
        written = 0
        status = "running"
        yield Progress(done, total, f"{done} of {total} questions answered")
        try:
            if self.config.answers and self.config.concurrency > 1:
                pooled = self._pooled(todo, cancel, done, total)
                written = yield from pooled
            else:
                for question in todo:
                    if cancel.cancelled:
                        break
                    # The question in flight finishes: stop only stops issuing.
                    result = self.answer_one(question, CancelToken())
                    if result is not None and self.store.save_result(self.run_id, result):
                        written += 1
                        done += 1
                        yield QuestionDone(result, done, total)
                        yield Progress(done, total, f"{done} of {total} questions")
            status = "stopped" if cancel.cancelled else "complete"
        except GeneratorExit:
            status = "stopped"
            raise
        except BaseException as exc:
            status = "failed"
            self.store.set_run_status(self.run_id, "failed", error=user_message(exc))
            raise
        finally:
            if self._judge is not None:
                self._judge.close()
            if shared is not None:
                shared.release()
            if status != "failed":
                self._finish(status if status != "running" else "stopped")
        return RunOutcome(self.run_id, status, written)

    def _pooled(
        self, todo: list[EvalQuestion], cancel: CancelToken, done: int, total: int
    ) -> Generator[Any, None, int]:
        written = 0
        queue = iter(todo)
        stopping = False
        pending: dict[Future[QuestionResult | None], EvalQuestion] = {}
        pool = ThreadPoolExecutor(
            max_workers=self.config.concurrency, thread_name_prefix=f"eval-run-{self.run_id}"
        )
        closed_early = True
        try:
            while True:
                if cancel.cancelled and not stopping:
                    stopping = True
                    self._stop_waiting()
                while not stopping and len(pending) < self.config.concurrency:
                    question = next(queue, None)
                    if question is None:
                        break
                    token = CancelToken()
                    pending[pool.submit(self.answer_one, question, token)] = question
                if not pending:
                    break
                finished, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
                for future in finished:
                    pending.pop(future)
                    result = future.result()
                    if result is not None and self.store.save_result(self.run_id, result):
                        written += 1
                        done += 1
                        yield QuestionDone(result, done, total)
                flying = f"{len(pending)} in flight"
                yield Progress(done, total, f"{done} of {total} questions ({flying})")
            closed_early = False
        finally:
            if closed_early:  # closed by the driver: finish what is in flight, keep it
                self._stop_waiting()
                for future in list(pending):
                    result = future.result()
                    if result is not None:
                        self.store.save_result(self.run_id, result)
            pool.shutdown(wait=True, cancel_futures=True)
        return written

    def _stop_waiting(self) -> None:
        """Questions waiting out a 429 stop waiting (they are asked again on resume);
        answers being written are let finish."""
        with self._waiting_lock:
            tokens = list(self._waiting.values())
        for token in tokens:
            token.cancel()

    def _finish(self, status: str) -> None:
        results = self.store.results(self.run_id)
        self.store.set_run_status(
            self.run_id,
            status,
            metrics=summarise(results, self.config, self.format, planned=len(self.questions)),
        )


def summarise(
    results: Sequence[QuestionResult], config: RunConfig, format: FormatSpec, *, planned: int
) -> dict[str, Any]:
    """A run's metrics: each per-question score averaged over the answered questions
    that have it (keys as in ``metrics``), with counts, latency, tokens and cost."""
    ok = [r for r in results if r.ok]
    summary: dict[str, Any] = {
        "questions": planned,
        "answered": len(ok),
        "failed": sum(1 for r in results if not r.ok),
        "k": config.k,
    }
    rows = [r.metrics for r in ok]
    for key in metrics.SHARE_KEYS:
        value, count = metrics.mean_of(rows, key)
        if count:
            summary[key] = round(value, 4) if value is not None else None
    if config.answers and format.declared and metrics.FORMAT_ADHERENCE not in summary:
        summary[metrics.FORMAT_ADHERENCE] = None
    if config.judge_model:
        summary["unjudged"] = sum(1 for r in ok if r.judge is None or r.judge.status != "judged")
    summary.update(metrics.latency_figures([r.latency_ms for r in ok if r.latency_ms is not None]))
    if config.answers:
        tokens = [r.usage.get("total_tokens", 0) for r in ok if r.usage]
        summary["tokens_per_answer"] = round(sum(tokens) / len(tokens), 1) if tokens else None
        costs = [r.cost_usd for r in ok]
        known = [c for c in costs if c is not None]
        summary["cost_per_answer_usd"] = (
            round(sum(known) / len(known), 6) if known and len(known) == len(costs) else None
        )
        summary["cost_usd"] = round(sum(known), 4) if known and len(known) == len(costs) else None
    return summary
