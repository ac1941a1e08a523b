"""Typed preferences, declared once with their defaults.

Stored as JSON in the config dir. The API key is never one of them: it lives in the OS
keychain (see ``desktop.providers.secrets``)."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop.files import private_file, write_text_atomic

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: ``similarity_threshold`` "auto": each embedder's own (its cosines' scale: 0.2 for
#: MiniLM and OpenAI's models, 0.4 for the static model), resolved by each search.
AUTO_THRESHOLD = -1.0
LEGACY_THRESHOLD = 0.2  # the fixed default before "auto"
SETTINGS_VERSION = 2


@dataclass(frozen=True)
class ProviderPreset:
    key: str
    label: str
    base_url: str
    needs_key: bool
    chat_model: str = ""
    """A model this kind of server usually has, until its own list is read ("" for none)."""
    embedding_model: str = ""


PROVIDER_PRESETS: tuple[ProviderPreset, ...] = (
    ProviderPreset(
        "openai", "OpenAI", OPENAI_BASE_URL, True, "gpt-4.1-mini", "text-embedding-3-small"
    ),
    ProviderPreset(
        "ollama",
        "Ollama (local)",
        "http://localhost:11434/v1",
        False,
        "llama3.2",
        "nomic-embed-text",
    ),
    ProviderPreset("lmstudio", "LM Studio (local)", "http://localhost:1234/v1", False),
    ProviderPreset("custom", "Custom OpenAI-compatible server", "", False),
)


def preset(key: str) -> ProviderPreset:
    for candidate in PROVIDER_PRESETS:
        if candidate.key == key:
            return candidate
    return PROVIDER_PRESETS[-1]


@dataclass(frozen=True)
class Settings:
    """Every preference RAGTune has, with its default. Unknown keys in the file are
    ignored and wrong types fall back to the default, so a hand-edited file never
    stops the app from starting."""

    provider: str = "openai"
    base_url: str = OPENAI_BASE_URL
    chat_model: str = "gpt-4.1-mini"
    embedding_model: str = "text-embedding-3-small"
    request_timeout: float = 60.0
    max_retries: int = 2
    max_import_mb: float = 50.0
    # A zip-based document (docx, pptx, xlsx, odt, epub...) may decompress to at most this
    # much, and one document may hold at most this many characters of text: a 0.5 MB
    # file can otherwise inflate to gigabytes (issue 15).
    max_unzipped_mb: float = 500.0
    max_text_chars: int = 20_000_000
    # Largest JSONL/CSV data file `dataset validate` and dataset imports read, in MB.
    max_dataset_mb: float = 50.0
    # Read scanned PDF pages and images with the bundled OCR (offline).
    ocr_enabled: bool = True
    # Whether a key was saved to the keychain (never the key itself): lets RAGTune choose
    # the embedder without opening the keychain at start-up, which can show a prompt.
    api_key_saved: bool = False
    # Retrieval. "auto" uses the provider's embedding model when an API key or a local
    # server is set up, and the bundled model otherwise (so search works offline).
    retrieval_embedder: str = "auto"  # auto | local | openai
    # The fast tier (a static model distilled from MiniLM): with the reranker on it ranks as
    # MiniLM does and indexes ~13× faster. With reranking off, "minilm-l6-v2-int8" ranks
    # paraphrases far better.
    local_model: str = "minilm-l6-v2-static256"
    # Embed new chunks right after an import when the embedder is the free, offline one
    # (a paid embedder always asks first).
    auto_index: bool = True
    embedding_dimensions: int = 0  # 0: the model's native size
    # Large libraries' approximate index keeps 8-bit codes (a quarter of the memory) and
    # rescores its best candidates with the exact vectors. See desktop/retrieval/ann.py.
    compact_vectors: bool = True
    search_mode: str = "hybrid"  # hybrid | vector | lexical
    search_k: int = 5
    similarity_threshold: float = AUTO_THRESHOLD  # minimum cosine sent to the model
    hybrid_vector_weight: float = 0.5
    # A second look at the search's best candidates: "maxsim" reads each with the bundled
    # model (offline), "llm" asks the chat model (a request per question), "off" keeps the
    # first search's order. See desktop/retrieval/rerank.py.
    rerank: str = "maxsim"
    rerank_candidates: int = 25
    rerank_window: int = 64  # maxsim: tokens of each candidate read (0: the whole chunk)
    # Fine-tuning: a job estimated above this many dollars (or at an unknown price) is
    # confirmed before anything is uploaded; "don't ask again under $X" raises it.
    confirm_spend_above_usd: float = 0.0
    # Evaluation runs: questions in flight at once (each is one request to the server).
    eval_concurrency: int = 8
    # USD per million tokens, editable; "embedding" prices by model.
    embedding_prices: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # The layout of the file (not a preference): 2 since the threshold could be "auto".
    settings_version: int = SETTINGS_VERSION

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Settings:
        defaults = cls()
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name in raw:
                value = _coerce(raw[f.name], getattr(defaults, f.name))
                if value is None:
                    log.warning("Setting %r has an invalid value; using the default", f.name)
                else:
                    values[f.name] = value
        # A file from before version 2 saved every field, the threshold's old default (0.2)
        # with them: that was "the usual", which is "auto" now (0.2 for MiniLM and the
        # provider's models, the static model's own for it).
        if "settings_version" not in raw and values.get("similarity_threshold") == LEGACY_THRESHOLD:
            values["similarity_threshold"] = AUTO_THRESHOLD
        return cls(**values)


class SettingsError(ValueError):
    """A setting that cannot take a value, with the reason and what it accepts."""


@dataclass(frozen=True)
class Rule:
    """What a setting accepts: the Settings dialog's widgets and ``ragtune settings set``
    read the same rules, so neither accepts what the other refuses."""

    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    url: bool = False
    required: bool = False
    help: str = ""
    #: The value the word "auto" stands for (None: the setting has no "auto").
    auto: float | None = None

    def is_auto(self, value: Any) -> bool:
        return self.auto is not None and value == self.auto


RULES: dict[str, Rule] = {
    "provider": Rule(choices=tuple(p.key for p in PROVIDER_PRESETS), help="provider preset"),
    "base_url": Rule(url=True, required=True, help="the server's address, ending in /v1"),
    "chat_model": Rule(required=True, help="model that answers"),
    "embedding_model": Rule(required=True, help="the provider's embedding model"),
    "request_timeout": Rule(1, 3600, help="seconds a request may take"),
    "max_retries": Rule(0, 10, help="retries of a failed request"),
    "max_import_mb": Rule(0.1, 100_000, help="largest file imported, in MB"),
    "max_unzipped_mb": Rule(
        1, 100_000, help="most a docx/pptx/xlsx/odt/epub may decompress to, in MB"
    ),
    "max_text_chars": Rule(1_000, 2_000_000_000, help="most characters of text in one document"),
    "max_dataset_mb": Rule(0.1, 10_000, help="largest dataset file read (JSONL, CSV), in MB"),
    "ocr_enabled": Rule(help="read scanned PDF pages and images with the bundled offline OCR"),
    "retrieval_embedder": Rule(
        choices=("auto", "local", "openai"),
        help="auto: the workspace's own, else the bundled model unless a provider is set up",
    ),
    "local_model": Rule(help="bundled embedding model"),
    "auto_index": Rule(help="embed new chunks after an import with the free offline model"),
    "embedding_dimensions": Rule(0, 8192, help="vector size asked of the provider (0: native)"),
    "compact_vectors": Rule(
        help="large libraries (~200,000 chunks and up): keep the approximate index in 8-bit "
        "codes, a quarter of the memory, its best candidates rescored exactly"
    ),
    "search_mode": Rule(choices=("hybrid", "vector", "lexical"), help="how searches rank"),
    "search_k": Rule(1, 50, help="chunks retrieved per question"),
    "similarity_threshold": Rule(
        0,
        1,
        help="minimum cosine sent to the model, or auto: the embedder's own (0.2 for "
        "MiniLM and OpenAI's models, 0.4 for the static model)",
        auto=AUTO_THRESHOLD,
    ),
    "hybrid_vector_weight": Rule(0, 1, help="share of the vector ranking in hybrid search"),
    "rerank": Rule(
        choices=("off", "maxsim", "llm"),
        help="reorder the best candidates: maxsim (bundled, offline), llm (the chat model, "
        "a request per question) or off",
    ),
    "rerank_candidates": Rule(2, 100, help="candidates the reranker reads"),
    "rerank_window": Rule(
        0, 254, help="maxsim: tokens of each candidate it reads (0: the whole chunk, slower)"
    ),
    "eval_concurrency": Rule(1, 64, help="questions an evaluation run keeps in flight"),
}
"""Every setting a user may change by name. Not here: ``api_key_saved`` (a fact the app
records), ``embedding_prices`` and ``extra`` (structured; edited in the file),
``settings_version`` (the file's layout)."""

SECRET_NAMES = ("api_key", "key", "openai_api_key", "token", "password")


def parse_setting(name: str, text: str, *, local_models: tuple[str, ...] = ()) -> Any:
    """``text`` as the value of setting ``name``, checked against its rule."""
    if name.lower() in SECRET_NAMES:
        raise SettingsError(
            "the API key is kept in the OS keychain, never in settings: enter it in "
            "Settings (Ctrl+,), or set OPENAI_API_KEY for one run"
        )
    rule = RULES.get(name)
    if rule is None:
        raise SettingsError(f"unknown setting {name!r}; settings: {', '.join(sorted(RULES))}")
    default = getattr(Settings(), name)
    value: Any
    if isinstance(default, bool):
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
            raise SettingsError(f"{name} is true or false, not {text!r}")
        value = lowered in ("true", "yes", "on", "1")
    elif isinstance(default, int):
        try:
            value = int(text)
        except ValueError:
            raise SettingsError(f"{name} is a whole number, not {text!r}") from None
    elif rule.auto is not None and text.strip().lower() == "auto":
        return rule.auto
    elif isinstance(default, float):
        try:
            value = float(text)
        except ValueError:
            raise SettingsError(f"{name} is a number, not {text!r}") from None
    else:
        value = text.strip()
    check_setting(name, value, local_models=local_models)
    return value


def shown(name: str, value: Any) -> str:
    """A setting's value as a person reads it ("auto" where the rule has one)."""
    rule = RULES.get(name)
    return "auto" if rule is not None and rule.is_auto(value) else str(value)


def check_setting(name: str, value: Any, *, local_models: tuple[str, ...] = ()) -> None:
    rule = RULES[name]
    if rule.is_auto(value):
        return
    choices = local_models if name == "local_model" and local_models else rule.choices
    number = isinstance(value, int | float) and not isinstance(value, bool)
    too_low = number and rule.low is not None and value < rule.low
    too_high = number and rule.high is not None and value > rule.high
    if too_low or too_high:
        also = ", or auto" if rule.auto is not None else ""
        raise SettingsError(f"{name} must be between {rule.low:g} and {rule.high:g}{also}")
    if isinstance(value, str):
        if rule.required and not value:
            raise SettingsError(f"{name} cannot be empty ({rule.help})")
        if choices and value not in choices:
            raise SettingsError(f"{name} must be one of: {', '.join(choices)}")
        if rule.url and not value.startswith(("http://", "https://")):
            raise SettingsError(f"{name} must start with http:// or https:// (got {value!r})")


def _coerce(value: Any, default: Any) -> Any:
    """The value in the default's type, or None when it cannot be one."""
    if isinstance(value, bool) is not isinstance(default, bool):
        return None
    if isinstance(default, float) and isinstance(value, int | float):
        return float(value)
    return value if isinstance(value, type(default)) else None


@dataclass(frozen=True)
class EnvOverrides:
    """The conventional OpenAI environment variables win over stored settings for the
    run, so scripts and CI can point RAGTune elsewhere without touching the user's file."""

    api_key: str | None
    base_url: str | None

    @classmethod
    def from_environ(cls, environ: dict[str, str] | None = None) -> EnvOverrides:
        env = os.environ if environ is None else environ
        return cls(env.get("OPENAI_API_KEY") or None, env.get("OPENAI_BASE_URL") or None)

    @property
    def any(self) -> bool:
        return bool(self.api_key or self.base_url)


class SettingsStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Settings:
        private_file(self.path)  # an older version may have left it readable to others
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Settings()
        except (OSError, ValueError) as exc:
            log.warning("Could not read settings file %s (%s); using defaults", self.path, exc)
            return Settings()
        if not isinstance(raw, dict):
            return Settings()
        return Settings.from_dict(raw)

    def save(self, settings: Settings) -> None:
        write_text_atomic(self.path, json.dumps(settings.to_dict(), indent=2, sort_keys=True))
