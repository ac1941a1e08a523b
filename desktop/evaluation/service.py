"""The evaluation's front door, behind the Evaluate tab and ``ragtune eval``: eval sets
(made by hand, imported, drafted, saved from chat, held out from a dataset), the leakage
guard, runs (estimated, executed, resumed, compared), and the offline retrieval sweep.

It receives what it needs: the workspace, the settings in force, the provider, and the
other front doors it asks (the library for documents and chunks, retrieval for searches,
the chat for answers, fine-tuning for datasets), never the app context. Changes are
announced on ``Topic.EVALUATION``. Every method does disk or network work: the UI calls
them on workers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from desktop.evaluation import files
from desktop.evaluation.compare import Comparison, compare_runs
from desktop.evaluation.costs import RunEstimate, estimate_run
from desktop.evaluation.drafting import DraftedQuestion, SourceChunk, draft_questions, spread
from desktop.evaluation.edits import SetEdit
from desktop.evaluation.formats import check_schema, infer_format
from desktop.evaluation.judge import DEFAULT_JUDGE_PROMPT, check_prompt
from desktop.evaluation.leakage import LeakedExample, find_leaks
from desktop.evaluation.records import (
    FINE_TUNED_MODES,
    MODES,
    EvalQuestion,
    EvalRun,
    EvalSet,
    ExpectedSource,
    FormatSpec,
    QuestionResult,
    RunConfig,
    first_questions,
    questions_hash,
)
from desktop.evaluation.runner import RunExecution, RunOutcome, rerank_in_force
from desktop.evaluation.sources import DocumentRef, SourceResolver
from desktop.evaluation.store import EvalSetError, EvalStore, SweepRecord
from desktop.evaluation.sweep import ScratchDocument, SweepGrid, SweepResult, SweepRow, run_sweep
from desktop.evaluation.sweep import strategy_for as sweep_strategy
from desktop.events import EventBus, Topic
from desktop.library.chunking import strategy_params
from desktop.progress import CancelToken, Progress, ProgressGenerator
from desktop.retrieval.local_embedder import available_models
from desktop.retrieval.service import EmbedderChoice
from desktop.tokens import get_tokenizer

if TYPE_CHECKING:
    from desktop.chat.session import ChatSession
    from desktop.finetune.service import FineTuneService
    from desktop.library.service import LibraryService
    from desktop.providers.client import ProviderAccess
    from desktop.retrieval.search import RetrievedChunk
    from desktop.retrieval.service import RetrievalService
    from desktop.settings import Settings
    from desktop.workspace import Workspace

log = logging.getLogger(__name__)

SAVED_QUESTIONS = "Saved from chat"
"""The set a chat answer goes to when none is chosen."""


class EvaluationError(ValueError):
    """A request the evaluation cannot carry out, with what to do instead."""


@dataclass(frozen=True)
class SetSnapshot:
    """The sets as one read saw them, and the questions of the one shown, with the leaks
    found for them (question id → the training examples holding it)."""

    sets: tuple[EvalSet, ...]
    set_id: int | None
    questions: list[EvalQuestion]
    leaks: Mapping[int, list[LeakedExample]]


@dataclass(frozen=True)
class ImportOutcome:
    path: Path
    set_name: str
    imported: int
    problems: list[Any]
    format: str

    def summary(self) -> str:
        text = f"{self.imported:,} question(s) imported into “{self.set_name}”"
        if self.problems:
            text += f"; {len(self.problems):,} line(s) could not be read"
        return text


@dataclass(frozen=True)
class RunView:
    """A run with its per-question results."""

    run: EvalRun
    results: list[QuestionResult]

    def to_json(self) -> dict[str, Any]:
        return {**self.run.to_json(), "results": [r.to_json() for r in self.results]}


class EvaluationService:
    def __init__(
        self,
        workspace: Workspace,
        settings: Callable[[], Settings],
        provider: ProviderAccess,
        *,
        library: Callable[[], LibraryService],
        retrieval: Callable[[], RetrievalService],
        chat: Callable[[], ChatSession],
        finetune: Callable[[], FineTuneService] | None = None,
        save_settings: Callable[[Settings], None] | None = None,
        events: EventBus | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.events = events or EventBus()
        self._settings = settings
        self._provider = provider
        self._library = library
        self._retrieval = retrieval
        self._chat = chat
        self._finetune = finetune
        self._save_settings = save_settings
        self.store = EvalStore(workspace, clock=clock)

    def settings(self) -> Settings:
        return self._settings()

    @contextmanager
    def _announce(self) -> Iterator[None]:
        try:
            yield
        finally:
            self.events.publish(Topic.EVALUATION)

    # -- sets ---------------------------------------------------------------------------

    def sets(self) -> list[EvalSet]:
        return self.store.sets()

    def eval_set(self, reference: int | str) -> EvalSet:
        """By id or name; the error for an unknown name lists the names there are."""
        if isinstance(reference, int):
            return self.store.get_set(reference)
        found = self.store.set_by_name(reference)
        if found is None:
            known = ", ".join(s.name for s in self.store.sets()) or "none yet"
            raise EvalSetError(f"no eval set named {reference!r} (eval sets: {known})")
        return found

    def questions(self, reference: int | str) -> list[EvalQuestion]:
        return self.store.questions(self.eval_set(reference).id)

    def create_set(self, name: str, format: FormatSpec | None = None) -> EvalSet:
        with self._announce():
            return self.store.create_set(name, format)

    def apply(self, edit: SetEdit, forward: bool = True) -> SetEdit:
        """Do (or with ``forward=False`` undo) an undoable edit."""
        with self._announce():
            return edit.run(self.store, forward)

    def snapshot(self, wanted: int | None) -> SetSnapshot:
        sets = tuple(self.store.sets())
        ids = [s.id for s in sets]
        chosen = wanted if wanted in ids else (ids[0] if ids else None)
        questions = self.store.questions(chosen) if chosen is not None else []
        return SetSnapshot(sets, chosen, questions, self._leaks(questions))

    def set_format(self, reference: int | str, format: FormatSpec) -> FormatSpec:
        if format.kind == "json_schema":
            check_schema(format.schema)
        with self._announce():
            return self.store.set_format(self.eval_set(reference).id, format)

    # -- the leakage guard ------------------------------------------------------------------

    def _training_data(self) -> list[tuple[str, Sequence[object]]]:
        if self._finetune is None:
            return []
        service = self._finetune()
        try:
            return [(d.name, service.examples(d.id)) for d in service.datasets()]
        finally:
            service.close()

    def _leaks(self, questions: Sequence[EvalQuestion]) -> dict[int, list[LeakedExample]]:
        if not questions:
            return {}
        found = find_leaks([q.question for q in questions], self._training_data())
        return {questions[i].id or 0: leaks for i, leaks in found.items()}

    def leaks(self, reference: int | str) -> dict[int, list[LeakedExample]]:
        """Eval questions (by id) that training examples (near-)duplicate."""
        return self._leaks(self.questions(reference))

    def leakage_questions(self) -> tuple[list[str], list[str]]:
        """Every eval question, and a label naming it, for the dataset builder's check."""
        texts, labels = [], []
        for eval_set, question in self.store.all_questions():
            texts.append(question.question)
            labels.append(f"eval question {question.position + 1} of “{eval_set.name}”")
        return texts, labels

    # -- files ---------------------------------------------------------------------------

    @staticmethod
    def read_file(
        path: Path,
        format: str = "auto",
        *,
        mapping: Mapping[str, str] | None = None,
        has_header: bool = True,
    ) -> files.ReadQuestions:
        return files.read_questions(Path(path), format, mapping=mapping, has_header=has_header)

    @staticmethod
    def csv_columns(path: Path) -> list[str]:
        return files.csv_columns(Path(path))

    def import_file(
        self,
        path: Path,
        set_name: str,
        format: str = "auto",
        *,
        mapping: Mapping[str, str] | None = None,
        has_header: bool = True,
    ) -> ImportOutcome:
        """Read a file into the set named ``set_name`` (made if new); lines that could not
        be read are in the outcome's problems, with their line numbers."""
        read = self.read_file(path, format, mapping=mapping, has_header=has_header)
        with self._announce():
            found = self.store.set_by_name(set_name) or self.store.create_set(set_name)
            added = self.store.add_questions(found.id, read.questions) if read.questions else []
        return ImportOutcome(Path(path), found.name, len(added), list(read.problems), read.format)

    def export(self, reference: int | str, path: Path) -> int:
        return files.export_questions(self.questions(reference), Path(path))

    # -- questions from elsewhere -----------------------------------------------------------

    @staticmethod
    def question_from_chat(
        question: str, answer: str, sources: Sequence[RetrievedChunk] = ()
    ) -> EvalQuestion:
        """A chat turn as an eval question: its answer as the reference (to be checked),
        the chunks it cited or was given as expected sources."""
        return EvalQuestion(
            question=question.strip(),
            answer=answer.strip(),
            sources=tuple(
                ExpectedSource(s.document, s.text, s.start, s.end) for s in list(sources)[:3]
            ),
            tags=("from chat",),
            origin="saved from a chat answer",
        )

    def dataset_names(self) -> list[str]:
        """The fine-tuning datasets a format can be inferred from (or held out)."""
        if self._finetune is None:
            return []
        service = self._finetune()
        try:
            return [d.name for d in service.datasets()]
        finally:
            service.close()

    def infer_format(self, dataset: int | str) -> tuple[FormatSpec, str]:
        if self._finetune is None:
            raise EvaluationError("this evaluation was made without the fine-tuning data")
        service = self._finetune()
        try:
            found = service.dataset(dataset)
            return infer_format(service.examples(found.id), f"dataset “{found.name}”")
        finally:
            service.close()

    def held_out_questions(self, dataset: int | str) -> tuple[str, list[EvalQuestion], FormatSpec]:
        """A dataset's validation split as eval questions (the last user message, the last
        assistant reply as reference), and the format its replies share."""
        if self._finetune is None:
            raise EvaluationError("this evaluation was made without the fine-tuning data")
        service = self._finetune()
        try:
            found = service.dataset(dataset)
            examples = service.examples(found.id)
        finally:
            service.close()
        held = [e for e in examples if getattr(e, "split", "train") == "validation"]
        questions = []
        for number, example in enumerate(examples, start=1):
            if example not in held:
                continue
            record = example.to_openai()
            messages = [m for m in record.get("messages") or [] if isinstance(m, dict)]
            users = [m.get("content") for m in messages if m.get("role") == "user"]
            replies = [m.get("content") for m in messages if m.get("role") == "assistant"]
            if not users or not isinstance(users[-1], str) or not users[-1].strip():
                continue
            questions.append(
                EvalQuestion(
                    question=users[-1].strip(),
                    answer=replies[-1].strip() if replies and isinstance(replies[-1], str) else "",
                    tags=("held out",),
                    origin=f"held out from “{found.name}” example {number}",
                )
            )
        if not questions:
            raise EvaluationError(
                f"“{found.name}” has no validation examples: split it first (Split… in the "
                "dataset builder), then hold the validation part out"
            )
        format, _message = infer_format(examples, f"dataset “{found.name}”")
        return found.name, questions, format

    def hold_out(self, dataset: int | str) -> tuple[EvalSet, int]:
        """Make an eval set from a dataset's validation split; returns it and the count."""
        name, questions, format = self.held_out_questions(dataset)
        set_name = self._free_name(f"{name} (held out)")
        with self._announce():
            made = self.store.create_set(set_name, format)
            self.store.add_questions(made.id, questions)
        return self.store.get_set(made.id), len(questions)

    def _free_name(self, name: str) -> str:
        candidate, number = name, 2
        while self.store.set_by_name(candidate) is not None:
            candidate, number = f"{name} ({number})", number + 1
        return candidate

    # -- drafting -------------------------------------------------------------------------

    def library_chunks(self) -> list[SourceChunk]:
        library = self._library()
        titles = {d.id: d.title for d in library.documents()}
        return [
            SourceChunk(titles.get(c.document_id, "?"), c.document_id, c.start, c.end, c.text)
            for c in library.chunks()
        ]

    def draft(
        self,
        count: int,
        *,
        model: str | None = None,
        cancel: CancelToken | None = None,
    ) -> Generator[Any, None, list[DraftedQuestion]]:
        """Draft ``count`` questions from chunks spread over the library (a progress
        generator yielding each draft as it is read)."""
        if count < 1:
            raise EvaluationError("draft at least one question")
        chunks = spread(self.library_chunks(), count)
        if not chunks:
            raise EvaluationError(
                "the library is empty: import documents first (Library tab, or ragtune import)"
            )
        chosen = model or self.settings().chat_model
        return (yield from draft_questions(self._provider.client, chosen, chunks, cancel=cancel))

    # -- runs ----------------------------------------------------------------------------------

    def fine_tuned_models(self) -> list[str]:
        """Models the workspace's succeeded jobs made, newest first (no network)."""
        if self._finetune is None:
            return []
        service = self._finetune()
        try:
            models = [j.fine_tuned_model for j in service.jobs() if j.fine_tuned_model]
        finally:
            service.close()
        return list(dict.fromkeys(m for m in models if m))

    def config(
        self,
        mode: str,
        *,
        model: str | None = None,
        judge_model: str = "",
        judge_prompt: str | None = None,
        system_prompt: str = "",
        k: int | None = None,
        search_mode: str | None = None,
        limit: int | None = None,
        concurrency: int | None = None,
    ) -> RunConfig:
        """A run's configuration with the retrieval settings in force (embedder, mode, k,
        threshold, the library's chunking) filled in; checks it can run."""
        if mode not in MODES:
            raise EvaluationError(f"unknown mode {mode!r}; use {', '.join(MODES)}")
        settings = self.settings()
        chosen_model = model or ""
        if mode in FINE_TUNED_MODES and not chosen_model:
            tuned = self.fine_tuned_models()
            if not tuned:
                raise EvaluationError(
                    f"mode {mode} needs a fine-tuned model: give one with --model (or in the "
                    "run dialog); no job of this workspace has made one yet"
                )
            chosen_model = tuned[0]
        if mode not in ("retrieval",) and not chosen_model:
            chosen_model = settings.chat_model
        if mode == "retrieval":
            chosen_model = ""
            judge_model = ""
        prompt = judge_prompt if judge_prompt is not None else DEFAULT_JUDGE_PROMPT
        if judge_model:
            check_prompt(prompt)
        if k is not None and k < 1:
            raise EvaluationError("k must be at least 1")
        if limit is not None and limit < 1:
            raise EvaluationError("--limit must be at least 1")
        retrieval = self._retrieval()
        library = self._library()
        chunking = library.chunking()
        return RunConfig(
            mode=mode,
            model=chosen_model,
            judge_model=judge_model,
            judge_prompt=prompt if judge_model else "",
            system_prompt=system_prompt,
            search={
                "mode": search_mode or settings.search_mode,
                "k": k or settings.search_k,
                # "auto" resolved now: the run keeps the number it was measured with.
                "threshold": retrieval.threshold(),
                "vector_weight": settings.hybrid_vector_weight,
                **rerank_in_force(settings),
            },
            embedder=retrieval.choice().label() if mode != "base" and mode != "ft" else "",
            chunking={**strategy_params(chunking.strategy), "encoding": chunking.encoding},
            limit=limit,
            concurrency=concurrency or settings.eval_concurrency,
        )

    def estimate(self, reference: int | str, config: RunConfig) -> RunEstimate:
        """Tokens and cost of the run before it starts."""
        questions = first_questions(self.questions(reference), config.limit)
        _documents, chunks, tokens = self._library().totals()
        return estimate_run(
            [q.question for q in questions],
            [q.answer for q in questions],
            model=config.model or self.settings().chat_model,
            answers=config.answers,
            retrieves=config.retrieves,
            k=config.k,
            mean_chunk_tokens=tokens / chunks if chunks else 0.0,
            judge_model=config.judge_model,
            overrides=self.settings().extra.get("answer_prices"),
        )

    def start_run(self, reference: int | str, config: RunConfig) -> EvalRun:
        """Record a run (status "running"); ``run_questions`` then answers them."""
        found = self.eval_set(reference)
        questions = self.store.questions(found.id)
        if not questions:
            raise EvaluationError(
                f"“{found.name}” has no questions yet: add some in the Evaluate tab or with "
                "ragtune eval import"
            )
        planned = len(first_questions(questions, config.limit))
        with self._announce():
            run_id = self.store.create_run(
                found.id, found.name, questions_hash(questions), config, planned
            )
        run = self.store.run(run_id)
        assert run is not None
        return run

    def run_questions(
        self, run_id: int, cancel: CancelToken | None = None
    ) -> Generator[Any, None, RunOutcome]:
        """Answer the run's questions not answered yet (a progress generator that also
        yields ``QuestionDone`` per result); drive it with ``stops_itself``: a cancelled
        run returns what it has, marked stopped, and can be resumed."""
        run = self.store.run(run_id)
        if run is None:
            raise EvaluationError(f"there is no run {run_id}")
        if run.set_id is None:
            raise EvaluationError(f"run {run_id}'s eval set was deleted: it cannot go on")
        if run.stale:
            raise EvaluationError(
                f"“{run.set_name}” changed since run {run_id} started, so finishing it would "
                "mix two versions of the set: start a new run"
            )
        if run.status == "complete":
            raise EvaluationError(f"run {run_id} is complete already")
        eval_set = self.store.get_set(run.set_id)
        questions = first_questions(self.store.questions(run.set_id), run.config.limit)
        library = self._library()
        documents = [DocumentRef(d.id, d.title, d.source_path) for d in library.documents()]
        execution = RunExecution(
            run_id,
            run.config,
            questions,
            self.store.answered_ids(run_id),
            store=self.store,
            resolver=SourceResolver(documents, lambda i: library.text(i)[0]),
            format=eval_set.format,
            retrieval=self._retrieval() if run.config.retrieves else None,
            chat=self._chat() if run.config.answers else None,
            judge_client=self._provider.client if run.config.judge_model else None,
            prices=self.settings().extra.get("answer_prices"),
        )
        self.store.set_run_status(run_id, "running")
        try:
            return (yield from execution.run(cancel))
        finally:
            self.events.publish(Topic.EVALUATION)

    def runs(self, reference: int | str | None = None) -> list[EvalRun]:
        set_id = None if reference is None else self.eval_set(reference).id
        return self.store.runs(set_id)

    def run(self, run_id: int) -> EvalRun:
        found = self.store.run(run_id)
        if found is None:
            raise EvaluationError(f"there is no run {run_id} (see ragtune eval runs)")
        return found

    def run_view(self, run_id: int) -> RunView:
        return RunView(self.run(run_id), self.store.results(run_id))

    def delete_run(self, run_id: int) -> None:
        with self._announce():
            self.store.delete_run(run_id)

    def compare(self, run_ids: Sequence[int]) -> Comparison:
        runs = [self.run(i) for i in run_ids]
        return compare_runs(runs, [self.store.results(r.id) for r in runs])

    # -- the retrieval sweep ------------------------------------------------------------------

    def sweep(
        self, reference: int | str, grid: SweepGrid, cancel: CancelToken | None = None
    ) -> Generator[Progress, None, SweepResult]:
        """The grid over scratch copies of the library's texts; the library is read,
        never changed. The result is saved with the set."""
        found = self.eval_set(reference)
        questions = self.store.questions(found.id)
        library = self._library()
        records = library.documents()
        documents = []
        for record in records:
            text, pages = library.text(record.id)
            documents.append(ScratchDocument(record.id, text, pages))
        texts = {d.id: d.text for d in documents}
        resolver = SourceResolver(
            [DocumentRef(d.id, d.title, d.source_path) for d in records], texts.__getitem__
        )
        retrieval = self._retrieval()

        def embedder_for(name: str) -> Any:
            settings = self.settings()
            if name == "openai":
                choice = EmbedderChoice(
                    "openai", settings.embedding_model, settings.embedding_dimensions
                )
            else:
                choice = EmbedderChoice("local", name)
            return retrieval.embedder(choice)

        tokenizer = get_tokenizer(library.chunking().encoding)
        result = yield from run_sweep(
            grid, questions, documents, resolver, embedder_for, tokenizer, cancel=cancel
        )
        with self._announce():
            self.store.save_sweep(found.id, found.name, result.to_json())
        return result

    def sweeps(self, reference: int | str | None = None) -> list[SweepRecord]:
        set_id = None if reference is None else self.eval_set(reference).id
        return self.store.sweeps(set_id)

    def sweep_embedders(self) -> list[str]:
        """What a sweep can embed with: the bundled models (free, offline)."""
        return available_models()

    def apply_configuration(self, row: SweepRow) -> ProgressGenerator[str]:
        """Make a sweep's row the library's configuration: re-chunk through the library's
        front door (planned, then applied in one transaction), and the embedder, search
        mode and k in the settings. Returns what was done and what is left to do."""
        if self._save_settings is None:
            raise EvaluationError("this evaluation was made without a way to save settings")
        library = self._library()
        strategy = sweep_strategy(row.strategy, row.size)
        plan = yield from library.plan_rechunk(strategy)
        diff = library.apply_rechunk(plan)
        settings = self.settings().replace(search_mode=row.mode, search_k=row.k)
        if row.embedder and row.embedder != "openai":
            settings = settings.replace(retrieval_embedder="local", local_model=row.embedder)
        elif row.embedder == "openai":
            settings = settings.replace(retrieval_embedder="openai")
        self._save_settings(settings)
        yield Progress(1, 1, "Applied")
        self.events.publish(Topic.EVALUATION)
        left = " Index the library again (Library tab, or ragtune index) to embed the new chunks."
        return (
            f"Re-chunked the library with {row.strategy} {row.size} "
            f"({diff.changed:,} chunk changes); search is now {row.mode} with k={row.k}"
            + (f" and the embedder {row.embedder}" if row.embedder else "")
            + "."
            + (left if diff.added else "")
        )
