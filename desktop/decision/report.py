"""The decision as a Markdown report: what was recommended, why, the answers with the
evidence behind them, the comparison table and the date. The PDF is this report laid
out by Qt (UI layer)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from desktop.decision.checklist import (
    Answers,
    Recommendation,
    Row,
    evaluate_cards,
    ms,
    question,
)
from desktop.decision.evidence import Evidence

ANSWER_WORDS = {"yes": "Yes", "no": "No", "unsure": "Not sure"}


def cell(text: str | None) -> str:
    """Text safe inside a Markdown table cell (no pipe or line break breaks the row)."""
    if text is None:
        return "—"
    return " ".join(str(text).replace("\\", "\\\\").replace("|", "\\|").split()) or "—"


def _table(header: Sequence[str], rows: Sequence[Sequence[str | None]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return lines


def report_markdown(
    evidence: Evidence,
    answers: Answers,
    recommendation: Recommendation,
    table: Sequence[Row],
    date: dt.date,
) -> str:
    """The whole report. Cards come from the recommendation, or are recomputed from the
    evidence and answers when it carries none (a saved recommendation)."""
    cards = list(recommendation.cards) or evaluate_cards(evidence, answers)
    out: list[str] = [
        "# RAG or fine-tuning: the decision",
        "",
        f"Date: {date.isoformat()}  ",
        f"Chat model: {evidence.chat_model or 'not set'}",
        "",
        "## Recommendation",
        "",
        f"**{recommendation.headline()}**, confidence {recommendation.confidence:.0%} "
        f"({recommendation.confidence_label}).",
        "",
        recommendation.summary,
        "",
    ]
    supporting = [r for r in recommendation.reasons if r.supports]
    against = [r for r in recommendation.reasons if not r.supports]
    if supporting:
        out += ["### Reasons", ""]
        out += [f"- Card {question(r.card_id).number}: {r.text}" for r in supporting]
        out.append("")
    if against:
        out += ["### Pointing the other way", ""]
        out += [f"- Card {question(r.card_id).number}: {r.text}" for r in against]
        out.append("")
    if recommendation.warnings:
        out += ["### Warnings", ""]
        for warning in recommendation.warnings:
            title, _sep, rest = warning.text.partition(":")
            out.append(f"- **{title}**:{rest}")
        out.append("")
    out += ["## The checklist", ""]
    out += _table(
        ("#", "Question", "Your answer", "Evidence", "Points to"),
        [
            (
                str(c.question.number),
                c.question.text,
                ANSWER_WORDS[c.answer.value],
                c.evidence,
                f"{c.lean.label}: {c.why}",
            )
            for c in cards
        ],
    )
    out.append("")
    out += ["## Comparison", ""]
    out += _table(
        ("Aspect", "RAG", "Fine-tuning", "This workspace"),
        [(r.aspect, r.rag, r.fine_tuning, r.measured) for r in table],
    )
    out.append("")
    out += ["## Inputs", ""]
    inputs = evidence.inputs
    budget = ms(inputs.latency_budget_ms) if inputs.latency_budget_ms else "not entered"
    requests = f"{inputs.requests_per_day:,}" if inputs.requests_per_day is not None else None
    prompt_tokens = evidence.prompt.prompt_tokens
    out += [
        f"- Latency budget: {budget}",
        f"- Requests a day: {requests or 'not entered'}",
        "- System prompt: "
        + (f"{prompt_tokens:,} tokens (text not included)" if prompt_tokens else "not entered"),
    ]
    terms = evidence.vocabulary.fragmented_terms
    if terms:
        out += ["", "## Most fragmented terms", ""]
        out += _table(
            ("Term", "Tokens", "Occurrences"),
            [(t.term, str(t.tokens), f"{t.occurrences:,}") for t in terms],
        )
    out += [
        "",
        "---",
        "",
        "Each card leans by its rule: answer and measurement agreeing count fully, one of "
        "them alone counts half, and a disagreement counts for neither (except for labelled "
        "examples and the provider, where the measurement decides).",
        "",
    ]
    return "\n".join(out)
