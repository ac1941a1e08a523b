""" "Test connection": list the server's models and say plainly what went wrong if that
fails. Runs on a worker; pure apart from the one network call."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from desktop.providers.client import ProviderConfig, list_model_ids, make_client
from desktop.providers.errors import explain

if TYPE_CHECKING:
    import openai

CHECK_TIMEOUT = 15.0


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str
    models: tuple[str, ...] = ()


def check_connection(
    config: ProviderConfig,
    client_factory: Callable[[ProviderConfig], openai.OpenAI] = make_client,
) -> ConnectionReport:
    if config.needs_key and not config.api_key:
        return ConnectionReport(False, f"No API key is set for {config.host}. Enter one above.")
    # A check should answer quickly: no retries, and a shorter timeout than real work.
    quick = dataclasses.replace(config, max_retries=0, timeout=min(config.timeout, CHECK_TIMEOUT))
    client = client_factory(quick)
    try:
        models = list_model_ids(client)
    except Exception as exc:
        return ConnectionReport(False, explain(exc, host=quick.host, timeout=quick.timeout))
    finally:
        client.close()
    if not models:
        return ConnectionReport(True, f"Connected to {quick.host}, but it lists no models.")
    return ConnectionReport(
        True, f"Connected to {quick.host}: {len(models)} models available.", tuple(models)
    )
