"""OpenAI's Batch API and Files API, over the ``openai`` provider's httpx client.

The wire, and nothing of builds or state:

- ``POST /files`` (multipart ``purpose=batch``, ``file``) uploads the input:
  one JSONL line per generation, ``{"custom_id": KEY, "method": "POST",
  "url": "/v1/images/generations", "body": {…}}``, the body exactly as a
  direct request would send it;
- ``POST /batches`` (``input_file_id``, ``endpoint``, ``completion_window =
  "24h"``, ``metadata``), ``GET /batches/{id}``, ``GET /batches`` (newest first,
  ``after`` cursor), ``POST /batches/{id}/cancel``;
- ``GET /files/{id}/content`` streams an output or error file to disk, whose
  lines :func:`read_lines` gives back one at a time.

Every answer is bounded (objects to :data:`MAX_OBJECT_BYTES`, downloads to a
caller's limit and :data:`DOWNLOAD_SECONDS`) and checked before use: an id
goes into URL paths only if it looks like one (:data:`~assetgen.batch_state.OBJECT_ID`).
An output line's ``response`` goes through the provider's own checks
(:meth:`~assetgen.providers.openai.provider.OpenAIProvider.answer_result`: error
envelope, usage, every image decoded in full) and is priced at
:data:`~assetgen.providers.openai.models.BATCH_PRICE_FACTOR` of the direct price.

Only ``POST /batches`` is not safe to repeat (two batches would be billed
twice): after a create whose answer was lost, :meth:`BatchClient.create` looks
for the batch by its submission id before trying again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from ...batch_state import OBJECT_ID
from ...errors import AssetgenError, ProviderAuthError, ProviderError
from ...fsutil import atomic_writer
from ..base import ImageRequest, ImageResult
from .models import BATCH_PRICE_FACTOR, MB, body_fields, profile_for
from .provider import OpenAIProvider
from .retry import should_retry
from .wire import ApiError, one_line, parse_error

ENDPOINT = "/v1/images/generations"
COMPLETION_WINDOW = "24h"
METADATA_KEY = "assetgen_submission"
STATUSES = (
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
)
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
MAX_REQUESTS = 50_000
"""Lines per input file (the API's limit)."""
MAX_INPUT_BYTES = 190 * MB
"""Bytes per input file (the API allows 200 MB)."""
MAX_OBJECT_BYTES = 4 * MB
"""A batch, file or list object is never larger."""
MAX_LIST_PAGES = 20
"""Pages of 100 batches searched for a lost submission (newest first)."""
LIST_SLACK_SECONDS = 3600
"""A batch created this long before its submission record cannot be it: stop listing."""
DOWNLOAD_SECONDS = 3600.0
"""Bound on one output file's download, however the server trickles it."""
NO_BATCH_API = "this base URL has no Batch API"


class NoBatchAPI(ProviderError):
    """The endpoint answers 404 for ``/batches`` (most resellers)."""


class BatchGone(ProviderError):
    """The batch (or its file) is not at this endpoint (404)."""


@dataclass(frozen=True)
class BatchInfo:
    """A batch object as the API describes it, checked."""

    id: str
    status: str
    input_file_id: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    created_at: int = 0
    submission: str | None = None
    """The ``metadata`` submission id assetgen sent, if any."""
    errors: tuple[str, ...] = ()
    """Why a ``failed`` batch failed (validation of the input file)."""

    @property
    def done(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "total": self.total,
            "completed": self.completed,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class Line:
    """One line of an output or error file."""

    custom_id: str
    status: int | None
    """The request's HTTP status; ``None`` when the request never ran (``error`` says why)."""
    body: bytes = b""
    """The response body, re-encoded as JSON (the provider parses it as a direct answer)."""
    request_id: str | None = None
    error: ApiError | None = None


def input_line(request: ImageRequest) -> bytes:
    """The request as one JSONL line of a batch input file (``custom_id`` = its key)."""
    body = body_fields(profile_for(request.model), request)
    line = {"custom_id": request.key, "method": "POST", "url": ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def input_files(requests: Sequence[ImageRequest]) -> list[list[tuple[ImageRequest, bytes]]]:
    """Requests split into input files within the API's limits (lines and bytes)."""
    files: list[list[tuple[ImageRequest, bytes]]] = [[]]
    size = 0
    for request in requests:
        line = input_line(request)
        if files[-1] and (len(files[-1]) >= MAX_REQUESTS or size + len(line) > MAX_INPUT_BYTES):
            files.append([])
            size = 0
        files[-1].append((request, line))
        size += len(line)
    return [chunk for chunk in files if chunk]


def parse_batch(payload: object) -> BatchInfo:
    """A batch object, checked; ValueError says what is wrong with it."""
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    status = payload.get("status")
    if status not in STATUSES:
        raise ValueError(f"unknown status {str(status)[:40]!r}")
    counts = payload.get("request_counts")
    counts = counts if isinstance(counts, dict) else {}
    metadata = payload.get("metadata")
    submission = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return BatchInfo(
        id=_id(payload.get("id"), "id"),
        status=status,
        input_file_id=_id(payload.get("input_file_id"), "input_file_id"),
        output_file_id=_optional_id(payload.get("output_file_id"), "output_file_id"),
        error_file_id=_optional_id(payload.get("error_file_id"), "error_file_id"),
        total=_count(counts.get("total")),
        completed=_count(counts.get("completed")),
        failed=_count(counts.get("failed")),
        created_at=_count(payload.get("created_at")),
        submission=submission if isinstance(submission, str) else None,
        errors=_errors(payload.get("errors")),
    )


def _id(value: object, name: str) -> str:
    if not isinstance(value, str) or not OBJECT_ID.fullmatch(value):
        raise ValueError(f"{name} {str(value)[:80]!r} is not a valid id")
    return value


def _optional_id(value: object, name: str) -> str | None:
    return None if value is None or value == "" else _id(value, name)


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _errors(value: object) -> tuple[str, ...]:
    data = value.get("data") if isinstance(value, dict) else None
    if not isinstance(data, list):
        return ()
    found = []
    for item in data[:20]:
        if isinstance(item, dict) and isinstance(item.get("message"), str):
            line = item.get("line")
            where = f"line {line}: " if isinstance(line, int) else ""
            found.append(one_line(f"{where}{item['message']}")[:500])
    return tuple(found)


def read_lines(path: Path, limit: int) -> Iterator[Line | str]:
    """The lines of a downloaded output or error file; a str for each unusable line.

    A line longer than ``limit`` bytes is skipped without being held in memory.
    """
    with path.open("rb") as handle:
        number = 0
        while chunk := handle.readline(limit + 1):
            number += 1
            if len(chunk) > limit and not chunk.endswith(b"\n"):
                while (rest := handle.readline(MB)) and not rest.endswith(b"\n"):
                    pass
                yield f"line {number} is larger than {limit / MB:g} MB"
                continue
            if chunk.strip():
                yield _line(chunk, number)


def _line(chunk: bytes, number: int) -> Line | str:
    try:
        data = json.loads(chunk)
    except (ValueError, RecursionError):
        return f"line {number} is not JSON"
    custom_id = data.get("custom_id") if isinstance(data, dict) else None
    if not isinstance(custom_id, str):
        return f"line {number} has no custom_id"
    response, error = data.get("response"), data.get("error")
    if isinstance(response, dict) and isinstance(response.get("status_code"), int):
        request_id = response.get("request_id")
        return Line(
            custom_id,
            response["status_code"],
            json.dumps(response.get("body")).encode(),
            request_id if isinstance(request_id, str) else None,
        )
    problem = parse_error({"error": error}) if error is not None else None
    return Line(custom_id, None, error=problem or ApiError("the batch gave no result for it"))


class BatchClient:
    """The Files and Batch endpoints of the provider's base URL."""

    def __init__(self, provider: OpenAIProvider) -> None:
        self.provider = provider
        self.base_url = provider.base_url

    # -- calls ----------------------------------------------------------------------

    async def available(self) -> bool:
        """Whether the endpoint has a Batch API (``GET /batches`` is not a 404)."""
        try:
            await self._json("GET", "/batches", params={"limit": 1})
        except NoBatchAPI:
            return False
        return True

    async def upload(self, data: bytes, filename: str) -> str:
        """Upload a batch input file; its id."""
        files = {"file": (filename, data, "application/jsonl")}
        answer = await self._json("POST", "/files", data={"purpose": "batch"}, files=files)
        return self._checked(_id, answer.get("id") if isinstance(answer, dict) else None, "id")

    async def create(self, input_file_id: str, submission: str) -> BatchInfo:
        """Create the batch; after an answer that may have been lost, find it first."""
        body = {
            "input_file_id": input_file_id,
            "endpoint": ENDPOINT,
            "completion_window": COMPLETION_WINDOW,
            "metadata": {METADATA_KEY: submission},
        }
        attempts = self.provider.retry.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._batch(await self._json("POST", "/batches", json=body, retry=False))
            except ProviderError as error:
                if not error.retryable or attempt + 1 == attempts:
                    raise
                found = await self.find(submission, since=0)
                if found is not None:
                    return found
                await asyncio.sleep(self.provider.retry.backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def retrieve(self, batch_id: str) -> BatchInfo:
        return self._batch(await self._json("GET", f"/batches/{_id(batch_id, 'batch id')}"))

    async def cancel(self, batch_id: str) -> BatchInfo:
        return self._batch(await self._json("POST", f"/batches/{_id(batch_id, 'batch id')}/cancel"))

    async def find(self, submission: str, *, since: int) -> BatchInfo | None:
        """The batch whose metadata carries ``submission`` (newest first, bounded)."""
        after: str | None = None
        for _ in range(MAX_LIST_PAGES):
            params: dict[str, Any] = {"limit": 100, **({"after": after} if after else {})}
            page = await self._json("GET", "/batches", params=params)
            items = page.get("data") if isinstance(page, dict) else None
            if not isinstance(items, list):
                raise self._error("the list of batches is malformed (no data[])")
            for item in items:
                info = self._batch(item)
                if info.submission == submission:
                    return info
                if since and info.created_at and info.created_at < since - LIST_SLACK_SECONDS:
                    return None
            if not items or page.get("has_more") is not True:
                return None
            after = self._batch(items[-1]).id
        return None

    async def download(self, file_id: str, path: Path, limit: int) -> None:
        """Stream a file's content to ``path`` (atomically), refusing more than ``limit`` bytes."""
        url = f"/files/{_id(file_id, 'file id')}/content"
        try:
            async with asyncio.timeout(DOWNLOAD_SECONDS):
                async with self.provider.client().stream("GET", url) as response:
                    if response.status_code >= 300:
                        await self._refuse(response, await response.aread())
                    await self._save(response, path, limit)
        except TimeoutError as exc:
            raise self._error(
                f"{url} took longer than {DOWNLOAD_SECONDS:g} s", retryable=True
            ) from exc
        except httpx.HTTPError as exc:
            raise self._error(f"download of {url} failed: {exc}", retryable=True) from exc

    async def _save(self, response: httpx.Response, path: Path, limit: int) -> None:
        size = 0
        with atomic_writer(path) as write:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise self._error(f"the file is larger than {limit / MB:g} MB, the most read")
                write(chunk)

    async def result(self, request: ImageRequest, line: Line, where: str) -> ImageResult:
        """The line's image(s), checked as a direct answer, at the batch price."""
        if line.status is None:
            error = line.error or ApiError("no result")
            raise self._error(f"{where}: {error.message}", code=error.code, asset=request.asset)
        result = await self.provider.answer_result(
            request, line.status, line.body, line.request_id, where
        )
        cost = result.cost_usd
        return replace(
            result, cost_usd=None if cost is None else round(cost * BATCH_PRICE_FACTOR, 8)
        )

    # -- HTTP -----------------------------------------------------------------------

    async def _json(self, method: str, path: str, *, retry: bool = True, **content: Any) -> Any:
        """One call's JSON answer, retrying what may pass (unless ``retry`` is off)."""
        retries = 0
        while True:
            try:
                return await self._once(method, path, content)
            except ProviderError as error:
                if not (retry and error.retryable and retries < self.provider.retry.max_retries):
                    raise
                await asyncio.sleep(self.provider.retry.backoff(retries))
                retries += 1

    async def _once(self, method: str, path: str, content: dict[str, Any]) -> Any:
        url = f"{self.base_url}{path}"
        try:
            async with asyncio.timeout(self.provider.config.timeout):
                async with self.provider.client().stream(method, path, **content) as response:
                    body = await _bounded(response, MAX_OBJECT_BYTES)
        except TimeoutError as exc:
            raise self._error(f"no complete answer from {url} in time", retryable=True) from exc
        except (httpx.NetworkError, httpx.RemoteProtocolError, httpx.TimeoutException) as exc:
            message = f"connection to {url} failed: {str(exc) or type(exc).__name__}"
            raise self._error(message, retryable=True) from exc
        except httpx.HTTPError as exc:
            raise self._error(f"request to {url} failed: {exc}") from exc
        if body is None:
            raise self._error(f"the answer from {url} is larger than {MAX_OBJECT_BYTES // MB} MB")
        if response.status_code >= 300:
            await self._refuse(response, body, path)
        try:
            return json.loads(body)
        except ValueError:
            raise self._error(f"{url} answered with a non-JSON body: is base_url right?") from None

    async def _refuse(self, response: httpx.Response, body: bytes, path: str = "") -> None:
        status = response.status_code
        error = parse_error(_json_or_none(body))
        message = error.message if error else f"HTTP {status} without an error message"
        code = error.code if error else None
        if status == 401:
            raise self._error(
                f"the service rejected the API key: {message}", status=status, cls=ProviderAuthError
            )
        if status == 404 and path.split("?")[0] in ("/batches", "/files"):
            raise self._error(
                f"{NO_BATCH_API} ({self.base_url})", status=404, code=code, cls=NoBatchAPI
            )
        if status == 404:
            raise self._error(message, status=404, code=code, cls=BatchGone)
        retryable = should_retry(status, code, response.headers)
        raise self._error(message, status=status, code=code, retryable=retryable)

    def _batch(self, payload: object) -> BatchInfo:
        try:
            return parse_batch(payload)
        except ValueError as exc:
            raise self._error(
                f"the batch object from {self.base_url} is malformed: {exc}"
            ) from None

    def _checked(self, check: Any, value: object, name: str) -> str:
        try:
            return str(check(value, name))
        except ValueError as exc:
            raise self._error(f"the answer from {self.base_url} is malformed: {exc}") from None

    def _error(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retryable: bool = False,
        asset: str | None = None,
        cls: type[ProviderError] = ProviderError,
    ) -> ProviderError:
        text = one_line(self.provider.redact(message))
        return cls(text, status=status, code=code, retryable=retryable, asset=asset)


async def _bounded(response: httpx.Response, limit: int) -> bytes | None:
    chunks, size = [], 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json_or_none(body: bytes) -> object:
    try:
        return json.loads(body)
    except ValueError:
        return None


__all__ = ["AssetgenError", "BatchClient", "BatchInfo", "Line", "NoBatchAPI"]
