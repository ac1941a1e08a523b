"""What the app and the headless commands share: paths, settings, the keychain and the
open workspace, and the front doors built from them. Built once at start-up from the
command line; no Qt here. This is the composition root: it hands each front door what
it needs (the workspace, the settings in force, the provider), never itself."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from desktop.events import EventBus, Topic
from desktop.logs import register_secret
from desktop.paths import AppPaths
from desktop.providers.client import ProviderAccess, ProviderConfig
from desktop.providers.secrets import SecretStore
from desktop.settings import EnvOverrides, Settings, SettingsStore
from desktop.workspace import Workspace

if TYPE_CHECKING:
    import openai

    from desktop.chat.session import ChatSession
    from desktop.decision.service import DecisionService
    from desktop.evaluation.service import EvaluationService
    from desktop.finetune.service import FineTuneService
    from desktop.library.service import LibraryService
    from desktop.retrieval.service import RetrievalService

DEFAULT_WORKSPACE = "default"
TIKTOKEN_CACHE_ENV = "TIKTOKEN_CACHE_DIR"
ONNXRUNTIME_TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


@dataclass
class AppContext:
    paths: AppPaths
    workspace_name: str = DEFAULT_WORKSPACE
    secrets: SecretStore = field(default_factory=SecretStore)
    env: EnvOverrides = field(default_factory=EnvOverrides.from_environ)
    _workspace: Workspace | None = None
    _settings: Settings | None = None
    _services: dict[str, object] = field(default_factory=dict)
    events: EventBus = field(default_factory=EventBus)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    # Its own lock: the window reads the settings while a worker holds ``_lock`` opening
    # (and perhaps migrating) the workspace, and must not wait for that.
    _settings_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(
        cls,
        data_dir: str | None = None,
        workspace: str | None = None,
        secrets: SecretStore | None = None,
    ) -> AppContext:
        paths = AppPaths.resolve(data_dir).ensure()
        # tiktoken's files go under the data dir too (desktop.tokens fills this folder);
        # a cache the environment names is kept. Set before tiktoken loads anything.
        os.environ.setdefault(TIKTOKEN_CACHE_ENV, str(paths.tiktoken_cache_dir))
        # onnxruntime (the local models) writes a device id under ~/.cache and keeps a
        # telemetry store there unless told not to; an offline app sends and keeps none.
        os.environ.setdefault(ONNXRUNTIME_TELEMETRY_ENV, "1")
        context = cls(paths=paths, workspace_name=workspace or DEFAULT_WORKSPACE)
        if secrets is not None:
            context.secrets = secrets
        register_secret(context.env.api_key)
        return context

    @property
    def settings_store(self) -> SettingsStore:
        return SettingsStore(self.paths.settings_file)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            with self._settings_lock:
                if self._settings is None:
                    self._settings = self.settings_store.load()
        return self._settings

    def current_settings(self) -> Settings:
        """The settings in force now (front doors call this, so a change in the Settings
        dialog reaches them without a restart)."""
        return self.settings

    def save_settings(self, settings: Settings) -> None:
        self.settings_store.save(settings)
        self._settings = settings
        self.events.publish(Topic.SETTINGS)

    @property
    def workspace_path(self):
        return self.paths.workspace_file(self.workspace_name)

    @property
    def workspace(self) -> Workspace:
        """Opened (and migrated) on first use, once, whichever thread asks first (the
        window's workers start together after the first paint)."""
        with self._lock:
            if self._workspace is None:
                self._workspace = Workspace(self.workspace_path)
            return self._workspace

    @property
    def provider(self) -> ProviderAccess:
        with self._lock:
            return self._provider()

    def _provider(self) -> ProviderAccess:
        access = self._services.get("provider")
        if access is None:
            access = self._services["provider"] = ProviderAccess(
                self.current_settings, self.secrets, self.env, on_key=register_secret
            )
        assert isinstance(access, ProviderAccess)
        return access

    def provider_config(self, *, api_key: str | None = None) -> ProviderConfig:
        return self.provider.config(api_key=api_key)

    def client(self) -> openai.OpenAI:
        return self.provider.client()

    # -- front doors -------------------------------------------------------------------

    def library(self) -> LibraryService:
        from desktop.library.service import LibraryService

        return LibraryService(self.workspace, self.settings, self.events)

    def retrieval(self) -> RetrievalService:
        """One per context: it caches the local model and the vector index."""
        with self._lock:
            service = self._services.get("retrieval")
            if service is None:
                from desktop.retrieval.service import RetrievalService

                service = self._services["retrieval"] = RetrievalService(
                    self.workspace, self.current_settings, self.provider, self.events
                )
            return service  # type: ignore[return-value]

    def chat(self) -> ChatSession:
        from desktop.chat.session import ChatSession

        return ChatSession(self.workspace, self.current_settings, self.provider, self.retrieval())

    def decision(self) -> DecisionService:
        from desktop.decision.service import DecisionService

        return DecisionService(self.workspace, self.current_settings, events=self.events)

    def finetune(self) -> FineTuneService:
        """A new one per caller: each owns its provider's client and closes it."""
        from desktop.finetune.service import FineTuneService

        return FineTuneService(
            self.workspace,
            self.current_settings,
            self.provider,
            library=self.library,
            events=self.events,
            evaluation_questions=lambda: self.evaluation().leakage_questions(),
        )

    def evaluation(self) -> EvaluationService:
        from desktop.evaluation.service import EvaluationService

        return EvaluationService(
            self.workspace,
            self.current_settings,
            self.provider,
            library=self.library,
            retrieval=self.retrieval,
            chat=self.chat,
            finetune=self.finetune,
            save_settings=self.save_settings,
            events=self.events,
        )

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None
