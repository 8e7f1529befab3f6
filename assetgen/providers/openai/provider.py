"""The ``openai`` provider: any OpenAI-compatible Images API, over httpx.

Generations are JSON posts to ``{base_url}/images/generations``; edits are
multipart posts to ``{base_url}/images/edits`` (base image first, then the
references, as repeated ``image[]`` parts when there are several, and the
mask). Bodies are built from the model's allow-list in
:mod:`~assetgen.providers.openai.models`, so a reseller such as CometAPI works by
``base_url`` alone.

One ``httpx.AsyncClient`` (HTTP/1.1, connections kept alive) serves every
request; at most ``concurrency`` requests are in flight, spaced to stay under
``requests_per_minute``. Failures that may pass (429 other than quota, 5xx,
timeouts, dropped connections) are retried per :mod:`~assetgen.providers.openai.retry`;
each retry and each model warning is reported as an :class:`~assetgen.events.Event`.

Everything on the wire is bounded: ``[provider] timeout`` bounds each whole
response (not each read, which a server trickling bytes would pass), an
answer is read up to :data:`MAX_RESPONSE_BYTES`, and every image in it is
decoded in full (:mod:`~assetgen.providers.decode`) before it is returned, so
a damaged answer is a failed attempt, retried, and never stored.

The API key is read from the environment on the first request, refused
unless an HTTP header can carry it, and redacted (in every spelling, see
:mod:`assetgen.secrets`) from every message this module builds.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import httpx

from ... import __version__
from ...errors import AssetgenError, ProviderAuthError, ProviderError, SpecError
from ...events import Emit, EventKind, ModelEvent, RetryEvent, ignore
from ...secrets import Redactor, key_problem
from ...spec_types import ProviderConfig
from ..base import ImageRequest, ImageResult, NoOptions, Provider, Usage
from ..decode import UndecodableImage, check_image
from .estimates import estimate_usd
from .inputs import PreparedInputs, encode_kept, input_sizes, prepare_inputs
from .lifecycle import lifecycle_note, transparency_hint
from .limits import MAX_RESPONSE_BYTES, check_config, config_problems
from .models import (
    MB,
    ModelProfile,
    body_fields,
    param_problems,
    parse_price_overrides,
    prices_for,
    profile_for,
    usage_cost,
)
from .profile_check import profile_problems, raise_problems
from .retry import RateLimiter, RetryPolicy, retry_after, should_retry
from .wire import (
    BrokenImage,
    MalformedUsage,
    decode_images,
    form_values,
    one_line,
    parse_error,
    parse_usage,
)

CONNECT_TIMEOUT = 10.0
"""Seconds to open a connection; ``[provider] timeout`` bounds the whole response."""
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
    the date that model shutdowns are judged against; ``max_response_bytes``
    bounds one answer. Raises SpecError for ``[provider]`` values out of range.
    """

    name = "openai"
    key_revision = 0

    @classmethod
    def config_problems(cls, config: ProviderConfig) -> list[SpecError]:
        return config_problems(config)

    def __init__(
        self,
        config: ProviderConfig,
        *,
        options: NoOptions | None = None,
        emit: Emit = ignore,
        transport: httpx.AsyncBaseTransport | None = None,
        retry: RetryPolicy | None = None,
        today: date | None = None,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        super().__init__(emit)
        check_config(config)
        self.config = config
        self.base_url = resolve_base_url(config)
        self.retry = retry or RetryPolicy(max_retries=config.max_retries)
        self._prices = parse_price_overrides(config.prices)
        self._today = today
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._key: str | None = None
        self._redactor = Redactor()
        self.max_response_bytes = max_response_bytes
        self._slots = asyncio.Semaphore(config.concurrency)
        self._pace = RateLimiter(config.requests_per_minute)
        self._noted: set[str] = set()

    # -- the Provider interface ------------------------------------------------

    def check(self, request: ImageRequest) -> None:
        """Refuse what the model cannot do and inputs the API would refuse."""
        raise_problems(profile_problems(self._profile(request), request), request)
        if (
            request.operation == "edit"
            and self.config.image_field == "image"
            and len(request.inputs) > 1
        ):
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
        try:
            return await self._generate(request)
        except AssetgenError:
            raise
        except Exception as exc:
            # Foreign errors may quote a header (the key): redact, and drop the chain.
            message = f"internal error in the openai provider: {exc!r} (please report it)"
            raise self._error(message, request) from None

    async def _generate(self, request: ImageRequest) -> ImageResult:
        profile = self._profile(request)
        raise_problems(param_problems(profile, request), request)
        client = self._http()
        fields = body_fields(profile, request)
        if request.operation == "generate":
            return await self._exchange(client, request, "/images/generations", {"json": fields})
        prepared = await asyncio.to_thread(
            prepare_inputs, request, profile, self.config.image_field
        )
        files = [(p.field, (p.filename, p.data, p.mime)) for p in prepared.files]
        content: dict[str, Any] = {"data": form_values(fields), "files": files}
        return await self._exchange(client, request, "/images/edits", content, prepared)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # -- for the Batch API (:mod:`~assetgen.providers.openai.batch`) --------------------

    def client(self) -> httpx.AsyncClient:
        """The authorised connection pool, for the Files and Batch endpoints."""
        return self._http()

    def redact(self, text: str) -> str:
        """``text`` without the API key, in any spelling."""
        return self._redact(text)

    async def answer_result(
        self, request: ImageRequest, status: int, body: bytes, request_id: str | None, where: str
    ) -> ImageResult:
        """An answer that came otherwise than by a direct request (a batch's output line),
        refused, decoded and checked exactly as a direct answer; ``where`` names it."""
        headers = httpx.Headers({"x-request-id": request_id} if request_id else {})
        answer = _Answer(status, headers, body, where)
        self._raise_for_status(request, answer)
        return await self._result(request, answer, None)

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
            self.emit(ModelEvent("warning", message, model=profile.id))
        elif note is not None:
            level, message = note
            kind: EventKind = "info" if level == "info" else "warning"  # "error" raised already
            self.emit(ModelEvent(kind, message, model=profile.id))

    # -- HTTP ---------------------------------------------------------------

    def _api_key(self) -> str:
        if self._key is None:
            env = self.config.api_key_env
            raw = os.environ.get(env, "")
            key = raw.strip()
            if key:  # redact before checking: from here on, no message may show it
                self._redactor.add(raw)
                self._redactor.add(key)
            if not key:
                raise ProviderAuthError(f"no API key: set the environment variable {env}")
            problem = key_problem(key)
            if problem is not None:
                raise ProviderAuthError(
                    f"the API key in the environment variable {env} cannot be sent: {problem}; "
                    f"set {env} again to the key alone"
                )
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
        return self._redactor.redact(text)

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
        # Redact first: squeezing whitespace would change a key holding a line break.
        text = one_line(self._redact(message))
        hint = one_line(self._redact(hint)) if hint else None
        return cls(
            text, code=code, status=status, retryable=retryable, asset=request.asset, hint=hint
        )

    async def _exchange(
        self,
        client: httpx.AsyncClient,
        request: ImageRequest,
        path: str,
        content: dict[str, Any],
        prepared: PreparedInputs | None = None,
    ) -> ImageResult:
        """POST and decode, retrying what may pass (a damaged answer too)."""
        retries = 0
        wasted: list[float | None] = []
        # The slot is held through retry waits: a service that asks this build to
        # back off gets no other request from it in the meantime.
        async with self._slots:
            while True:
                await self._pace.wait()
                headers: httpx.Headers | dict[str, str] = {}
                try:
                    answer = await self._send(client, request, path, content)
                    headers = answer.headers
                    self._raise_for_status(request, answer)
                    result = await self._result(request, answer, prepared)
                    return _with_wasted(result, wasted)
                except ProviderError as error:
                    if isinstance(error, _BrokenAnswer):
                        wasted.append(error.cost_usd)
                    delay = self._retry_delay(error, retries, headers)
                    if delay is None:
                        raise
                    self._emit_retry(request, error, retries, delay)
                    await asyncio.sleep(delay)
                    retries += 1

    async def _send(
        self, client: httpx.AsyncClient, request: ImageRequest, path: str, content: dict[str, Any]
    ) -> _Answer:
        """One POST whose whole answer arrives within ``[provider] timeout``."""
        url = f"{self.base_url}{path}"
        limit = f"[provider] timeout = {self.config.timeout:g} s"
        try:
            async with asyncio.timeout(self.config.timeout):
                async with client.stream("POST", path, **content) as response:
                    body = await self._read(request, response, url)
                    return _Answer(response.status_code, response.headers, body, url)
        except TimeoutError as exc:
            message = f"no complete answer from {url} in time ({limit} bounds the whole answer)"
            raise self._error(message, request, retryable=True) from exc
        except httpx.TimeoutException as exc:
            timeout = self.config.timeout
            message = f"no answer from {url} in time ({type(exc).__name__}: " + (
                f"could not connect within {min(CONNECT_TIMEOUT, timeout):g} s)"
                if isinstance(exc, httpx.ConnectTimeout)
                else f"waited {timeout:g} s, the [provider] timeout)"
            )
            raise self._error(message, request, retryable=True) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            message = f"connection to {url} failed: {str(exc) or type(exc).__name__}"
            raise self._error(message, request, retryable=True) from exc
        except httpx.HTTPError as exc:
            raise self._error(f"request to {url} failed: {exc}", request) from exc

    async def _read(self, request: ImageRequest, response: httpx.Response, url: str) -> bytes:
        """The body, refused as soon as it is larger than ``max_response_bytes``."""
        limit = self.max_response_bytes
        declared = response.headers.get("content-length", "")
        # A length of 19+ digits is over any limit (and int() of 4300+ digits raises).
        size = (int(declared) if len(declared) < 19 else limit + 1) if declared.isdigit() else 0
        chunks: list[bytes] = []
        if size <= limit:
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    break
                chunks.append(chunk)
        if size > limit:
            message = (
                f"the answer from {url} is larger than {limit / MB:g} MB, the most assetgen "
                "reads; ask for fewer images (n) or smaller ones"
            )
            raise self._error(message, request, status=response.status_code)
        return b"".join(chunks)

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
        retry = RetryEvent(
            message=message,
            asset=request.asset,
            delay=delay,
            attempt=attempt,
            status=error.status,
            code=error.code,
        )
        self.emit(retry)

    # -- responses ------------------------------------------------------------

    def _raise_for_status(self, request: ImageRequest, answer: _Answer) -> None:
        status = answer.status
        if status < 300:
            return
        url = answer.url
        if status < 400:
            where = answer.headers.get("location", "elsewhere")
            message = (
                f"{url} redirects ({status}) to {where}: [provider] base_url is probably wrong"
            )
            raise self._error(message, request, status=status)
        error = parse_error(_json(answer.content))
        if error is None:
            kind = answer.headers.get("content-type", "no content type")
            message = f"{url} answered {status} with a non-JSON body ({kind}): is base_url right?"
            retryable = should_retry(status, None, answer.headers)
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
            fix = "locked assets stay valid; change [provider] model or the asset's model"
            raise self._error(message, request, status=status, code=error.code, hint=fix)
        retryable = should_retry(status, error.code or error.type, answer.headers)
        hint = transparency_hint(profile_for(request.model), request, error.param, error.message)
        raise self._error(
            error.message, request, status=status, code=error.code, retryable=retryable, hint=hint
        )

    async def _result(
        self, request: ImageRequest, answer: _Answer, prepared: PreparedInputs | None
    ) -> ImageResult:
        payload = _json(answer.content)
        url = answer.url
        if not isinstance(payload, dict):
            kind = answer.headers.get("content-type", "no content type")
            message = f"{url} answered with a non-JSON body ({kind}): is base_url right?"
            raise self._error(message, request, status=answer.status)
        error = parse_error(payload)
        if error is not None and "data" not in payload:  # some relays answer errors with 200
            raise self._error(error.message, request, status=answer.status, code=error.code)
        usage, warnings = _usage(payload)
        cost = usage_cost(prices_for(request.model, self._prices), usage)
        try:
            images = decode_images(payload)
            image_format = await asyncio.to_thread(_check_images, images)
        except (BrokenImage, UndecodableImage) as exc:
            raise self._broken(request, exc, cost) from exc
        except ValueError as exc:
            raise self._error(f"unusable answer from {url}: {exc}", request) from exc
        if prepared is not None and prepared.region is not None and request.keep_unmasked:
            try:
                images = await asyncio.to_thread(_keep_unmasked, request, prepared, images)
            except (ValueError, OSError) as exc:  # OSError: Pillow cannot read the image
                raise self._error(f"unusable answer from {url}: {exc}", request) from exc
            image_format = request.output_format
        if len(images) < request.n:
            warnings += (f"asked for {request.n} images, got {len(images)}",)
        return ImageResult(
            images=tuple(images),
            format=image_format,
            usage=usage,
            cost_usd=cost,
            model=request.model,
            request_id=answer.headers.get("x-request-id"),
            warnings=tuple(self._redact(warning) for warning in warnings),
        )

    def _broken(self, request: ImageRequest, exc: ValueError, cost: float | None) -> ProviderError:
        message = f"the API returned an image that could not be decoded: {exc}"
        text = one_line(self._redact(message))
        return _BrokenAnswer(
            text, code="broken_image", retryable=True, asset=request.asset, cost_usd=cost
        )


@dataclass(frozen=True)
class _Answer:
    """One whole HTTP answer, read within the limits."""

    status: int
    headers: httpx.Headers
    content: bytes
    url: str


class _BrokenAnswer(ProviderError):
    """An answer whose image is damaged: retried like a 5xx; it may have been billed."""

    def __init__(self, message: str, *, cost_usd: float | None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.cost_usd = cost_usd


def _json(content: bytes) -> object:
    try:
        return json.loads(content)
    except ValueError:
        return None


def _usage(payload: dict[str, Any]) -> tuple[Usage | None, tuple[str, ...]]:
    """The answer's usage, or ``None`` with a warning when it is malformed."""
    try:
        return parse_usage(payload), ()
    except MalformedUsage as exc:
        return None, (f"the answer's usage is malformed ({exc}), so its cost is unknown",)


def _check_images(images: list[bytes]) -> str:
    """The one format of the answer's images, each decoded in full."""
    formats = {check_image(data, f"data[{index}]") for index, data in enumerate(images)}
    if len(formats) > 1:
        raise UndecodableImage(f"the images are of several formats ({', '.join(sorted(formats))})")
    return formats.pop()


def _with_wasted(result: ImageResult, wasted: list[float | None]) -> ImageResult:
    """``result`` charged with the damaged answers retried before it (they may be billed)."""
    if not wasted:
        return result
    known = [cost for cost in wasted if cost is not None]
    cost = None if result.cost_usd is None else result.cost_usd + sum(known)
    about = f" (about ${sum(known):.4f})" if known else ""
    note = f"{len(wasted)} damaged answer(s) were asked again; they may have been billed{about}"
    return replace(result, cost_usd=cost, warnings=(*result.warnings, note))


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
