"""Estimated USD of a request before it is sent: what budgets are checked against.

An estimate feeds ``--max-cost`` and ``[build] confirm_above``, so where a
figure is not published it errs high, never low:

- ``quality = "auto"`` is estimated at the model's dearest quality (``max`` for
  the 2.5 and 2.6 families, ``high`` for the others): the model may choose it.
- ``xhigh`` and ``max`` have no published token counts. They are estimated at
  :data:`HIGHER_QUALITY_FACTORS` times ``high`` (an assumption, shown as such
  by ``assetgen models``); ``[provider.prices]`` ``per_image`` overrides them.
- A custom size not in a model's table is its square (1024x1024) count scaled
  by pixel area, and never below it. For gpt-image-2 the square is the densest
  known size (5,488 tokens for 1536x1024 against 7,024 for 1024x1024, high),
  so this overestimates larger sizes.
- Edits add their input images' tokens (:func:`input_image_tokens`), counted
  once per output image (``n``): one report says gpt-image-2 bills ``n``
  images as ``n`` calls, while the 1.x family bills the input once.
- Text input tokens are left out, as OpenAI's per-image prices leave them out
  (about $0.001 per 1,000 characters of prompt).

Billing itself is computed from the returned ``usage``
(:func:`~assetgen.providers.openai.models.usage_cost`), not from these.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..base import ImageRequest
from .models import ModelProfile, Prices, parse_size

SQUARE = "1024x1024"
COMMON_SIZES = ("1024x1024", "1536x1024", "1024x1536")
HIGHER_QUALITY_FACTORS = {"xhigh": 2.0, "max": 4.0}
"""Assumed output tokens of ``xhigh`` and ``max`` as multiples of ``high``'s."""

TILE = 512
TILE_BOX = 2048
TILE_BASE_TOKENS = 65
TILE_TOKENS = 129
MAX_TILES = 4
"""Most tiles an image can take: its shorter side is scaled to 512 px and its
longer side is at most 2048 px."""
HIGH_FIDELITY_TOKENS = {"square": 4096, "other": 6144}
"""Tokens that ``input_fidelity = "high"`` adds per input image (1.x family)."""
PATCH_BUDGET_TOKENS = 1536
"""Image tokens of one gpt-image-2 (and 2.x) input image, counted at its upper bound."""

Dimensions = tuple[int, int]


def estimate_usd(
    profile: ModelProfile,
    prices: Prices,
    request: ImageRequest,
    input_sizes: Sequence[Dimensions | None] = (),
) -> float | None:
    """Estimated USD of ``request``: output images plus, for edits, input images.

    ``input_sizes`` gives each input image's dimensions in request order; one
    missing or ``None`` (not decodable, not made yet) is counted at its largest.
    ``None`` when a price it needs is unknown.
    """
    image = image_usd(profile, prices, request.quality, request.size)
    if image is None:
        return None
    total = image
    if request.operation == "edit":
        if prices.image_input is None:
            return None
        sizes = list(input_sizes) + [None] * (len(request.inputs) - len(input_sizes))
        tokens = sum(
            input_image_tokens(profile, dims, request.input_fidelity)
            for dims in sizes[: len(request.inputs)]
        )
        total += tokens * prices.image_input / 1_000_000
    return round(total * request.n, 6)


def estimated_quality(profile: ModelProfile, quality: str) -> str:
    """The quality an estimate counts: ``auto`` as the model's dearest."""
    return profile.top_quality if quality == "auto" else quality


def image_usd(profile: ModelProfile, prices: Prices, quality: str, size: str) -> float | None:
    """Estimated USD of one output image; ``auto`` size counted as the dearest."""
    quality = estimated_quality(profile, quality)
    table = prices.per_image.get(quality) or {}
    if size == "auto" and table:
        return max(table.values())
    if size in table:
        return table[size]
    tokens = output_tokens(profile, quality, size)
    if tokens is None or prices.output is None:
        return None
    return tokens * prices.output / 1_000_000


def output_tokens(profile: ModelProfile, quality: str, size: str) -> float | None:
    """Estimated output tokens of one image (see the module notes for the rules)."""
    factor = HIGHER_QUALITY_FACTORS.get(quality)
    if factor is not None:
        high = output_tokens(profile, "high", size)
        return None if high is None else high * factor
    row = profile.output_tokens.get(quality)
    if not row:
        return None
    if size == "auto":
        return max(row.values())
    if size in row:
        return row[size]
    dims = parse_size(size)
    if dims is None or SQUARE not in row:
        return None
    return row[SQUARE] * max(1.0, dims[0] * dims[1] / 1024**2)


def is_assumed(quality: str) -> bool:
    """Whether the estimate of ``quality`` rests on :data:`HIGHER_QUALITY_FACTORS`."""
    return quality in HIGHER_QUALITY_FACTORS


def input_image_tokens(
    profile: ModelProfile, dims: Dimensions | None, fidelity: str | None = None
) -> int:
    """Image tokens of one input image of an edit.

    The 1.x family (``tiles``): as OpenAI's guide gives it for GPT Image 1, the
    image is fitted into 2048x2048, its shorter side scaled down to 512 px, and
    counted as 65 tokens plus 129 per 512 px tile (a 1024x1024 image: 194, as a
    reported bill shows); ``input_fidelity = "high"`` adds 4,096 tokens for a
    square image and 6,144 for any other. The 2.x family (``patches``): no
    published formula; a measured one counts 32 px patches within a budget of
    1,536, so every image is counted at that budget. Unknown dimensions count
    as the most an image can take.
    """
    if profile.input_tokens == "patches":
        return PATCH_BUDGET_TOKENS
    tiles, square = _tiles(dims)
    extra = 0
    if fidelity == "high" and "input_fidelity" in profile.edit_fields:
        extra = HIGH_FIDELITY_TOKENS["square" if square else "other"]
    return TILE_BASE_TOKENS + TILE_TOKENS * tiles + extra


def _tiles(dims: Dimensions | None) -> tuple[int, bool]:
    """512 px tiles of an image after OpenAI's scaling, and whether it is square."""
    if dims is None:
        return MAX_TILES, False
    width, height = (float(side) for side in dims)
    fit = min(1.0, TILE_BOX / max(width, height))
    width, height = width * fit, height * fit
    shrink = min(1.0, TILE / min(width, height))
    width, height = width * shrink, height * shrink
    tiles = math.ceil(width / TILE - 1e-9) * math.ceil(height / TILE - 1e-9)
    return min(tiles, MAX_TILES), dims[0] == dims[1]
