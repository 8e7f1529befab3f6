"""The ``openai`` provider: any OpenAI-compatible Images API, over httpx.

Generations are JSON posts to ``{base_url}/images/generations``; edits are
multipart posts to ``{base_url}/images/edits`` (base image first, then the
references, as repeated ``image[]`` parts when there are several, and the
mask). Bodies are built from the model's allow-list in
:mod:`~assetgen.providers.models`, so a reseller such as CometAPI works by
``base_url`` alone.

One ``httpx.AsyncClient`` (HTTP/1.1, connections kept alive) serves every
request; at most ``concurrency`` requests are in flight, spaced to stay under
``requests_per_minute``. Failures that may pass (429 other than quota, 5xx,
timeouts, dropped connections) are retried per :mod:`~assetgen.providers.retry`;
each retry and each model warning is reported as an :class:`~assetgen.events.Event`.
The API key is read from the environment on the first request and is
redacted from every message this module builds.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import date
from typing import Any

import httpx

from .. import __version__
from ..errors import ProviderAuthError, ProviderError, SpecError
from ..events import Emit, Event, ignore
from ..spec_types import ProviderConfig
from .base import ImageRequest, ImageResult, Provider
from .estimates import estimate_usd
from .inputs import (
    PreparedInputs,
    encode_kept,
    input_sizes,
    inspect_inputs,
    prepare_inputs,
    sniff_format,
)
from .lifecycle import lifecycle_note, transparency_hint
from .models import (
    ModelProfile,
    body_fields,
    param_problems,
    parse_price_overrides,
    prices_for,
    profile_for,
    usage_cost,
)
from .retry import RateLimiter, RetryPolicy, retry_after, should_retry
from .wire import decode_images, form_values, one_line, parse_error, parse_usage

CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection; the read timeout is ``[provider] timeout``."""
BASE_URL_ENV = "OPENAI_BASE_URL"


def resolve_base_url(config: ProviderConfig) -> str:
    """``[provider] base_url``, else ``$OPENAI_BASE_URL``, else OpenAI's; no trailing slash."""
    url = config.base_url
    if not config.base_url_set:
        url = os.environ.get(BASE_URL_ENV) or url
    if not url.startswith(("http://", "https://")):
        where = "provider.base_url" if config.base_url_set else BASE_URL_ENV
        raise SpecError(f"base URL {url!r} must start with http:// or https://", field=where)
    return url.rstrip("/")


SHUTDOWN_NOTICE_DAYS = 30
"""Within this many days of a model's shutdown, generating with it warns."""


class OpenAIProvider(Provider):
    """An OpenAI-compatible Images API (``[provider] name = "openai"``).

    ``transport`` replaces httpx's network transport (tests); ``retry``
    replaces the backoff policy built from ``max_retries``; ``today`` fixes
    the date that model shutdowns are judged against.
    """

    kind = "openai"

    def __init__(
        self,
        config: ProviderConfig,
        *,
        emit: Emit = ignore,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        today: date | None = None,
    ) -> None:
        super().__init__(emit)
        self.config = config
        self.base_url = resolve_base_url(config)
        self.retry = retry or RetryPolicy(max_retries=config.max_retries)
        self._prices = parse_price_overrides(config.prices)
        self._today = today
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._key: str | None = None
        self._slots = asyncio.Semaphore(config.concurrency)
        self._pace = RateLimiter(config.requests_per_minute)
        self._noted: set[str] = set()

    # -- the Provider interface ------------------------------------------------

    def check(self, request: ImageRequest) -> None:
        """Refuse what the model cannot do and inputs the API would refuse."""
        profile = self._profile(request)
        self._check_params(profile, request)
        if request.operation == "edit":
            inspect_inputs(request, profile)
            if self.config.image_field == "image" and len(request.inputs) > 1:
                raise SpecError(
                    f"{len(request.inputs)} input images, but [provider] image_field = "
                    '"image" sends one image part only; use "auto" or "image[]"',
                    asset=request.asset,
                    field="references",
                )

    def estimate_cost(self, request: ImageRequest) -> float | None:
        """USD of the output images and an edit's input images (see ``estimates``), × n."""
        prices = prices_for(request.model, self._prices)
        sizes = input_sizes(request) if request.operation == "edit" else []
        return estimate_usd(profile_for(request.model), prices, request, sizes)

    async def generate(self, request: ImageRequest) -> ImageResult:
        """Send the request (retrying what may pass) and decode the images."""
        profile = self._profile(request)
        self._check_params(profile, request)
        client = self._http()
        fields = body_fields(profile, request)
        prepared: PreparedInputs | None = None
        if request.operation == "edit":
            prepared = await asyncio.to_thread(
                prepare_inputs, request, profile, self.config.image_field
            )
            files = [(p.field, (p.filename, p.data, p.mime)) for p in prepared.files]
            content: dict[str, Any] = {"data": form_values(fields), "files": files}
            response = await self._post(client, request, "/images/edits", content)
        else:
            response = await self._post(client, request, "/images/generations", {"json": fields})
        return await self._result(request, response, prepared)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- model table and local checks -------------------------------------------

    def _profile(self, request: ImageRequest) -> ModelProfile:
        profile = profile_for(request.model)
        note = lifecycle_note(
            profile, self._today or date.today(), self.base_url, notice_days=SHUTDOWN_NOTICE_DAYS
        )
        if note is not None and note[0] == "error":
            raise SpecError(note[1], asset=request.asset, field="model")
        if request.model not in self._noted:
            self._noted.add(request.model)
            self._note_model(profile, note)
        return profile

    def _note_model(self, profile: ModelProfile, note: tuple[str, str] | None) -> None:
        """Once per model and build: an unknown id, a deprecation or a retired model."""
        if not profile.known:
            cost = "" if profile.id in self._prices else " and its cost is unknown"
            message = (
                f"model {profile.id!r} is not in assetgen's model table: its sizes and fields "
                f"are sent unchecked{cost}"
            )
            self.emit(Event("warning", message, data={"model": profile.id}))
        elif note is not None:
            kind, message = note
            self.emit(Event(kind, message, data={"model": profile.id}))

    def _check_params(self, profile: ModelProfile, request: ImageRequest) -> None:
        """One SpecError (the interface's promise) that names every problem."""
        problems = param_problems(profile, request)
        if len(problems) == 1:
            [(name, message)] = problems
            raise SpecError(message, asset=request.asset, field=name)
        if problems:
            text = "; ".join(f"{name}: {message}" for name, message in problems)
            raise SpecError(text, asset=request.asset)

    # -- HTTP ---------------------------------------------------------------

    def _api_key(self) -> str:
        if self._key is None:
            env = self.config.api_key_env
            key = os.environ.get(env, "").strip()
            if not key:
                raise ProviderAuthError(f"no API key: set the environment variable {env}")
            self._key = key
        return self._key

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {
                "Authorization": f"Bearer {self._api_key()}",
                "Accept": "application/json",
                "User-Agent": f"assetgen/{__version__}",
            }
            if self.config.organization:
                headers["OpenAI-Organization"] = self.config.organization
            if self.config.project:
                headers["OpenAI-Project"] = self.config.project
            slots = self.config.concurrency
            self._client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=headers,
                timeout=httpx.Timeout(
                    self.config.timeout, connect=min(CONNECT_TIMEOUT, self.config.timeout)
                ),
                limits=httpx.Limits(max_connections=slots, max_keepalive_connections=slots),
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[redacted]") if self._key else text

    def _error(
        self,
        message: str,
        request: ImageRequest,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        hint: str | None = None,
        cls: type[ProviderError] = ProviderError,
    ) -> ProviderError:
        text = self._redact(one_line(message))
        hint = self._redact(hint) if hint else None
        return cls(
            text, code=code, status=status, retryable=retryable, asset=request.asset, hint=hint
        )

    async def _post(
        self, client: httpx.AsyncClient, request: ImageRequest, path: str, content: dict[str, Any]
    ) -> httpx.Response:
        """POST, retrying what may pass; the successful response."""
        retries = 0
        # The slot is held through retry waits: a service that asks this build to
        # back off gets no other request from it in the meantime.
        async with self._slots:
            while True:
                await self._pace.wait()
                headers: httpx.Headers | dict[str, str] = {}
                try:
                    response = await self._send(client, request, path, content)
                    headers = response.headers
                    self._raise_for_status(request, response)
                    return response
                except ProviderError as error:
                    delay = self._retry_delay(error, retries, headers)
                    if delay is None:
                        raise
                    self._emit_retry(request, error, retries, delay)
                    await asyncio.sleep(delay)
                    retries += 1

    async def _send(
        self, client: httpx.AsyncClient, request: ImageRequest, path: str, content: dict[str, Any]
    ) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            return await client.post(path, **content)
        except httpx.TimeoutException as exc:
            message = f"no answer from {url} in time ({type(exc).__name__})"
            raise self._error(message, request, retryable=True) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            message = f"connection to {url} failed: {str(exc) or type(exc).__name__}"
            raise self._error(message, request, retryable=True) from exc
        except httpx.HTTPError as exc:
            raise self._error(f"request to {url} failed: {exc}", request) from exc

    def _retry_delay(
        self, error: ProviderError, retries: int, headers: httpx.Headers | dict[str, str]
    ) -> float | None:
        if not error.retryable:
            return None
        if retries >= self.retry.max_retries:
            if retries:
                error.hint = f"gave up after {retries + 1} attempts"
            return None
        delay = self.retry.delay(retries, headers)
        if delay is None:
            error.hint = (
                f"the service asks to wait {retry_after(headers):.0f} s, more than "
                f"{self.retry.max_retry_after:.0f} s; try again later"
            )
        return delay

    def _emit_retry(
        self, request: ImageRequest, error: ProviderError, retries: int, delay: float
    ) -> None:
        attempt = retries + 2
        status = f"HTTP {error.status}: " if error.status else ""
        total = self.retry.max_retries + 1
        message = f"{status}{error.message}; attempt {attempt} of {total} in {delay:.2f} s"
        data = {"delay": delay, "attempt": attempt, "status": error.status, "code": error.code}
        self.emit(Event("retry", message, asset=request.asset, data=data))

    # -- responses ------------------------------------------------------------

    def _raise_for_status(self, request: ImageRequest, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300:
            return
        url = str(response.request.url)
        if status < 400:
            where = response.headers.get("location", "elsewhere")
            message = (
                f"{url} redirects ({status}) to {where}: [provider] base_url is probably wrong"
            )
            raise self._error(message, request, status=status)
        error = parse_error(_json(response))
        if error is None:
            kind = response.headers.get("content-type", "no content type")
            message = f"{url} answered {status} with a non-JSON body ({kind}): is base_url right?"
            retryable = should_retry(status, None, response.headers)
            raise self._error(message, request, status=status, retryable=retryable)
        if status == 401:
            message = (
                f"the service rejected the API key in {self.config.api_key_env}: {error.message}"
            )
            raise self._error(
                message, request, status=status, code=error.code, cls=ProviderAuthError
            )
        if error.code == "model_not_found":
            message = f"model {request.model!r} is not available at {self.base_url}"
            hint = "locked assets stay valid; change [provider] model or the asset's model"
            raise self._error(message, request, status=status, code=error.code, hint=hint)
        retryable = should_retry(status, error.code or error.type, response.headers)
        hint = transparency_hint(profile_for(request.model), request, error.param, error.message)
        raise self._error(
            error.message, request, status=status, code=error.code, retryable=retryable, hint=hint
        )

    async def _result(
        self, request: ImageRequest, response: httpx.Response, prepared: PreparedInputs | None
    ) -> ImageResult:
        payload = _json(response)
        url = str(response.request.url)
        if not isinstance(payload, dict):
            kind = response.headers.get("content-type", "no content type")
            message = f"{url} answered with a non-JSON body ({kind}): is base_url right?"
            raise self._error(message, request, status=response.status_code)
        error = parse_error(payload)
        if error is not None and "data" not in payload:  # some relays answer errors with 200
            raise self._error(error.message, request, status=response.status_code, code=error.code)
        try:
            images = decode_images(payload)
            image_format = sniff_format(images[0]) or str(payload.get("output_format") or "png")
            if prepared is not None and prepared.region is not None and request.keep_unmasked:
                images = await asyncio.to_thread(_keep_unmasked, request, prepared, images)
                image_format = request.output_format
        except (ValueError, OSError) as exc:  # OSError: Pillow cannot read the image
            raise self._error(f"unusable answer from {url}: {exc}", request) from exc
        usage = parse_usage(payload)
        short = len(images) < request.n
        return ImageResult(
            images=tuple(images),
            format=image_format,
            usage=usage,
            cost_usd=usage_cost(prices_for(request.model, self._prices), usage),
            model=request.model,
            request_id=response.headers.get("x-request-id"),
            warnings=(f"asked for {request.n} images, got {len(images)}",) if short else (),
        )


def _json(response: httpx.Response) -> object:
    try:
        return json.loads(response.content)
    except ValueError:
        return None


def _keep_unmasked(
    request: ImageRequest, prepared: PreparedInputs, images: list[bytes]
) -> list[bytes]:
    assert prepared.base is not None and prepared.region is not None
    return [
        encode_kept(
            prepared.base, image, prepared.region, request.output_format, request.output_compression
        )
        for image in images
    ]
