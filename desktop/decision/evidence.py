"""What the workspace says about the RAG-or-fine-tuning questions, measured.

One function per figure, each over the workspace (plus settings where needed), so each
can be tested against a workspace a test builds. A figure that cannot be measured yet
is None, with a short note saying why and what would measure it: the checklist then
leans on the user's answer alone.

Each figure asks the package that owns the data (``EvidenceSources``): the library for
its change history, sizes and text, the fine-tuning stores for examples and accepted jobs,
retrieval for its search log. Nothing here names another package's tables.
"""

from __future__ import annotations

import logging
import re
import statistics
import typing
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from desktop.chat.prompt import context_limit
from desktop.evaluation.compare import MIN_DECISION_QUESTIONS, mode_figures
from desktop.evaluation.metrics import percentile_nearest_rank
from desktop.evaluation.store import EvalStore
from desktop.finetune.job_store import JobStore
from desktop.finetune.store import DatasetStore
from desktop.finetune.validation import check_preference_record, check_record
from desktop.library.chunking import FixedWords
from desktop.library.importer import DEFAULT_STRATEGY
from desktop.library.repository import Library
from desktop.reply_format import (  # noqa: F401  (re-exported: the evidence's vocabulary)
    assistant_turns,
    json_reply,
    line_frame,
    reply_formats,
    reply_skeleton,
)
from desktop.retrieval.search_log import SearchLog
from desktop.settings import Settings
from desktop.text import plural
from desktop.tokens import Tokenizer, encoding_for_model, get_tokenizer
from desktop.workspace import Workspace

log = logging.getLogger(__name__)

DAY = 86_400.0

# -- constants the rules and notes refer to ----------------------------------------------

CHANGE_KINDS = ("added", "updated", "removed")
"""Library events that change what the library knows ("missing" is a file gone from
disk, not yet a change of knowledge; "unchanged" and "skipped" change nothing)."""

TYPICAL_FINE_TUNING_EXAMPLES = 100
TYPICAL_EXAMPLE_TOKENS = 500
TYPICAL_FINE_TUNING_TOKENS = TYPICAL_FINE_TUNING_EXAMPLES * TYPICAL_EXAMPLE_TOKENS
"""A typical fine-tuning set: the 50–100 examples where OpenAI says gains usually show
(the upper end), of a few hundred tokens each. What a library is compared with to ask
whether a training set could plausibly cover it."""

LATENCY_WINDOW_DAYS = 30
LATENCY_MAX_SAMPLES = 1_000
"""Recent searches only: the index and the machine change, old timings mislead."""

MAX_VOCABULARY_WORDS = 1_000_000
"""Word occurrences read for the tokens-per-word figure (documents in id order); enough
for a stable average and keeps a 50 MB library from tying up a worker."""

MIN_TERM_OCCURRENCES = 2
FRAGMENTED_TERMS = 10

MIN_EXAMPLES_TO_TRAIN = 10
"""OpenAI refuses a training file with fewer examples."""
EXAMPLES_WHERE_GAINS_SHOW = (50, 100)

OPENAI_CLOSED_TO_NEW_USERS = date(2026, 5, 7)
OPENAI_NO_NEW_JOBS = date(2027, 1, 6)
"""OpenAI's wind-down of self-serve fine-tuning (its guide, 2026): closed to new users
since 2026-05-07; reported that no new jobs can be created after 2027-01-06."""

LOCAL_PROVIDERS = frozenset({"ollama", "lmstudio"})

NAIVE_CHUNKING = FixedWords.name
DEFAULT_CHUNKING = DEFAULT_STRATEGY.name

# Ordinary English prose, written for RAGTune (no licence strings attached): everyday
# topics, no jargon. Its tokens per word are the baseline the library is compared with.
REFERENCE_PROSE = """\
On Saturday morning we walked down to the market before the streets got busy. The baker
on the corner had already sold most of his bread, so we bought two small loaves and a
bag of apples from the farmer next to him. My sister wanted to look at the old books
that a man sells from the back of his van, and she found a cookbook with notes written
in pencil by someone who must have used it for years. We sat by the river to eat, and
watched children throw bread to the ducks while their parents talked about the weather.

In the afternoon it started to rain, which nobody had expected. We waited under the roof
of the bus stop with a few other people, and an older woman told us about the summer
when the river rose so high that the bridge was closed for a week. She said the town
looked very different then: there was no supermarket, the school was half the size, and
everyone knew the name of the man who drove the only taxi. When the rain stopped, the
light over the hills was soft and golden, and the whole street smelled of wet grass.

Back at home, my father was trying to fix the kitchen door, which had been sticking all
winter. He had taken it off its hinges and laid it across two chairs, and he was looking
at it as if it had done something wrong on purpose. My mother made tea and suggested that
he could simply call someone, but he said he wanted to learn how it worked. By the time
dinner was ready, the door closed quietly again, and he was very pleased with himself.

Later we played cards at the table and talked about plans for the holidays. Some of us
wanted to go to the coast, where the water is cold but the beaches are long and empty.
Others preferred to stay in the mountains, walk during the day and read in the evening.
We did not decide anything, as usual, but it was a good way to end a quiet day, and
everyone went to bed early because the clocks would change during the night.
"""

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
"""A word: letters only (digits, codes and punctuation are not vocabulary), with
apostrophes inside kept ("don't"). Hyphenated compounds count as their parts."""
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)
"""Thai, Lao, Myanmar, Khmer, kana and Han: scripts written without spaces, where a
"word" found between spaces is a whole phrase, so tokens per word mean nothing."""


# -- the evidence record ---------------------------------------------------------------


@dataclass(frozen=True)
class DecisionInputs:
    """What the user enters beside the answers: figures the app cannot measure."""

    latency_budget_ms: float | None = None
    requests_per_day: int | None = None
    system_prompt: str = ""


@dataclass(frozen=True)
class KnowledgeChange:
    """Documents added, updated or removed (distinct source paths), not counting the
    library's first import, which is where its history starts rather than a change."""

    documents: int = 0
    changed_30d: int | None = None
    changed_90d: int | None = None
    observed_days: float | None = None
    """Days since the first import: how much history the figures rest on."""
    later_runs_90d: int = 0
    """Imports and rescans after the first import, in the last 90 days: without one, a
    file edited on disk cannot have shown up as a change."""
    added_total: int = 0
    updated_total: int = 0
    removed_total: int = 0
    """Change events since the first import (for "since your last visit")."""
    note: str = ""


@dataclass(frozen=True)
class LibrarySize:
    documents: int = 0
    tokens: int | None = None
    """Tokens of every document's text with the chat model's tokenizer."""
    model: str = ""
    context_window: int = 0
    typical_fine_tuning_tokens: int = TYPICAL_FINE_TUNING_TOKENS
    note: str = ""

    @property
    def times_context(self) -> float | None:
        if self.tokens is None or not self.context_window:
            return None
        return self.tokens / self.context_window

    @property
    def times_typical_set(self) -> float | None:
        if self.tokens is None:
            return None
        return self.tokens / self.typical_fine_tuning_tokens


@dataclass(frozen=True)
class FormatRigidity:
    examples: int = 0
    """Examples with at least one trained assistant turn (the denominator)."""
    json_examples: int = 0
    template_examples: int = 0
    rigid_examples: int = 0
    """JSON or the dominant template (an example can be both; counted once)."""
    rigid_share: float | None = None
    template: str = ""
    """The dominant skeleton, readable ("answer: / sources: / - list")."""
    json_keys: str = ""
    """The most common key set of JSON-object replies, comma-separated."""
    note: str = ""


@dataclass(frozen=True)
class RetrievalLatency:
    samples: int = 0
    median_ms: float | None = None
    p95_ms: float | None = None
    since: float | None = None
    note: str = ""


@dataclass(frozen=True)
class FragmentedTerm:
    term: str
    tokens: int
    occurrences: int


@dataclass(frozen=True)
class VocabularyFragmentation:
    encoding: str = ""
    words: int = 0
    distinct_words: int = 0
    library_tokens_per_word: float | None = None
    reference_tokens_per_word: float | None = None
    ratio: float | None = None
    """Library tokens per word / reference prose tokens per word."""
    fragmented_terms: tuple[FragmentedTerm, ...] = ()
    sampled: bool = False
    note: str = ""


@dataclass(frozen=True)
class LabelledExamples:
    datasets: int = 0
    examples: int = 0
    valid: int = 0
    """Examples in all datasets with no format error (warnings do not count against)."""
    best_dataset: str = ""
    best_valid: int = 0
    """Valid examples in the dataset with the most: a job trains on one dataset."""
    note: str = ""


@dataclass(frozen=True)
class SystemPromptSavings:
    prompt_tokens: int | None = None
    requests_per_day: int | None = None
    tokens_per_day: int | None = None
    """Prompt tokens a fine-tuned model that no longer needs the prompt would save."""
    note: str = ""


ProviderStatus = Literal["yes", "no", "unknown"]


@dataclass(frozen=True)
class ProviderFineTuning:
    provider: str = ""
    base_url: str = ""
    can_fine_tune: ProviderStatus = "unknown"
    accepted_jobs: int = 0
    last_accepted_at: float | None = None
    days_until_cutoff: int | None = None
    """Days until OpenAI stops creating jobs (OpenAI only, before the date)."""
    note: str = ""


@dataclass(frozen=True)
class MeasuredRun:
    """The latest evaluation run of one mode that counts as evidence (finished, on the
    set as it is now, at least ``MIN_EVALUATION_QUESTIONS`` answered)."""

    mode: str = ""
    """retrieval | base | rag | ft | ft-rag (the evaluation's modes)."""
    label: str = ""
    model: str = ""
    run_id: int = 0
    set_name: str = ""
    at: float = 0.0
    questions: int = 0
    metric: str = ""
    """Which figure says how often it was right: "correct" (judged), "f1", "hit@5"."""
    value: float = 0.0
    format_adherence: float | None = None


@dataclass(frozen=True)
class EvaluationSets:
    sets: int = 0
    runs: tuple[MeasuredRun, ...] = ()
    """The latest qualifying run per mode, on the set most modes were run on."""
    note: str = ""

    @property
    def measured(self) -> bool:
        """A set of at least ``MIN_EVALUATION_QUESTIONS`` questions has been run."""
        return bool(self.runs)


@dataclass(frozen=True)
class ChunkingConfig:
    strategy: str = DEFAULT_CHUNKING
    configured: bool = False
    """False: no configuration saved, so the default strategy is in use."""
    naive: bool = False
    chunks: int = 0
    note: str = ""


@dataclass(frozen=True)
class Evidence:
    """Every figure the checklist reads, measured at ``measured_at`` (epoch seconds)."""

    measured_at: float = 0.0
    chat_model: str = ""
    knowledge: KnowledgeChange = field(default_factory=KnowledgeChange)
    size: LibrarySize = field(default_factory=LibrarySize)
    format: FormatRigidity = field(default_factory=FormatRigidity)
    latency: RetrievalLatency = field(default_factory=RetrievalLatency)
    vocabulary: VocabularyFragmentation = field(default_factory=VocabularyFragmentation)
    examples: LabelledExamples = field(default_factory=LabelledExamples)
    prompt: SystemPromptSavings = field(default_factory=SystemPromptSavings)
    provider: ProviderFineTuning = field(default_factory=ProviderFineTuning)
    evaluation: EvaluationSets = field(default_factory=EvaluationSets)
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    inputs: DecisionInputs = field(default_factory=DecisionInputs)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data (the store's snapshot and ``ragtune decide --json``)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Evidence:
        """Inverse of ``to_dict``; tolerant, so a snapshot from an older version (a field
        missing, one added since) still loads, with defaults for what it lacks."""
        loaded = _load(cls, data)
        assert isinstance(loaded, Evidence)
        return loaded


def _load(cls: type, data: Any) -> Any:
    if not isinstance(data, dict):
        return cls()
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = _value(hints[f.name], data[f.name])
    try:
        return cls(**values)
    except (TypeError, ValueError):
        log.warning("An evidence snapshot has unreadable %s data; using defaults", cls.__name__)
        return cls()


def _value(hint: Any, raw: Any) -> Any:
    if isinstance(hint, type) and is_dataclass(hint):
        return _load(hint, raw)
    if typing.get_origin(hint) is tuple:
        (item, *_rest) = typing.get_args(hint)
        if isinstance(item, type) and is_dataclass(item) and isinstance(raw, list | tuple):
            return tuple(_load(item, x) for x in raw)
        return tuple(raw) if isinstance(raw, list | tuple) else ()
    return raw


# -- where the figures come from -------------------------------------------------------


@dataclass(frozen=True)
class EvidenceSources:
    """The repositories the evidence asks, one per package that owns the data."""

    library: Library
    datasets: DatasetStore
    jobs: JobStore
    searches: SearchLog
    evaluation: EvalStore | None = None
    """Eval sets and runs (None: not asked, as if there were none)."""

    @classmethod
    def of(cls, workspace: Workspace) -> EvidenceSources:
        return cls(
            Library(workspace),
            DatasetStore(workspace),
            JobStore(workspace),
            SearchLog(workspace),
            EvalStore(workspace),
        )


def _timestamp(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# -- 1. how often the knowledge changes ---------------------------------------------------


def knowledge_change(library: Library, now: datetime) -> KnowledgeChange:
    """Documents added, updated or removed in the last 30 and 90 days, from the import and
    rescan history. The first import run (the earliest run of kind "import") is the
    baseline: everything it added is where the history starts, not a change."""
    at = _timestamp(now)
    documents = library.totals()[0]
    first = library.first_import()
    if first is None:
        return KnowledgeChange(
            documents=documents,
            note="nothing has been imported yet, so there is no history to measure",
        )
    baseline_run, started = first.id, first.started_at

    def changed(days: int) -> int:
        return library.changed_sources(CHANGE_KINDS, at - days * DAY, at, except_run=baseline_run)

    totals = library.event_counts(CHANGE_KINDS, at, except_run=baseline_run)
    later_runs = library.runs_started(at - 90 * DAY, at, except_run=baseline_run)
    observed = max(0.0, (at - started) / DAY)
    note = ""
    if observed < 30:
        note = f"the library's history covers only {observed:.0f} days so far"
    elif later_runs == 0:
        note = (
            "no import or rescan in the last 90 days: files edited on disk would not show; "
            "rescan the library to measure"
        )
    return KnowledgeChange(
        documents=documents,
        changed_30d=changed(30),
        changed_90d=changed(90),
        observed_days=observed,
        later_runs_90d=later_runs,
        added_total=totals["added"],
        updated_total=totals["updated"],
        removed_total=totals["removed"],
        note=note,
    )


# -- 3. how large the library is ------------------------------------------------------


def library_size(library: Library, model: str, context_override: int = 0) -> LibrarySize:
    """Tokens of the library's text with the chat model's tokenizer, next to the model's
    context window and a typical fine-tuning set (``TYPICAL_FINE_TUNING_TOKENS``).

    Document text, not chunks: chunks overlap and use the embedding model's tokenizer."""
    tokenizer = get_tokenizer(encoding_for_model(model))
    documents = 0
    tokens = 0
    for text in library.document_texts():
        documents += 1
        tokens += tokenizer.count(text)
    window = context_limit(model, context_override)
    if documents == 0:
        return LibrarySize(
            model=model, context_window=window, note="the library has no documents yet"
        )
    return LibrarySize(documents=documents, tokens=tokens, model=model, context_window=window)


# -- 4. how rigid the output format is --------------------------------------------------


def format_rigidity(examples: Iterable[Any]) -> FormatRigidity:
    """The share of examples whose trained assistant turns are all JSON, or all follow
    the dataset's one dominant template (``desktop.reply_format.reply_formats``)."""
    found = reply_formats(examples)
    if found.examples == 0:
        return FormatRigidity(note="no training examples with an assistant reply yet")
    rigid = sum(1 for j, t in zip(found.json_flags, found.template_flags, strict=True) if j or t)
    return FormatRigidity(
        examples=found.examples,
        json_examples=sum(found.json_flags),
        template_examples=sum(found.template_flags),
        rigid_examples=rigid,
        rigid_share=rigid / found.examples,
        template=found.template_text,
        json_keys=", ".join(found.json_keys),
    )


# -- 5. retrieval latency ----------------------------------------------------------------


def retrieval_latency(
    searches: SearchLog, since: datetime | None, limit: int = LATENCY_MAX_SAMPLES
) -> RetrievalLatency:
    """Median and 95th percentile (nearest rank) of the retrieval time of searches and
    answers logged since ``since`` (the most recent ``limit`` of them)."""
    threshold = _timestamp(since) if since is not None else None
    values = searches.latencies(threshold, limit)
    if not values:
        return RetrievalLatency(
            since=threshold,
            note="no searches recorded yet: run a few searches or questions in the Chat tab",
        )
    return RetrievalLatency(
        samples=len(values),
        median_ms=float(statistics.median(values)),
        p95_ms=percentile_nearest_rank(values, 95),
        since=threshold,
    )


# -- 6. vocabulary ----------------------------------------------------------------------


def words_of(text: str) -> list[str]:
    """The words of a text, leaving out runs in scripts written without spaces."""
    return [w for w in _WORD.findall(text) if not _UNSPACED.search(w)]


def tokens_per_word(
    counts: Mapping[str, int], tokenizer: Tokenizer
) -> tuple[float, dict[str, int]]:
    """Average tokens per word occurrence, each word encoded as it appears inside a
    sentence (with its leading space), and the tokens of each distinct word."""
    per_word = {word: tokenizer.count(" " + word) for word in counts}
    occurrences = sum(counts.values())
    total = sum(per_word[word] * n for word, n in counts.items())
    return (total / occurrences if occurrences else 0.0), per_word


def vocabulary_fragmentation(
    library: Library, encoding: str, *, max_words: int = MAX_VOCABULARY_WORDS
) -> VocabularyFragmentation:
    """How much the tokenizer fragments the library's words compared with ordinary prose
    (``REFERENCE_PROSE``), and the most fragmented terms.

    Most fragmented: distinct words seen at least ``MIN_TERM_OCCURRENCES`` times that
    are not in the reference prose (case-insensitive), by tokens (most first), then
    occurrences, then alphabetically."""
    tokenizer = get_tokenizer(encoding)
    counts: Counter[str] = Counter()
    taken = 0
    sampled = False
    for text in library.document_texts():
        words = words_of(text)
        if taken + len(words) > max_words:
            words = words[: max_words - taken]
            sampled = True
        counts.update(words)
        taken += len(words)
        if sampled:
            break
    if taken == 0:
        return VocabularyFragmentation(
            encoding=tokenizer.name, note="the library has no text with words yet"
        )
    library_tpw, per_word = tokens_per_word(counts, tokenizer)
    reference_tpw, _ = tokens_per_word(Counter(words_of(REFERENCE_PROSE)), tokenizer)
    ordinary = {w.lower() for w in words_of(REFERENCE_PROSE)}
    candidates = [
        FragmentedTerm(word, per_word[word], n)
        for word, n in counts.items()
        if n >= MIN_TERM_OCCURRENCES and word.lower() not in ordinary and per_word[word] > 1
    ]
    candidates.sort(key=lambda t: (-t.tokens, -t.occurrences, t.term))
    return VocabularyFragmentation(
        encoding=tokenizer.name,
        words=taken,
        distinct_words=len(counts),
        library_tokens_per_word=library_tpw,
        reference_tokens_per_word=reference_tpw,
        ratio=library_tpw / reference_tpw,
        fragmented_terms=tuple(candidates[:FRAGMENTED_TERMS]),
        sampled=sampled,
        note=f"measured on the first {taken:,} words" if sampled else "",
    )


# -- 7. labelled examples ----------------------------------------------------------------


def example_is_valid(record: Any) -> bool:
    """No format error (the dataset builder's checks); warnings are allowed."""
    if isinstance(record, dict) and "messages" not in record and "preferred_output" in record:
        return not check_preference_record(record)
    problems, _roles = check_record(record)
    return not problems


def labelled_examples(names: Sequence[str], records: Iterable[tuple[str, Any]]) -> LabelledExamples:
    """Valid examples in the datasets ``names`` (``records``: (dataset name, the
    example's OpenAI JSON object)): in all, and in the dataset with the most."""
    names = list(names)
    valid_by_dataset = dict.fromkeys(names, 0)
    total = 0
    for name, record in records:
        total += 1
        if example_is_valid(record):
            valid_by_dataset[name] = valid_by_dataset.get(name, 0) + 1
    if not names:
        return LabelledExamples(note="no datasets yet")
    best = max(names, key=lambda n: (valid_by_dataset[n], -names.index(n)))
    return LabelledExamples(
        datasets=len(names),
        examples=total,
        valid=sum(valid_by_dataset.values()),
        best_dataset=best,
        best_valid=valid_by_dataset[best],
        note="" if total else "the datasets have no examples yet",
    )


# -- 8. the system prompt ---------------------------------------------------------------


def system_prompt_savings(
    prompt_tokens: int | None, requests_per_day: int | None
) -> SystemPromptSavings:
    """Tokens a day a fine-tuned model could save by not needing the prompt: its tokens
    times the requests a day the user expects."""
    if prompt_tokens is None or prompt_tokens <= 0:
        return SystemPromptSavings(
            requests_per_day=requests_per_day, note="enter your system prompt to measure it"
        )
    if requests_per_day is None or requests_per_day < 0:
        return SystemPromptSavings(
            prompt_tokens=prompt_tokens, note="enter how many requests a day you expect"
        )
    return SystemPromptSavings(
        prompt_tokens=prompt_tokens,
        requests_per_day=requests_per_day,
        tokens_per_day=prompt_tokens * requests_per_day,
    )


# -- 9. the provider ---------------------------------------------------------------------


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def provider_kind(settings: Settings) -> str:
    """openai | azure | local | custom, from the preset and the base URL's host."""
    host = _host(settings.base_url)
    if host == "api.openai.com" or (settings.provider == "openai" and not host):
        return "openai"
    if host.endswith((".openai.azure.com", ".cognitiveservices.azure.com")):
        return "azure"
    if settings.provider in LOCAL_PROVIDERS:
        return "local"
    return "custom"


def provider_can_fine_tune(
    settings: Settings, jobs_store: JobStore, today: date
) -> ProviderFineTuning:
    """Whether the chosen provider can still run a fine-tuning job.

    OpenAI: no after ``OPENAI_NO_NEW_JOBS``; before it, yes if a job from this workspace
    was accepted (an existing user) or the date is before ``OPENAI_CLOSED_TO_NEW_USERS``,
    unknown otherwise (closed to new users; an organisation that fine-tuned elsewhere
    may still qualify). Ollama and LM Studio: no (they serve models, they do not train
    them). Azure and other servers: yes once a job was accepted, unknown before."""
    kind = provider_kind(settings)
    jobs, last = jobs_store.accepted_jobs(settings.base_url)
    common = {
        "provider": settings.provider,
        "base_url": settings.base_url,
        "accepted_jobs": jobs,
        "last_accepted_at": last,
    }
    accepted = (
        f"{plural(jobs, 'job')} from this workspace {'was' if jobs == 1 else 'were'} accepted"
    )
    if kind == "openai":
        if today >= OPENAI_NO_NEW_JOBS:
            return ProviderFineTuning(
                **common,
                can_fine_tune="no",
                note=f"OpenAI is reported to accept no new fine-tuning jobs after "
                f"{OPENAI_NO_NEW_JOBS.isoformat()}",
            )
        left = (OPENAI_NO_NEW_JOBS - today).days
        if jobs:
            return ProviderFineTuning(
                **common,
                can_fine_tune="yes",
                days_until_cutoff=left,
                note=f"{accepted}; OpenAI is reported to stop new jobs on "
                f"{OPENAI_NO_NEW_JOBS.isoformat()} ({plural(left, 'day')} left)",
            )
        if today < OPENAI_CLOSED_TO_NEW_USERS:
            return ProviderFineTuning(
                **common,
                can_fine_tune="yes",
                days_until_cutoff=left,
                note=f"OpenAI closes fine-tuning to new users on "
                f"{OPENAI_CLOSED_TO_NEW_USERS.isoformat()}",
            )
        return ProviderFineTuning(
            **common,
            can_fine_tune="unknown",
            days_until_cutoff=left,
            note=f"OpenAI fine-tuning has been closed to new users since "
            f"{OPENAI_CLOSED_TO_NEW_USERS.isoformat()} and no job from this workspace has "
            "been accepted: it works only if your organisation fine-tuned before",
        )
    if kind == "local":
        return ProviderFineTuning(
            **common,
            can_fine_tune="no",
            note="Ollama and LM Studio serve models but have no fine-tuning API; train with "
            "another tool (the exported JSONL works) and load the result",
        )
    if jobs:
        return ProviderFineTuning(**common, can_fine_tune="yes", note=accepted)
    where = "Azure OpenAI" if kind == "azure" else "this server"
    return ProviderFineTuning(
        **common,
        can_fine_tune="unknown",
        note=f"no job from this workspace has been accepted yet; whether {where} can "
        "fine-tune your model is not known until one is",
    )


# -- evaluation sets and chunking (for the warnings) -------------------------------------


MIN_EVALUATION_QUESTIONS = MIN_DECISION_QUESTIONS


def evaluation_sets(count: int | None, runs: Sequence[MeasuredRun] = ()) -> EvaluationSets:
    if not count:
        return EvaluationSets(note="no evaluation set yet")
    if not runs:
        return EvaluationSets(
            sets=count,
            note=f"no run of {MIN_EVALUATION_QUESTIONS} or more questions yet",
        )
    return EvaluationSets(sets=count, runs=tuple(runs))


def evaluation_evidence(store: EvalStore | None) -> EvaluationSets:
    """The sets, and the latest qualifying run per answering mode (``mode_figures``)."""
    if store is None:
        return evaluation_sets(None)
    runs = [
        MeasuredRun(
            f.mode,
            f.label,
            f.model,
            f.run_id,
            f.set_name,
            f.at,
            f.questions,
            f.metric,
            f.value,
            f.format_adherence,
        )
        for f in mode_figures(store.runs())
    ]
    return evaluation_sets(len(store.sets()), runs)


def chunking_config(library: Library) -> ChunkingConfig:
    """The library's chunking strategy; no saved configuration means the default."""
    chunks = library.totals()[1]
    name = DEFAULT_CHUNKING
    configured = False
    note = ""
    try:
        config = library.chunking_config()
    except ValueError:
        config = None
        note = "the saved chunking configuration could not be read; assuming the default"
    if isinstance(config, dict) and isinstance(config.get("name"), str):
        name = config["name"]
        configured = True
    return ChunkingConfig(
        strategy=name, configured=configured, naive=name == NAIVE_CHUNKING, chunks=chunks, note=note
    )


# -- everything ---------------------------------------------------------------------------


def gather_evidence(
    sources: EvidenceSources,
    settings: Settings,
    inputs: DecisionInputs | None,
    now: datetime,
) -> Evidence:
    """Measure every figure. Slow on a large library (it tokenizes the whole text twice):
    run it on a worker."""
    inputs = inputs or DecisionInputs()
    model = settings.chat_model
    override = int(settings.extra.get("context_limit", 0) or 0)
    encoding = encoding_for_model(model)
    prompt_tokens = (
        get_tokenizer(encoding).count(inputs.system_prompt) if inputs.system_prompt else None
    )
    records = sources.datasets.records()
    return Evidence(
        measured_at=_timestamp(now),
        chat_model=model,
        knowledge=knowledge_change(sources.library, now),
        size=library_size(sources.library, model, override),
        format=format_rigidity(record for _name, record in records),
        latency=retrieval_latency(sources.searches, now - timedelta(days=LATENCY_WINDOW_DAYS)),
        vocabulary=vocabulary_fragmentation(sources.library, encoding),
        examples=labelled_examples(sources.datasets.dataset_names(), records),
        prompt=system_prompt_savings(prompt_tokens, inputs.requests_per_day),
        provider=provider_can_fine_tune(settings, sources.jobs, _today(now)),
        evaluation=evaluation_evidence(sources.evaluation),
        chunking=chunking_config(sources.library),
        inputs=inputs,
    )


def _today(now: datetime) -> date:
    """The date where the user is (``now`` carries their time zone, or is local)."""
    return now.date()
