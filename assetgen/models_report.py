"""``assetgen models``: the model table as data, with a project's price overrides applied.

:func:`models_report` returns a :class:`ModelsReport`; the CLI prints it (see
:func:`assetgen.console.models_lines`) or writes its :meth:`~ModelsReport.to_json`.
Outside a project it shows the built-in figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from datetime import date
from typing import Any

from .errors import UsageError
from .providers.openai.estimates import COMMON_SIZES, estimated_quality, image_usd, is_assumed
from .providers.openai.models import (
    PROFILES,
    ModelProfile,
    Prices,
    Status,
    parse_price_overrides,
    prices_for,
    profile_for,
)
from .spec_types import DEFAULT_MODEL, Spec
from .validation import did_you_mean

TRANSPARENCY_WORDS = {True: "yes", False: "no", None: "unknown"}
PRICE_FIELDS = tuple(f.name for f in fields(Prices) if f.name != "per_image")


@dataclass(frozen=True)
class ModelEntry:
    """One model as ``assetgen models`` shows it."""

    profile: ModelProfile
    status: Status
    """On OpenAI's endpoint, today."""
    prices: Prices
    """Built-in prices with the project's overrides applied."""
    overridden: tuple[str, ...]
    """Price fields the project's ``[provider.prices]`` sets."""
    per_image: dict[str, dict[str, float | None]]
    """Estimated USD per image: ``{quality: {size: usd}}`` for the common sizes."""
    in_use: bool
    """Named by the project's ``[provider] model`` or an asset's ``model``."""

    @property
    def transparency(self) -> str:
        return TRANSPARENCY_WORDS[self.profile.transparency]

    @property
    def assumed(self) -> tuple[str, ...]:
        """Qualities whose estimate rests on an assumed token count."""
        return tuple(q for q in self.per_image if is_assumed(q))

    def to_json(self) -> dict[str, Any]:
        profile = self.profile
        limits = profile.custom_sizes
        return {
            "id": profile.id,
            "known": profile.known,
            "status": self.status,
            "deprecated": _day(profile.deprecated),
            "shutdown": _day(profile.shutdown),
            "successors": list(profile.successors),
            "snapshot_of": profile.snapshot_of,
            "sizes": list(profile.sizes),
            "custom_sizes": None if limits is None or not profile.known else asdict(limits),
            "qualities": list(profile.qualities),
            "auto_quality_estimated_as": estimated_quality(profile, "auto"),
            "complexity": list(profile.complexities),
            "transparency": self.transparency,
            "input_fidelity": "input_fidelity" in profile.edit_fields,
            "max_inputs": profile.max_inputs,
            "mask": True,
            "prices": {name: getattr(self.prices, name) for name in PRICE_FIELDS},
            "overridden": list(self.overridden),
            "per_image": self.per_image,
            "assumed_qualities": list(self.assumed),
            "in_use": self.in_use,
            "sources": list(profile.sources),
            "sources_as_of": _day(profile.as_of),
        }


@dataclass(frozen=True)
class ModelsReport:
    """Every known model (and any other the project names), as of ``today``."""

    today: date
    entries: tuple[ModelEntry, ...]
    spec_file: str | None = None
    """The spec whose overrides are applied, if run inside a project."""
    project_model: str = DEFAULT_MODEL
    """The project's ``[provider] model`` (the default outside a project)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "today": self.today.isoformat(),
            "spec": self.spec_file,
            "default_model": DEFAULT_MODEL,
            "project_model": self.project_model,
            "common_sizes": list(COMMON_SIZES),
            "models": [entry.to_json() for entry in self.entries],
        }


def models_report(
    spec: Spec | None, *, names: Sequence[str] = (), today: date | None = None
) -> ModelsReport:
    """The table with ``spec``'s price overrides applied; only ``names`` if given.

    Raises :class:`~assetgen.errors.SpecError` for a bad ``[provider.prices]``
    and :class:`~assetgen.errors.UsageError` for a name nobody knows.
    """
    day = today or date.today()
    overrides: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    if spec is not None:
        overrides = parse_price_overrides(spec.provider.prices, file=spec.display_path)
        used = {spec.provider.model} | {a.params.model for a in spec.assets}
    ids = list(dict.fromkeys([*PROFILES, *sorted(used), *overrides]))
    for name in names:
        if name not in ids:
            raise UsageError(
                f"no model {name!r} in assetgen's table or the spec",
                hint=did_you_mean(name, ids) or "run `assetgen models` to list them",
            )
    chosen = [model for model in ids if not names or model in names]
    entries = tuple(_entry(model, overrides, model in used, day) for model in chosen)
    project_model = spec.provider.model if spec is not None else DEFAULT_MODEL
    file = spec.display_path if spec is not None else None
    return ModelsReport(day, entries, spec_file=file, project_model=project_model)


def _entry(model: str, overrides: dict[str, dict[str, Any]], in_use: bool, day: date) -> ModelEntry:
    profile = profile_for(model)
    prices = prices_for(model, overrides)
    per_image = {
        quality: {size: _usd(image_usd(profile, prices, quality, size)) for size in COMMON_SIZES}
        for quality in profile.qualities
        if quality != "auto"
    }
    return ModelEntry(
        profile=profile,
        status=profile.status(day),
        prices=prices,
        overridden=tuple(overrides.get(model, {})),
        per_image=per_image,
        in_use=in_use,
    )


def _usd(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
