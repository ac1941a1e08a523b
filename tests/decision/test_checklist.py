"""The rules: each card leans the way its evidence and answer say, combinations give
"both" where the rule says so, and each warning fires on its case and no other."""

from __future__ import annotations

from dataclasses import replace

import pytest

from desktop.decision.checklist import (
    QUESTION_IDS,
    QUESTIONS,
    Answer,
    Answers,
    Lean,
    card_lean,
    comparison_table,
    evaluate_cards,
    question,
    recommend,
    warnings_for,
)
from desktop.decision.evidence import (
    ChunkingConfig,
    DecisionInputs,
    EvaluationSets,
    Evidence,
    FormatRigidity,
    FragmentedTerm,
    KnowledgeChange,
    LabelledExamples,
    LibrarySize,
    ProviderFineTuning,
    RetrievalLatency,
    SystemPromptSavings,
    VocabularyFragmentation,
)

# Evidence where nothing decides any card: the base every test changes one thing in.
BLANK = Evidence(
    examples=LabelledExamples(datasets=1, examples=20, valid=20, best_dataset="d", best_valid=20),
    evaluation=EvaluationSets(sets=1),
)

# For each card: evidence pointing to RAG, and evidence pointing to fine-tuning.
POINTING: dict[str, tuple[Evidence, Evidence]] = {
    "change": (
        replace(BLANK, knowledge=KnowledgeChange(100, 4, 12, 200.0, 3)),
        replace(BLANK, knowledge=KnowledgeChange(100, 0, 1, 200.0, 3)),
    ),
    "size": (
        replace(BLANK, size=LibrarySize(40, 900_000, "gpt-4o", 128_000)),
        replace(BLANK, size=LibrarySize(3, 20_000, "gpt-4o", 128_000)),
    ),
    "format": (
        replace(BLANK, format=FormatRigidity(20, 1, 2, 3, 0.15)),
        replace(BLANK, format=FormatRigidity(20, 15, 0, 15, 0.75)),
    ),
    "latency": (
        replace(
            BLANK,
            latency=RetrievalLatency(40, 12.0, 30.0),
            inputs=DecisionInputs(latency_budget_ms=2_000),
        ),
        replace(
            BLANK,
            latency=RetrievalLatency(40, 60.0, 140.0),
            inputs=DecisionInputs(latency_budget_ms=300),
        ),
    ),
    "vocabulary": (
        replace(
            BLANK, vocabulary=VocabularyFragmentation("o200k_base", 5_000, 900, 1.05, 1.0, 1.05)
        ),
        replace(BLANK, vocabulary=VocabularyFragmentation("o200k_base", 5_000, 900, 1.6, 1.0, 1.6)),
    ),
    "examples": (
        replace(BLANK, examples=LabelledExamples(1, 8, 6, "d", 6)),
        replace(BLANK, examples=LabelledExamples(1, 80, 75, "d", 75)),
    ),
    "repeated_prompt": (
        replace(BLANK, prompt=SystemPromptSavings(120, 500, 60_000)),
        replace(BLANK, prompt=SystemPromptSavings(1_200, 5_000, 6_000_000)),
    ),
    "provider": (
        replace(BLANK, provider=ProviderFineTuning("ollama", "http://localhost:11434/v1", "no")),
        replace(BLANK, provider=ProviderFineTuning("openai", "x", "yes", 1)),
    ),
}


def card(evidence: Evidence, answers: Answers, card_id: str):
    return next(c for c in evaluate_cards(evidence, answers) if c.question.id == card_id)


def answers(**given: str) -> Answers:
    return Answers({k: Answer(v) for k, v in given.items()})


def test_blank_evidence_decides_no_card() -> None:
    for result in evaluate_cards(BLANK, Answers()):
        assert result.measured is None, result.question.id
        assert result.lean.direction == "neutral"


@pytest.mark.parametrize("card_id", sorted(POINTING))
def test_evidence_for_rag_points_to_rag_and_for_fine_tuning_to_fine_tuning(card_id: str) -> None:
    to_rag, to_tune = POINTING[card_id]
    rag = card(to_rag, Answers(), card_id)
    tune = card(to_tune, Answers(), card_id)
    assert (rag.measured, rag.lean) == ("rag", Lean("rag", 0.5))
    assert (tune.measured, tune.lean) == ("fine_tune", Lean("fine_tune", 0.5))
    assert rag.evidence and tune.evidence


@pytest.mark.parametrize("card_id", sorted(POINTING))
def test_an_answer_that_agrees_with_the_evidence_makes_the_lean_strong(card_id: str) -> None:
    q = question(card_id)
    to_rag, to_tune = POINTING[card_id]
    rag_answer = "yes" if q.yes_points_to == "rag" else "no"
    tune_answer = "no" if rag_answer == "yes" else "yes"
    assert card(to_rag, answers(**{card_id: rag_answer}), card_id).lean == Lean("rag", 1.0)
    assert card(to_tune, answers(**{card_id: tune_answer}), card_id).lean == Lean("fine_tune", 1.0)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_an_answer_alone_points_its_way(q) -> None:
    yes = card(BLANK, answers(**{q.id: "yes"}), q.id).lean
    no = card(BLANK, answers(**{q.id: "no"}), q.id).lean
    assert yes.direction == q.yes_points_to
    assert no.direction == ("fine_tune" if q.yes_points_to == "rag" else "rag")
    assert no.strength == 0.5
    assert yes.strength == (1.0 if q.id == "attribution" else 0.5)


def test_attribution_is_the_users_answer_alone() -> None:
    assert card(BLANK, Answers(), "attribution").lean == Lean("neutral", 0.0)
    assert card(BLANK, answers(attribution="yes"), "attribution").lean == Lean("rag", 1.0)
    assert card(BLANK, answers(attribution="no"), "attribution").lean == Lean("fine_tune", 0.5)


@pytest.mark.parametrize(
    "card_id", ["change", "size", "format", "latency", "vocabulary", "repeated_prompt"]
)
def test_an_answer_against_the_evidence_leaves_the_card_neutral(card_id: str) -> None:
    q = question(card_id)
    to_rag, _ = POINTING[card_id]
    tune_answer = "no" if q.yes_points_to == "rag" else "yes"
    result = card(to_rag, answers(**{card_id: tune_answer}), card_id)
    assert result.lean == Lean("neutral", 0.0)
    assert "check which is right" in result.why


@pytest.mark.parametrize("card_id", ["examples", "provider"])
def test_on_hard_facts_the_evidence_wins_over_the_answer(card_id: str) -> None:
    to_rag, to_tune = POINTING[card_id]
    assert card(to_rag, answers(**{card_id: "yes"}), card_id).lean == Lean("rag", 0.5)
    assert card(to_tune, answers(**{card_id: "no"}), card_id).lean == Lean("fine_tune", 0.5)


def test_thresholds_sit_where_documented() -> None:
    def measured(evidence: Evidence, card_id: str):
        return card(evidence, Answers(), card_id).measured

    k = KnowledgeChange(100, 0, 10, 200.0, 1)
    assert measured(replace(BLANK, knowledge=k), "change") == "rag"
    assert measured(replace(BLANK, knowledge=replace(k, changed_90d=9)), "change") is None
    assert measured(replace(BLANK, knowledge=replace(k, changed_90d=2)), "change") == "fine_tune"
    stable_but_unwatched = replace(k, changed_90d=0, later_runs_90d=0)
    assert measured(replace(BLANK, knowledge=stable_but_unwatched), "change") is None
    too_young = replace(k, changed_90d=0, observed_days=20.0)
    assert measured(replace(BLANK, knowledge=too_young), "change") is None
    small = KnowledgeChange(3, 1, 1, 40.0, 1)
    assert measured(replace(BLANK, knowledge=small), "change") == "rag"

    size = LibrarySize(5, 50_000, "gpt-4o", 128_000)
    assert measured(replace(BLANK, size=size), "size") == "fine_tune"
    assert measured(replace(BLANK, size=replace(size, tokens=50_001)), "size") is None
    assert measured(replace(BLANK, size=replace(size, tokens=128_001)), "size") == "rag"
    huge_window = replace(size, context_window=1_047_576)
    assert measured(replace(BLANK, size=replace(huge_window, tokens=500_000)), "size") is None
    assert measured(replace(BLANK, size=replace(huge_window, tokens=500_001)), "size") == "rag"

    assert measured(replace(BLANK, format=FormatRigidity(4, 4, 0, 4, 1.0)), "format") is None
    assert (
        measured(replace(BLANK, format=FormatRigidity(10, 6, 0, 6, 0.6)), "format") == "fine_tune"
    )
    assert measured(replace(BLANK, format=FormatRigidity(10, 2, 0, 2, 0.2)), "format") == "rag"

    lat = RetrievalLatency(4, 50.0, 100.0)
    budget = DecisionInputs(latency_budget_ms=200)
    assert measured(replace(BLANK, latency=lat, inputs=budget), "latency") is None  # 4 samples
    assert (
        measured(replace(BLANK, latency=replace(lat, samples=5), inputs=budget), "latency")
        == "fine_tune"
    )
    assert measured(replace(BLANK, latency=replace(lat, samples=5)), "latency") is None  # no budget

    v = VocabularyFragmentation("o200k_base", 150, 100, 2.0, 1.0, 2.0)
    assert measured(replace(BLANK, vocabulary=v), "vocabulary") is None  # too few words
    assert (
        measured(replace(BLANK, vocabulary=replace(v, words=200, ratio=1.25)), "vocabulary")
        == "fine_tune"
    )
    assert (
        measured(replace(BLANK, vocabulary=replace(v, words=200, ratio=1.2)), "vocabulary") is None
    )

    x = LabelledExamples(1, 10, 10, "d", 10)
    assert measured(replace(BLANK, examples=x), "examples") is None
    assert measured(replace(BLANK, examples=replace(x, best_valid=9)), "examples") == "rag"
    assert measured(replace(BLANK, examples=replace(x, best_valid=50)), "examples") == "fine_tune"
    assert measured(replace(BLANK, examples=LabelledExamples()), "examples") == "rag"

    p = SystemPromptSavings(500, 2_000, 1_000_000)
    assert measured(replace(BLANK, prompt=p), "repeated_prompt") == "fine_tune"
    assert (
        measured(
            replace(BLANK, prompt=replace(p, prompt_tokens=499, tokens_per_day=998_000)),
            "repeated_prompt",
        )
        is None
    )
    assert (
        measured(replace(BLANK, prompt=SystemPromptSavings(300, 100, 30_000)), "repeated_prompt")
        == "rag"
    )

    unknown = ProviderFineTuning("openai", "x", "unknown")
    assert measured(replace(BLANK, provider=unknown), "provider") is None


# -- the recommendation -------------------------------------------------------------------


def combine(*parts: Evidence) -> Evidence:
    """Evidence with the changed sections of several POINTING entries."""
    result = BLANK
    for part in parts:
        for name in (
            "knowledge",
            "size",
            "format",
            "latency",
            "vocabulary",
            "examples",
            "prompt",
            "provider",
            "inputs",
        ):
            if getattr(part, name) != getattr(BLANK, name):
                result = replace(result, **{name: getattr(part, name)})
    return result


RAG = {k: v[0] for k, v in POINTING.items()}
TUNE = {k: v[1] for k, v in POINTING.items()}


def test_nothing_known_defaults_to_rag_with_no_confidence() -> None:
    result = recommend(BLANK, Answers())
    assert result.choice == "rag"
    assert result.confidence == 0.0
    assert result.confidence_label == "low"
    assert result.reasons == ()
    assert "only the default" in result.summary


def test_knowledge_need_plus_behaviour_need_gives_both() -> None:
    evidence = combine(RAG["change"], TUNE["format"], TUNE["examples"])
    result = recommend(evidence, Answers())
    assert result.choice == "both"
    assert result.summary.startswith("Both: fine-tune for format and style, retrieve for facts")
    supporting = {r.card_id for r in result.reasons if r.supports}
    assert supporting == {"change", "format", "examples"}
    assert all(r.supports for r in result.reasons)


@pytest.mark.parametrize("knowledge", ["change", "size", "attribution"])
@pytest.mark.parametrize("behaviour", ["format", "latency", "vocabulary", "repeated_prompt"])
def test_every_knowledge_and_behaviour_pair_gives_both(knowledge: str, behaviour: str) -> None:
    given = {"attribution": "yes"} if knowledge == "attribution" else {}
    evidence = combine(TUNE[behaviour], *([RAG[knowledge]] if knowledge in RAG else []))
    assert recommend(evidence, answers(**given)).choice == "both"


def test_both_is_blocked_by_too_few_examples_or_a_provider_that_cannot_train() -> None:
    for blocker in ("examples", "provider"):
        evidence = combine(RAG["change"], TUNE["format"], RAG[blocker])
        result = recommend(evidence, Answers())
        assert result.choice == "rag", blocker
        assert "blocked" in result.summary
        assert f"card {question(blocker).number}" in result.summary
        against = [r for r in result.reasons if not r.supports]
        assert [r.card_id for r in against] == ["format"]


def test_knowledge_alone_gives_rag_and_behaviour_alone_gives_fine_tuning() -> None:
    assert recommend(combine(RAG["change"], RAG["size"]), Answers()).choice == "rag"
    tuned = recommend(combine(TUNE["format"], TUNE["vocabulary"], TUNE["examples"]), Answers())
    assert tuned.choice == "fine_tune"
    assert tuned.summary.startswith("Fine-tuning")


def test_a_tie_goes_to_rag() -> None:
    evidence = combine(TUNE["size"], RAG["latency"])  # one moderate each way
    result = recommend(evidence, Answers())
    assert result.choice == "rag"
    assert result.confidence == 0.0


def test_confidence_is_agreement_times_coverage() -> None:
    evidence = combine(TUNE["format"], TUNE["vocabulary"], TUNE["examples"], RAG["latency"])
    result = recommend(evidence, answers(format="yes", vocabulary="yes"))
    # for: format 1.0 + vocabulary 1.0 + examples 0.5 = 2.5; against: latency 0.5
    assert result.choice == "fine_tune"
    assert result.confidence == pytest.approx((2.5 - 0.5) / 3.0 * (3.0 / 5.0))
    assert result.confidence_label == "moderate"
    assert [r.card_id for r in result.reasons] == ["format", "vocabulary", "examples", "latency"]
    everything = {q.id: ("yes" if q.yes_points_to == "rag" else "no") for q in QUESTIONS}
    all_rag = recommend(combine(*RAG.values()), answers(**everything))
    assert (all_rag.choice, all_rag.confidence, all_rag.confidence_label) == ("rag", 1.0, "high")


def test_reasons_name_their_card_and_say_why() -> None:
    result = recommend(combine(RAG["change"]), answers(change="yes"))
    (reason,) = result.reasons
    assert reason.card_id == "change"
    assert reason.text.startswith("Changing knowledge: 12 of 100 documents changed")
    assert "you said yes, and the measurement agrees" in reason.text
    assert reason.lean == Lean("rag", 1.0)


# -- warnings ----------------------------------------------------------------------------------


def ids(evidence: Evidence, given: Answers) -> set[str]:
    return {w.id for w in recommend(evidence, given).warnings}


def test_fact_injection_fires_when_fine_tuning_alone_meets_changing_knowledge() -> None:
    tuning = combine(TUNE["format"], TUNE["vocabulary"], TUNE["examples"], TUNE["repeated_prompt"])
    assert recommend(tuning, Answers()).choice == "fine_tune"
    assert "fact_injection" not in ids(tuning, Answers())  # nothing says it changes
    # The user says it changes: a knowledge need, so "both" keeps facts in retrieval.
    assert recommend(tuning, answers(change="yes")).choice == "both"
    assert "fact_injection" not in ids(tuning, answers(change="yes"))
    changing = combine(tuning, RAG["change"])
    assert recommend(changing, Answers()).choice == "both"
    assert "fact_injection" not in ids(changing, Answers())
    # The user says it does not change, the history says it does: the card is neutral,
    # the choice is fine-tuning alone, and the warning fires.
    given = answers(change="no")
    assert recommend(changing, given).choice == "fine_tune"
    assert "fact_injection" in ids(changing, given)
    # The rule itself: fine-tuning alone and the user's "yes".
    assert "fact_injection" in {
        w.id for w in warnings_for(tuning, answers(change="yes"), "fine_tune")
    }
    assert "fact_injection" not in {
        w.id for w in warnings_for(tuning, answers(change="yes"), "both")
    }
    assert "fact_injection" not in {w.id for w in warnings_for(tuning, Answers(), "fine_tune")}


def test_prompt_only_format_fires_when_rag_alone_meets_a_strict_format() -> None:
    blocked = combine(RAG["change"], TUNE["format"], RAG["examples"])
    assert recommend(blocked, Answers()).choice == "rag"
    assert "prompt_only_format" in ids(blocked, Answers())
    by_answer = combine(RAG["change"], RAG["examples"])
    assert recommend(by_answer, answers(format="yes")).choice == "rag"
    assert "prompt_only_format" in ids(by_answer, answers(format="yes"))
    assert "prompt_only_format" not in ids(by_answer, Answers())
    assert "prompt_only_format" not in ids(by_answer, answers(format="no"))
    both = combine(RAG["change"], TUNE["format"], TUNE["examples"])
    assert "prompt_only_format" not in ids(both, Answers())


def test_no_evaluation_set_fires_only_without_one() -> None:
    assert "no_evaluation_set" not in ids(BLANK, Answers())
    assert "no_evaluation_set" in ids(replace(BLANK, evaluation=EvaluationSets(0)), Answers())


def test_naive_chunking_fires_only_for_fixed_words_with_chunks() -> None:
    naive = ChunkingConfig("fixed_words", True, True, 120)
    assert "naive_chunking" in ids(replace(BLANK, chunking=naive), Answers())
    assert "naive_chunking" not in ids(replace(BLANK, chunking=replace(naive, chunks=0)), Answers())
    recursive = ChunkingConfig("recursive_tokens", True, False, 120)
    assert "naive_chunking" not in ids(replace(BLANK, chunking=recursive), Answers())
    assert "naive_chunking" not in ids(
        replace(BLANK, chunking=ChunkingConfig(chunks=120)), Answers()
    )


def test_card_lean_rule_table() -> None:
    q = question("format")
    assert card_lean(q, Answer.UNSURE, None)[0] == Lean("neutral", 0.0)
    assert card_lean(q, Answer.YES, "fine_tune")[0] == Lean("fine_tune", 1.0)
    assert card_lean(q, Answer.YES, None)[0] == Lean("fine_tune", 0.5)
    assert card_lean(q, Answer.UNSURE, "rag")[0] == Lean("rag", 0.5)
    assert card_lean(q, Answer.YES, "rag")[0] == Lean("neutral", 0.0)


def test_answers_file_format_round_trips_and_refuses_nonsense() -> None:
    assert not set(QUESTION_IDS) & {"latency_budget_ms", "requests_per_day", "system_prompt"}
    given = Answers(
        {"change": Answer.YES, "format": Answer.NO}, DecisionInputs(300.0, 1_000, "Be brief.")
    )
    assert Answers.from_dict(given.to_dict()) == Answers(
        {q.id: given.get(q.id) for q in QUESTIONS}, given.inputs
    )
    assert Answers.from_dict({"change": "Not sure"}).get("change") is Answer.UNSURE
    with pytest.raises(ValueError, match="change: 'maybe' is not an answer"):
        Answers.from_dict({"change": "maybe"})
    with pytest.raises(ValueError, match="unknown key 'colour'"):
        Answers.from_dict({"colour": "yes"})
    with pytest.raises(ValueError, match="requests_per_day must be a whole number"):
        Answers.from_dict({"requests_per_day": 2.5})
    with pytest.raises(ValueError, match="latency_budget_ms must be a number"):
        Answers.from_dict({"latency_budget_ms": "fast"})


# -- the comparison table -------------------------------------------------------------------


def test_comparison_table_fills_in_what_was_measured() -> None:
    evidence = combine(
        RAG["change"],
        RAG["size"],
        TUNE["format"],
        TUNE["latency"],
        TUNE["repeated_prompt"],
        TUNE["provider"],
    )
    evidence = replace(
        evidence,
        chunking=ChunkingConfig("fixed_words", True, True, 10),
        vocabulary=VocabularyFragmentation(
            "o200k_base", 500, 100, 1.3, 1.0, 1.3, (FragmentedTerm("apixaban", 4, 3),)
        ),
    )
    rows = {r.aspect: r for r in comparison_table(evidence)}
    assert list(rows) == [
        "Freshness",
        "Training data needed",
        "Compute cost",
        "Latency",
        "Transparency",
        "Knowledge scope",
        "Format control",
        "Grounding",
        "Setup complexity",
        "Measured on your questions",
    ]
    assert (
        rows["Freshness"].measured
        == "12 of 100 documents changed in the last 90 days (4 in the last 30)"
    )
    assert (
        rows["Latency"].measured
        == "retrieval median 60 ms, p95 140 ms (40 searches); budget 300 ms"
    )
    assert rows["Format control"].measured == "75% of 20 examples in JSON or one template"
    assert (
        rows["Knowledge scope"].measured
        == "900 k tokens: 7× the context window, 18× a typical fine-tuning set"
    )
    assert (
        rows["Compute cost"].measured
        == "900 k library tokens; 6.0 M system-prompt tokens a day to save"
    )
    assert (
        rows["Training data needed"].measured
        == "40 documents in the library; 20 valid examples in “d”"
    )
    assert (
        rows["Setup complexity"].measured
        == "chunking: fixed_words (naive); fine-tuning with openai: yes"
    )
    assert rows["Transparency"].measured is None
    assert rows["Grounding"].measured is None
    assert all(r.rag and r.fine_tuning for r in rows.values())


def test_comparison_table_without_measurements() -> None:
    rows = {r.aspect: r for r in comparison_table(Evidence())}
    assert rows["Latency"].measured is None
    assert rows["Freshness"].measured is None
    assert (
        rows["Training data needed"].measured
        == "0 documents in the library; no labelled examples yet"
    )


def test_lean_labels() -> None:
    assert Lean("rag", 1.0).label == "RAG (strong)"
    assert Lean("fine_tune", 0.5).label == "fine-tuning (moderate)"
    assert Lean("neutral", 0.0).label == "neutral"


def test_a_saved_recommendation_round_trips_and_unreadable_ones_are_none() -> None:
    from desktop.decision.checklist import Recommendation

    result = recommend(combine(RAG["change"], TUNE["format"], TUNE["examples"]), Answers())
    loaded = Recommendation.from_dict(result.to_dict())
    assert loaded == replace(result, confidence=round(result.confidence, 3), cards=())
    assert Recommendation.from_dict({"choice": "magic"}) is None
    assert Recommendation.from_dict({"choice": "rag"}) is None
    data = result.to_dict()
    data["reasons"].append({"card": "future", "text": "x", "lean": "rag", "strength": 1.0})
    assert Recommendation.from_dict(data) == loaded


def test_an_empty_workspace_with_no_answer_is_not_enough_to_recommend() -> None:
    from desktop.decision.evidence import Evidence

    recommendation = recommend(Evidence(), Answers())
    assert not recommendation.enough
    assert recommendation.headline().startswith("Not enough to recommend yet")
    assert recommendation.to_dict()["enough"] is False
    answered = recommend(Evidence(), Answers({"attribution": Answer.YES}))
    assert answered.enough and answered.headline() == "RAG"
