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

NOT_REQUEST_FIELDS = frozenset({"candidates", "keep_unmasked", "take"})
"""Fields that shape the result but are no request parameter of their own name."""

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
    candidates: int = 1
    """Images asked for at once (the API's ``n``)."""
    keep_unmasked: bool = True
    """A masked edit keeps every pixel outside the mask exactly."""
    take: int = 0
    """A fresh roll of the same inputs, by bumping it (only in the key)."""

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> GenerationParams:
        """The value of a validated mapping (``[defaults]`` merged with an asset's own)."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"not generation parameters: {', '.join(unknown)}")
        return cls(**values)

    def fields(self) -> dict[str, Any]:
        """The request parameters as the lock names them: defaults, then what is set."""
        always = ("size", "quality", "background")
        values = ((name, getattr(self, name)) for name in _REQUEST_FIELDS)
        return {name: value for name, value in values if name in always or value is not None}

    def key_fields(self, *, edit: bool, masked: bool, key_colour: str | None) -> dict[str, Any]:
        """What shapes the returned image, as the generation key and the lock record it.

        Only what changes the image is in: ``moderation`` not for edits (the edits
        endpoint has no such field), ``n`` only above one, ``keep_unmasked`` only for
        masked edits, and the chroma key's colour in place of ``transparency``.
        """
        params = self.fields()
        if edit:
            params.pop("moderation", None)
        if self.candidates > 1:
            params["n"] = self.candidates
        if masked:
            params["keep_unmasked"] = self.keep_unmasked
        params.pop("transparency", None)  # "native" is how it always was: keys unchanged
        if key_colour is not None:
            params["transparency"] = self.transparency
            params["key_colour"] = key_colour
        return params

    @property
    def keyed_transparency(self) -> bool:
        """A transparent background made by chroma key rather than by the model."""
        return self.transparency == "key" and self.background == "transparent"


_REQUEST_FIELDS = tuple(
    item.name for item in fields(GenerationParams) if item.name not in NOT_REQUEST_FIELDS
)
"""Field names in declaration order, computed once (``fields()`` runs for every asset)."""
