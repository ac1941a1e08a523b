"""A fine-tuning front door on a test workspace, talking to the fake server."""

from __future__ import annotations

from collections.abc import Callable

from desktop.finetune.providers import FineTuneProvider
from desktop.finetune.service import FineTuneService
from desktop.providers.client import ProviderAccess, ProviderConfig
from desktop.settings import EnvOverrides, Settings
from desktop.workspace import Workspace
from tests.helpers.fake_openai import FakeOpenAI


def finetune_service(
    workspace: Workspace,
    fake: FakeOpenAI,
    *,
    clock: Callable[[], float] | None = None,
    provider: Callable[[ProviderConfig], FineTuneProvider] | None = None,
    settings: Settings | None = None,
) -> FineTuneService:
    """The key and base URL come from the environment overrides, so no keychain is read;
    ``provider`` replaces the factory (e.g. an OpenAI provider with no retries)."""
    chosen = settings or Settings(provider="custom", base_url=fake.base_url, max_retries=0)
    access = ProviderAccess(
        lambda: chosen, None, EnvOverrides(api_key="sk-test", base_url=fake.base_url)
    )
    extra = {"provider_factory": provider} if provider is not None else {}
    if clock is not None:
        extra["clock"] = clock
    return FineTuneService(workspace, lambda: chosen, access, **extra)
