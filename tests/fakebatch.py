"""The fake API's Files and Batch endpoints, with the real batch state machine.

``POST /v1/files`` takes a multipart upload (``purpose`` and ``file``);
``GET /v1/files/{id}`` and ``GET /v1/files/{id}/content`` give it back.
``POST /v1/batches`` creates a batch over an uploaded ``purpose=batch`` file
(``endpoint`` one the real service lists, ``completion_window = "24h"``,
``metadata`` of at most 16 pairs, keys up to 64 and values up to 512
characters); ``GET /v1/batches/{id}`` retrieves it, ``GET /v1/batches`` lists
them newest first (``limit``, ``after``, ``has_more``), ``POST
/v1/batches/{id}/cancel`` cancels it.

A batch moves one step each time it is retrieved, as :class:`BatchPlan` says:
``validating`` (the input file is checked line by line: JSON, unique
``custom_id``, ``method = "POST"``, ``url`` equal to the batch's endpoint, a
single model; a bad file ends ``failed`` with ``errors.data``) →
``in_progress`` (a share of the requests is answered at each retrieve, by the
same checks as a direct request, and ``request_counts`` grow) → ``finalizing``
→ ``completed``, or ``expired`` when ``plan.complete`` stops short (the rest
goes to the error file as ``batch_expired``), or ``cancelling`` →
``cancelled``. Output and error files are JSONL in the documented shape::

    {"id": "batch_req_…", "custom_id": "…",
     "response": {"status_code": 200, "request_id": "req_…", "body": {…}}, "error": null}
    {"id": "batch_req_…", "custom_id": "…", "response": null,
     "error": {"code": "batch_expired", "message": "…"}}
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

BATCH_ENDPOINTS = (
    "/v1/responses",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/completions",
    "/v1/moderations",
    "/v1/images/generations",
    "/v1/images/edits",
)
MAX_METADATA = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
MAX_BATCH_LINES = 50_000
MAX_BATCH_FILE = 200 * 1024 * 1024
EXPIRED = "This request could not be executed before the completion window expired."
CANCELLED = "This request was not executed because the batch was cancelled."
MODERATION = {
    "error": {
        "message": "Your request was rejected by the safety system. safety_violations=[violence].",
        "type": "image_generation_user_error",
        "param": None,
        "code": "moderation_blocked",
    }
}


class BatchFault(Exception):
    """A refusal of a Files/Batch call: status and envelope, as ApiFault has."""

    def __init__(
        self, status: int, message: str, *, code: str | None = None, param: str | None = None
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param


@dataclass
class BatchPlan:
    """How the fake runs the next batches (tests set ``fake.batch.plan``)."""

    validating: int = 1
    """Retrieves that see ``validating``."""
    in_progress: int = 2
    """Retrieves over which the requests are answered."""
    finalizing: int = 1
    complete: int | None = None
    """Answer only this many requests (in input order); the batch then expires."""
    hold: bool = False
    """Stay ``in_progress`` (no request answered) until set False: a batch that takes hours."""
    refuse: str | None = None
    """Requests whose prompt holds this text fail with the safety system's 400."""


@dataclass
class StoredFile:
    id: str
    purpose: str
    filename: str
    data: bytes
    created_at: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class FakeBatch:
    id: str
    input_file_id: str
    endpoint: str
    metadata: dict[str, str] | None
    created_at: int
    plan: BatchPlan
    status: str = "validating"
    polls: int = 0
    lines: list[dict[str, Any]] = field(default_factory=list)
    output: list[dict[str, Any]] = field(default_factory=list)
    errors_out: list[dict[str, Any]] = field(default_factory=list)
    done: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    times: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        total = len(self.lines)
        stamps = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling")
        body: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id,
            "completion_window": "24h",
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": self.created_at,
            "expires_at": self.created_at + 86400,
            "cancelled_at": self.times.get("cancelled"),
            "request_counts": {"total": total, "completed": self.done, "failed": self.failed},
            "metadata": self.metadata,
        }
        for stamp in stamps:
            body[f"{stamp}_at"] = self.times.get(stamp)
        return body


Answerer = Callable[[dict[str, Any]], dict[str, Any]]
"""The fake's direct answer to a generation body (raises its ApiFault on refusal)."""


class FakeBatchAPI:
    """Files and batches, in memory; ``enabled = False`` answers 404 as a reseller does."""

    def __init__(self, answer: Answerer, fault: type[Exception]) -> None:
        self._answer = answer
        self._fault = fault
        self._lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.enabled = True
            self.plan = BatchPlan()
            self.files: dict[str, StoredFile] = {}
            self.batches: dict[str, FakeBatch] = {}
            self.created: list[str] = []
            """Batch ids in creation order."""

    # -- routing ----------------------------------------------------------------------

    def serve(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """(status, JSON dict or raw bytes) for a Files/Batch request; BatchFault on refusal."""
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")[1:]  # drop "v1"
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if not self.enabled:
            raise BatchFault(404, f"Invalid URL ({method} {url.path})")
        with self._lock:
            return self._route(method, parts, query, body)

    def _route(
        self, method: str, parts: list[str], query: dict[str, str], body: Any
    ) -> tuple[int, Any]:
        match (method, parts):
            case ("POST", ["files"]):
                return 200, self._upload(body)
            case ("GET", ["files", file_id]):
                return 200, self._file(file_id).to_json()
            case ("GET", ["files", file_id, "content"]):
                return 200, self._file(file_id).data
            case ("POST", ["batches"]):
                return 200, self._create(body).to_json()
            case ("GET", ["batches"]):
                return 200, self._list(query)
            case ("GET", ["batches", batch_id]):
                batch = self._batch(batch_id)
                self._advance(batch)
                return 200, batch.to_json()
            case ("POST", ["batches", batch_id, "cancel"]):
                return 200, self._cancel(self._batch(batch_id)).to_json()
        raise BatchFault(404, f"Invalid URL ({method} /v1/{'/'.join(parts)})")

    def _file(self, file_id: str) -> StoredFile:
        found = self.files.get(file_id)
        if found is None:
            raise BatchFault(404, f"No such File object: {file_id}", code="file_not_found")
        return found

    def _batch(self, batch_id: str) -> FakeBatch:
        found = self.batches.get(batch_id)
        if found is None:
            raise BatchFault(404, f"No batch found with id '{batch_id}'.", code="batch_not_found")
        return found

    # -- files ----------------------------------------------------------------------------

    def _upload(self, parts: Any) -> dict[str, Any]:
        if not isinstance(parts, list):
            raise BatchFault(400, "Expected a multipart/form-data body.")
        fields = {p.name: p for p in parts}
        purpose = fields.get("purpose")
        upload = fields.get("file")
        if purpose is None or purpose.is_file:
            raise BatchFault(400, "Missing required parameter: 'purpose'.", param="purpose")
        if upload is None or not upload.is_file or not upload.filename:
            raise BatchFault(400, "Missing required parameter: 'file'.", param="file")
        kind = purpose.data.decode()
        if kind not in ("assistants", "batch", "fine-tune", "vision", "user_data", "evals"):
            raise BatchFault(400, f"Invalid purpose '{kind}'.", param="purpose")
        if kind == "batch" and len(upload.data) > MAX_BATCH_FILE:
            raise BatchFault(400, "A batch input file may hold at most 200 MB.", param="file")
        return self._store(kind, upload.filename, upload.data).to_json()

    def _store(self, purpose: str, filename: str, data: bytes) -> StoredFile:
        stored = StoredFile(
            f"file-{secrets.token_hex(12)}", purpose, filename, data, int(time.time())
        )
        self.files[stored.id] = stored
        return stored

    # -- batches --------------------------------------------------------------------------

    def _create(self, values: Any) -> FakeBatch:
        if not isinstance(values, dict):
            raise BatchFault(400, "We could not parse the JSON body of your request.")
        unknown = set(values) - {"input_file_id", "endpoint", "completion_window", "metadata"}
        if unknown:
            name = sorted(unknown)[0]
            raise BatchFault(
                400, f"Unknown parameter: '{name}'.", code="unknown_parameter", param=name
            )
        endpoint = values.get("endpoint")
        if endpoint not in BATCH_ENDPOINTS:
            raise BatchFault(400, f"Invalid value for 'endpoint': {endpoint!r}.", param="endpoint")
        if values.get("completion_window") != "24h":
            raise BatchFault(
                400, "Invalid 'completion_window': only '24h'.", param="completion_window"
            )
        _check_metadata(values.get("metadata"))
        source = self._file(str(values.get("input_file_id")))
        if source.purpose != "batch":
            raise BatchFault(
                400, "The input file must be uploaded with purpose 'batch'.", param="input_file_id"
            )
        batch = FakeBatch(
            id=f"batch_{secrets.token_hex(12)}",
            input_file_id=source.id,
            endpoint=endpoint,
            metadata=values.get("metadata"),
            created_at=int(time.time()),
            plan=self.plan,
        )
        self.batches[batch.id] = batch
        self.created.append(batch.id)
        return batch

    def _list(self, query: dict[str, str]) -> dict[str, Any]:
        limit = int(query.get("limit", "20"))
        if not 1 <= limit <= 100:
            raise BatchFault(400, "limit must be between 1 and 100.", param="limit")
        newest = list(reversed(self.created))
        if "after" in query:
            if query["after"] not in newest:
                raise BatchFault(400, "Invalid 'after' cursor.", param="after")
            newest = newest[newest.index(query["after"]) + 1 :]
        page = [self.batches[i].to_json() for i in newest[:limit]]
        return {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(newest) > limit,
        }

    def _cancel(self, batch: FakeBatch) -> FakeBatch:
        if batch.status in ("completed", "failed", "expired", "cancelled"):
            raise BatchFault(409, f"Cannot cancel a batch with status '{batch.status}'.")
        batch.status = "cancelling"
        batch.times["cancelling"] = int(time.time())
        return batch

    # -- the state machine ------------------------------------------------------------------

    def _advance(self, batch: FakeBatch) -> None:
        """One step per retrieve, as the batch's plan says."""
        plan = batch.plan
        batch.polls += 1
        now = int(time.time())
        if batch.status == "validating" and batch.polls > plan.validating:
            self._validate(batch)
            if batch.status == "failed":
                batch.times["failed"] = now
                return
            batch.status = "in_progress"
            batch.times["in_progress"] = now
            batch.polls = 0
        elif batch.status == "in_progress" and not plan.hold:
            limit = (
                len(batch.lines) if plan.complete is None else min(plan.complete, len(batch.lines))
            )
            share = -(-limit // max(plan.in_progress, 1))
            while batch.done + batch.failed < min(limit, batch.polls * share):
                self._run(batch, batch.lines[batch.done + batch.failed])
            if batch.done + batch.failed >= limit and batch.polls >= plan.in_progress:
                batch.status = "finalizing"
                batch.times["finalizing"] = now
                batch.polls = 0
        elif batch.status == "finalizing" and batch.polls >= plan.finalizing:
            end = "completed" if batch.done + batch.failed == len(batch.lines) else "expired"
            self._finish(batch, end, "batch_expired", EXPIRED)
        elif batch.status == "cancelling":
            self._finish(batch, "cancelled", "batch_cancelled", CANCELLED)

    def _validate(self, batch: FakeBatch) -> None:
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        models: set[str] = set()
        raw = self.files[batch.input_file_id].data.decode("utf-8", errors="replace")
        lines = raw.splitlines()
        if len(lines) > MAX_BATCH_LINES:
            errors.append(_line_error("too_many_requests", "More than 50,000 requests.", None))
        for number, text in enumerate(lines, 1):
            try:
                line = json.loads(text)
            except ValueError:
                errors.append(
                    _line_error(
                        "invalid_json_line", "This line is not parseable as valid JSON.", number
                    )
                )
                continue
            problem = _line_problem(line, batch.endpoint, seen)
            if problem:
                errors.append(_line_error("invalid_request", problem, number))
                continue
            seen.add(line["custom_id"])
            models.add(str(line["body"].get("model")))
            batch.lines.append(line)
        if len(models) > 1:
            errors.append(_line_error("mixed_models", "A batch may only use one model.", None))
        if not errors and not batch.lines:
            errors.append(_line_error("empty_file", "The input file is empty.", None))
        if errors:
            batch.status, batch.errors, batch.lines = "failed", errors, []

    def _run(self, batch: FakeBatch, line: dict[str, Any]) -> None:
        """Answer one request of the batch as the direct endpoint would."""
        record_id = f"batch_req_{secrets.token_hex(8)}"
        request_id = f"req_{secrets.token_hex(8)}"
        body = line["body"]
        refuse = batch.plan.refuse
        try:
            if refuse and refuse in str(body.get("prompt", "")):
                raise _Refused(400, MODERATION)
            answer = self._answer(body)
        except (_Refused, self._fault) as exc:  # type: ignore[misc]
            status, envelope = _fault_parts(exc)
            batch.failed += 1
            batch.errors_out.append(
                {
                    "id": record_id,
                    "custom_id": line["custom_id"],
                    "response": {"status_code": status, "request_id": request_id, "body": envelope},
                    "error": None,
                }
            )
            return
        batch.done += 1
        batch.output.append(
            {
                "id": record_id,
                "custom_id": line["custom_id"],
                "response": {"status_code": 200, "request_id": request_id, "body": answer},
                "error": None,
            }
        )

    def _finish(self, batch: FakeBatch, status: str, code: str, message: str) -> None:
        answered = {line["custom_id"] for line in batch.output + batch.errors_out}
        for line in batch.lines:
            if line["custom_id"] not in answered:
                batch.errors_out.append(
                    {
                        "id": f"batch_req_{secrets.token_hex(8)}",
                        "custom_id": line["custom_id"],
                        "response": None,
                        "error": {"code": code, "message": message},
                    }
                )
        if batch.output:
            batch.output_file_id = self._jsonl(batch, "output", batch.output).id
        if batch.errors_out:
            batch.error_file_id = self._jsonl(batch, "error", batch.errors_out).id
        batch.status = status
        batch.times[status] = int(time.time())

    def _jsonl(self, batch: FakeBatch, kind: str, lines: list[dict[str, Any]]) -> StoredFile:
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        return self._store("batch_output", f"{batch.id}_{kind}.jsonl", data)

    # -- for tests ------------------------------------------------------------------------------

    def input_lines(self, batch_id: str) -> list[dict[str, Any]]:
        """The parsed lines of a batch's input file."""
        data = self.files[self.batches[batch_id].input_file_id].data
        return [json.loads(line) for line in data.decode().splitlines()]


class _Refused(Exception):
    def __init__(self, status: int, envelope: Any) -> None:
        super().__init__("refused")
        self.status = status
        self.envelope = envelope


def _fault_parts(exc: Exception) -> tuple[int, Any]:
    return int(getattr(exc, "status")), getattr(exc, "envelope")  # noqa: B009


def _line_error(code: str, message: str, line: int | None) -> dict[str, Any]:
    return {"code": code, "message": message, "param": None, "line": line}


def _line_problem(line: Any, endpoint: str, seen: set[str]) -> str | None:
    if not isinstance(line, dict):
        return "Each line must be a JSON object."
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return "Missing 'custom_id'."
    if custom_id in seen:
        return f"The custom_id '{custom_id}' is used more than once."
    if line.get("method") != "POST":
        return "Only the POST method is supported."
    if line.get("url") != endpoint:
        return f"The url '{line.get('url')}' does not match the batch endpoint '{endpoint}'."
    if not isinstance(line.get("body"), dict):
        return "Missing 'body'."
    return None


def _check_metadata(metadata: Any) -> None:
    if metadata is None:
        return
    if not isinstance(metadata, dict) or len(metadata) > MAX_METADATA:
        raise BatchFault(400, "metadata holds at most 16 pairs.", param="metadata")
    for key, value in metadata.items():
        if (
            len(key) > MAX_METADATA_KEY
            or not isinstance(value, str)
            or len(value) > MAX_METADATA_VALUE
        ):
            raise BatchFault(400, f"Invalid metadata pair '{key}'.", param="metadata")
