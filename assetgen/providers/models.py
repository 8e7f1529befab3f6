"""What each image model accepts and costs: a data table, and pure helpers over it.

Every request body the ``openai`` provider sends is built from the allow-list
of the model's :class:`ModelProfile`, so no field a model rejects is ever
sent, and :func:`param_problems` refuses a request a model cannot serve before
any money is spent. Facts come from OpenAI's Images API documentation, its
OpenAPI description (a copy is in ``tests/data``) and deprecation notices, as
of 2026-11-25; a model id that is not in the table passes through with the
permissive :data:`GENERIC` profile.

Prices are USD per 1M tokens (billing) plus an optional per-image table by
quality and size (estimates). ``[provider] prices`` overrides either, field by
field, for resellers: see :func:`parse_price_overrides`.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from ..errors import SpecError
from .base import ImageRequest, Usage

MB = 1024 * 1024
FIXED_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
QUALITIES = ("auto", "low", "medium", "high")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
ALPHA_FORMATS = ("png", "webp")

GENERATE_FIELDS = frozenset(
    {
        "model",
        "prompt",
        "n",
        "size",
        "quality",
        "background",
        "output_format",
        "output_compression",
        "moderation",
    }
)
"""``POST /images/generations`` fields of the GPT image family (no DALL·E ones)."""
EDIT_FIELDS = (GENERATE_FIELDS - {"moderation"}) | {"input_fidelity"}
"""Multipart ``POST /images/edits`` fields: the schema has no ``moderation``."""

FIELD_DEFAULTS: dict[str, object] = {
    "background": "auto",
    "moderation": "auto",
    "input_fidelity": "low",
    "output_compression": 100,
}
"""The API's own defaults: a field left out of a body means exactly this value,
so asking for it where a model or endpoint lacks the field is not an error."""

AUTO_QUALITY_ESTIMATE = "high"
"""``quality = "auto"`` is estimated as ``high``: the estimate feeds ``--max-cost``
and must not undershoot what the model may choose."""

OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
"""Output tokens per image by quality and size (documented for gpt-image-1)."""

PerImage = Mapping[str, Mapping[str, float]]


@dataclass(frozen=True)
class Prices:
    """What a model costs; ``None`` where unknown."""

    text_input: float | None = None
    """USD per 1M text input tokens."""
    image_input: float | None = None
    """USD per 1M image input tokens."""
    output: float | None = None
    """USD per 1M output (image) tokens."""
    per_image: PerImage = field(default_factory=dict)
    """USD per output image: ``{quality: {size: usd}}``; else output tokens × ``output``."""


@dataclass(frozen=True)
class CustomSizes:
    """Free ``WIDTHxHEIGHT`` sizes a model accepts besides the fixed ones."""

    multiple: int = 16
    max_edge: int = 3840
    max_pixels: int = 3840 * 2160
    max_ratio: float = 3.0
    """Longer edge over shorter edge, at most (1:3 to 3:1)."""


@dataclass(frozen=True)
class ModelProfile:
    """One model's capabilities, limits, prices and lifecycle."""

    id: str
    known: bool = True
    """False for the generic profile of an id not in the table."""
    sizes: tuple[str, ...] = FIXED_SIZES
    custom_sizes: CustomSizes | None = None
    qualities: tuple[str, ...] = QUALITIES
    transparency: bool = True
    """Whether ``background = "transparent"`` is accepted."""
    generate_fields: frozenset[str] = GENERATE_FIELDS
    edit_fields: frozenset[str] = EDIT_FIELDS
    max_n: int = 10
    max_prompt_chars: int = 32000
    max_inputs: int = 16
    """Images per edit: the base image and the references together."""
    max_input_bytes: int = 50 * MB
    max_mask_bytes: int = 4 * MB
    prices: Prices = field(default_factory=Prices)
    shutdown: date | None = None
    """Known upstream shutdown date: from this day on, requests will fail."""

    def fields(self, operation: str) -> frozenset[str]:
        """Fields the model accepts on the endpoint of ``operation``."""
        return self.edit_fields if operation == "edit" else self.generate_fields


MINI_PER_IMAGE = {
    "low": {"1024x1024": 0.005, "1024x1536": 0.006, "1536x1024": 0.006},
    "medium": {"1024x1024": 0.011, "1024x1536": 0.015, "1536x1024": 0.015},
    "high": {"1024x1024": 0.036, "1024x1536": 0.052, "1536x1024": 0.052},
}
GPT_IMAGE_1_PER_IMAGE = {
    "low": {"1024x1024": 0.011, "1024x1536": 0.016, "1536x1024": 0.016},
    "medium": {"1024x1024": 0.042, "1024x1536": 0.063, "1536x1024": 0.063},
    "high": {"1024x1024": 0.167, "1024x1536": 0.25, "1536x1024": 0.25},
}

_MINI = ModelProfile(
    "gpt-image-1-mini",
    edit_fields=EDIT_FIELDS - {"input_fidelity"},
    prices=Prices(2.0, 2.5, 8.0, MINI_PER_IMAGE),
    shutdown=date(2026, 12, 1),
)
_GPT_IMAGE_1 = ModelProfile(
    "gpt-image-1",
    prices=Prices(5.0, 10.0, 40.0, GPT_IMAGE_1_PER_IMAGE),
    shutdown=date(2026, 10, 23),
)
_GPT_IMAGE_1_5 = ModelProfile(
    "gpt-image-1.5", prices=Prices(5.0, 8.0, 32.0), shutdown=date(2026, 12, 1)
)
_GPT_IMAGE_2 = ModelProfile("gpt-image-2", custom_sizes=CustomSizes(), transparency=False)

PROFILES: dict[str, ModelProfile] = {
    profile.id: profile
    for profile in (
        _MINI,
        _GPT_IMAGE_1,
        _GPT_IMAGE_1_5,
        replace(_GPT_IMAGE_1_5, id="gpt-image-1.5-2025-12-16"),
        _GPT_IMAGE_2,
        replace(_GPT_IMAGE_2, id="gpt-image-2-2026-04-21"),
    )
}
"""The models assetgen knows, by id (dated snapshots share their family's profile)."""

ANY_SIZE = CustomSizes(multiple=1, max_edge=sys.maxsize, max_pixels=sys.maxsize, max_ratio=math.inf)
GENERIC = ModelProfile("", known=False, sizes=("auto",), custom_sizes=ANY_SIZE)
"""An unknown model: every GPT image field may be sent and the service decides."""


def profile_for(model: str) -> ModelProfile:
    """The model's profile, or the generic one (``known=False``) for an unknown id."""
    return PROFILES.get(model) or replace(GENERIC, id=model)


def is_shut_down(profile: ModelProfile, today: date) -> bool:
    """Whether the model's known shutdown date has come."""
    return profile.shutdown is not None and today >= profile.shutdown


_SIZE = re.compile(r"^(\d+)x(\d+)$")


def parse_size(size: str) -> tuple[int, int] | None:
    """``(width, height)`` of a ``WIDTHxHEIGHT`` size; ``None`` for ``auto`` or junk."""
    match = _SIZE.match(size)
    return (int(match[1]), int(match[2])) if match else None


def size_problem(profile: ModelProfile, size: str) -> str | None:
    """Why ``size`` is not accepted by the model, or ``None`` when it is."""
    if size in profile.sizes:
        return None
    allowed = ", ".join(profile.sizes)
    limits = profile.custom_sizes
    dims = parse_size(size)
    if limits is None or dims is None:
        extra = " or a custom WIDTHxHEIGHT" if limits else ""
        return f"{profile.id} does not take size {size!r}; use one of {allowed}{extra}"
    width, height = dims
    if width % limits.multiple or height % limits.multiple:
        return f"{profile.id} needs width and height divisible by {limits.multiple}, got {size}"
    if max(width, height) > limits.max_edge or width * height > limits.max_pixels:
        return (
            f"{size} is too large for {profile.id}: at most {limits.max_edge} px a side "
            f"and {limits.max_pixels:,} pixels"
        )
    if max(width, height) > limits.max_ratio * min(width, height):
        return f"{profile.id} needs an aspect ratio between 1:3 and 3:1, got {size}"
    return None


def param_problems(profile: ModelProfile, request: ImageRequest) -> list[tuple[str, str]]:
    """``(field, message)`` for every parameter of ``request`` the model cannot serve."""
    problems: list[tuple[str, str]] = []

    def add(name: str, message: str) -> None:
        problems.append((name, message))

    if not request.prompt.strip():
        add("prompt", "the prompt is empty")
    if len(request.prompt) > profile.max_prompt_chars:
        add(
            "prompt",
            f"the prompt has {len(request.prompt)} characters; at most {profile.max_prompt_chars}",
        )
    if not 1 <= request.n <= profile.max_n:
        add("n", f"{request.n} images asked for; the API gives 1 to {profile.max_n} per request")
    if (message := size_problem(profile, request.size)) is not None:
        add("size", message)
    if request.quality not in profile.qualities:
        add("quality", f"expected one of {', '.join(profile.qualities)}, got {request.quality!r}")
    if request.output_format not in OUTPUT_FORMATS:
        add(
            "output_format",
            f"expected one of {', '.join(OUTPUT_FORMATS)}, got {request.output_format!r}",
        )
    problems.extend(_background_problems(profile, request))
    problems.extend(_unsupported_fields(profile, request))
    return problems


def _background_problems(profile: ModelProfile, request: ImageRequest) -> list[tuple[str, str]]:
    if request.background != "transparent":
        return []
    if not profile.transparency:
        return [("background", f"{profile.id} cannot make a transparent background")]
    if request.output_format not in ALPHA_FORMATS:
        return [
            (
                "background",
                "a transparent background needs output_format png or webp, "
                f"not {request.output_format}",
            )
        ]
    return []


def requested_fields(request: ImageRequest) -> dict[str, Any]:
    """Every API field the request sets, before the model's allow-list is applied."""
    values: dict[str, Any] = {
        "model": request.model,
        "prompt": request.prompt,
        "n": request.n,
        "size": request.size,
        "quality": request.quality,
        "background": request.background,
        "output_format": request.output_format,
        "output_compression": request.output_compression,
        "moderation": request.moderation,
        "input_fidelity": request.input_fidelity,
    }
    if request.output_format == "png":
        values["output_compression"] = None
    if request.operation == "generate":
        # There are no input images whose fidelity could matter.
        values["input_fidelity"] = None
    else:
        # The multipart edits endpoint has no moderation field; a `[defaults]`
        # moderation meant for generations must not make every edit fail.
        values["moderation"] = None
    return {name: value for name, value in values.items() if value is not None}


def body_fields(profile: ModelProfile, request: ImageRequest) -> dict[str, Any]:
    """The fields to send: those the request sets that the model's endpoint accepts."""
    allowed = profile.fields(request.operation)
    return {name: value for name, value in requested_fields(request).items() if name in allowed}


def _unsupported_fields(profile: ModelProfile, request: ImageRequest) -> list[tuple[str, str]]:
    problems = []
    if request.output_compression not in (None, 100) and request.output_format == "png":
        problems.append(
            ("output_compression", "output_compression applies to jpeg and webp output only")
        )
    if request.output_compression is not None and not 0 <= request.output_compression <= 100:
        problems.append(
            ("output_compression", f"expected 0 to 100, got {request.output_compression}")
        )
    allowed = profile.fields(request.operation)
    endpoint = "edits" if request.operation == "edit" else "generations"
    for name, value in requested_fields(request).items():
        if name not in allowed and value != FIELD_DEFAULTS.get(name, object()):
            problems.append((name, f"{profile.id} does not take {name} on /images/{endpoint}"))
    return problems


def usage_cost(prices: Prices, usage: Usage | None) -> float | None:
    """USD billed for ``usage`` at ``prices``; ``None`` when either is unknown."""
    rates = (prices.text_input, prices.image_input, prices.output)
    if usage is None or None in rates:
        return None
    tokens = (usage.input_text_tokens, usage.input_image_tokens, usage.output_tokens)
    if any(count < 0 for count in tokens):
        return None
    total = sum(count * (rate or 0.0) for count, rate in zip(tokens, rates, strict=True))
    # Never a negative or NaN cost: it would pass any budget.
    return round(total / 1_000_000, 8) if math.isfinite(total) and total >= 0 else None


def image_price(prices: Prices, quality: str, size: str) -> float | None:
    """Estimated USD for one image; ``auto`` quality as high, ``auto`` size as the dearest."""
    quality = AUTO_QUALITY_ESTIMATE if quality == "auto" else quality
    table = prices.per_image.get(quality) or {}
    if not table and prices.output is not None:
        rate = prices.output / 1_000_000
        table = {name: tokens * rate for name, tokens in OUTPUT_TOKENS.get(quality, {}).items()}
    if size == "auto":
        return max(table.values(), default=None)
    return table.get(size)


PRICE_KEYS = ("text_input", "image_input", "output", "per_image")
MAX_TOKEN_PRICE = 10_000.0
"""USD per 1M tokens, at most: far above any model's, so a larger one is a typo."""
MAX_IMAGE_PRICE = 1_000.0
"""USD per image, at most."""


def parse_price_overrides(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Check ``[provider] prices`` (``{model: {field: value}}``); raise SpecError on a bad one.

    Every price is a finite number from 0 to a generous maximum: a negative,
    NaN or infinite price would make costs (and ``--max-cost``) meaningless.
    """
    for model, entry in raw.items():
        for key, value in entry.items():
            where = f"provider.prices.{model}.{key}"
            if key not in PRICE_KEYS:
                raise SpecError(
                    f"unknown price {key!r}; expected one of {', '.join(PRICE_KEYS)}", field=where
                )
            if key == "per_image":
                _check_per_image(value, where)
            elif not _is_price(value, MAX_TOKEN_PRICE):
                raise SpecError(
                    f"expected USD per 1M tokens (a number from 0 to {MAX_TOKEN_PRICE:g}), "
                    f"got {_shown(value)}",
                    field=where,
                )
    return {model: dict(entry) for model, entry in raw.items()}


def _is_price(value: object, limit: float) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value) and 0 <= value <= limit
    except OverflowError:  # an integer too large for a float
        return False


def _shown(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an integer over Python's 4300-digit limit
        return "a huge integer"
    return text if len(text) <= 40 else text[:37] + "..."


def _check_per_image(value: object, where: str) -> None:
    example = '{ medium = { "1024x1024" = 0.011 } }'
    rows = value.values() if isinstance(value, Mapping) else None
    if rows is None or not all(isinstance(row, Mapping) for row in rows):
        raise SpecError(f"expected USD per image by quality and size, like {example}", field=where)
    assert isinstance(value, Mapping)
    for quality, row in value.items():
        for size, usd in row.items():
            if not _is_price(usd, MAX_IMAGE_PRICE):
                raise SpecError(
                    f"expected USD per image (a number from 0 to {MAX_IMAGE_PRICE:g}), "
                    f"got {_shown(usd)}",
                    field=f"{where}.{quality}.{size}",
                )


def prices_for(model: str, overrides: Mapping[str, Mapping[str, Any]]) -> Prices:
    """The model's built-in prices with ``[provider] prices`` applied field by field."""
    return replace(profile_for(model).prices, **overrides.get(model, {}))
