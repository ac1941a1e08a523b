"""One factory for the ``openai`` client. Everything that calls the API gets its client
from here (or has one injected in tests), so base URL, key, timeout and retries are set in
one place. The SDK is imported lazily: it costs ~0.7 s, which must not delay the window."""

from __future__ import annotations

import dataclasses
import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from desktop.logs import mask_url, url_password
from desktop.providers.secrets import SecretStore, account_for
from desktop.settings import EnvOverrides, Settings, preset

if TYPE_CHECKING:
    import openai

# Local servers (Ollama, LM Studio, llama.cpp) ignore the key, but the SDK refuses to build
# a client without one.
NO_KEY = "no-key-required"
MODEL_LIST_PAGE_CAP = 20


@dataclass(frozen=True)
class ProviderConfig:
    base_url: str
    api_key: str | None
    timeout: float
    max_retries: int
    key_from_env: bool = False
    base_url_from_env: bool = False

    @property
    def host(self) -> str:
        return host_of(self.base_url)

    @property
    def needs_key(self) -> bool:
        return self.base_url.rstrip("/") == preset("openai").base_url

    def redacted(self) -> dict[str, object]:
        """What may be shown or logged: never the key itself."""
        return {
            "base_url": mask_url(self.base_url),
            "api_key": "set" if self.api_key else "not set",
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "key_from_env": self.key_from_env,
            "base_url_from_env": self.base_url_from_env,
        }


def resolve_config(
    settings: Settings,
    secrets: SecretStore | None,
    env: EnvOverrides | None = None,
    *,
    api_key: str | None = None,
) -> ProviderConfig:
    """Settings, then the keychain, then the OPENAI_* environment variables (which win for
    the run). ``api_key`` lets a caller try a key before storing it."""
    env = env if env is not None else EnvOverrides.from_environ()
    base_url = env.base_url or settings.base_url
    key = env.api_key or api_key
    if key is None and secrets is not None:
        key = secrets.get(account_for(base_url))
    return ProviderConfig(
        base_url=base_url.rstrip("/"),
        api_key=key,
        timeout=settings.request_timeout,
        max_retries=settings.max_retries,
        key_from_env=bool(env.api_key),
        base_url_from_env=bool(env.base_url),
    )


def host_of(url: str) -> str:
    """``host:port`` of a URL, as messages name a server: never the user or password."""
    parts = urlsplit(url)
    if not parts.netloc:
        return mask_url(url)
    host = parts.hostname or parts.netloc.rpartition("@")[2]
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port is not None else host


def load_sdk() -> ModuleType:
    """The ``openai`` module. The first import (~90,000 objects, ~0.35 s) runs with the
    garbage collector paused, and what it made is then frozen (``gc.freeze``; the young
    generations' garbage is collected first): it is never garbage, yet every collection
    after it, and the full one when the process exits, would scan it all (~0.2 s of a
    ``ragtune search``). Another thread's import under way is waited for, as by a plain
    ``import``."""
    if "openai" in sys.modules:
        import openai

        return openai
    collecting = gc.isenabled()
    # Young garbage goes now, not frozen with the rest (collecting after the import would
    # scan its objects: ~30 ms holding the GIL, a stall in the window).
    gc.collect(1)
    gc.disable()
    try:
        import openai

        gc.freeze()
    finally:
        if collecting:
            gc.enable()
    return openai


def make_client(config: ProviderConfig) -> openai.OpenAI:
    openai = load_sdk()

    return openai.OpenAI(
        base_url=config.base_url,
        api_key=config.api_key or NO_KEY,
        timeout=config.timeout,
        max_retries=config.max_retries,
    )


def list_model_ids(client: openai.OpenAI) -> list[str]:
    """Model ids the server lists, sorted. Pagination is capped: some servers ignore
    ``after`` and would make the SDK's auto-pagination loop forever. A body that is not
    JSON raises ``BadResponse``."""
    from desktop.providers.validate import parse_json

    ids: list[str] = []
    page = parse_json(client.models.with_raw_response.list(), host=host_of(str(client.base_url)))
    for _ in range(MODEL_LIST_PAGE_CAP):
        ids.extend(model.id for model in page.data)
        if not page.has_next_page():
            break
        page = page.get_next_page()
    return sorted(set(ids))


def is_embedding_model(model_id: str) -> bool:
    lowered = model_id.lower()
    return "embed" in lowered or "bge" in lowered or "minilm" in lowered or "e5-" in lowered


class ProviderAccess:
    """How the domain reaches the configured server: the settings in force, the keychain
    and the environment, resolved each time it is asked (the user may change them while
    the app runs). Front doors receive one of these, never the whole app context."""

    def __init__(
        self,
        settings: Callable[[], Settings],
        secrets: SecretStore | None,
        env: EnvOverrides | None = None,
        *,
        on_key: Callable[[str | None], object] | None = None,
    ) -> None:
        self._settings = settings
        self.secrets = secrets
        self.env = env if env is not None else EnvOverrides.from_environ()
        self._on_key = on_key

    def config(self, *, api_key: str | None = None) -> ProviderConfig:
        config = resolve_config(self._settings(), self.secrets, self.env, api_key=api_key)
        if self._on_key is not None:
            self._on_key(config.api_key)  # registered for redaction before any use
            self._on_key(url_password(config.base_url))
        return config

    def client(self, **overrides: object) -> openai.OpenAI:
        """A client for the configured server; ``overrides`` replace config fields
        (``max_retries=0`` for streamed answers)."""
        config = self.config()
        if overrides:
            config = dataclasses.replace(config, **overrides)  # type: ignore[arg-type]
        return make_client(config)

    def configured(self) -> bool:
        """Whether a request could be sent: a key, or a server that needs none. Reads the
        keychain (may prompt): call off the GUI thread."""
        config = self.config()
        return bool(config.api_key) or not config.needs_key
