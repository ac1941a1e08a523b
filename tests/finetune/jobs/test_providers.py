"""Provider construction (OpenAI, Azure OpenAI, OpenAI-compatible) and model listing."""

from __future__ import annotations

import pytest

from desktop.finetune.job_store import JobStore
from desktop.finetune.providers import (
    AzureConfig,
    AzureFineTuneProvider,
    CompatibleFineTuneProvider,
    FineTuneProvider,
    OpenAIFineTuneProvider,
    ProviderError,
    compatible_fine_tunable,
    openai_fine_tunable,
    provider_for_config,
)
from desktop.providers.client import ProviderConfig
from tests.helpers.fake_openai import FakeOpenAI


def config(base_url: str) -> ProviderConfig:
    return ProviderConfig(base_url=base_url, api_key="sk-test", timeout=5.0, max_retries=0)


def test_the_configured_url_picks_the_provider(fake_openai: FakeOpenAI) -> None:
    with provider_for_config(config("https://api.openai.com/v1")) as openai_provider:
        assert type(openai_provider) is OpenAIFineTuneProvider
        assert (openai_provider.kind, openai_provider.host) == ("openai", "api.openai.com")
        assert isinstance(openai_provider, FineTuneProvider)
    with provider_for_config(config(fake_openai.base_url)) as local:
        assert isinstance(local, CompatibleFineTuneProvider)
        assert (local.kind, local.base_url) == ("compatible", fake_openai.base_url)
        assert "gpt-4o-mini" in local.list_models()


def test_model_lists(fake_openai: FakeOpenAI) -> None:
    with provider_for_config(config(fake_openai.base_url)) as compatible:
        fake_openai.models = ["llama3.1:8b", "nomic-embed-text", "qwen2.5:7b"]
        assert compatible.list_models(fine_tunable_only=True) == ["llama3.1:8b", "qwen2.5:7b"]
        assert compatible.list_models() == ["llama3.1:8b", "nomic-embed-text", "qwen2.5:7b"]
    fake_openai.reset()
    fake_openai.models.append("ft:gpt-4o-mini:org:support:abc123")
    client_config = config(fake_openai.base_url)
    with OpenAIFineTuneProvider.from_config(client_config) as provider:
        assert provider.list_models(fine_tunable_only=True) == [
            "ft:gpt-4o-mini:org:support:abc123",
            "gpt-4.1",
            "gpt-4.1-mini",
            "gpt-4.1-nano",
            "gpt-4o",
            "gpt-4o-mini",
        ]
        assert "text-embedding-3-small" in provider.list_models()


def test_fine_tunable_rules() -> None:
    assert openai_fine_tunable({"id": "gpt-4o-mini-2024-07-18"})
    assert not openai_fine_tunable({"id": "text-embedding-3-small"})
    assert not openai_fine_tunable({"id": "o3"})
    # Azure says it per model: that wins over the name.
    assert openai_fine_tunable({"id": "o3", "capabilities": {"fine_tune": True}})
    assert not openai_fine_tunable({"id": "gpt-4o", "capabilities": {"fine_tune": False}})
    assert compatible_fine_tunable({"id": "mistral-7b"})
    assert not compatible_fine_tunable({"id": "bge-small-en"})


def test_azure_config_problems_name_the_setting() -> None:
    with pytest.raises(ProviderError) as caught:
        AzureFineTuneProvider.from_azure(AzureConfig("my-resource", None, " "))
    text = str(caught.value)
    assert text.startswith("Azure OpenAI is not set up: endpoint: 'my-resource' is not a URL")
    assert "api_version: Azure OpenAI needs an API version" in text
    assert "api_key: Azure OpenAI needs the resource's API key" in text


def test_azure_requests_go_to_the_resource_with_version_and_key(
    fake_openai: FakeOpenAI, store: JobStore
) -> None:
    endpoint = f"http://127.0.0.1:{fake_openai.port}/"
    azure = AzureConfig(
        endpoint, "azure-key-123", "2024-10-21", deployment="gpt-4o-mini-ft", max_retries=0
    )
    with AzureFineTuneProvider.from_azure(azure) as provider:
        assert (provider.kind, provider.name) == ("azure", "Azure OpenAI")
        assert provider.base_url == f"http://127.0.0.1:{fake_openai.port}"
        # The fake speaks OpenAI's routes, not Azure's: these fail, but show what was sent.
        with pytest.raises(ProviderError):
            provider.list_jobs()
        with pytest.raises(ProviderError):
            provider.upload_file("train.jsonl", b"{}\n")
        with pytest.raises(ProviderError):
            provider.list_events("ftjob-1")
    listed, uploaded, events = fake_openai.requests
    assert (listed.method, listed.path) == ("GET", "/openai/fine_tuning/jobs")
    assert (uploaded.method, uploaded.path) == ("POST", "/openai/files")
    assert events.path == "/openai/fine_tuning/jobs/ftjob-1/events"
    for request in (listed, uploaded, events):
        assert request.query["api-version"] == "2024-10-21"
        assert request.headers["api-key"] == "azure-key-123"
        assert "authorization" not in request.headers
    assert b'name="purpose"' in uploaded.body and b"fine-tune" in uploaded.body
