"""An asset's generation parameters as one typed, frozen value.

Built once while the spec is read (:mod:`assetgen.spec`, after ``[defaults]``),
the same value is what the provider request is made from
(:func:`assetgen.project.to_request`), what the generation key hashes
(:func:`assetgen.graph.key_params`, through :meth:`GenerationParams.fields`)
and what the lock records. ``fields()`` gives exactly the mapping keys and
locks always had (defaults included, unset optional fields left out), so
turning the untyped dict into this value changed no key.

``model`` is resolved here too (the asset's own, else ``[defaults]``, else
``[provider] model``), but it is not in ``fields()``: the key hashes it as a
field of its own and the lock records it on the entry. ``provider_options``
are the asset's options for the provider in use (``[asset.<provider>]`` over
``[defaults.<provider>]``, read into the provider's ``asset_options_class``):
in ``fields()`` as ``"<provider>.<field>"`` only for a field away from its
default, so a spec that sets none keeps every key it had.

The allowed values of each parameter are defined here once: the spec checks
against them and the model table (``providers/openai/models.py``) builds
every profile from them. They live here rather than in the table because the
spec is read below the providers' layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
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
NOT_TABLE_FIELDS = NOT_REQUEST_FIELDS | {"model", "provider_options"}
"""Fields ``fields()`` leaves out (the model is keyed and locked on its own; provider
options under their namespace)."""

DEFAULT_MODEL = "gpt-image-2.6-flare"
"""The fast draft tier of the current family, suited to the build-look-tweak loop;
gpt-image-2.6-sunburst is its detail tier, at the same token prices."""

DEFAULT_SIZE = "1024x1024"
DEFAULT_QUALITY = "auto"
DEFAULT_BACKGROUND = "auto"


@dataclass(frozen=True)
class ProviderOptions:
    """One asset's options for a provider: ``[asset.<provider>]`` over ``[defaults.<provider>]``."""

    provider: str
    values: Any
    """An instance of the provider's ``asset_options_class`` (a frozen dataclass)."""

    def fields(self) -> dict[str, Any]:
        """``{"<provider>.<field>": value}`` for every field away from its default."""
        out = {}
        for item in fields(self.values):
            value = getattr(self.values, item.name)
            if item.default is MISSING or value != item.default:
                out[f"{self.provider}.{item.name}"] = value
        return out


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
    model: str = DEFAULT_MODEL
    """The resolved model: the asset's ``model``, else ``[defaults]``'s, else ``[provider]``'s."""
    provider_options: ProviderOptions | None = None
    """The asset's options for the provider in use; ``None`` when it declares none."""

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> GenerationParams:
        """The value of a validated mapping (``[defaults]`` merged with an asset's own)."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"not generation parameters: {', '.join(unknown)}")
        return cls(**values)

    def fields(self) -> dict[str, Any]:
        """The request parameters as the lock names them: defaults, then what is set.

        Then the provider's options away from their defaults, as ``<provider>.<field>``.
        """
        always = ("size", "quality", "background")
        values = ((name, getattr(self, name)) for name in _TABLE_FIELDS)
        out = {name: value for name, value in values if name in always or value is not None}
        if self.provider_options is not None:
            out.update(self.provider_options.fields())
        return out

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


_TABLE_FIELDS = tuple(
    item.name for item in fields(GenerationParams) if item.name not in NOT_TABLE_FIELDS
)
"""Field names in declaration order, computed once (``fields()`` runs for every asset)."""
