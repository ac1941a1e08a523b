"""The nine questions, how each card leans, and the recommendation.

Plain functions over an ``Evidence`` record and the user's ``Answers``, so every rule
is a unit test away from being checked.

How a card leans. A card has the user's answer (yes / no / not sure) and, for all but
the attribution card, a direction the measurement points to (or none, when it is not
measured yet or falls between the thresholds). Each answer has a direction ("yes" to
"does the knowledge change often?" points to RAG, "no" to fine-tuning):

- answer and measurement agree: that way, strong (1.0);
- only one of them points anywhere: that way, moderate (0.5);
- they disagree: neutral, and the card says so (the user may know what the app cannot
  measure, and the measurement may be a poor proxy) — except on the two cards where
  the measurement is a hard fact about what can run (labelled examples in the app,
  what the provider accepts): there the measurement wins, moderate.

The attribution card has no measurement: "yes" is a requirement (RAG, strong), "no"
removes RAG's transparency advantage (fine-tuning, moderate).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from desktop.decision.evidence import (
    EXAMPLES_WHERE_GAINS_SHOW,
    MIN_EVALUATION_QUESTIONS,
    MIN_EXAMPLES_TO_TRAIN,
    DecisionInputs,
    Evidence,
    MeasuredRun,
)

Direction = Literal["rag", "fine_tune", "both", "neutral"]
Choice = Literal["rag", "fine_tune", "both"]
Group = Literal["knowledge", "behaviour", "feasibility"]

STRONG = 1.0
MODERATE = 0.5

# -- thresholds of the measured rules ------------------------------------------------------

CHANGE_OFTEN_SHARE = 0.10
"""Documents changed in 90 days, as a share of the library, from which knowledge
"changes often" (at least one document)."""
CHANGE_STABLE_SHARE = 0.02
"""At most this share changed in 90 days, with 30 days of history and a rescan: stable."""
CHANGE_MIN_HISTORY_DAYS = 30

SIZE_LARGE_TIMES_TYPICAL = 10
"""A library over ten typical fine-tuning sets (or over the context window) is too large
to memorise; one that a typical set could cover is not."""

FORMAT_MIN_EXAMPLES = 5
CONTRADICTION_MARGIN = 0.05
"""A measured mode beats the recommended one by at least this much (absolute) to say the
recommendation contradicts the runs."""
CHOICE_MODES: dict[str, str] = {"rag": "rag", "fine_tune": "ft", "both": "ft-rag"}
"""The evaluation mode that measures each choice."""
FORMAT_RIGID_SHARE = 0.6
FORMAT_FREE_SHARE = 0.2

LATENCY_MIN_SAMPLES = 5
LATENCY_HEAVY_SHARE = 0.25
"""Retrieval p95 at or above this share of the user's budget makes it a real cost."""
LATENCY_LIGHT_SHARE = 0.10

VOCABULARY_MIN_WORDS = 200
VOCABULARY_SPECIAL_RATIO = 1.25
"""Library tokens per word at least 25 % above ordinary prose: specialised."""
VOCABULARY_ORDINARY_RATIO = 1.10

PROMPT_LONG_TOKENS = 500
PROMPT_MANY_TOKENS_PER_DAY = 1_000_000
PROMPT_SHORT_TOKENS = 200
PROMPT_FEW_TOKENS_PER_DAY = 100_000

FULL_CONFIDENCE_WEIGHT = 5.0
"""Summed strength of decided cards at which the amount of evidence stops limiting the
confidence (five strong cards, or ten moderate ones)."""


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNSURE = "unsure"

    @classmethod
    def parse(cls, value: Any) -> Answer:
        """yes / no / unsure ("not sure" too), case-insensitive; ValueError otherwise."""
        text = str(value).strip().lower().replace("_", " ")
        if text in ("yes", "y", "true"):
            return cls.YES
        if text in ("no", "n", "false"):
            return cls.NO
        if text in ("unsure", "not sure", "?", ""):
            return cls.UNSURE
        raise ValueError(f"{value!r} is not an answer; use yes, no or unsure")


@dataclass(frozen=True)
class Question:
    id: str
    number: int
    title: str
    """A short name for reasons and tables ("Changing knowledge")."""
    text: str
    help: str
    group: Group
    yes_points_to: Direction
    rule: str
    """The card's rule in one line (shown in the report and the tab's help)."""
    measured: bool = True
    evidence_decides: bool = False


QUESTIONS: tuple[Question, ...] = (
    Question(
        "change",
        1,
        "Changing knowledge",
        "Does the knowledge change often?",
        "Prices, policies, product specifications, support tickets, regulations: anything "
        "edited weekly or monthly. Retrieval picks up a changed document at the next rescan; "
        "a fine-tuned model keeps what it was trained on until it is trained again.",
        "knowledge",
        "rag",
        "RAG when at least 10 % of the documents (and at least one) changed in the last 90 "
        "days; fine-tuning when at most 2 % did, over 30+ days of history with a rescan.",
    ),
    Question(
        "attribution",
        2,
        "Source attribution",
        "Do answers need source attribution?",
        "Regulated domains usually do: healthcare (clinical guidance), finance (advice and "
        "disclosures), law (statute and case law), insurance claims, pharmaceuticals, "
        "aviation maintenance, public administration. Retrieval can show the passage an "
        "answer came from; a fine-tuned model cannot say where a fact came from.",
        "knowledge",
        "rag",
        "Your answer alone: yes is a requirement (RAG, strong); no removes RAG's "
        "transparency advantage (fine-tuning, moderate).",
        measured=False,
    ),
    Question(
        "size",
        3,
        "Library size",
        "Is the knowledge too large to memorize?",
        "A model learns facts from examples unreliably, and only those its examples cover. "
        "A library far larger than a training set, or than the model's context window, is "
        "better searched than memorised.",
        "knowledge",
        "rag",
        "RAG when the library has more tokens than the context window or than 10 typical "
        "fine-tuning sets (10 × 50,000 tokens); fine-tuning when one typical set could "
        "cover it.",
    ),
    Question(
        "format",
        4,
        "Output format",
        "Is a rigid output format needed?",
        "JSON read by another program, a fixed report template, a label from a closed list, "
        "a house style. Instructions in a prompt drift on unusual inputs; a model trained "
        "on examples of the format keeps to it.",
        "behaviour",
        "fine_tune",
        "Fine-tuning when at least 60 % of the dataset's examples (5 or more) answer in JSON "
        "or one template; RAG when at most 20 % do.",
    ),
    Question(
        "latency",
        5,
        "Latency",
        "Is latency critical?",
        "Voice assistants, autocomplete, high-volume pipelines. Retrieval adds a search and "
        "a longer prompt to every request; a fine-tuned model answers without both. Enter "
        "your latency budget to compare it with the retrieval time measured here.",
        "behaviour",
        "fine_tune",
        "Fine-tuning when the measured retrieval p95 (5+ searches) takes at least 25 % of "
        "your latency budget; RAG when it takes at most 10 %.",
    ),
    Question(
        "vocabulary",
        6,
        "Vocabulary",
        "Is the vocabulary highly specialized?",
        "Medicine, law, chemistry, part numbers, internal product names. A tokenizer that "
        "breaks the domain's words into many pieces is a sign the base model saw them "
        "rarely; fine-tuning teaches their use.",
        "behaviour",
        "fine_tune",
        "Fine-tuning when the library needs at least 25 % more tokens per word than "
        "ordinary prose (200+ words); RAG when at most 10 % more.",
    ),
    Question(
        "repeated_prompt",
        7,
        "System prompt",
        "Is the system prompt long and repeated on every request?",
        "Long instructions, style guides and few-shot examples sent with every request cost "
        "tokens and time each time. A fine-tuned model can learn them once. Paste your "
        "system prompt and the requests a day you expect.",
        "behaviour",
        "fine_tune",
        "Fine-tuning when the prompt has 500+ tokens and would save 1,000,000+ tokens a day; "
        "RAG (keep prompting) when it has under 200 tokens or saves under 100,000 a day.",
    ),
    Question(
        "examples",
        8,
        "Labelled examples",
        "Are labelled examples available?",
        "Questions paired with the answers you want, written or approved by people who know "
        "the domain. OpenAI needs at least 10; improvements usually show at 50 to 100.",
        "feasibility",
        "fine_tune",
        "Fine-tuning when a dataset has 50 or more valid examples; RAG when none has 10 "
        "(fine-tuning cannot start); the count in the app wins over the answer.",
        evidence_decides=True,
    ),
    Question(
        "provider",
        9,
        "Provider",
        "Can the chosen provider still fine-tune?",
        "OpenAI is winding down self-serve fine-tuning: closed to new users since "
        "2026-05-07, new jobs reported to end on 2027-01-06. Local servers (Ollama, LM "
        "Studio) serve models but do not train them.",
        "feasibility",
        "fine_tune",
        "Fine-tuning when the provider accepts jobs (one was accepted, or it is OpenAI "
        "before its dates); RAG when it cannot; the provider's facts win over the answer.",
        evidence_decides=True,
    ),
)
QUESTION_IDS: tuple[str, ...] = tuple(q.id for q in QUESTIONS)
KNOWLEDGE_CARDS = frozenset(q.id for q in QUESTIONS if q.group == "knowledge")
BEHAVIOUR_CARDS = frozenset(q.id for q in QUESTIONS if q.group == "behaviour")
FEASIBILITY_CARDS = frozenset(q.id for q in QUESTIONS if q.group == "feasibility")


def question(card_id: str) -> Question:
    for candidate in QUESTIONS:
        if candidate.id == card_id:
            return candidate
    raise KeyError(card_id)


@dataclass(frozen=True)
class Answers:
    """The user's answers (missing means unsure) and the figures they entered."""

    answers: Mapping[str, Answer] = field(default_factory=dict)
    inputs: DecisionInputs = field(default_factory=DecisionInputs)

    def get(self, card_id: str) -> Answer:
        return self.answers.get(card_id, Answer.UNSURE)

    def to_dict(self) -> dict[str, Any]:
        """The ``--answers`` file format: question id → answer, plus the inputs."""
        data: dict[str, Any] = {q: self.get(q).value for q in QUESTION_IDS}
        data["latency_budget_ms"] = self.inputs.latency_budget_ms
        data["requests_per_day"] = self.inputs.requests_per_day
        data["system_prompt"] = self.inputs.system_prompt
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Answers:
        """Read the ``--answers`` format; ValueError names the first thing wrong."""
        if not isinstance(data, dict):
            raise ValueError("the answers must be a JSON object of question id → answer")
        answers: dict[str, Answer] = {}
        budget: float | None = None
        requests: int | None = None
        prompt = ""
        for key, value in data.items():
            if key in QUESTION_IDS:
                try:
                    answers[key] = Answer.parse(value)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
            elif key == "latency_budget_ms":
                budget = _number(key, value, float)
            elif key == "requests_per_day":
                requests = _number(key, value, int)
            elif key == "system_prompt":
                if value is not None and not isinstance(value, str):
                    raise ValueError("system_prompt must be text")
                prompt = value or ""
            else:
                known = ", ".join((*QUESTION_IDS, "latency_budget_ms", "requests_per_day"))
                raise ValueError(f"unknown key {key!r}; expected one of {known}, system_prompt")
        return cls(answers, DecisionInputs(budget, requests, prompt))


def _number(key: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    if value < 0 or (kind is int and value != int(value)):
        raise ValueError(f"{key} must be a {'whole ' if kind is int else ''}number ≥ 0")
    return kind(value)


@dataclass(frozen=True)
class Lean:
    direction: Direction
    strength: float = 0.0

    @property
    def label(self) -> str:
        """ "RAG (strong)", "fine-tuning (moderate)", "neutral"."""
        if self.direction == "neutral" or self.strength <= 0:
            return "neutral"
        word = "strong" if self.strength >= STRONG else "moderate"
        return f"{CHOICE_NAMES[self.direction]} ({word})"


NEUTRAL = Lean("neutral", 0.0)
CHOICE_NAMES: dict[str, str] = {
    "rag": "RAG",
    "fine_tune": "fine-tuning",
    "both": "both",
    "neutral": "neither",
}


@dataclass(frozen=True)
class CardResult:
    """One card as the tab shows it: the answer, what was measured, and the lean."""

    question: Question
    answer: Answer
    evidence: str
    """The measured figure in words, or why there is none."""
    measured: Direction | None
    """Where the measurement alone points (None: not measured or in between)."""
    lean: Lean
    why: str


# -- what each measurement says --------------------------------------------------------


def human_tokens(n: float) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f} M"
    if n >= 10_000:
        return f"{n / 1000:.0f} k"
    return f"{n:,.0f}"


def ms(value: float) -> str:
    return f"{value:,.0f} ms"


def percent(share: float) -> str:
    return f"{share:.0%}"


Measured = tuple[Direction | None, str]


def _change(e: Evidence) -> Measured:
    k = e.knowledge
    if k.changed_90d is None or k.observed_days is None:
        return None, k.note or "not measured"
    text = (
        f"{k.changed_90d:,} of {k.documents:,} documents changed, were added or removed in "
        f"the last 90 days ({k.changed_30d or 0:,} in the last 30), over "
        f"{k.observed_days:.0f} days of history"
    )
    if k.note:
        text += f"; {k.note}"
    if k.documents and k.changed_90d >= max(1, math.ceil(CHANGE_OFTEN_SHARE * k.documents)):
        return "rag", text
    if (
        k.documents
        and k.observed_days >= CHANGE_MIN_HISTORY_DAYS
        and k.later_runs_90d >= 1
        and k.changed_90d <= math.floor(CHANGE_STABLE_SHARE * k.documents)
    ):
        return "fine_tune", text
    return None, text


def _attribution(e: Evidence) -> Measured:
    return None, "your answer (nothing in the workspace measures this)"


def _size(e: Evidence) -> Measured:
    s = e.size
    if s.tokens is None:
        return None, s.note or "not measured"
    text = (
        f"{human_tokens(s.tokens)} tokens in {s.documents:,} documents: "
        f"{s.times_context or 0:.2g}× {s.model}'s context window ({human_tokens(s.context_window)})"
        f" and {s.times_typical_set or 0:.2g}× a typical fine-tuning set "
        f"({human_tokens(s.typical_fine_tuning_tokens)} tokens)"
    )
    if (
        s.tokens > s.context_window
        or s.tokens > SIZE_LARGE_TIMES_TYPICAL * s.typical_fine_tuning_tokens
    ):
        return "rag", text
    if s.tokens <= s.typical_fine_tuning_tokens:
        return "fine_tune", text
    return None, text


def _format(e: Evidence) -> Measured:
    f = e.format
    if f.rigid_share is None:
        return None, f.note or "not measured"
    parts = [f"{percent(f.rigid_share)} of {f.examples:,} examples answer in JSON or one template"]
    details = []
    if f.json_examples:
        details.append(
            f"{f.json_examples:,} JSON" + (f" (keys {f.json_keys})" if f.json_keys else "")
        )
    if f.template_examples:
        details.append(f"{f.template_examples:,} follow “{f.template}”")
    if details:
        parts.append(f"({'; '.join(details)})")
    text = " ".join(parts)
    adherence = format_adherence_text(e)
    if adherence:
        text += f"; {adherence}"
    if f.examples < FORMAT_MIN_EXAMPLES:
        return None, text + f"; too few examples to tell (under {FORMAT_MIN_EXAMPLES})"
    if f.rigid_share >= FORMAT_RIGID_SHARE:
        return "fine_tune", text
    if f.rigid_share <= FORMAT_FREE_SHARE:
        return "rag", text
    return None, text


def _when(moment: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(moment).strftime("%Y-%m-%d")


def runs_text(runs: tuple[MeasuredRun, ...]) -> str:
    """ "Base + RAG 85% correct, Fine-tuned 60% F1 (eval set “Support”, 60 questions,
    2026-11-20)": the latest runs per mode, with where and when they were measured."""
    if not runs:
        return ""
    figures = ", ".join(f"{r.label} {percent(r.value)} {_metric_name(r.metric)}" for r in runs)
    first = runs[0]
    sizes = sorted({r.questions for r in runs})
    size = f"{sizes[0]}" if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}"
    latest = max(r.at for r in runs)
    return f"{figures} (eval set “{first.set_name}”, {size} questions, {_when(latest)})"


def _metric_name(metric: str) -> str:
    return {"correct": "correct", "f1": "F1", "hit@5": "hit@5"}.get(metric, metric)


def format_adherence_text(e: Evidence) -> str:
    runs = [r for r in e.evaluation.runs if r.format_adherence is not None]
    if not runs:
        return ""
    shown = ", ".join(f"{r.label} {percent(r.format_adherence or 0.0)}" for r in runs)
    return f"measured format adherence: {shown}"


def _latency(e: Evidence) -> Measured:
    lat = e.latency
    budget = e.inputs.latency_budget_ms
    if lat.median_ms is None or lat.p95_ms is None:
        return None, lat.note or "not measured"
    text = (
        f"retrieval median {ms(lat.median_ms)}, p95 {ms(lat.p95_ms)} over "
        f"{lat.samples:,} recent searches"
    )
    if not budget:
        return None, text + "; enter your latency budget to compare"
    share = lat.p95_ms / budget
    text += f": {percent(share)} of your {ms(budget)} budget"
    if lat.samples < LATENCY_MIN_SAMPLES:
        return None, text + f" (too few searches to tell: under {LATENCY_MIN_SAMPLES})"
    if share >= LATENCY_HEAVY_SHARE:
        return "fine_tune", text
    if share <= LATENCY_LIGHT_SHARE:
        return "rag", text
    return None, text


def _vocabulary(e: Evidence) -> Measured:
    v = e.vocabulary
    if v.ratio is None or v.library_tokens_per_word is None or v.reference_tokens_per_word is None:
        return None, v.note or "not measured"
    text = (
        f"{v.library_tokens_per_word:.2f} tokens per word in the library vs "
        f"{v.reference_tokens_per_word:.2f} in ordinary prose ({v.ratio:.2f}×, {v.encoding})"
    )
    if v.fragmented_terms:
        terms = ", ".join(f"{t.term} ({t.tokens})" for t in v.fragmented_terms[:5])
        text += f"; most fragmented: {terms}"
    if v.note:
        text += f"; {v.note}"
    if v.words < VOCABULARY_MIN_WORDS:
        return None, text + f"; too little text to tell (under {VOCABULARY_MIN_WORDS} words)"
    if v.ratio >= VOCABULARY_SPECIAL_RATIO:
        return "fine_tune", text
    if v.ratio <= VOCABULARY_ORDINARY_RATIO:
        return "rag", text
    return None, text


def _examples(e: Evidence) -> Measured:
    x = e.examples
    low, high = EXAMPLES_WHERE_GAINS_SHOW
    if x.datasets == 0:
        return (
            "rag",
            f"no datasets yet: fine-tuning needs at least {MIN_EXAMPLES_TO_TRAIN} examples",
        )
    text = (
        f"{x.best_valid:,} valid examples in “{x.best_dataset}” ({x.valid:,} valid of "
        f"{x.examples:,} in {x.datasets:,} {'dataset' if x.datasets == 1 else 'datasets'})"
    )
    if x.best_valid < MIN_EXAMPLES_TO_TRAIN:
        return "rag", text + f": under {MIN_EXAMPLES_TO_TRAIN}, a job cannot start"
    if x.best_valid >= low:
        return "fine_tune", text
    return None, text + f": enough to train; gains usually show at {low}–{high}"


def _system_prompt(e: Evidence) -> Measured:
    p = e.prompt
    if p.tokens_per_day is None or p.prompt_tokens is None:
        return None, p.note or "not measured"
    text = (
        f"{p.prompt_tokens:,} prompt tokens × {p.requests_per_day or 0:,} requests a day = "
        f"{human_tokens(p.tokens_per_day)} tokens a day fine-tuning could save"
    )
    if p.prompt_tokens >= PROMPT_LONG_TOKENS and p.tokens_per_day >= PROMPT_MANY_TOKENS_PER_DAY:
        return "fine_tune", text
    if p.prompt_tokens < PROMPT_SHORT_TOKENS or p.tokens_per_day < PROMPT_FEW_TOKENS_PER_DAY:
        return "rag", text
    return None, text


def _provider(e: Evidence) -> Measured:
    p = e.provider
    label = p.provider or "the provider"
    text = f"{label} ({p.base_url}): {p.note}" if p.base_url else f"{label}: {p.note}"
    if p.can_fine_tune == "yes":
        return "fine_tune", text
    if p.can_fine_tune == "no":
        return "rag", text
    return None, text


MEASURES: dict[str, Callable[[Evidence], Measured]] = {
    "change": _change,
    "attribution": _attribution,
    "size": _size,
    "format": _format,
    "latency": _latency,
    "vocabulary": _vocabulary,
    "examples": _examples,
    "repeated_prompt": _system_prompt,
    "provider": _provider,
}


def measured_direction(card_id: str, evidence: Evidence) -> Measured:
    """Where the measurement of one card points, and the figure in words."""
    return MEASURES[card_id](evidence)


def _opposite(direction: Direction) -> Direction:
    return "fine_tune" if direction == "rag" else "rag"


def answer_direction(q: Question, answer: Answer) -> Direction | None:
    if answer is Answer.YES:
        return q.yes_points_to
    if answer is Answer.NO:
        return _opposite(q.yes_points_to)
    return None


def card_lean(q: Question, answer: Answer, measured: Direction | None) -> tuple[Lean, str]:
    """The module docstring's rule, for one card."""
    said = answer_direction(q, answer)
    if not q.measured:
        if said is None:
            return NEUTRAL, "not answered yet"
        strength = STRONG if answer is Answer.YES else MODERATE
        return Lean(said, strength), f"you said {answer.value}"
    if said is None and measured is None:
        return NEUTRAL, "not answered, and the measurement does not decide it"
    if said is not None and measured is not None and said == measured:
        return Lean(said, STRONG), f"you said {answer.value}, and the measurement agrees"
    if measured is None:
        assert said is not None
        return Lean(said, MODERATE), f"you said {answer.value}; the measurement does not decide it"
    if said is None:
        return Lean(measured, MODERATE), "from the measurement; you are not sure"
    if q.evidence_decides:
        return (
            Lean(measured, MODERATE),
            f"you said {answer.value}, but the measurement decides this one",
        )
    return (
        NEUTRAL,
        f"you said {answer.value}, but the measurement points to {CHOICE_NAMES[measured]}: "
        "check which is right",
    )


def evaluate_cards(evidence: Evidence, answers: Answers) -> list[CardResult]:
    results = []
    for q in QUESTIONS:
        measured, text = measured_direction(q.id, evidence)
        answer = answers.get(q.id)
        lean, why = card_lean(q, answer, measured)
        results.append(CardResult(q, answer, text, measured, lean, why))
    return results


# -- the recommendation ----------------------------------------------------------------


@dataclass(frozen=True)
class Reason:
    card_id: str
    text: str
    lean: Lean
    supports: bool = True
    """False for a card that points against the recommendation."""


@dataclass(frozen=True)
class DecisionWarning:
    """A pitfall that applies to this decision (not Python's ``Warning``)."""

    id: str
    text: str


@dataclass(frozen=True)
class Recommendation:
    choice: Choice
    confidence: float
    confidence_label: str
    summary: str
    reasons: tuple[Reason, ...]
    warnings: tuple[DecisionWarning, ...]
    cards: tuple[CardResult, ...] = ()
    enough: bool = True
    """False while nothing is answered and the measurements alone are too thin to
    recommend anything (an empty workspace): the choice is only where they lean."""

    def headline(self) -> str:
        """What the recommendation says in one line."""
        choice = CHOICE_NAMES[self.choice]
        if not self.enough:
            return f"Not enough to recommend yet (the measurements lean {choice})"
        return f"{choice[0].upper() + choice[1:]}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "choice": self.choice,
            "enough": self.enough,
            "confidence": round(self.confidence, 3),
            "confidence_label": self.confidence_label,
            "summary": self.summary,
            "reasons": [
                {
                    "card": r.card_id,
                    "text": r.text,
                    "lean": r.lean.direction,
                    "strength": r.lean.strength,
                    "supports": r.supports,
                }
                for r in self.reasons
            ],
            "warnings": [{"id": w.id, "text": w.text} for w in self.warnings],
            "cards": [
                {
                    "id": c.question.id,
                    "question": c.question.text,
                    "answer": c.answer.value,
                    "evidence": c.evidence,
                    "measured": c.measured,
                    "lean": c.lean.direction,
                    "strength": c.lean.strength,
                    "why": c.why,
                }
                for c in self.cards
            ],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Recommendation | None:
        """The saved recommendation (without the cards, which are recomputed); None when
        it cannot be read."""
        try:
            if data["choice"] not in SUMMARIES:
                return None
            return cls(
                choice=data["choice"],
                confidence=float(data["confidence"]),
                confidence_label=str(data["confidence_label"]),
                summary=str(data.get("summary", "")),
                reasons=tuple(
                    Reason(
                        r["card"],
                        r["text"],
                        Lean(r["lean"], float(r["strength"])),
                        bool(r.get("supports", True)),
                    )
                    for r in data["reasons"]
                    if r["card"] in QUESTION_IDS  # a card a later version added
                ),
                warnings=tuple(DecisionWarning(w["id"], w["text"]) for w in data["warnings"]),
                enough=bool(data.get("enough", True)),
            )
        except (KeyError, TypeError, ValueError):
            return None


SUMMARIES: dict[str, str] = {
    "rag": "Retrieval (RAG): keep the knowledge in the library and retrieve it per question.",
    "fine_tune": "Fine-tuning: teach the model from your examples.",
    "both": "Both: fine-tune for format and style, retrieve for facts.",
}


ENOUGH_CONFIDENCE = 0.25
"""Without any answer, the measurements alone must reach this confidence to recommend
(an empty workspace measures about 0.1)."""


def confidence_label(confidence: float) -> str:
    if confidence >= 2 / 3:
        return "high"
    if confidence >= 1 / 3:
        return "moderate"
    return "low"


def _supports(choice: Choice, card_id: str, direction: Direction) -> bool | None:
    """Whether a card leaning ``direction`` supports ``choice`` (None: neutral)."""
    if direction == "neutral":
        return None
    if direction == "both":
        return True
    if choice == "both":
        wanted = "rag" if card_id in KNOWLEDGE_CARDS else "fine_tune"
        return direction == wanted
    return direction == choice


def _needs(cards: list[CardResult], ids: frozenset[str], direction: Direction) -> list[CardResult]:
    return [
        c
        for c in cards
        if c.question.id in ids
        and c.lean.direction in (direction, "both")
        and c.lean.strength >= MODERATE
    ]


def recommend(evidence: Evidence, answers: Answers) -> Recommendation:
    """RAG, fine-tuning or both, how sure, why (each reason a card), and what to watch.

    - Both, when a knowledge card (change, attribution, size) leans RAG, a behaviour
      card (format, latency, vocabulary, system prompt) leans fine-tuning, and neither
      feasibility card (examples, provider) leans RAG. When the feasibility cards block
      it, RAG now, and the summary says what fine-tuning would add once unblocked.
    - Otherwise the side with the larger summed strength; a tie is RAG (cheaper to start,
      and nothing is lost if fine-tuning is added later).
    - Confidence = agreement × coverage: agreement = (for − against) / (for + against)
      over the cards' strengths (0 when against ≥ for), coverage = (for + against) /
      ``FULL_CONFIDENCE_WEIGHT``, at most 1.
    """
    cards = evaluate_cards(evidence, answers)
    knowledge = _needs(cards, KNOWLEDGE_CARDS, "rag")
    behaviour = _needs(cards, BEHAVIOUR_CARDS, "fine_tune")
    blockers = _needs(cards, FEASIBILITY_CARDS, "rag")
    choice: Choice
    summary: str
    if knowledge and behaviour and not blockers:
        choice = "both"
        summary = SUMMARIES["both"]
    elif knowledge and behaviour:
        choice = "rag"
        wanted = ", ".join(
            f"{c.question.title.lower()}, card {c.question.number}" for c in behaviour
        )
        blocked = ", ".join(
            f"{c.question.title.lower()}, card {c.question.number}" for c in blockers
        )
        summary = (
            f"{SUMMARIES['rag']} Fine-tuning would add to it ({wanted}) but is blocked for "
            f"now ({blocked})."
        )
    else:
        rag = sum(c.lean.strength for c in cards if c.lean.direction in ("rag", "both"))
        tune = sum(c.lean.strength for c in cards if c.lean.direction in ("fine_tune", "both"))
        choice = "fine_tune" if tune > rag else "rag"
        summary = SUMMARIES[choice]
    support = against = 0.0
    reasons: list[Reason] = []
    for c in cards:
        sides = _supports(choice, c.question.id, c.lean.direction)
        if sides is None:
            continue
        if sides:
            support += c.lean.strength
        else:
            against += c.lean.strength
        reasons.append(
            Reason(
                c.question.id,
                f"{c.question.title}: {c.evidence} — {c.why}.",
                c.lean,
                sides,
            )
        )
    order = {q.id: q.number for q in QUESTIONS}
    reasons.sort(key=lambda r: (not r.supports, -r.lean.strength, order[r.card_id]))
    weight = support + against
    agreement = max(0.0, (support - against) / weight) if weight else 0.0
    confidence = agreement * min(1.0, weight / FULL_CONFIDENCE_WEIGHT)
    answered = any(answers.get(q.id) is not Answer.UNSURE for q in QUESTIONS)
    enough = answered or confidence >= ENOUGH_CONFIDENCE
    if not weight:
        summary += " Nothing is answered or measured yet: this is only the default."
    elif not enough:
        summary += (
            " Nothing is answered yet and the measurements alone are too thin to decide: "
            "answer the questions, and add documents and examples."
        )
    return Recommendation(
        choice=choice,
        confidence=confidence,
        confidence_label=confidence_label(confidence),
        summary=summary,
        reasons=tuple(reasons),
        warnings=tuple(warnings_for(evidence, answers, choice)),
        cards=tuple(cards),
        enough=enough,
    )


# -- warnings -------------------------------------------------------------------------------

WARNING_TEXTS: dict[str, str] = {
    "fact_injection": (
        "Fine-tuning to inject facts that change: the knowledge changes (card 1), and a "
        "fine-tuned model keeps what it learned until it is trained again. Facts belong in "
        "retrieval; fine-tune for format and style."
    ),
    "prompt_only_format": (
        "Relying on prompts for a strict format: the answers need a rigid format (card 4), "
        "and instructions in a prompt drift on unusual inputs. Fine-tune on examples of the "
        "format instead (with retrieval for the facts)."
    ),
    "no_evaluation_set": (
        "No evaluation set yet: without questions whose right answers are known, neither "
        "retrieval nor fine-tuning can be shown to help. Build one before settling this."
    ),
    "evaluation_not_run": (
        "No evaluation run to rely on yet: run an eval set of at least "
        f"{MIN_EVALUATION_QUESTIONS} questions in the Evaluate tab (base model, RAG, "
        "fine-tuned) before settling this."
    ),
    "naive_chunking": (
        "Chunking left at a naive default: the library is cut into fixed word windows that "
        "split sentences and sections, so retrieval looks worse than it can be. Try "
        "recursive or structure-aware chunking in the Library tab."
    ),
}


def knowledge_changes(evidence: Evidence, answers: Answers) -> bool:
    """The user says so, or the history shows it."""
    return answers.get("change") is Answer.YES or _change(evidence)[0] == "rag"


def strict_format_needed(evidence: Evidence, answers: Answers) -> bool:
    """The user says so, or the dataset shows it."""
    return answers.get("format") is Answer.YES or _format(evidence)[0] == "fine_tune"


def warnings_for(evidence: Evidence, answers: Answers, choice: Choice) -> list[DecisionWarning]:
    """Each warning fires exactly on the case it describes:

    - fact_injection: the choice is fine-tuning alone and the knowledge changes;
    - prompt_only_format: the choice is RAG alone and a strict format is needed;
    - no_evaluation_set: no eval set;
    - evaluation_not_run: eval sets, but none run with at least
      ``MIN_EVALUATION_QUESTIONS`` questions answered (on the set as it is now);
    - runs_disagree: a measured mode beats the one that measures the choice by at least
      ``CONTRADICTION_MARGIN`` (``contradiction``);
    - naive_chunking: the library has chunks made with ``fixed_words``.
    """
    found: list[str] = []
    if choice == "fine_tune" and knowledge_changes(evidence, answers):
        found.append("fact_injection")
    if choice == "rag" and strict_format_needed(evidence, answers):
        found.append("prompt_only_format")
    if evidence.evaluation.sets == 0:
        found.append("no_evaluation_set")
    elif not evidence.evaluation.measured:
        found.append("evaluation_not_run")
    if evidence.chunking.naive and evidence.chunking.chunks > 0:
        found.append("naive_chunking")
    warnings = [DecisionWarning(key, WARNING_TEXTS[key]) for key in found]
    disagreement = contradiction(evidence, choice)
    if disagreement:
        warnings.append(DecisionWarning("runs_disagree", disagreement))
    return warnings


def contradiction(evidence: Evidence, choice: Choice) -> str:
    """What the measured runs say against ``choice``: the best mode measured, when it
    beats the mode that measures the choice (or when that mode was not measured but
    others were, and one of them beats every other), by ``CONTRADICTION_MARGIN``."""
    runs = [r for r in evidence.evaluation.runs if r.metric == evidence.evaluation.runs[0].metric]
    if len(runs) < 2:
        return ""
    best = max(runs, key=lambda r: r.value)
    wanted = CHOICE_MODES[choice]
    mine = next((r for r in runs if r.mode == wanted), None)
    if mine is None or best.mode == wanted or best.value - mine.value < CONTRADICTION_MARGIN:
        return ""
    return (
        f"The measured runs disagree with this recommendation: {best.label} scored "
        f"{percent(best.value)} ({_metric_name(best.metric)}) against {percent(mine.value)} for "
        f"{mine.label} on eval set “{best.set_name}” ({best.questions} questions, "
        f"{_when(best.at)}). Compare the runs in the Evaluate tab before settling this."
    )


# -- the comparison table ----------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    aspect: str
    rag: str
    fine_tuning: str
    measured: str | None
    """This workspace's figure for the aspect, or None where nothing measures it."""


GENERIC_ROWS: tuple[tuple[str, str, str], ...] = (
    (
        "Freshness",
        "Update a document and rescan: answers change at once",
        "Train again to change what the model knows",
    ),
    (
        "Training data needed",
        "Documents only; no labelled examples",
        "At least 10 labelled examples; gains usually at 50–100",
    ),
    (
        "Compute cost",
        "Embed the library once, then a search per question",
        "A training run per change, billed per training token; shorter prompts after",
    ),
    (
        "Latency",
        "A search and a longer prompt on every request",
        "No search; shorter prompts",
    ),
    (
        "Transparency",
        "Each answer can cite the passages it used",
        "Knowledge sits in the weights; no sources to show",
    ),
    (
        "Knowledge scope",
        "As large as the library; only the passages retrieved are used per question",
        "What the examples cover; facts are learned unreliably",
    ),
    (
        "Format control",
        "Prompt instructions; drift on unusual inputs",
        "Learns the format and style from examples",
    ),
    (
        "Grounding",
        "Answers anchored in retrieved text; can say when nothing was found",
        "May state learned or invented facts with confidence",
    ),
    (
        "Setup complexity",
        "Import, chunk, index; tune retrieval",
        "Collect and check examples, train, evaluate, redeploy",
    ),
    (
        "Measured on your questions",
        "Run an eval set in RAG mode (Evaluate tab)",
        "Run the same set with the fine-tuned model, alone and with RAG",
    ),
)


def _measured_rows(e: Evidence) -> dict[str, str | None]:
    k, s, f, lat, x, p = e.knowledge, e.size, e.format, e.latency, e.examples, e.prompt
    rows: dict[str, str | None] = dict.fromkeys(a for a, _r, _f in GENERIC_ROWS)
    if k.changed_90d is not None:
        rows["Freshness"] = (
            f"{k.changed_90d:,} of {k.documents:,} documents changed in the last 90 days "
            f"({k.changed_30d or 0:,} in the last 30)"
        )
    data = f"{s.documents:,} documents in the library; "
    if x.datasets:
        data += f"{x.best_valid:,} valid examples in “{x.best_dataset}”"
    else:
        data += "no labelled examples yet"
    rows["Training data needed"] = data
    cost = []
    if s.tokens is not None:
        cost.append(f"{human_tokens(s.tokens)} library tokens")
    if p.tokens_per_day is not None:
        cost.append(f"{human_tokens(p.tokens_per_day)} system-prompt tokens a day to save")
    rows["Compute cost"] = "; ".join(cost) or None
    if lat.median_ms is not None and lat.p95_ms is not None:
        latency = (
            f"retrieval median {ms(lat.median_ms)}, p95 {ms(lat.p95_ms)} ({lat.samples:,} searches)"
        )
        if e.inputs.latency_budget_ms:
            latency += f"; budget {ms(e.inputs.latency_budget_ms)}"
        rows["Latency"] = latency
    if s.tokens is not None:
        rows["Knowledge scope"] = (
            f"{human_tokens(s.tokens)} tokens: {s.times_context or 0:.2g}× the context "
            f"window, {s.times_typical_set or 0:.2g}× a typical fine-tuning set"
        )
    if f.rigid_share is not None:
        rows["Format control"] = (
            f"{percent(f.rigid_share)} of {f.examples:,} examples in JSON or one template"
        )
    adherence = format_adherence_text(e)
    if adherence:
        rows["Format control"] = "; ".join(x for x in (rows["Format control"], adherence) if x)
    rows["Measured on your questions"] = runs_text(e.evaluation.runs) or (
        f"{e.evaluation.sets} eval set(s); {e.evaluation.note}" if e.evaluation.sets else None
    )
    setup = f"chunking: {e.chunking.strategy}" + (" (naive)" if e.chunking.naive else "")
    setup += (
        f"; fine-tuning with {e.provider.provider or 'the provider'}: {e.provider.can_fine_tune}"
    )
    rows["Setup complexity"] = setup
    return rows


def comparison_table(evidence: Evidence) -> list[Row]:
    """The usual RAG-vs-fine-tuning comparison, with this workspace's figures."""
    measured = _measured_rows(evidence)
    return [Row(aspect, rag, tune, measured[aspect]) for aspect, rag, tune in GENERIC_ROWS]
