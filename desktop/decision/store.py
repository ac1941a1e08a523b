"""The decision, kept in the workspace: the user's answers and inputs, and a snapshot of
the evidence and recommendation each time they change, so the tab can say what changed
since the last visit.

The tables are declared in ``desktop.decision.schema``."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from desktop.decision.checklist import (
    CHOICE_NAMES,
    QUESTION_IDS,
    Answer,
    Answers,
    Recommendation,
    human_tokens,
    ms,
    percent,
)
from desktop.decision.evidence import DecisionInputs, Evidence
from desktop.workspace import Workspace

log = logging.getLogger(__name__)

# The tables are created by a schema migration (desktop/workspace/schema.py).


KEEP_SNAPSHOTS = 50
"""Snapshots kept: the last visit is all the tab needs; a few more help a bug report."""


@dataclass(frozen=True)
class Snapshot:
    id: int
    at: float
    answers: Answers
    evidence: Evidence
    recommendation: Recommendation | None


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class DecisionStore:
    def __init__(self, workspace: Workspace, clock: Callable[[], float] = time.time) -> None:
        self.workspace = workspace
        self._clock = clock

    # -- answers and inputs --------------------------------------------------------------

    def answers(self) -> Answers:
        conn = self.workspace.connection()
        saved: dict[str, Answer] = {}
        for row in conn.execute("SELECT question_id, answer FROM decision_answers"):
            if row[0] in QUESTION_IDS:
                saved[row[0]] = Answer(row[1])
        row = conn.execute(
            "SELECT latency_budget_ms, requests_per_day, system_prompt FROM decision_inputs"
        ).fetchone()
        inputs = DecisionInputs() if row is None else DecisionInputs(row[0], row[1], row[2])
        return Answers(saved, inputs)

    def save_answers(self, answers: Answers) -> Answers:
        """Replace the saved answers and inputs in one transaction; returns the previous
        ones (undo: save them back). "Unsure" is stored as the absence of an answer."""
        previous = self.answers()
        now = self._clock()
        with self.workspace.transaction() as tx:
            tx.execute("DELETE FROM decision_answers")
            tx.executemany(
                "INSERT INTO decision_answers(question_id, answer, updated_at) VALUES (?, ?, ?)",
                [
                    (card, answer.value, now)
                    for card, answer in sorted(answers.answers.items())
                    if card in QUESTION_IDS and answer is not Answer.UNSURE
                ],
            )
            inputs = answers.inputs
            tx.execute(
                "INSERT INTO decision_inputs(id, latency_budget_ms, requests_per_day, "
                "system_prompt, updated_at) VALUES (1, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET latency_budget_ms = excluded.latency_budget_ms, "
                "requests_per_day = excluded.requests_per_day, "
                "system_prompt = excluded.system_prompt, updated_at = excluded.updated_at",
                (inputs.latency_budget_ms, inputs.requests_per_day, inputs.system_prompt, now),
            )
        return previous

    # -- snapshots -----------------------------------------------------------------------

    def last_snapshot(self) -> Snapshot | None:
        """The decision as it stood at the last visit, or None before the first."""
        row = (
            self.workspace.connection()
            .execute(
                "SELECT id, at, answers, evidence, recommendation FROM decision_snapshots "
                "ORDER BY at DESC, id DESC LIMIT 1"
            )
            .fetchone()
        )
        if row is None:
            return None
        try:
            answers = Answers.from_dict(json.loads(row["answers"]))
        except ValueError:
            log.warning("The saved decision's answers could not be read")
            answers = Answers()
        try:
            evidence = Evidence.from_dict(json.loads(row["evidence"]))
            recommendation = Recommendation.from_dict(json.loads(row["recommendation"]))
        except ValueError:
            log.warning("The saved decision's evidence could not be read")
            evidence, recommendation = Evidence(), None
        return Snapshot(row["id"], row["at"], answers, evidence, recommendation)

    def save_snapshot(
        self, evidence: Evidence, answers: Answers, recommendation: Recommendation
    ) -> Snapshot | None:
        """Record this visit's decision; returns the previous visit's (for
        ``changes_since_last_visit``). When nothing changed, the last snapshot only gets
        the new time, so the history holds changes, not visits."""
        previous = self.last_snapshot()
        now = self._clock()
        payload = (
            _dumps(answers.to_dict()),
            _dumps(_comparable(evidence)),
            _dumps(_recommendation(recommendation)),
        )
        with self.workspace.transaction() as tx:
            if previous is not None and _same(previous, payload):
                tx.execute("UPDATE decision_snapshots SET at = ? WHERE id = ?", (now, previous.id))
            else:
                tx.execute(
                    "INSERT INTO decision_snapshots(at, answers, evidence, recommendation) "
                    "VALUES (?, ?, ?, ?)",
                    (now, payload[0], _dumps(evidence.to_dict()), payload[2]),
                )
                tx.execute(
                    "DELETE FROM decision_snapshots WHERE id NOT IN "
                    "(SELECT id FROM decision_snapshots ORDER BY at DESC, id DESC LIMIT ?)",
                    (KEEP_SNAPSHOTS,),
                )
        return previous


def _comparable(evidence: Evidence) -> dict[str, Any]:
    """The evidence without its measuring time (which differs on every visit)."""
    data = evidence.to_dict()
    data.pop("measured_at", None)
    return data


def _same(previous: Snapshot, payload: tuple[str, str, str]) -> bool:
    before = (
        _dumps(previous.answers.to_dict()),
        _dumps(_comparable(previous.evidence)),
        _dumps(_recommendation(previous.recommendation)) if previous.recommendation else "",
    )
    return before == payload


def _recommendation(recommendation: Recommendation) -> dict[str, Any]:
    """Saved without the cards: they are recomputed from the answers and evidence."""
    data = recommendation.to_dict()
    data.pop("cards", None)
    return data


# -- what changed ----------------------------------------------------------------------------


def _count_change(n: int, word: str) -> str:
    return f"{n:,} {'document' if n == 1 else 'documents'} {word}"


def _moved(name: str, before: str | None, after: str | None) -> str | None:
    if before == after:
        return None
    if before is None:
        return f"{name} is now measured: {after}"
    if after is None:
        return f"{name} can no longer be measured (it was {before})"
    return f"{name} went from {before} to {after}"


def changes_since_last_visit(previous: Evidence | None, current: Evidence) -> list[str]:
    """What differs between the evidence at the last visit and now, in plain words.
    Figures are compared as they are shown (rounded), so noise does not show up."""
    if previous is None:
        return []
    changes: list[str] = []
    pk, ck = previous.knowledge, current.knowledge
    library = []
    for word, before, after in (
        ("added", pk.added_total, ck.added_total),
        ("updated", pk.updated_total, ck.updated_total),
        ("removed", pk.removed_total, ck.removed_total),
    ):
        if after > before:
            library.append(_count_change(after - before, word))
    if library:
        changes.append(", ".join(library) + " since your last visit")

    def tokens(value: int | None) -> str | None:
        return None if value is None else f"{human_tokens(value)} tokens"

    def millis(value: float | None) -> str | None:
        return None if value is None else ms(value)

    def share(value: float | None) -> str | None:
        return None if value is None else percent(value)

    def ratio(value: float | None) -> str | None:
        return None if value is None else f"{value:.2f}×"

    def count(value: int | None) -> str | None:
        return None if value is None else f"{value:,}"

    pl, cl = previous.latency, current.latency
    pv, cv = previous.vocabulary, current.vocabulary
    pp, cp = previous.prompt, current.prompt
    compared = (
        ("the library's size", tokens(previous.size.tokens), tokens(current.size.tokens)),
        ("median retrieval latency", millis(pl.median_ms), millis(cl.median_ms)),
        ("95th-percentile retrieval latency", millis(pl.p95_ms), millis(cl.p95_ms)),
        (
            "the share of examples in JSON or one template",
            share(previous.format.rigid_share),
            share(current.format.rigid_share),
        ),
        ("tokens per word against ordinary prose", ratio(pv.ratio), ratio(cv.ratio)),
        (
            "valid training examples",
            count(previous.examples.best_valid),
            count(current.examples.best_valid),
        ),
        (
            "system-prompt tokens a day to save",
            tokens(pp.tokens_per_day),
            tokens(cp.tokens_per_day),
        ),
        (
            "whether the provider can fine-tune",
            previous.provider.can_fine_tune,
            current.provider.can_fine_tune,
        ),
        ("the chunking strategy", previous.chunking.strategy, current.chunking.strategy),
        ("evaluation sets", count(previous.evaluation.sets), count(current.evaluation.sets)),
        ("the chat model", previous.chat_model or None, current.chat_model or None),
    )
    for name, before, after in compared:
        moved = _moved(name, before, after)
        if moved:
            changes.append(moved[0].upper() + moved[1:])
    return changes


def recommendation_change(previous: Recommendation | None, current: Recommendation) -> str | None:
    """One sentence when the recommendation itself moved since the last visit."""
    if previous is None:
        return None
    if previous.choice != current.choice:
        return (
            f"The recommendation changed from {CHOICE_NAMES[previous.choice]} to "
            f"{CHOICE_NAMES[current.choice]}"
        )
    if previous.confidence_label != current.confidence_label:
        return (
            f"Confidence in {CHOICE_NAMES[current.choice]} went from "
            f"{previous.confidence_label} to {current.confidence_label}"
        )
    return None
