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

from desktop.files import write_text_atomic

log = logging.getLogger(__name__)

OPENAI_BASE_URL = "https://api.openai.com/v1"


@dataclass(frozen=True)
class ProviderPreset:
    key: str
    label: str
    base_url: str
    needs_key: bool


PROVIDER_PRESETS: tuple[ProviderPreset, ...] = (
    ProviderPreset("openai", "OpenAI", OPENAI_BASE_URL, True),
    ProviderPreset("ollama", "Ollama (local)", "http://localhost:11434/v1", False),
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
    # Whether a key was saved to the keychain (never the key itself): lets RAGTune choose
    # the embedder without opening the keychain at start-up, which can show a prompt.
    api_key_saved: bool = False
    # Retrieval. "auto" uses the provider's embedding model when an API key or a local
    # server is set up, and the bundled model otherwise (so search works offline).
    retrieval_embedder: str = "auto"  # auto | local | openai
    local_model: str = "minilm-l6-v2-int8"
    embedding_dimensions: int = 0  # 0: the model's native size
    search_mode: str = "hybrid"  # hybrid | vector | lexical
    search_k: int = 5
    similarity_threshold: float = 0.2
    hybrid_vector_weight: float = 0.5
    # Fine-tuning: a job estimated above this many dollars (or at an unknown price) is
    # confirmed before anything is uploaded; "don't ask again under $X" raises it.
    confirm_spend_above_usd: float = 0.0
    # USD per million tokens, editable; "embedding" prices by model.
    embedding_prices: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

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
        return cls(**values)


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
