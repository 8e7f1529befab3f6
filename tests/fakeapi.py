"""A fake OpenAI Images API: a real HTTP server on 127.0.0.1 that checks requests.

It answers ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits``
(multipart) as the real service does, and refuses what the real service
refuses: a missing or wrong ``Authorization: Bearer`` key, a field the
OpenAPI schema in ``tests/data`` does not have (400 ``unknown_parameter``), a
value outside its enum (enums hidden in ``anyOf [string, enum]`` are checked
against the enum), ``input_fidelity`` for gpt-image-1-mini, ``moderation``
on multipart edits, a transparent background in JPEG or from gpt-image-2,
file parts without a filename or an ``image/*`` type, more than 16 images,
files over 50 MB, and a mask that is not a PNG with alpha of the first
image's dimensions. Models newer than the schema copy (the 2.5 and 2.6
families) take qualities up to ``max`` and, on 2.6, ``complexity``; which
models refuse transparency is ``fake.opaque_only``. Answers carry real
PNG/JPEG/WebP images (Pillow) of the requested size in base64 and a ``usage``
block; edits repaint the whole image, as the real model does.

``/v1/files`` and ``/v1/batches`` are the Files and Batch API with the real
state machine (``tests/fakebatch.py``; ``fake.batch.plan`` says how the next
batches run, ``fake.batch.enabled = False`` makes it a reseller without them).

Tests script it (``fake.script(Reply.rate_limited(retry_after=0.1), ...)``:
each request takes the next scripted reply, then answers normally) and read
what it received from ``fake.requests`` and ``fake.max_concurrent``. Hostile
answers can be scripted too: ``Reply.images(...)`` returns any bytes as the
images (a truncated PNG, base64 of text), ``Reply.trickle(0.1)`` sends the
body one byte at a time, and ``chunked=True`` leaves out ``Content-Length``.

From the command line, to try assetgen without an account::

    python tests/fakeapi.py --port 8765 [--latency 0.5] [--key sk-test]

prints its base URL and serves until Ctrl-C. Point a project at it with
``[provider] base_url = "http://127.0.0.1:8765/v1"`` (or ``OPENAI_BASE_URL``)
and ``OPENAI_API_KEY=sk-test``.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import io
import json
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema
from PIL import Image, ImageDraw

try:
    from tests.fakebatch import BatchFault, FakeBatchAPI
except ImportError:  # run as a script: python tests/fakeapi.py
    from fakebatch import BatchFault, FakeBatchAPI  # type: ignore[no-redef]

SCHEMA_PATH = Path(__file__).parent / "data" / "openai-openapi-images.json"
MB = 1024 * 1024
MAX_FILE_BYTES = 50 * MB
MAX_MASK_BYTES = 4 * MB
MAX_IMAGES = 16
MAX_PROMPT = 32000
GPT_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
MODELS_2X = frozenset(
    {
        "gpt-image-2.5-flare",
        "gpt-image-2.5-sunburst",
        "gpt-image-2.6-flare",
        "gpt-image-2.6-sunburst",
    }
)
"""Models newer than the OpenAPI copy: qualities up to ``max``; 2.6 adds ``complexity``."""
COMPLEXITY_MODELS = frozenset({"gpt-image-2.6-flare", "gpt-image-2.6-sunburst"})
QUALITIES_2X = ("auto", "low", "medium", "high", "xhigh", "max")
COMPLEXITIES = ("low", "medium", "high")
CUSTOM_SIZE_MODELS = frozenset({"gpt-image-2", "gpt-image-2-2026-04-21"}) | MODELS_2X
NO_TRANSPARENCY = frozenset({"gpt-image-2", "gpt-image-2-2026-04-21"})
MIN_CUSTOM_PIXELS = 655_360
NO_INPUT_FIDELITY = frozenset({"gpt-image-1-mini"})
IMAGE_MIMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "xhigh": 8320, "max": 16640}
"""Output tokens of a square 1024x1024 image; other sizes scale with pixels."""
DEFAULT_KEY = "sk-test"
WELCOME_PAGE = b"<!doctype html><html><body><h1>Welcome</h1><p>Not an API.</p></body></html>"


class ApiFault(Exception):
    """A refusal, answered in OpenAI's error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str = "invalid_request_error",
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.envelope = _envelope(message, code, type, param)


def _envelope(
    message: str, code: str | None, type: str, param: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": param, "code": code}}


@dataclass
class Reply:
    """A scripted answer. ``body=None`` with status 200 answers normally (after ``delay``)."""

    status: int = 200
    body: dict[str, Any] | bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut_off: bool = False
    """Send the headers and half the body, then close the connection."""
    trickle: float = 0.0
    """Seconds between two bytes of the body (a server that stalls but never stops)."""
    chunked: bool = False
    """Send the body with ``Transfer-Encoding: chunked``, without a ``Content-Length``."""

    @classmethod
    def error(
        cls,
        status: int,
        message: str,
        *,
        code: str | None = None,
        type: str = "invalid_request_error",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return cls(status, _envelope(message, code, type), headers or {})

    @classmethod
    def rate_limited(
        cls, *, retry_after: float | None = None, retry_after_ms: int | None = None
    ) -> Reply:
        headers = {}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        if retry_after_ms is not None:
            headers["retry-after-ms"] = str(retry_after_ms)
        message = "Rate limit reached for images per min. Please try again later."
        return cls.error(429, message, code="rate_limit_exceeded", type="requests", headers=headers)

    @classmethod
    def quota(cls) -> Reply:
        message = "You exceeded your current quota, please check your plan and billing details."
        return cls.error(429, message, code="insufficient_quota", type="insufficient_quota")

    @classmethod
    def server_error(cls, status: int = 500) -> Reply:
        message = "The server had an error processing your request."
        return cls.error(status, message, type="server_error")

    @classmethod
    def moderation(cls) -> Reply:
        message = (
            "Your request was rejected by the safety system. If you believe this is an error, "
            "contact us at help.openai.com and include the request ID req_fake. "
            "safety_violations=[violence]."
        )
        kind = "image_generation_user_error"
        return cls.error(400, message, code="moderation_blocked", type=kind)

    @classmethod
    def model_not_found(cls, model: str) -> Reply:
        return cls.error(400, _no_model_message(model), code="model_not_found")

    @classmethod
    def html(cls, status: int = 502) -> Reply:
        page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
        return cls(status, page, {"content-type": "text/html"})

    @classmethod
    def slow(cls, seconds: float) -> Reply:
        return cls(delay=seconds)

    @classmethod
    def cut(cls) -> Reply:
        return cls(cut_off=True)

    @classmethod
    def trickled(cls, seconds: float, body: dict[str, Any] | bytes | None = None) -> Reply:
        """The answer (``body``, else the normal one), one byte every ``seconds``."""
        return cls(body=body, trickle=seconds)

    @classmethod
    def images(
        cls, *files: bytes | str, usage: dict[str, Any] | None = None, status: int = 200
    ) -> Reply:
        """An answer whose ``data[].b64_json`` holds ``files`` (bytes encoded, str as is)."""
        data = [
            {"b64_json": item if isinstance(item, str) else base64.b64encode(item).decode()}
            for item in files
        ]
        body: dict[str, Any] = {"created": int(time.time()), "data": data}
        if usage is not None:
            body["usage"] = usage
        return cls(status, body)


def _no_model_message(model: str) -> str:
    return f"The model `{model}` does not exist or you do not have access to it."


@dataclass(frozen=True)
class Part:
    """One part of a multipart body."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def is_file(self) -> bool:
        return self.filename is not None or self.content_type is not None


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-cased names."""
    client_port: int
    json: dict[str, Any] | None = None
    fields: dict[str, str] = field(default_factory=dict)
    files: list[Part] = field(default_factory=list)
    status: int | None = None
    """The status the fake answered (``None`` when cut off)."""
    body: bytes = b""

    def file_names(self) -> list[str]:
        return [part.name for part in self.files]


# -- the schema -------------------------------------------------------------------


@cache
def _document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return document


def _strict(node: Any) -> Any:
    """The schema with ``anyOf: [{type: string}, {enum: ...}]`` narrowed to the enum."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _strict(value) for key, value in node.items()}
    branches = node.get("anyOf")
    if isinstance(branches, list) and any("enum" in b for b in branches):
        node["anyOf"] = [b for b in branches if b != {"type": "string"}]
    return node


@cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    components = _strict(copy.deepcopy(_document()["components"]))
    root = {"$ref": f"#/components/schemas/{name}", "components": components}
    return jsonschema.Draft202012Validator(root)


def schema_properties(name: str) -> dict[str, Any]:
    properties: dict[str, Any] = _document()["components"]["schemas"][name]["properties"]
    return properties


def gpt_models() -> set[str]:
    """GPT image model ids of the schema's model enums."""
    models: set[str] = set()
    for name in ("CreateImageRequest", "CreateImageEditRequest"):
        for branch in schema_properties(name)["model"]["anyOf"]:
            models.update(m for m in branch.get("enum", ()) if not m.startswith("dall-e"))
    return models


def _validate(name: str, values: dict[str, Any]) -> None:
    error = next(iter(_validator(name).iter_errors(values)), None)
    if error is not None:
        param = str(error.path[0]) if error.path else None
        raise ApiFault(
            400, f"Invalid value for '{param}': {error.message}", code="invalid_value", param=param
        )


# -- multipart --------------------------------------------------------------------


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """The parts of a ``multipart/form-data`` body, bytes kept exactly."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.startswith("multipart/form-data") or not match:
        raise ApiFault(400, "Expected a multipart/form-data body with a boundary.")
    delimiter = b"--" + match[1].encode("latin-1")
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ApiFault(400, "Malformed multipart body.")
    return [_part(chunk) for chunk in chunks[1:-1]]


def _part(chunk: bytes) -> Part:
    head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
    headers = {}
    for line in head.decode("utf-8").split("\r\n"):
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    disposition = headers.get("content-disposition", "")
    name = re.search(r'\bname="([^"]*)"', disposition)
    filename = re.search(r'\bfilename="([^"]*)"', disposition)
    if name is None:
        raise ApiFault(400, "Multipart part without a name.")
    return Part(
        name[1],
        filename[1] if filename else None,
        headers.get("content-type"),
        data.removesuffix(b"\r\n"),
    )


# -- checking requests ----------------------------------------------------------------

DALLE_ONLY = frozenset({"response_format", "style"})


def invalid(param: str | None, message: str, code: str = "invalid_value") -> ApiFault:
    return ApiFault(400, message, code=code, param=param)


def bad_image(param: str, message: str) -> ApiFault:
    kind = "image_generation_user_error"
    return ApiFault(400, message, code="invalid_image_file", type=kind, param=param)


def check_names(names: Any, allowed: set[str] | frozenset[str]) -> None:
    """400 ``unknown_parameter`` for the first name not in ``allowed``."""
    for name in names:
        if name not in allowed:
            raise invalid(name, f"Unknown parameter: '{name}'.", "unknown_parameter")


def model_fields(model: object) -> set[str]:
    """Fields a model takes beyond the schema's (which predates the 2.6 family)."""
    return {"complexity"} if model in COMPLEXITY_MODELS else set()


def check_newer_model(model: str, checked: dict[str, Any]) -> None:
    """The 2.x rules the schema cannot know; what passes leaves ``checked``."""
    if model not in MODELS_2X:
        return
    quality = checked.get("quality", "auto")
    if quality not in QUALITIES_2X:
        raise invalid("quality", f"Invalid quality '{quality}' for {model}.")
    checked.pop("quality", None)
    if "complexity" in checked:
        if checked["complexity"] not in COMPLEXITIES:
            raise invalid("complexity", f"Invalid complexity '{checked['complexity']}'.")
        del checked["complexity"]


def check_values(
    model: str, values: dict[str, Any], schema: str, opaque_only: frozenset[str] = NO_TRANSPARENCY
) -> None:
    """The schema (enums strictly), then the rules the schema cannot say."""
    checked = {name: value for name, value in values.items() if name != "model"}
    check_newer_model(model, checked)
    size = values.get("size", "auto")
    if size not in GPT_SIZES:
        if model not in CUSTOM_SIZE_MODELS or not _custom_size_ok(str(size)):
            raise invalid("size", f"Invalid size '{size}' for {model}.")
        del checked["size"]
    _validate(schema, checked)
    if not 1 <= len(values.get("prompt", "")) <= MAX_PROMPT:
        raise invalid("prompt", "The prompt must hold 1 to 32000 characters.")
    if values.get("stream"):
        raise invalid("stream", "The fake does not stream.")
    fmt = values.get("output_format", "png")
    compression = values.get("output_compression")
    if compression is not None and (fmt == "png" or not 0 <= compression <= 100):
        raise invalid("output_compression", "output_compression needs jpeg or webp, 0 to 100.")
    if values.get("background") == "transparent" and model in opaque_only:
        raise invalid("background", "Transparent background is not supported for this model.")
    if values.get("background") == "transparent" and fmt not in ("png", "webp"):
        raise invalid("background", "Transparent background requires png or webp output.")


def _custom_size_ok(size: str) -> bool:
    match = re.fullmatch(r"(\d+)x(\d+)", size)
    if match is None:
        return False
    width, height = int(match[1]), int(match[2])
    return (
        width % 16 == height % 16 == 0
        and max(width, height) <= 3840
        and MIN_CUSTOM_PIXELS <= width * height <= 3840 * 2160
        and max(width, height) <= 3 * min(width, height)
    )


def form_values(fields: dict[str, str]) -> dict[str, Any]:
    """Multipart text fields with the schema's integers and booleans converted."""
    values: dict[str, Any] = dict(fields)
    for name in ("n", "output_compression", "partial_images"):
        if name in values:
            try:
                values[name] = int(values[name])
            except ValueError:
                raise invalid(name, f"Invalid integer for '{name}'.") from None
    if "stream" in values:
        values["stream"] = values["stream"] == "true"
    return values


def _open_image(part: Part, label: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(part.data))
        image.load()
    except Exception:
        raise bad_image(label, f"Invalid image file or mode for {label}.") from None
    return image


def check_image_parts(files: list[Part]) -> list[Image.Image]:
    """The images of an edit, opened, after the service's checks."""
    images = [part for part in files if part.name in ("image", "image[]")]
    if not images:
        raise invalid("image", "Missing required parameter: 'image'.", "missing_required_parameter")
    if {part.name for part in images} == {"image", "image[]"} or (
        images[0].name == "image" and len(images) > 1
    ):
        raise invalid("image", "Send one 'image' or repeated 'image[]' parts, not both.")
    if len(images) > MAX_IMAGES:
        raise invalid("image", f"At most {MAX_IMAGES} images.")
    return [_check_image(part, f"image[{index}]") for index, part in enumerate(images)]


def _check_image(part: Part, label: str) -> Image.Image:
    if not part.filename:
        raise invalid(label, f"Invalid file '{label}': the part has no filename.")
    if part.content_type not in IMAGE_MIMES:
        raise invalid(
            label,
            f"Invalid file '{label}': unsupported mimetype ('{part.content_type}'). "
            "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
            "unsupported_file_mimetype",
        )
    if len(part.data) > MAX_FILE_BYTES:
        raise invalid(label, f"Image {label} is larger than 50 MB.")
    image = _open_image(part, label)
    if image.format != IMAGE_MIMES[part.content_type]:
        raise bad_image(label, f"'{label}' holds {image.format}, not {part.content_type}.")
    return image


def check_mask_part(mask: Part, first: Image.Image) -> None:
    """A PNG with alpha, under 4 MB, of the first image's dimensions."""
    if not mask.filename or mask.content_type != "image/png":
        message = "Invalid file 'mask': it must be a PNG file part with a filename."
        raise invalid("mask", message, "unsupported_file_mimetype")
    if len(mask.data) > MAX_MASK_BYTES:
        raise invalid("mask", "The mask must be under 4 MB.")
    image = _open_image(mask, "mask")
    if image.format != "PNG" or not (
        image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    ):
        raise bad_image("mask", "Invalid image file or mode for mask: it needs an alpha channel.")
    if image.size != first.size:
        raise bad_image("mask", "Invalid mask: it must have the same dimensions as the image.")


# -- answers ------------------------------------------------------------------------------


def render(
    width: int, height: int, fmt: str, transparent: bool, seed: str, compression: int | None
) -> bytes:
    """A real image: a colour from ``seed``, a lighter block in the middle."""
    digest = hashlib.sha256(seed.encode()).digest()
    colour = (*digest[:3], 255)
    mode = "RGBA" if transparent else "RGB"
    image = Image.new(mode, (width, height), (0, 0, 0, 0) if transparent else colour)
    ImageDraw.Draw(image).rectangle(
        (width // 4, height // 4, 3 * width // 4, 3 * height // 4),
        fill=(255 - colour[0], 255 - colour[1], 255 - colour[2], 255),
    )
    buffer = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(
            buffer, "JPEG", quality=90 if compression is None else compression
        )
    elif fmt == "webp":
        image.save(buffer, "WEBP", quality=90 if compression is None else compression)
    else:
        image.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def answer(
    values: dict[str, Any], default_size: tuple[int, int], input_images: int
) -> dict[str, Any]:
    size = values.get("size", "auto")
    width, height = default_size if size == "auto" else (int(x) for x in size.split("x"))
    fmt = values.get("output_format", "png")
    transparent = values.get("background") == "transparent"
    quality = values.get("quality", "auto")
    quality = "medium" if quality == "auto" else quality
    n = values.get("n", 1)
    prompt = values["prompt"]
    compression = values.get("output_compression")
    images = [
        render(width, height, fmt, transparent, f"{prompt}#{i}", compression) for i in range(n)
    ]
    output = round(OUTPUT_TOKENS.get(quality, 1056) * width * height / 1024**2) * n
    text = max(1, len(prompt) // 4)
    image_in = 194 * input_images
    return {
        "created": int(time.time()),
        "data": [{"b64_json": base64.b64encode(data).decode()} for data in images],
        "background": "transparent" if transparent else "opaque",
        "output_format": fmt,
        "size": f"{width}x{height}",
        "quality": quality,
        "usage": {
            "input_tokens": text + image_in,
            "input_tokens_details": {"text_tokens": text, "image_tokens": image_in},
            "output_tokens": output,
            "total_tokens": text + image_in + output,
        },
    }


# -- the server ---------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeImagesAPI

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (timeouts in tests) are not errors worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``fake.requests`` instead."""

    def do_POST(self) -> None:
        self.server.fake._handle(self)

    def do_GET(self) -> None:
        self.server.fake._handle(self)

    def send(self, status: int, body: bytes, headers: dict[str, str], reply: Reply) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if reply.trickle:
            self._trickle(body, reply.trickle)
            return
        if reply.chunked:
            for start in range(0, len(body), 65536):
                chunk = body[start : start + 65536]
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
            return
        if reply.cut_off:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)

    def _trickle(self, body: bytes, seconds: float) -> None:
        """One byte at a time until the body is sent or the client hangs up."""
        try:
            for index in range(len(body)):
                self.wfile.write(body[index : index + 1])
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:
            pass
        self.close_connection = True


class FakeImagesAPI:
    """The fake service: ``start()`` it, ``script()`` answers, read ``requests``."""

    def __init__(self, *, key: str = DEFAULT_KEY, latency: float = 0.0, port: int = 0) -> None:
        self.initial_key = key
        self.initial_latency = latency
        self.port = port
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self.in_flight = 0
        self._ids = 0
        self.batch = FakeBatchAPI(self._generate, ApiFault)
        """Files and Batch endpoints: ``fake.batch.plan``, ``fake.batch.enabled``."""
        self.reset()

    def reset(self) -> None:
        """Forget requests and scripted replies; restore key, latency and models."""
        with self._lock:
            self.key = self.initial_key
            self.latency = self.initial_latency
            self.models = gpt_models() | MODELS_2X | {"gpt-image-1.5-2025-12-16"}
            self.opaque_only: set[str] = set(NO_TRANSPARENCY)
            """Models answering 400 to a transparent background (tests may add one)."""
            self.retired: set[str] = set()
            self.requests: list[Recorded] = []
            self.replies: deque[Reply] = deque()
            self.batch.reset()
            # Requests of the previous test may still be in flight (a slow reply the
            # client gave up on): count them, but not towards this test's maximum.
            self.max_concurrent = self.in_flight

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self._lock:
            self.replies.extend(replies)

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def start(self) -> FakeImagesAPI:
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.fake = self
        thread = threading.Thread(
            target=self._server.serve_forever, name="fake-images-api", daemon=True
        )
        thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- one request ----------------------------------------------------------------------

    def _handle(self, handler: _Handler) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
            self._ids += 1
            request_id = f"req_fake_{self._ids}"
        try:
            record = self._record(handler)
            time.sleep(self.latency)
            reply = self._respond(record)
            record.status = None if reply.cut_off else reply.status
            body = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
            headers = {"x-request-id": request_id, "content-type": "application/json"}
            handler.send(reply.status, body, {**headers, **reply.headers}, reply)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _record(self, handler: _Handler) -> Recorded:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        record = Recorded(
            handler.command, handler.path, headers, handler.client_address[1], body=body
        )
        content_type = headers.get("content-type", "")
        try:
            if content_type.startswith("application/json"):
                record.json = json.loads(body)
            elif content_type.startswith("multipart/form-data"):
                parts = parse_multipart(content_type, body)
                record.fields = {p.name: p.data.decode() for p in parts if not p.is_file}
                record.files = [p for p in parts if p.is_file]
        except (ValueError, ApiFault):
            pass
        with self._lock:
            self.requests.append(record)
        return record

    def _respond(self, record: Recorded) -> Reply:
        """The next scripted reply, or the service's own answer."""
        if not record.path.startswith("/v1/"):
            return Reply(404, WELCOME_PAGE, {"content-type": "text/html; charset=utf-8"})
        try:
            self._authorize(record)
            with self._lock:
                scripted = self.replies.popleft() if self.replies else Reply()
            time.sleep(scripted.delay)
            if scripted.body is not None or scripted.status != 200:
                return scripted
            normal = self._serve(record)
            if isinstance(normal, Reply):
                return normal
            return Reply(
                body=normal,
                cut_off=scripted.cut_off,
                trickle=scripted.trickle,
                chunked=scripted.chunked,
            )
        except ApiFault as fault:
            return Reply(fault.status, fault.envelope)

    def _authorize(self, record: Recorded) -> None:
        if record.headers.get("authorization") != f"Bearer {self.key}":
            message = "Incorrect API key provided. You can find your API key in your account."
            raise ApiFault(401, message, code="invalid_api_key")

    def _serve(self, record: Recorded) -> dict[str, Any] | Reply:
        if record.path.startswith(("/v1/files", "/v1/batches")):
            return self._batch_call(record)
        routes = {"/v1/images/generations": self._generations, "/v1/images/edits": self._edits}
        route = routes.get(record.path)
        if route is None or record.method != "POST":
            raise ApiFault(404, f"Invalid URL ({record.method} {record.path})")
        return route(record)

    def _batch_call(self, record: Recorded) -> dict[str, Any] | Reply:
        """``/v1/files`` and ``/v1/batches`` (see ``tests/fakebatch.py``)."""
        content_type = record.headers.get("content-type", "")
        body: Any = record.json
        if content_type.startswith("multipart/form-data"):
            body = parse_multipart(content_type, record.body)
        try:
            status, answer = self.batch.serve(record.method, record.path, body)
        except BatchFault as fault:
            raise ApiFault(
                fault.status, fault.message, code=fault.code, param=fault.param
            ) from None
        if isinstance(answer, bytes):
            return Reply(status, answer, {"content-type": "application/octet-stream"})
        return answer

    def _model(self, values: dict[str, Any]) -> str:
        model = values.get("model")
        if not isinstance(model, str):
            raise invalid("model", "The fake needs 'model' (the real default is a DALL·E model).")
        if model in self.retired or model not in self.models:
            raise invalid("model", _no_model_message(model), "model_not_found")
        return model

    def _generations(self, record: Recorded) -> dict[str, Any]:
        return self._generate(record.json)

    def _generate(self, values: Any) -> dict[str, Any]:
        """The answer to a generation body (direct, or one line of a batch)."""
        if not isinstance(values, dict):
            raise invalid(None, "We could not parse the JSON body of your request.")
        allowed = set(schema_properties("CreateImageRequest")) - DALLE_ONLY
        check_names(values, allowed | model_fields(values.get("model")))
        opaque = frozenset(self.opaque_only)
        check_values(self._model(values), values, "CreateImageRequest", opaque)
        return answer(values, (1024, 1024), 0)

    def _edits(self, record: Recorded) -> dict[str, Any]:
        parts = parse_multipart(record.headers.get("content-type", ""), record.body)
        names = [part.name for part in parts if not part.is_file]
        if len(set(names)) != len(names):
            raise invalid(None, "A form field was sent twice.")
        allowed = set(schema_properties("CreateImageEditRequest")) - DALLE_ONLY
        check_names(names, allowed | model_fields(record.fields.get("model")))
        files = [part for part in parts if part.is_file]
        check_names([part.name for part in files], {"image", "image[]", "mask"})
        values = form_values(record.fields)
        model = self._model(values)
        # The files are checked below: the schema only needs to see that there is one.
        opaque = frozenset(self.opaque_only)
        check_values(model, {**values, "image": ""}, "CreateImageEditRequest", opaque)
        if "input_fidelity" in values and model in NO_INPUT_FIDELITY:
            raise invalid("input_fidelity", f"input_fidelity is not supported for {model}.")
        images = check_image_parts(files)
        masks = [part for part in files if part.name == "mask"]
        if len(masks) > 1:
            raise invalid("mask", "Only one mask.")
        if masks:
            check_mask_part(masks[0], images[0])
        return answer(values, images[0].size, len(images))


def main(argv: list[str] | None = None) -> int:
    """Serve the fake on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="A fake OpenAI Images API for assetgen.")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds to wait before each answer"
    )
    parser.add_argument("--key", default=DEFAULT_KEY, help="the API key it accepts")
    args = parser.parse_args(argv)
    fake = FakeImagesAPI(key=args.key, latency=args.latency, port=args.port).start()
    print(f"fake Images API at {fake.base_url} (key {args.key}); Ctrl-C stops it", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
