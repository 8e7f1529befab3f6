"""What each image model accepts and costs: a data table, and pure helpers over it.

Every request body the ``openai`` provider sends is built from the allow-list
of the model's :class:`ModelProfile`, so no field a model rejects is ever
sent, and :func:`param_problems` refuses a request a model cannot serve before
any money is spent. Each profile carries its ``sources`` and the day they were
read (``as_of``); a model id that is not in the table passes through with the
permissive :data:`GENERIC` profile. A fact no source states (whether a 2.x
model makes transparent backgrounds) is ``None``, not a guess: such a request
is sent, and a refusal is reported as the service words it.

Prices are USD per 1M tokens (billing) plus an optional per-image table by
quality and size; estimates are in :mod:`~assetgen.providers.openai.estimates`.
``[provider] prices`` overrides either, field by field, for resellers: see
:func:`parse_price_overrides`.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal

from ...errors import SpecError, SpecErrors
from ...params import ALPHA_FORMATS, COMPLEXITIES, OUTPUT_FORMATS
from ...params import QUALITIES as ALL_QUALITIES
from ...prices import price_problems
from ..base import ImageRequest, Usage

MB = 1024 * 1024
FIXED_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
QUALITIES = ALL_QUALITIES[:4]
"""The 1.x and gpt-image-2 qualities: ``auto``, ``low``, ``medium``, ``high``."""
QUALITIES_2X = ALL_QUALITIES
"""The 2.5 and 2.6 families' qualities, cheapest first after ``auto``."""

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

OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}
"""Output tokens per image by quality and size, documented for gpt-image-1 (the
1.x family's table: × $40/1M it gives gpt-image-1's official per-image prices)."""
OUTPUT_TOKENS_2 = {
    "low": {"1024x1024": 200, "1024x1536": 167, "1536x1024": 167},
    "medium": {"1024x1024": 1767, "1024x1536": 1367, "1536x1024": 1367},
    "high": {"1024x1024": 7024, "1024x1536": 5488, "1536x1024": 5488},
}
"""Output tokens of gpt-image-2: OpenAI's per-image examples ($0.006 / $0.053 /
$0.211 square, $0.005 / $0.041 / $0.165 portrait and landscape) ÷ $30/1M; the
``high`` counts are those of OpenAI's calculator. Assumed for the 2.5 and 2.6
families too (same token prices; no counts of their own are published)."""

TokenTable = Mapping[str, Mapping[str, int]]
PerImage = Mapping[str, Mapping[str, float]]
Transparency = bool | None
"""``True``/``False`` where a source says so; ``None``: unknown, the request is sent."""
Status = Literal["current", "deprecated", "shut down"]


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
    cached_text_input: float | None = None
    """USD per 1M cached text input tokens (shown; billing counts every token uncached)."""
    cached_image_input: float | None = None
    """USD per 1M cached image input tokens (shown, as above)."""


@dataclass(frozen=True)
class CustomSizes:
    """Free ``WIDTHxHEIGHT`` sizes a model accepts besides the fixed ones."""

    multiple: int = 16
    max_edge: int = 3840
    max_pixels: int = 3840 * 2160
    max_ratio: float = 3.0
    """Longer edge over shorter edge, at most (1:3 to 3:1)."""
    min_pixels: int = 0


@dataclass(frozen=True)
class ModelProfile:
    """One model's capabilities, limits, prices, lifecycle and where those facts come from."""

    id: str
    known: bool = True
    """False for the generic profile of an id not in the table."""
    sizes: tuple[str, ...] = FIXED_SIZES
    custom_sizes: CustomSizes | None = None
    qualities: tuple[str, ...] = QUALITIES
    """Accepted ``quality`` values: ``auto`` first, then cheapest to dearest."""
    complexities: tuple[str, ...] = ()
    """Accepted ``complexity`` values; empty where the model has no such field."""
    transparency: Transparency = True
    """Whether ``background = "transparent"`` is accepted; ``None``: unknown (sent)."""
    generate_fields: frozenset[str] = GENERATE_FIELDS
    edit_fields: frozenset[str] = EDIT_FIELDS
    batchable: bool = True
    """Whether the Batch API takes the model's generations (``build --batch``)."""
    max_n: int = 10
    max_prompt_chars: int = 32000
    max_inputs: int = 16
    """Images per edit: the base image and the references together."""
    max_input_bytes: int = 50 * MB
    max_mask_bytes: int = 4 * MB
    prices: Prices = field(default_factory=Prices)
    output_tokens: TokenTable = field(default_factory=lambda: OUTPUT_TOKENS)
    """Output tokens per image by quality and size (estimates)."""
    input_tokens: Literal["tiles", "patches"] = "tiles"
    """How input images are counted: gpt-image-1's 512 px tiles, or gpt-image-2's patches."""
    deprecated: date | None = None
    """Day the deprecation was announced."""
    shutdown: date | None = None
    """Known upstream shutdown date: from this day on, OpenAI's endpoint refuses it."""
    successors: tuple[str, ...] = ()
    """Models to move to, the one to suggest first."""
    snapshot_of: str | None = None
    """The family id of a dated snapshot."""
    sources: tuple[str, ...] = ()
    as_of: date | None = None
    """The day the sources were read."""

    def fields(self, operation: str) -> frozenset[str]:
        """Fields the model accepts on the endpoint of ``operation``."""
        return self.edit_fields if operation == "edit" else self.generate_fields

    def status(self, today: date) -> Status:
        """Where the model is in its lifecycle on OpenAI's endpoint, on ``today``."""
        if self.shutdown is not None and today >= self.shutdown:
            return "shut down"
        if self.shutdown is not None or (self.deprecated and today >= self.deprecated):
            return "deprecated"
        return "current"

    @property
    def top_quality(self) -> str:
        """The dearest quality (what ``auto`` may choose)."""
        return [q for q in self.qualities if q != "auto"][-1]


AS_OF = date(2026, 11, 25)
DEPRECATIONS = "https://developers.openai.com/api/docs/deprecations"
MINI_PAGE = "https://developers.openai.com/de-DE/api/docs/models/gpt-image-1-mini"
GPT_IMAGE_1_PAGE = "https://developers.openai.com/ja-JP/api/docs/models/gpt-image-1"
GPT_IMAGE_2_PAGES = (
    "https://xairouter.com/en/models/gpt-image-2/",
    "https://www.llmreference.com/model/gpt-image-2/openai-api",
    "https://yingtu.ai/en/blog/gpt-image-2-cost-per-image",
)
GPT_IMAGE_2X_PAGES = (
    "https://docs.comfy.org/tutorials/partner-nodes/openai/gpt-image-2-6.md",
    "https://docs.apiyi.com/en/live/2026-11/gpt-image-2-6-launch.md",
    "https://github.com/orgs/cometapi-dev/discussions/155",
)
DEPRECATED_JUN_2026 = date(2026, 6, 2)
SHUT_DOWN_DEC_2026 = date(2026, 12, 1)
DRAFT_SUCCESSORS = ("gpt-image-2.6-flare", "gpt-image-2.6-sunburst")
DETAIL_SUCCESSORS = ("gpt-image-2.6-sunburst", "gpt-image-2.6-flare")

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
GPT_IMAGE_2_PRICES = Prices(5.0, 8.0, 30.0, cached_text_input=1.25, cached_image_input=2.0)
GPT_IMAGE_2_SIZES = CustomSizes(
    multiple=16, max_edge=3840, max_pixels=8_294_400, max_ratio=3.0, min_pixels=655_360
)

_MINI = ModelProfile(
    "gpt-image-1-mini",
    edit_fields=EDIT_FIELDS - {"input_fidelity"},
    prices=Prices(2.0, 2.5, 8.0, MINI_PER_IMAGE, cached_text_input=0.2, cached_image_input=0.25),
    deprecated=DEPRECATED_JUN_2026,
    shutdown=SHUT_DOWN_DEC_2026,
    successors=DRAFT_SUCCESSORS,
    sources=(MINI_PAGE, DEPRECATIONS),
    as_of=AS_OF,
)
_GPT_IMAGE_1 = ModelProfile(
    "gpt-image-1",
    prices=Prices(
        5.0, 10.0, 40.0, GPT_IMAGE_1_PER_IMAGE, cached_text_input=1.25, cached_image_input=2.5
    ),
    shutdown=date(2026, 10, 23),
    successors=DETAIL_SUCCESSORS,
    sources=(GPT_IMAGE_1_PAGE,),
    as_of=AS_OF,
)
_GPT_IMAGE_1_5 = ModelProfile(
    "gpt-image-1.5",
    prices=Prices(5.0, 8.0, 32.0, cached_text_input=1.25, cached_image_input=2.0),
    deprecated=DEPRECATED_JUN_2026,
    shutdown=SHUT_DOWN_DEC_2026,
    successors=DETAIL_SUCCESSORS,
    sources=(DEPRECATIONS, "https://community.openai.com/t/1371851"),
    as_of=AS_OF,
)
_CHATGPT_IMAGE_LATEST = replace(
    _GPT_IMAGE_1_5, id="chatgpt-image-latest", prices=Prices(), sources=(DEPRECATIONS,)
)
_GPT_IMAGE_2 = ModelProfile(
    "gpt-image-2",
    custom_sizes=GPT_IMAGE_2_SIZES,
    transparency=False,
    prices=GPT_IMAGE_2_PRICES,
    output_tokens=OUTPUT_TOKENS_2,
    input_tokens="patches",
    sources=GPT_IMAGE_2_PAGES,
    as_of=date(2026, 12, 2),
)
_GPT_IMAGE_2X = replace(
    _GPT_IMAGE_2,
    qualities=QUALITIES_2X,
    transparency=None,
    sources=GPT_IMAGE_2X_PAGES,
)
_GPT_IMAGE_2_6 = replace(
    _GPT_IMAGE_2X,
    complexities=COMPLEXITIES,
    generate_fields=GENERATE_FIELDS | {"complexity"},
    edit_fields=EDIT_FIELDS | {"complexity"},
)

PROFILES: dict[str, ModelProfile] = {
    profile.id: profile
    for profile in (
        replace(_GPT_IMAGE_2_6, id="gpt-image-2.6-flare"),
        replace(_GPT_IMAGE_2_6, id="gpt-image-2.6-sunburst"),
        replace(_GPT_IMAGE_2X, id="gpt-image-2.5-flare"),
        replace(_GPT_IMAGE_2X, id="gpt-image-2.5-sunburst"),
        _GPT_IMAGE_2,
        replace(_GPT_IMAGE_2, id="gpt-image-2-2026-04-21", snapshot_of="gpt-image-2"),
        _GPT_IMAGE_1_5,
        replace(_GPT_IMAGE_1_5, id="gpt-image-1.5-2025-12-16", snapshot_of="gpt-image-1.5"),
        _CHATGPT_IMAGE_LATEST,
        _MINI,
        _GPT_IMAGE_1,
    )
}
"""The models assetgen knows, by id, current ones first. Flare is the 2.x fast
draft tier, sunburst the detail tier. Sizes of the 2.5 and 2.6 families are
assumed to be gpt-image-2's (no source gives their own)."""

ANY_SIZE = CustomSizes(multiple=1, max_edge=sys.maxsize, max_pixels=sys.maxsize, max_ratio=math.inf)
GENERIC = ModelProfile(
    "",
    known=False,
    sizes=("auto",),
    custom_sizes=ANY_SIZE,
    qualities=QUALITIES_2X,
    complexities=COMPLEXITIES,
    transparency=None,
    generate_fields=GENERATE_FIELDS | {"complexity"},
    edit_fields=EDIT_FIELDS | {"complexity"},
)
"""An unknown model: every GPT image field may be sent and the service decides."""


def profile_for(model: str) -> ModelProfile:
    """The model's profile, or the generic one (``known=False``) for an unknown id."""
    return PROFILES.get(model) or replace(GENERIC, id=model)


def is_shut_down(profile: ModelProfile, today: date) -> bool:
    """Whether the model's known shutdown date has come."""
    return profile.status(today) == "shut down"


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
    if width * height < limits.min_pixels:
        return (
            f"{size} is too small for {profile.id}: at least {limits.min_pixels:,} pixels "
            "(1024x640, for one)"
        )
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
    complexity = request.complexity
    if complexity is not None and profile.complexities and complexity not in profile.complexities:
        choices = ", ".join(profile.complexities)
        add("complexity", f"expected one of {choices}, got {complexity!r}")
    if request.output_format not in OUTPUT_FORMATS:
        add(
            "output_format",
            f"expected one of {', '.join(OUTPUT_FORMATS)}, got {request.output_format!r}",
        )
    problems.extend(_background_problems(profile, request))
    problems.extend(_unsupported_fields(profile, request))
    return problems


def _alpha_models() -> str:
    """Which current models may make one (the 2.x family is untested: marked unknown)."""
    today = date.today()
    current = [m for m in PROFILES.values() if m.status(today) != "shut down" and m.known]
    sure = [m.id for m in current if m.transparency]
    maybe = [m.id for m in current if m.transparency is None]
    if sure:
        return "current models that can: " + ", ".join(sure) + '; or set transparency = "key"'
    return (
        "no current model is known to (the 1.x models that could are shut down upstream); "
        f'unknown, so worth a try: {", ".join(maybe)}; or set transparency = "key" to have '
        "assetgen key out a flat background colour"
    )


def _background_problems(profile: ModelProfile, request: ImageRequest) -> list[tuple[str, str]]:
    if request.background != "transparent":
        return []
    if profile.transparency is False:
        return [
            ("background", f"{profile.id} cannot make a transparent background; {_alpha_models()}")
        ]
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
        "complexity": request.complexity,
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


BATCH_PRICE_FACTOR = 0.5
"""The Batch API bills input and output tokens at half the direct price."""


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


def parse_price_overrides(
    raw: Mapping[str, Mapping[str, Any]], *, file: str | None = None
) -> dict[str, dict[str, Any]]:
    """Check ``[provider] prices`` (``{model: {field: value}}``); raise every problem at once.

    The spec reader reports these with the rest of the spec; this check holds
    however a :class:`~assetgen.spec_types.ProviderConfig` was made. ``file``
    (the spec's name) goes into the errors.
    """
    SpecErrors.raise_if_any(
        SpecError(message, file=file, field=field) for field, message in price_problems(raw)
    )
    return {model: dict(entry) for model, entry in raw.items()}


def prices_for(model: str, overrides: Mapping[str, Mapping[str, Any]]) -> Prices:
    """The model's built-in prices with ``[provider] prices`` applied field by field."""
    return replace(profile_for(model).prices, **overrides.get(model, {}))
