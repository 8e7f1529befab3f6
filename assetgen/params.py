"""An asset's generation parameters as one typed, frozen value.

Built once while the spec is read (:mod:`assetgen.spec`, after ``[defaults]``),
the same value is what the provider request is made from
(:func:`assetgen.project.to_request`), what the generation key hashes
(:func:`assetgen.graph.key_params`, through :meth:`GenerationParams.fields`)
and what the lock records. ``fields()`` gives exactly the mapping keys and
locks always had (defaults included, unset optional fields left out), so
turning the untyped dict into this value changed no key.

The allowed values of each parameter are defined here once: the spec checks
against them and the model table (``providers/openai/models.py``) builds
every profile from them. They live here rather than in the table because the
spec is read below the providers' layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

QUALITIES = ("auto", "low", "medium", "high", "xhigh", "max")
"""Every quality some model takes, ``auto`` first, then cheapest to dearest (``xhigh``
and ``max``: the 2.5 and 2.6 families). A model's own list is a prefix of it."""
COMPLEXITIES = ("low", "medium", "high")
"""Values of the 2.6 family's ``complexity`` field."""
TRANSPARENCIES = ("native", "key")
"""How a transparent background is made: by the model, or by chroma key (``assetgen.chroma``)."""
BACKGROUNDS = ("auto", "opaque", "transparent")
MODERATIONS = ("auto", "low")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
ALPHA_FORMATS = ("png", "webp")
"""Output formats that carry a transparent background."""
INPUT_FIDELITIES = ("low", "high")

DEFAULT_SIZE = "1024x1024"
DEFAULT_QUALITY = "auto"
DEFAULT_BACKGROUND = "auto"


@dataclass(frozen=True)
class GenerationParams:
    """What the spec asks of the image model for one asset (values already validated)."""

    size: str = DEFAULT_SIZE
    quality: str = DEFAULT_QUALITY
    background: str = DEFAULT_BACKGROUND
    output_format: str | None = None
    """``None``: not set (PNG is asked for)."""
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    complexity: str | None = None
    transparency: str | None = None
    """``None`` or ``native``: the model makes the alpha; ``key``: chroma key (see ``chroma``)."""

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> GenerationParams:
        """The value of a validated mapping (``[defaults]`` merged with an asset's own)."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"not generation parameters: {', '.join(unknown)}")
        return cls(**values)

    def fields(self) -> dict[str, Any]:
        """The parameters as the key and the lock name them: defaults, then what is set."""
        always = ("size", "quality", "background")
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name in always or getattr(self, item.name) is not None
        }

    @property
    def keyed_transparency(self) -> bool:
        """A transparent background made by chroma key rather than by the model."""
        return self.transparency == "key" and self.background == "transparent"
