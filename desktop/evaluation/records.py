"""What the evaluation keeps: eval sets and their questions (each with a reference answer
and, where known, the expected source), runs and their per-question results. Plain
values, as the store, the commands and the tab pass them around."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MODES = ("retrieval", "base", "rag", "ft", "ft-rag")
MODE_LABELS = {
    "retrieval": "Retrieval only",
    "base": "Base model",
    "rag": "Base + RAG",
    "ft": "Fine-tuned",
    "ft-rag": "Fine-tuned + RAG",
}
ANSWERING_MODES = frozenset({"base", "rag", "ft", "ft-rag"})
RETRIEVING_MODES = frozenset({"retrieval", "rag", "ft-rag"})
FINE_TUNED_MODES = frozenset({"ft", "ft-rag"})

NOT_IN_DOCUMENTS = "not in the documents"
"""The reference answer of a question the documents cannot answer (SQuAD v2's
unanswerable questions): the right answer says so."""


@dataclass(frozen=True)
class ExpectedSource:
    """Where a question's answer is: a document (its title, file name or path, as the
    library knows it) and, where known, the passage: its text and/or its character
    offsets in the document's text. Chunks are matched to it by overlap, so it survives
    re-chunking."""

    document: str
    passage: str = ""
    start: int | None = None
    end: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"document": self.document}
        if self.passage:
            data["passage"] = self.passage
        if self.start is not None and self.end is not None:
            data["start"], data["end"] = self.start, self.end
        return data

    @classmethod
    def from_json(cls, data: Any) -> ExpectedSource | None:
        if isinstance(data, str):
            return cls(data.strip()) if data.strip() else None
        if not isinstance(data, Mapping):
            return None
        document = str(data.get("document") or data.get("source") or "").strip()
        passage = str(data.get("passage") or "")
        start, end = data.get("start"), data.get("end")
        if not isinstance(start, int) or not isinstance(end, int) or end <= start:
            start = end = None
        if not document and not passage:
            return None
        return cls(document, passage, start, end)

    def describe(self) -> str:
        if not self.passage:
            return self.document
        shown = " ".join(self.passage.split())
        shown = shown if len(shown) <= 60 else shown[:57] + "…"
        return f"{self.document}: “{shown}”" if self.document else f"“{shown}”"


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    answer: str = ""
    sources: tuple[ExpectedSource, ...] = ()
    answerable: bool = True
    alternatives: tuple[str, ...] = ()
    """Other right answers (SQuAD lists several): the answer metrics take the best."""
    """False for a question the documents cannot answer: refusing is right."""
    tags: tuple[str, ...] = ()
    origin: str = ""
    """Where it came from ("imported from x.jsonl line 4", "drafted by gpt-4.1 from …")."""
    id: int | None = None
    position: int = 0

    def to_json(self) -> dict[str, Any]:
        """One line of an exported set (and of ``ragtune eval`` output)."""
        data: dict[str, Any] = {"question": self.question, "answer": self.answer}
        if self.sources:
            data["sources"] = [s.to_json() for s in self.sources]
        if self.alternatives:
            data["alternatives"] = list(self.alternatives)
        if not self.answerable:
            data["answerable"] = False
        if self.tags:
            data["tags"] = list(self.tags)
        return data

    def content_key(self) -> tuple[Any, ...]:
        """What a run depends on: a change here makes the set's earlier runs stale."""
        return (
            self.question,
            self.answer,
            self.answerable,
            self.alternatives,
            tuple(json.dumps(s.to_json(), sort_keys=True) for s in self.sources),
        )

    @property
    def references(self) -> tuple[str, ...]:
        """Every right answer: the reference first, then the alternatives."""
        return tuple(a for a in (self.answer, *self.alternatives) if a.strip())


def questions_hash(questions: Iterable[EvalQuestion]) -> str:
    """A fingerprint of the questions as a run sees them (in order): a run made against
    another fingerprint is stale."""
    digest = hashlib.sha256()
    for question in questions:
        digest.update(json.dumps(question.content_key(), ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class FormatSpec:
    """The format answers are expected in, declared by the set: ``json`` (any JSON object
    or array), ``json_schema`` (JSON valid against ``schema``, the subset in
    ``formats.py``), ``template`` (the keys or the line template inferred from a dataset's
    assistant replies), or ``none``."""

    kind: str = "none"
    schema: Mapping[str, Any] | None = None
    json_keys: tuple[str, ...] = ()
    skeleton: tuple[str, ...] = ()
    source: str = ""
    """Where a template came from ("dataset “Support replies”")."""

    @property
    def declared(self) -> bool:
        return self.kind != "none"

    def describe(self) -> str:
        if self.kind == "json":
            return "valid JSON"
        if self.kind == "json_schema":
            return "JSON valid against the set's schema"
        if self.kind == "template":
            if self.json_keys:
                shape = f"a JSON object with the keys {', '.join(self.json_keys)}"
            else:
                shape = "the template " + " / ".join(self.skeleton)
            return shape + (f" (from {self.source})" if self.source else "")
        return "no format declared"

    def to_json(self) -> dict[str, Any]:
        if not self.declared:
            return {}
        data: dict[str, Any] = {"kind": self.kind}
        if self.schema is not None:
            data["schema"] = dict(self.schema)
        if self.json_keys:
            data["json_keys"] = list(self.json_keys)
        if self.skeleton:
            data["skeleton"] = list(self.skeleton)
        if self.source:
            data["source"] = self.source
        return data

    @classmethod
    def from_json(cls, data: Any) -> FormatSpec:
        if not isinstance(data, Mapping) or data.get("kind") not in (
            "json",
            "json_schema",
            "template",
        ):
            return cls()
        schema = data.get("schema")
        return cls(
            kind=str(data["kind"]),
            schema=schema if isinstance(schema, Mapping) else None,
            json_keys=tuple(str(k) for k in data.get("json_keys") or ()),
            skeleton=tuple(str(k) for k in data.get("skeleton") or ()),
            source=str(data.get("source") or ""),
        )


@dataclass(frozen=True)
class EvalSet:
    id: int
    name: str
    format: FormatSpec
    created_at: float
    updated_at: float
    question_count: int = 0


@dataclass(frozen=True)
class RunConfig:
    """A run's configuration, kept with it: what was measured, exactly."""

    mode: str
    model: str = ""
    judge_model: str = ""
    judge_prompt: str = ""
    system_prompt: str = ""
    """Sent with every question ("": the chat's own for the mode)."""
    search: Mapping[str, Any] = field(default_factory=dict)
    """mode, k, threshold, vector_weight and the reranker (rerank, rerank_candidates,
    rerank_window) of the retrieval settings in force; a run recorded before reranking
    existed has no "rerank" and is run without one."""
    embedder: str = ""
    chunking: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None
    concurrency: int = 8

    @property
    def k(self) -> int:
        return int(self.search.get("k", 5))

    @property
    def rerank(self) -> str:
        return str(self.search.get("rerank") or "off")

    @property
    def answers(self) -> bool:
        return self.mode in ANSWERING_MODES

    @property
    def retrieves(self) -> bool:
        return self.mode in RETRIEVING_MODES

    def to_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "model": self.model,
            "judge_model": self.judge_model,
            "judge_prompt": self.judge_prompt,
            "system_prompt": self.system_prompt,
            "search": dict(self.search),
            "embedder": self.embedder,
            "chunking": dict(self.chunking),
            "limit": self.limit,
            "concurrency": self.concurrency,
        }

    @classmethod
    def from_json(cls, data: Any) -> RunConfig:
        data = data if isinstance(data, Mapping) else {}
        limit = data.get("limit")
        return cls(
            mode=str(data.get("mode") or "retrieval"),
            model=str(data.get("model") or ""),
            judge_model=str(data.get("judge_model") or ""),
            judge_prompt=str(data.get("judge_prompt") or ""),
            system_prompt=str(data.get("system_prompt") or ""),
            search=dict(data.get("search") or {}),
            embedder=str(data.get("embedder") or ""),
            chunking=dict(data.get("chunking") or {}),
            limit=int(limit) if isinstance(limit, int) else None,
            concurrency=int(data.get("concurrency") or 8),
        )

    def describe(self) -> str:
        parts = [MODE_LABELS.get(self.mode, self.mode)]
        if self.model:
            parts.append(self.model)
        if self.retrieves:
            search = self.search
            parts.append(f"{search.get('mode', 'hybrid')} k={self.k}")
            if self.rerank != "off":
                parts.append(f"reranked ({self.rerank})")
        if self.judge_model:
            parts.append(f"judge {self.judge_model}")
        return " · ".join(parts)


@dataclass(frozen=True)
class RetrievedSource:
    """A retrieved chunk as a result keeps it: where it is, its score, and whether it
    covers an expected source."""

    rank: int
    chunk_id: int
    document: str
    document_id: int
    start: int
    end: int
    score: float
    relevant: bool | None
    """None when the question has no expected source."""
    text: str = ""
    """Kept for the chunks the answer was given (the top k)."""

    def to_json(self) -> dict[str, Any]:
        data = {
            "rank": self.rank,
            "chunk_id": self.chunk_id,
            "document": self.document,
            "document_id": self.document_id,
            "start": self.start,
            "end": self.end,
            "score": round(self.score, 6),
            "relevant": self.relevant,
        }
        if self.text:
            data["text"] = self.text
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RetrievedSource:
        relevant = data.get("relevant")
        return cls(
            rank=int(data["rank"]),
            chunk_id=int(data["chunk_id"]),
            document=str(data["document"]),
            document_id=int(data["document_id"]),
            start=int(data["start"]),
            end=int(data["end"]),
            score=float(data["score"]),
            relevant=None if relevant is None else bool(relevant),
            text=str(data.get("text") or ""),
        )


@dataclass(frozen=True)
class JudgeVerdict:
    """What the judge said of one answer. ``status`` "judged" carries a verdict;
    "unjudged" (an out-of-format reply, or a failed call) never does."""

    status: str
    correct: bool | None = None
    faithful: bool | None = None
    reason: str = ""
    reply: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "correct": self.correct,
            "faithful": self.faithful,
            "reason": self.reason,
            "reply": self.reply,
        }

    @classmethod
    def from_json(cls, data: Any) -> JudgeVerdict | None:
        if not isinstance(data, Mapping) or "status" not in data:
            return None
        return cls(
            status=str(data["status"]),
            correct=data.get("correct"),
            faithful=data.get("faithful"),
            reason=str(data.get("reason") or ""),
            reply=str(data.get("reply") or ""),
        )


@dataclass(frozen=True)
class QuestionResult:
    """One question of one run: what was retrieved and answered, its metrics, its
    status (``ok`` or ``failed`` with the reason)."""

    question_id: int
    position: int
    question: str
    reference: str
    answerable: bool
    status: str
    answer: str = ""
    error: str = ""
    retrieved: tuple[RetrievedSource, ...] = ()
    metrics: Mapping[str, float | None] = field(default_factory=dict)
    judge: JudgeVerdict | None = None
    format_violation: str | None = None
    latency_ms: float | None = None
    usage: Mapping[str, int] = field(default_factory=dict)
    cost_usd: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        return {
            "question_id": self.question_id,
            "position": self.position,
            "question": self.question,
            "reference": self.reference,
            "answerable": self.answerable,
            "status": self.status,
            "answer": self.answer,
            "error": self.error,
            "retrieved": [r.to_json() for r in self.retrieved],
            "metrics": dict(self.metrics),
            "judge": self.judge.to_json() if self.judge else None,
            "format_violation": self.format_violation,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 1),
            "usage": dict(self.usage),
            "cost_usd": self.cost_usd,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> QuestionResult:
        latency = data.get("latency_ms")
        cost = data.get("cost_usd")
        return cls(
            question_id=int(data["question_id"]),
            position=int(data.get("position") or 0),
            question=str(data.get("question") or ""),
            reference=str(data.get("reference") or ""),
            answerable=bool(data.get("answerable", True)),
            status=str(data.get("status") or "failed"),
            answer=str(data.get("answer") or ""),
            error=str(data.get("error") or ""),
            retrieved=tuple(RetrievedSource.from_json(r) for r in data.get("retrieved") or ()),
            metrics=dict(data.get("metrics") or {}),
            judge=JudgeVerdict.from_json(data.get("judge")),
            format_violation=data.get("format_violation"),
            latency_ms=float(latency) if isinstance(latency, int | float) else None,
            usage={k: int(v) for k, v in (data.get("usage") or {}).items() if isinstance(v, int)},
            cost_usd=float(cost) if isinstance(cost, int | float) else None,
        )


@dataclass(frozen=True)
class EvalRun:
    id: int
    set_id: int | None
    set_name: str
    set_hash: str
    config: RunConfig
    status: str
    planned: int
    metrics: Mapping[str, Any]
    error: str
    created_at: float
    finished_at: float | None
    answered: int = 0
    failed: int = 0
    stale: bool = False
    """The set's questions changed since the run was made (or the set is gone)."""

    @property
    def mode(self) -> str:
        return self.config.mode

    @property
    def model(self) -> str:
        return self.config.model

    @property
    def done(self) -> int:
        return self.answered + self.failed

    @property
    def resumable(self) -> bool:
        return self.status in ("running", "stopped") and not self.stale

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "set": self.set_name,
            "set_id": self.set_id,
            "mode": self.mode,
            "model": self.model,
            "status": self.status,
            "stale": self.stale,
            "planned": self.planned,
            "answered": self.answered,
            "failed": self.failed,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "config": self.config.to_json(),
            "metrics": dict(self.metrics),
            "error": self.error,
        }


def first_questions(questions: Sequence[EvalQuestion], limit: int | None) -> list[EvalQuestion]:
    """The questions a run covers: the first ``limit`` of the set (all when None)."""
    return list(questions if limit is None else questions[: max(0, limit)])
