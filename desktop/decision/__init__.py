"""The Decide tab's core: evidence measured from the workspace, the nine-question
checklist, the recommendation (RAG, fine-tuning or both) with its reasons and warnings,
the saved decision and its Markdown report. Qt-free, so every rule is unit-tested."""

from desktop.decision.checklist import (
    QUESTIONS,
    Answer,
    Answers,
    CardResult,
    DecisionWarning,
    Lean,
    Question,
    Reason,
    Recommendation,
    Row,
    comparison_table,
    evaluate_cards,
    recommend,
)
from desktop.decision.evidence import DecisionInputs, Evidence, gather_evidence

__all__ = [
    "QUESTIONS",
    "Answer",
    "Answers",
    "CardResult",
    "DecisionInputs",
    "DecisionWarning",
    "Evidence",
    "Lean",
    "Question",
    "Reason",
    "Recommendation",
    "Row",
    "comparison_table",
    "evaluate_cards",
    "gather_evidence",
    "recommend",
]
