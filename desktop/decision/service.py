"""The Decide tab's front door, also behind ``ragtune decide``: measure the evidence,
decide, save the visit, write the report. The tab and the command call the same steps.

Measuring reads the library, the datasets, the jobs and the search log through their own
repositories (``EvidenceSources``); it tokenizes the whole library, so callers run it on
a worker."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from desktop.decision.checklist import (
    QUESTION_IDS,
    Answers,
    Recommendation,
    Row,
    comparison_table,
    recommend,
)
from desktop.decision.evidence import Evidence, EvidenceSources, gather_evidence
from desktop.decision.report import report_markdown
from desktop.decision.store import (
    DecisionStore,
    Snapshot,
    changes_since_last_visit,
    recommendation_change,
)
from desktop.events import EventBus, Topic
from desktop.files import write_text_atomic
from desktop.settings import Settings
from desktop.workspace import Workspace

log = logging.getLogger(__name__)


class AnswersFileError(ValueError):
    """An answers file that cannot be used, with a reason a user can act on."""


@dataclass(frozen=True)
class Measurement:
    answers: Answers
    evidence: Evidence


@dataclass(frozen=True)
class Decision:
    """Evidence and answers, and what they add up to."""

    answers: Answers
    evidence: Evidence
    recommendation: Recommendation
    table: list[Row]


@dataclass(frozen=True)
class Visit:
    """What changed since the previous saved decision (empty on a first visit)."""

    previous_at: float | None
    changes: list[str]


def read_answers_file(path: Path) -> Answers:
    """A JSON object: question id → "yes" / "no" / "unsure", plus optional
    ``latency_budget_ms``, ``requests_per_day`` and ``system_prompt``."""
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AnswersFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise AnswersFileError(f"{path} is not JSON ({exc})") from None
    try:
        return Answers.from_dict(data)
    except ValueError as exc:
        raise AnswersFileError(f"{path}: {exc}") from None


class DecisionService:
    def __init__(
        self,
        workspace: Workspace,
        settings: Callable[[], Settings],
        *,
        sources: EvidenceSources | None = None,
        clock: Callable[[], float] | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.events = events or EventBus()
        self.workspace = workspace
        self._settings = settings
        self.sources = sources or EvidenceSources.of(workspace)
        self.store = DecisionStore(workspace) if clock is None else DecisionStore(workspace, clock)

    def saved_answers(self) -> Answers:
        return self.store.answers()

    def measure(self, answers: Answers | None, now: datetime) -> Measurement:
        """The evidence at ``now``, for ``answers`` (the saved ones when None)."""
        chosen = answers if answers is not None else self.store.answers()
        return Measurement(
            chosen, gather_evidence(self.sources, self._settings(), chosen.inputs, now)
        )

    @staticmethod
    def decide(answers: Answers, evidence: Evidence) -> Decision:
        """Pure: recomputed at once when an answer changes. Inputs typed since the
        measurement are carried into the evidence."""
        if evidence.inputs != answers.inputs:
            evidence = replace(evidence, inputs=answers.inputs)
        return Decision(answers, evidence, recommend(evidence, answers), comparison_table(evidence))

    def save(self, decision: Decision) -> Visit:
        """Keep the answers and this decision; say what changed since the previous one."""
        self.store.save_answers(decision.answers)
        previous = self.store.save_snapshot(
            decision.evidence, decision.answers, decision.recommendation
        )
        self.events.publish(Topic.DECISION)
        return visit_since(previous, decision)

    @staticmethod
    def report(decision: Decision, day: date) -> str:
        """The decision as Markdown."""
        return report_markdown(
            decision.evidence, decision.answers, decision.recommendation, decision.table, day
        )

    def write_report(self, decision: Decision, day: date, path: Path) -> Path:
        write_text_atomic(path, self.report(decision, day))
        return path

    def headless(self, answers_file: Path | None, now: datetime) -> tuple[dict[str, Any], str]:
        """``ragtune decide``: (data for --json, text for people). Read-only: it saves
        neither answers nor a snapshot (that is the tab's visit), so a script can ask
        "what if" without changing the user's decision."""
        answers = read_answers_file(answers_file) if answers_file is not None else None
        measured = self.measure(answers, now)
        decision = self.decide(measured.answers, measured.evidence)
        return decision_json(decision, now.date()), decision_text(decision)


def visit_since(previous: Snapshot | None, decision: Decision) -> Visit:
    if previous is None:
        return Visit(None, [])
    moved = recommendation_change(previous.recommendation, decision.recommendation)
    changes = ([moved] if moved else []) + changes_since_last_visit(
        previous.evidence, decision.evidence
    )
    return Visit(previous.at, changes)


def decision_json(decision: Decision, day: date) -> dict[str, Any]:
    answers, evidence = decision.answers, decision.evidence
    data: dict[str, Any] = {
        "date": day.isoformat(),
        "answers": {q: answers.get(q).value for q in QUESTION_IDS},
        "inputs": {
            "latency_budget_ms": answers.inputs.latency_budget_ms,
            "requests_per_day": answers.inputs.requests_per_day,
            "system_prompt_tokens": evidence.prompt.prompt_tokens,
        },
        "evidence": evidence.to_dict(),
        "recommendation": decision.recommendation.to_dict(),
        "comparison": [
            {"aspect": r.aspect, "rag": r.rag, "fine_tuning": r.fine_tuning, "measured": r.measured}
            for r in decision.table
        ],
    }
    data["evidence"]["inputs"].pop("system_prompt", None)  # its token count is enough
    return data


def decision_text(decision: Decision) -> str:
    recommendation = decision.recommendation
    lines = ["Evidence", ""]
    for card in recommendation.cards:
        q = card.question
        lines.append(f"{q.number}. {q.text}  [{card.answer.value}]")
        lines.append(f"   {card.evidence}")
        lines.append(f"   → {card.lean.label}: {card.why}")
    lines += [
        "",
        f"Recommendation: {recommendation.headline()} (confidence {recommendation.confidence:.0%}, "
        f"{recommendation.confidence_label})",
        recommendation.summary,
    ]
    if recommendation.reasons:
        lines += ["", "Reasons"]
        for reason in recommendation.reasons:
            mark = "+" if reason.supports else "-"
            lines.append(f" {mark} {reason.text}")
    if recommendation.warnings:
        lines += ["", "Warnings"]
        lines += [f" ! {w.text}" for w in recommendation.warnings]
    return "\n".join(lines)
