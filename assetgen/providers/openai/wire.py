"""The Images API's wire format: form values out, responses and errors in.

Pure functions over decoded JSON (no httpx), parsed leniently: the SDK
marks almost every response field optional, and OpenAI-compatible resellers
add keys of their own or send variants of the error envelope.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..base import Usage


@dataclass(frozen=True)
class ApiError:
    """The ``{"error": {...}}`` envelope of a failed request."""

    message: str
    code: str | None = None
    type: str | None = None
    param: str | None = None


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


def form_values(fields: Mapping[str, Any]) -> dict[str, str]:
    """Multipart form values as the SDK writes them: decimal ints, ``true``/``false``."""
    return {
        name: str(value).lower() if isinstance(value, bool) else str(value)
        for name, value in fields.items()
    }


def parse_error(payload: object) -> ApiError | None:
    """The error of an error response's JSON, or ``None`` when it has no envelope."""
    if not isinstance(payload, Mapping):
        return None
    error = payload.get("error")
    if isinstance(error, str):
        return ApiError(error)
    if not isinstance(error, Mapping):
        return None
    fields = [error.get(name) for name in ("message", "code", "type", "param")]
    message, code, kind, param = (
        value if isinstance(value, str) and value else None for value in fields
    )
    return ApiError(message or "no message given", code, kind, param)


MAX_TOKENS = 100_000_000
"""More tokens than any one image request can bill: a larger count is a broken answer."""


class MalformedUsage(ValueError):
    """The answer's ``usage`` holds counts that cannot be billed tokens."""


def _int(mapping: object, *path: str) -> int | None:
    """The token count at ``path``; ``None`` when absent; MalformedUsage when not a count."""
    for name in path:
        if not isinstance(mapping, Mapping) or name not in mapping:
            return None
        mapping = mapping[name]
    if mapping is None:
        return None
    if not isinstance(mapping, int) or isinstance(mapping, bool):
        raise MalformedUsage(f"usage.{'.'.join(path)} is not a whole number of tokens")
    if not 0 <= mapping <= MAX_TOKENS:
        raise MalformedUsage(f"usage.{'.'.join(path)} = {mapping} is not a token count")
    return mapping


def parse_usage(payload: Mapping[str, Any]) -> Usage | None:
    """Billed tokens; input tokens without a breakdown count as text.

    ``None`` when the answer has no usage; :class:`MalformedUsage` when it has
    one whose counts are negative, fractional or absurd.
    """
    usage = payload.get("usage")
    if not isinstance(usage, Mapping):
        return None
    total_in = _int(usage, "input_tokens")
    if total_in is None:
        total_in = _int(usage, "prompt_tokens")
    output = _int(usage, "output_tokens")
    if output is None:
        output = _int(usage, "completion_tokens")
    if total_in is None and output is None:
        return None
    image_in = _int(usage, "input_tokens_details", "image_tokens") or 0
    text_in = _int(usage, "input_tokens_details", "text_tokens")
    if text_in is None:
        text_in = max((total_in or 0) - image_in, 0)
    return Usage(input_text_tokens=text_in, input_image_tokens=image_in, output_tokens=output or 0)


class BrokenImage(ValueError):
    """An image of the answer arrived damaged (may pass when asked again)."""


def decode_images(payload: Mapping[str, Any]) -> list[bytes]:
    """The images of ``data[].b64_json``; ValueError says what is wrong with the answer.

    Invalid base64 raises :class:`BrokenImage`; whether the bytes are an
    image is for :func:`~assetgen.providers.decode.check_image` to say.
    """
    data = payload.get("data")
    if not isinstance(data, list) or not data:
        raise ValueError("the answer holds no images (no data[])")
    images = []
    for index, item in enumerate(data):
        encoded = item.get("b64_json") if isinstance(item, Mapping) else None
        if not isinstance(encoded, str):
            url = (
                " (only a URL: DALL·E-style answer)"
                if isinstance(item, Mapping) and item.get("url")
                else ""
            )
            raise ValueError(f"data[{index}] has no b64_json{url}")
        try:
            images.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise BrokenImage(f"data[{index}].b64_json is not valid base64") from exc
    return images
