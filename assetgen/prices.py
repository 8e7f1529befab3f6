"""``[provider] prices``: per-model price overrides (resellers), checked in the spec pass.

``{model: {field: USD}}`` where a field is one of :data:`PRICE_KEYS`: USD per 1M
tokens, or ``per_image`` (USD per image by quality and size). Every price is a
finite number from 0 to a generous maximum: a negative, NaN or infinite price
would make costs (and ``--max-cost``) meaningless. :func:`price_problems` finds
every problem at once, so the spec reader reports them with the rest of the spec,
whichever provider the spec names; the model table applies the overrides
(:func:`assetgen.providers.openai.models.prices_for`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

PRICE_KEYS = (
    "text_input",
    "image_input",
    "output",
    "per_image",
    "cached_text_input",
    "cached_image_input",
)
"""The fields of :class:`~assetgen.providers.openai.models.Prices` a spec may override."""
MAX_TOKEN_PRICE = 10_000.0
"""USD per 1M tokens, at most: far above any model's, so a larger one is a typo."""
MAX_IMAGE_PRICE = 1_000.0
"""USD per image, at most."""
PER_IMAGE_EXAMPLE = '{ medium = { "1024x1024" = 0.011 } }'

Problem = tuple[str, str]
"""``(field, message)``, the field in the spec's dotted form."""


def price_problems(raw: Mapping[str, Any]) -> list[Problem]:
    """Every problem of a ``[provider] prices`` table (already known to be a table of tables)."""
    problems: list[Problem] = []
    for model, entry in raw.items():
        dotted = unquoted_id(model, entry)
        if dotted is not None:
            problems.append(
                (
                    f'provider.prices."{dotted}"',
                    f'quote the model id: [provider.prices."{dotted}"] (unquoted, TOML reads '
                    "each dot as a nested table)",
                )
            )
            continue
        for key, value in entry.items():
            problems.extend(_field_problems(f"provider.prices.{model}.{key}", key, value))
    return problems


def _field_problems(where: str, key: str, value: object) -> list[Problem]:
    if key not in PRICE_KEYS:
        return [(where, f"unknown price {key!r}; expected one of {', '.join(PRICE_KEYS)}")]
    if key == "per_image":
        return _per_image_problems(value, where)
    if not is_price(value, MAX_TOKEN_PRICE):
        message = (
            f"expected USD per 1M tokens (a number from 0 to {MAX_TOKEN_PRICE:g}), "
            f"got {_shown(value)}"
        )
        return [(where, message)]
    return []


def _per_image_problems(value: object, where: str) -> list[Problem]:
    rows = value.values() if isinstance(value, Mapping) else None
    if rows is None or not all(isinstance(row, Mapping) for row in rows):
        return [(where, f"expected USD per image by quality and size, like {PER_IMAGE_EXAMPLE}")]
    assert isinstance(value, Mapping)
    return [
        (
            f"{where}.{quality}.{size}",
            f"expected USD per image (a number from 0 to {MAX_IMAGE_PRICE:g}), got {_shown(usd)}",
        )
        for quality, row in value.items()
        for size, usd in row.items()
        if not is_price(usd, MAX_IMAGE_PRICE)
    ]


def is_price(value: object, limit: float) -> bool:
    """A finite number from 0 to ``limit`` (not a bool, not an integer too large for a float)."""
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


def unquoted_id(model: str, entry: Mapping[str, Any]) -> str | None:
    """The dotted model id a nested price table was meant to be, if it is one.

    ``[provider.prices.gpt-image-1.5]`` unquoted is TOML for ``gpt-image-1`` → ``5``.
    """
    for key, value in entry.items():
        if key != "per_image" and isinstance(value, Mapping):
            return unquoted_id(f"{model}.{key}", value) or f"{model}.{key}"
    return None
