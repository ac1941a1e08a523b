"""``ragtune decide [--answers FILE] [--json]``: the evidence, the recommendation and its
reasons, headless. Read-only: it saves neither answers nor a snapshot (that is the
tab's visit), so a script can ask "what if" without changing the user's decision.

FILE is a JSON object: question id → "yes" / "no" / "unsure", plus optional
``latency_budget_ms``, ``requests_per_day`` and ``system_prompt``. Without it, the
answers saved in the workspace are used (all "unsure" when there are none)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from desktop.decision.checklist import (
    CHOICE_NAMES,
    QUESTION_IDS,
    Answers,
    comparison_table,
    recommend,
)
from desktop.decision.evidence import gather_evidence
from desktop.decision.store import DecisionStore
from desktop.settings import Settings
from desktop.workspace import Workspace


class AnswersFileError(ValueError):
    """An answers file that cannot be used, with a reason a user can act on."""


def read_answers_file(path: Path) -> Answers:
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


def decide(
    workspace: Workspace,
    settings: Settings,
    answers_file: Path | None = None,
    *,
    now: datetime | None = None,
) -> tuple[dict[str, Any], str]:
    """(data for ``--json``, text for people). Raises AnswersFileError for a bad FILE."""
    moment = now if now is not None else datetime.now().astimezone()
    answers = (
        read_answers_file(answers_file)
        if answers_file is not None
        else DecisionStore(workspace).answers()
    )
    evidence = gather_evidence(workspace, settings, answers, moment)
    recommendation = recommend(evidence, answers)
    table = comparison_table(evidence)
    data: dict[str, Any] = {
        "date": moment.date().isoformat(),
        "answers": {q: answers.get(q).value for q in QUESTION_IDS},
        "inputs": {
            "latency_budget_ms": answers.inputs.latency_budget_ms,
            "requests_per_day": answers.inputs.requests_per_day,
            "system_prompt_tokens": evidence.prompt.prompt_tokens,
        },
        "evidence": evidence.to_dict(),
        "recommendation": recommendation.to_dict(),
        "comparison": [
            {"aspect": r.aspect, "rag": r.rag, "fine_tuning": r.fine_tuning, "measured": r.measured}
            for r in table
        ],
    }
    data["evidence"]["inputs"].pop("system_prompt", None)  # its token count is enough
    lines = ["Evidence", ""]
    for card in recommendation.cards:
        q = card.question
        lines.append(f"{q.number}. {q.text}  [{card.answer.value}]")
        lines.append(f"   {card.evidence}")
        lines.append(f"   → {card.lean.label}: {card.why}")
    choice = CHOICE_NAMES[recommendation.choice]
    lines += [
        "",
        f"Recommendation: {choice} (confidence {recommendation.confidence:.0%}, "
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
    return data, "\n".join(lines)
