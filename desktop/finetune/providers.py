"""Where fine-tuning jobs run: one small interface over OpenAI, Azure OpenAI and
OpenAI-compatible servers.

OpenAI is winding down self-serve fine-tuning (no new jobs from early 2027), so the job
tracker talks to ``FineTuneProvider`` rather than to one vendor. Every implementation
uses the official SDK; every SDK failure leaves here as a ``ProviderError`` whose text is
a sentence a user can act on (from ``desktop.providers.errors.explain``), and a provider
that no longer takes jobs raises ``ProviderRefused`` so the UI can offer export and the
other providers instead.

Lists are paged by hand with a page cap and a check that each page brings new ids: some
servers ignore ``after`` and the SDK's auto-pagination would then loop forever.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from desktop.logs import mask_url, redact
from desktop.providers.client import (
    MODEL_LIST_PAGE_CAP,
    ProviderConfig,
    host_of,
    is_embedding_model,
)
from desktop.providers.errors import explain, retry_after_seconds, server_message, unreadable
from desktop.providers.validate import BadResponse, parse_json

if TYPE_CHECKING:
    import openai

    from desktop.finetune.requests import JobRequest

logger = logging.getLogger(__name__)

Json = dict[str, Any]
ByteProgress = Callable[[int, int], object]
"""Called with (bytes sent, total bytes) while a file uploads, on the uploading thread."""

PAGE_CAP = 50
"""Most pages any one list call fetches (a server ignoring ``after`` stops at page 2)."""
PAGE_SIZE = 100
FINE_TUNE_PURPOSE = "fine-tune"

OPENAI = "openai"
AZURE = "azure"
COMPATIBLE = "compatible"

OPENAI_FINE_TUNABLE_PATTERNS: tuple[str, ...] = (
    r"gpt-4\.1(-mini|-nano)?(-\d{4}-\d{2}-\d{2})?",
    r"gpt-4o(-mini)?(-\d{4}-\d{2}-\d{2})?",
    r"gpt-5(-mini)?(-\d{4}-\d{2}-\d{2})?",
    r"gpt-3\.5-turbo(-\d{4})?(-\d{4}-\d{2}-\d{2})?",
    r"(davinci|babbage)-002",
    r"ft:.+",
)
"""Base models OpenAI's guide listed for supervised/DPO fine-tuning (2026). /v1/models
does not say which models are fine-tunable, so this only narrows a picker; any other
name can still be typed in."""

# Words a provider uses when it has stopped taking new jobs (as opposed to a bad request).
_REFUSAL = re.compile(
    r"no longer|not (?:be )?accept|(?:wound|winding|wind) down|discontinu|sunset|"
    r"(?:is|are|has been|have been) (?:now )?(?:closed|disabled|unavailable|retired)|"
    r"not available to (?:new )?(?:users|customers|organizations)",
    re.IGNORECASE,
)
_REFUSAL_CODES = ("unavailable", "disabled", "not_accepted", "closed", "deprecated")


class ProviderError(Exception):
    """A provider call that failed; ``str()`` is the sentence to show (redacted: it is
    shown, stored with an upload and logged)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        server_message: str | None = None,
    ) -> None:
        message = redact(message)
        server_message = redact(server_message) if server_message is not None else None
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after
        self.server_message = server_message


class ProviderRefused(ProviderError):
    """The provider will not create fine-tuning jobs (any more). Not a fault of the
    request: the UI offers export and the other providers."""

    def __init__(self, provider_name: str, host: str, server_message: str, status: int) -> None:
        super().__init__(
            f"{provider_name} ({host}) refused to create the fine-tuning job "
            f"({status}): {server_message} The dataset can still be exported as JSONL "
            "to train with another provider.",
            status=status,
            server_message=server_message,
        )
        self.provider_name = provider_name
        self.host = host


class Unsupported(ProviderError):
    """The server does not offer this operation (e.g. pausing a job)."""


@dataclass(frozen=True)
class AzureConfig:
    """What Azure OpenAI needs besides a key: the resource endpoint and an API version
    (both settings; no version is assumed). The deployment only matters for inference
    routes; fine-tuning and files live at the resource level."""

    endpoint: str
    api_key: str | None
    api_version: str
    deployment: str | None = None
    timeout: float = 60.0
    max_retries: int = 2

    def problems(self) -> list[str]:
        found = []
        parts = urlsplit(self.endpoint.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            found.append(
                f"endpoint: {self.endpoint!r} is not a URL such as "
                "https://my-resource.openai.azure.com"
            )
        if not self.api_version.strip():
            found.append("api_version: Azure OpenAI needs an API version, e.g. 2024-10-21")
        if not (self.api_key or "").strip():
            found.append("api_key: Azure OpenAI needs the resource's API key")
        return found


@runtime_checkable
class FineTuneProvider(Protocol):
    """What the job tracker needs from a provider. Every method may raise
    ``ProviderError``; ``create_job`` also ``ProviderRefused``, pause/resume
    ``Unsupported``."""

    kind: str
    name: str
    base_url: str

    @property
    def host(self) -> str: ...

    def upload_file(
        self,
        name: str,
        data: bytes,
        purpose: str = FINE_TUNE_PURPOSE,
        progress: ByteProgress | None = None,
    ) -> str: ...

    def retrieve_file(self, file_id: str) -> Json: ...

    def list_files(
        self, purpose: str | None = FINE_TUNE_PURPOSE, limit: int = 1000
    ) -> list[Json]: ...

    def file_content(self, file_id: str) -> bytes: ...

    def list_models(self, fine_tunable_only: bool = False) -> list[str]: ...

    def create_job(self, request: JobRequest) -> Json: ...

    def retrieve_job(self, job_id: str) -> Json: ...

    def list_jobs(self, limit: int = 20, after: str | None = None) -> list[Json]: ...

    def cancel_job(self, job_id: str) -> Json: ...

    def pause_job(self, job_id: str) -> Json: ...

    def resume_job(self, job_id: str) -> Json: ...

    def list_events(
        self,
        job_id: str,
        after: str | None = None,
        limit: int = PAGE_SIZE,
        *,
        stop_at: Collection[str] = (),
    ) -> list[Json]: ...

    def list_checkpoints(self, job_id: str, limit: int = 1000) -> list[Json]: ...

    def close(self) -> None: ...


class _ProgressBody(io.BytesIO):
    """Upload body that reports bytes as the HTTP layer reads them. httpx seeks back to 0
    on a retry, so a retried upload reports from the start again."""

    def __init__(self, data: bytes, progress: ByteProgress) -> None:
        super().__init__(data)
        self._total = len(data)
        self._progress = progress

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        try:
            self._progress(self.tell(), self._total)
        except Exception:  # a faulty listener must not turn into an SDK retry
            logger.exception("upload progress callback failed")
        return chunk


class _Checked:
    """An SDK resource whose calls go through ``with_raw_response``, so a body that is
    not JSON is named for what it is (content type, first characters) instead of
    failing deep inside the SDK."""

    def __init__(self, resource: Any, host: str) -> None:
        self._raw = resource.with_raw_response
        self._host = host

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._raw, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            return parse_json(method(*args, **kwargs), host=self._host)

        return call


def _to_json(obj: Any) -> Json:
    """An SDK object as the plain JSON the server sent (unknown fields and new status
    values kept; no pydantic warnings about them)."""
    if isinstance(obj, dict):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        return dict(to_dict(mode="json", warnings=False))
    raise TypeError(f"unexpected object from the SDK: {type(obj).__name__}")


def openai_fine_tunable(model: Json) -> bool:
    """Azure lists ``capabilities.fine_tune``; for OpenAI fall back to known families."""
    capabilities = model.get("capabilities")
    if isinstance(capabilities, dict) and "fine_tune" in capabilities:
        return bool(capabilities["fine_tune"])
    model_id = str(model.get("id", ""))
    return any(re.fullmatch(pattern, model_id) for pattern in OPENAI_FINE_TUNABLE_PATTERNS)


def compatible_fine_tunable(model: Json) -> bool:
    """An unknown server: anything it lists that is not an embedding model."""
    capabilities = model.get("capabilities")
    if isinstance(capabilities, dict) and "fine_tune" in capabilities:
        return bool(capabilities["fine_tune"])
    return not is_embedding_model(str(model.get("id", "")))


def is_refusal(status: int, body: Any, message: str) -> bool:
    """Does an error on job creation mean "no new jobs here" rather than "bad request"?"""
    if status in (403, 405, 501):
        return True
    if status != 400:
        return False
    inner = body.get("error", body) if isinstance(body, dict) else None
    code = str(inner.get("code") or "") if isinstance(inner, dict) else ""
    if code and any(word in code for word in _REFUSAL_CODES):
        return True
    return bool(_REFUSAL.search(message))


class OpenAIFineTuneProvider:
    """OpenAI's fine-tuning API through the official client (injected; closed by
    ``close()`` when this object made it)."""

    kind = OPENAI
    name = "OpenAI"

    def __init__(
        self,
        client: openai.OpenAI,
        *,
        base_url: str | None = None,
        name: str | None = None,
        timeout: float | None = None,
        page_cap: int = PAGE_CAP,
        page_size: int = PAGE_SIZE,
        fine_tunable: Callable[[Json], bool] | None = None,
        owns_client: bool = False,
    ) -> None:
        self.client = client
        # Shown, logged and recorded with each job: a password inside it is masked.
        self.base_url = mask_url((base_url or str(client.base_url)).rstrip("/"))
        if name:
            self.name = name
        self.timeout = timeout if timeout is not None else _timeout_of(client)
        self.page_cap = max(1, page_cap)
        self.page_size = max(1, page_size)
        self._fine_tunable = fine_tunable or self._default_fine_tunable
        self._owns_client = owns_client

    @staticmethod
    def _default_fine_tunable(model: Json) -> bool:
        return openai_fine_tunable(model)

    @classmethod
    def from_config(cls, config: ProviderConfig, **kwargs: Any) -> OpenAIFineTuneProvider:
        from desktop.providers.client import make_client

        return cls(
            make_client(config),
            base_url=config.base_url,
            timeout=config.timeout,
            owns_client=True,
            **kwargs,
        )

    @property
    def host(self) -> str:
        return host_of(self.base_url)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> OpenAIFineTuneProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    # -- errors ------------------------------------------------------------------------

    def _error(self, exc: BaseException, action: str) -> ProviderError:
        import openai

        status = getattr(exc, "status_code", None)
        retryable = isinstance(
            exc,
            openai.RateLimitError
            | openai.InternalServerError
            | openai.APITimeoutError
            | openai.APIConnectionError,
        ) or (isinstance(status, int) and status >= 500)
        text = explain(exc, host=self.host, timeout=self.timeout)
        return ProviderError(
            f"{action} failed. {text}",
            status=status if isinstance(status, int) else None,
            retryable=retryable,
            retry_after=retry_after_seconds(exc),
            server_message=server_message(exc) if status is not None else None,
        )

    @contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Every failure inside leaves as a ``ProviderError`` with a sentence: the SDK's
        errors, a body that is not JSON, and whatever the SDK trips over when a server is
        compatible in name only (its internal text goes to the log, not the user)."""
        import openai

        try:
            yield
        except ProviderError:
            raise
        except (openai.OpenAIError, json.JSONDecodeError, BadResponse) as exc:
            raise self._error(exc, action) from exc
        except Exception as exc:
            raise ProviderError(f"{action} failed. {unreadable(exc, host=self.host)}") from exc

    def _api(self, resource: Any) -> _Checked:
        """``resource``'s calls, each answer checked to be the API's JSON."""
        return _Checked(resource, self.host)

    # -- paging ------------------------------------------------------------------------

    def _collect(
        self,
        fetch: Callable[[str | None, int], Any],
        *,
        what: str,
        limit: int,
        after: str | None = None,
        stop_at: Collection[str] = (),
    ) -> list[Json]:
        """Items from successive pages until ``limit``, the end, a known id, a page with
        nothing new (a server ignoring ``after``) or the page cap."""
        items: list[Json] = []
        if limit <= 0:
            return items
        seen: set[str] = set()
        cursor = after
        for _ in range(self.page_cap):
            size = max(1, min(self.page_size, limit - len(items)))
            page = fetch(cursor, size)
            data = [_to_json(item) for item in (page.data or [])]
            fresh = [d for d in data if str(d.get("id")) not in seen]
            if not fresh:
                return items
            for item in fresh:
                item_id = str(item.get("id"))
                if item_id in stop_at:
                    return items
                seen.add(item_id)
                items.append(item)
                if len(items) >= limit:
                    return items
            has_more = getattr(page, "has_more", None)
            if has_more is False or (has_more is None and len(data) < size):
                return items
            if data[-1].get("id") is None:
                return items
            cursor = str(data[-1]["id"])
        logger.warning(
            "%s on %s: stopped after %d pages (%d items); the server may ignore 'after'",
            what,
            self.host,
            self.page_cap,
            len(items),
        )
        return items

    # -- files -------------------------------------------------------------------------

    def upload_file(
        self,
        name: str,
        data: bytes,
        purpose: str = FINE_TUNE_PURPOSE,
        progress: ByteProgress | None = None,
    ) -> str:
        """Upload bytes as one file; returns its id. Progress is reported as the body is
        sent (start and end at least)."""
        total = len(data)
        report = progress or (lambda _done, _total: None)
        report(0, total)
        body = _ProgressBody(data, report) if progress else data
        with self._calling(f"Uploading {name} ({total:,} bytes)"):
            uploaded = self._api(self.client.files).create(file=(name, body), purpose=purpose)
        report(total, total)
        logger.info("Uploaded %s (%d bytes) to %s as %s", name, total, self.host, uploaded.id)
        return str(uploaded.id)

    def retrieve_file(self, file_id: str) -> Json:
        with self._calling(f"Reading file {file_id}"):
            return _to_json(self._api(self.client.files).retrieve(file_id))

    def list_files(self, purpose: str | None = FINE_TUNE_PURPOSE, limit: int = 1000) -> list[Json]:
        def fetch(after: str | None, size: int) -> Any:
            kwargs: dict[str, Any] = {"limit": size}
            if after:
                kwargs["after"] = after
            if purpose:
                kwargs["purpose"] = purpose
            return self._api(self.client.files).list(**kwargs)

        with self._calling("Listing files"):
            return self._collect(fetch, what="Listing files", limit=limit)

    def file_content(self, file_id: str) -> bytes:
        """A file's bytes as stored (result files are CSV, from Azure base64-encoded)."""
        with self._calling(f"Downloading file {file_id}"):
            return bytes(self.client.files.content(file_id).content)

    # -- models ------------------------------------------------------------------------

    def list_models(self, fine_tunable_only: bool = False) -> list[str]:
        """Model ids the server lists, sorted; optionally only those that can be
        fine-tuned (as far as the provider says or is known)."""
        models: list[Json] = []
        with self._calling("Listing models"):
            page = self._api(self.client.models).list()
            for _ in range(MODEL_LIST_PAGE_CAP):
                models.extend(_to_json(m) for m in page.data)
                if not page.has_next_page():
                    break
                page = page.get_next_page()
        if fine_tunable_only:
            models = [m for m in models if self._fine_tunable(m)]
        return sorted({str(m.get("id")) for m in models if m.get("id")})

    # -- jobs --------------------------------------------------------------------------

    def create_job(self, request: JobRequest) -> Json:
        import openai

        params = request.to_api()
        with self._calling(f"Creating a fine-tuning job on {request.model}"):
            try:
                job = self._api(self.client.fine_tuning.jobs).create(**params)
            except openai.APIStatusError as exc:
                message = server_message(exc)
                if is_refusal(exc.status_code, exc.body, message):
                    logger.warning("%s refused a fine-tuning job: %s", self.host, message)
                    raise ProviderRefused(self.name, self.host, message, exc.status_code) from exc
                raise
            data = _to_json(job)
        logger.info("Created fine-tuning job %s on %s", data.get("id"), self.host)
        return data

    def retrieve_job(self, job_id: str) -> Json:
        with self._calling(f"Reading job {job_id}"):
            return _to_json(self._api(self.client.fine_tuning.jobs).retrieve(job_id))

    def list_jobs(self, limit: int = 20, after: str | None = None) -> list[Json]:
        """Newest first, up to ``limit`` jobs across pages (capped)."""

        def fetch(cursor: str | None, size: int) -> Any:
            jobs = self._api(self.client.fine_tuning.jobs)
            if cursor:
                return jobs.list(limit=size, after=cursor)
            return jobs.list(limit=size)

        with self._calling("Listing fine-tuning jobs"):
            return self._collect(fetch, what="Listing jobs", limit=limit, after=after)

    def cancel_job(self, job_id: str) -> Json:
        with self._calling(f"Cancelling job {job_id}"):
            return _to_json(self._api(self.client.fine_tuning.jobs).cancel(job_id))

    def _pause_or_resume(self, job_id: str, verb: str) -> Json:
        import openai

        call = getattr(self._api(self.client.fine_tuning.jobs), verb)
        action = f"{'Pausing' if verb == 'pause' else 'Resuming'} job {job_id}"
        with self._calling(action):
            try:
                return _to_json(call(job_id))
            except openai.APIStatusError as exc:
                if exc.status_code in (405, 501) or (
                    exc.status_code == 404 and self._job_exists(job_id)
                ):
                    raise Unsupported(
                        f"{self.name} ({self.host}) does not support {verb} for fine-tuning jobs.",
                        status=exc.status_code,
                        server_message=server_message(exc),
                    ) from exc
                raise

    def _job_exists(self, job_id: str) -> bool:
        try:
            self.retrieve_job(job_id)
        except ProviderError:
            return False
        return True

    def pause_job(self, job_id: str) -> Json:
        return self._pause_or_resume(job_id, "pause")

    def resume_job(self, job_id: str) -> Json:
        return self._pause_or_resume(job_id, "resume")

    def list_events(
        self,
        job_id: str,
        after: str | None = None,
        limit: int = PAGE_SIZE,
        *,
        stop_at: Collection[str] = (),
    ) -> list[Json]:
        """Events newest first, from ``after`` (an event id) back in time, stopping at
        the first id in ``stop_at`` (what is already stored)."""

        def fetch(cursor: str | None, size: int) -> Any:
            jobs = self._api(self.client.fine_tuning.jobs)
            if cursor:
                return jobs.list_events(job_id, limit=size, after=cursor)
            return jobs.list_events(job_id, limit=size)

        with self._calling(f"Reading events of job {job_id}"):
            return self._collect(
                fetch, what="Listing events", limit=limit, after=after, stop_at=stop_at
            )

    def list_checkpoints(self, job_id: str, limit: int = 1000) -> list[Json]:
        def fetch(cursor: str | None, size: int) -> Any:
            checkpoints = self._api(self.client.fine_tuning.jobs.checkpoints)
            if cursor:
                return checkpoints.list(job_id, limit=size, after=cursor)
            return checkpoints.list(job_id, limit=size)

        with self._calling(f"Reading checkpoints of job {job_id}"):
            return self._collect(fetch, what="Listing checkpoints", limit=limit)


class CompatibleFineTuneProvider(OpenAIFineTuneProvider):
    """Any server that speaks /v1/files and /v1/fine_tuning/jobs."""

    kind = COMPATIBLE
    name = "OpenAI-compatible server"

    @staticmethod
    def _default_fine_tunable(model: Json) -> bool:
        return compatible_fine_tunable(model)


class AzureFineTuneProvider(OpenAIFineTuneProvider):
    """Azure OpenAI through the SDK's ``AzureOpenAI`` client (api-key header, the
    ``api-version`` query, resource-level /openai/files and /openai/fine_tuning)."""

    kind = AZURE
    name = "Azure OpenAI"

    @classmethod
    def from_azure(cls, config: AzureConfig, **kwargs: Any) -> AzureFineTuneProvider:
        problems = config.problems()
        if problems:
            raise ProviderError("Azure OpenAI is not set up: " + "; ".join(problems) + ".")
        import openai

        client = openai.AzureOpenAI(
            azure_endpoint=config.endpoint.strip(),
            azure_deployment=config.deployment or None,
            api_version=config.api_version.strip(),
            api_key=config.api_key,
            timeout=config.timeout,
            max_retries=config.max_retries,
        )
        return cls(
            client,
            base_url=config.endpoint.strip().rstrip("/"),  # masked by __init__
            timeout=config.timeout,
            owns_client=True,
            **kwargs,
        )


def provider_for_config(config: ProviderConfig) -> OpenAIFineTuneProvider:
    """OpenAI for OpenAI's own URL, otherwise an OpenAI-compatible server."""
    if config.needs_key:
        return OpenAIFineTuneProvider.from_config(config)
    return CompatibleFineTuneProvider.from_config(config)


def _timeout_of(client: Any) -> float | None:
    timeout = getattr(client, "timeout", None)
    if isinstance(timeout, int | float):
        return float(timeout)
    read = getattr(timeout, "read", None)
    return float(read) if isinstance(read, int | float) else None
