"""What the app and the headless commands share: paths, settings, the keychain and the
open workspace. Built once at start-up from the command line; no Qt here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from desktop.logs import register_secret
from desktop.paths import AppPaths
from desktop.providers.client import ProviderConfig, make_client, resolve_config
from desktop.providers.secrets import SecretStore
from desktop.settings import EnvOverrides, Settings, SettingsStore
from desktop.workspace import Workspace

if TYPE_CHECKING:
    import openai

DEFAULT_WORKSPACE = "default"


@dataclass
class AppContext:
    paths: AppPaths
    workspace_name: str = DEFAULT_WORKSPACE
    secrets: SecretStore = field(default_factory=SecretStore)
    env: EnvOverrides = field(default_factory=EnvOverrides.from_environ)
    _workspace: Workspace | None = None
    _settings: Settings | None = None

    @classmethod
    def create(
        cls,
        data_dir: str | None = None,
        workspace: str | None = None,
        secrets: SecretStore | None = None,
    ) -> AppContext:
        paths = AppPaths.resolve(data_dir).ensure()
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
            self._settings = self.settings_store.load()
        return self._settings

    def save_settings(self, settings: Settings) -> None:
        self.settings_store.save(settings)
        self._settings = settings

    @property
    def workspace_path(self):
        return self.paths.workspace_file(self.workspace_name)

    @property
    def workspace(self) -> Workspace:
        """Opened (and migrated) on first use."""
        if self._workspace is None:
            self._workspace = Workspace(self.workspace_path)
        return self._workspace

    def provider_config(self, *, api_key: str | None = None) -> ProviderConfig:
        config = resolve_config(self.settings, self.secrets, self.env, api_key=api_key)
        register_secret(config.api_key)
        return config

    def client(self) -> openai.OpenAI:
        return make_client(self.provider_config())

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()
            self._workspace = None
