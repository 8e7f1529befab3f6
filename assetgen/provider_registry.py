"""Which image providers exist: the built-ins and every ``assetgen.providers`` entry point.

A provider is a subclass of :class:`assetgen.providers.base.Provider` that
declares three class attributes:

``name``
    The value of ``[provider] name`` (and ``--provider``); part of every
    generation key, so the images of two providers never mix.
``key_revision``
    An integer in every generation key of that provider: bumping it (say,
    when a renderer draws differently) regenerates that provider's images only.
``options_class``
    A frozen dataclass: the provider's own options, read from the spec table
    ``[provider.<name>]`` and passed to its constructor as ``options=``.
``asset_options_class`` (optional)
    A frozen dataclass of per-asset options, read from ``[asset.<name>]`` over
    ``[defaults.<name>]``; every request carries its asset's as ``asset_options``.

The built-ins are registered by import path, so a provider's module is
imported only when it is used: an offline build never imports httpx, and
``assetgen --version`` imports no provider at all. Entry points are read only
when a name is not a built-in's (reading them scans every installed package).
A third-party package registers its class in its ``pyproject.toml``::

    [project.entry-points."assetgen.providers"]
    solid = "assetgen_solid:SolidProvider"

**Why ``[provider.<name>]`` and not one ``[provider.options]`` table:** a spec
can carry the options of several providers at once (as ``pyproject.toml``
carries ``[tool.<name>]``), so ``--provider`` switches between them without
editing the spec, and each table says whose options it holds. The price is a
rule on names: an entry point whose name is a ``[provider]`` field (``model``,
``prices``, ...) would collide with that field, one named like a built-in
would shadow it, and two packages may not claim one name. Such entry points
are refused (:attr:`Registration.refused` says why; naming one is an error
that says it), and the names must be bare lowercase TOML keys. The same
holds for the fields of an asset (``size``, ``image``, ...), which share a
table with ``[asset.<name>]`` and ``[defaults.<name>]``.

This module sits below the spec reader (which validates each
``[provider.<name>]`` table against its options class) and the graph (which
puts ``key_revision`` in keys). It imports provider modules only by name, on
request, so it depends on no provider code.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from .errors import SpecError
from .options import asset_option_kinds, option_kinds
from .params import GenerationParams
from .spec_types import AssetSpec, ProviderConfig
from .validation import did_you_mean

ENTRY_POINT_GROUP = "assetgen.providers"
BUILTINS = {
    "offline": "assetgen.providers.offline:OfflineProvider",
    "openai": "assetgen.providers.openai.provider:OpenAIProvider",
}
"""Built-in providers by import path (``module:class``), imported when first used."""
BUILTIN_KEY_REVISIONS = {"offline": 1, "openai": 0}
"""The built-ins' ``key_revision``, so that computing a key imports no provider code
(a no-op build of an openai project never imports httpx). A test checks that
each equals its class's attribute."""
RESERVED = frozenset(ProviderConfig.__dataclass_fields__)
"""``[provider]`` fields: a provider of that name would collide with its options table."""
ASSET_RESERVED = frozenset(AssetSpec.__dataclass_fields__) | frozenset(
    GenerationParams.__dataclass_fields__
)
"""Fields of an asset (and ``[defaults]``): a provider of that name would collide with its
per-asset options table."""
NAME_PATTERN = re.compile(r"[a-z][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class Registration:
    """One provider name and where its class comes from."""

    name: str
    target: str
    """``module:attribute`` of the class."""
    origin: str
    """``built in``, or the package that registered it (``assetgen-solid 0.1``)."""
    refused: str | None = None
    """Why this entry point is not used; ``None`` when it is."""


def builtin(name: str) -> Registration | None:
    target = BUILTINS.get(name)
    return Registration(name, target, "built in") if target else None


@cache
def registrations() -> tuple[Registration, ...]:
    """Every built-in and every entry point of the group, refused ones included.

    Cached: call :func:`forget` after installing a package in the same process.
    """
    from importlib.metadata import entry_points

    found: dict[str, list[Registration]] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(point, "dist", None)
        origin = f"{dist.name} {dist.version}" if dist is not None else "an unknown package"
        entry = Registration(point.name, point.value, origin)
        if entry not in found.setdefault(point.name, []):  # one package seen twice on the path
            found[point.name].append(entry)
    third_party = [
        entry if len(entries) == 1 else refuse(entry, clash(entries))
        for entries in found.values()
        for entry in entries
    ]
    listed = [Registration(name, target, "built in") for name, target in BUILTINS.items()]
    return (*listed, *(refuse(entry, name_problem(entry.name)) for entry in third_party))


def refuse(entry: Registration, reason: str | None) -> Registration:
    if reason is None or entry.refused is not None:
        return entry
    return Registration(entry.name, entry.target, entry.origin, refused=reason)


def clash(entries: list[Registration]) -> str:
    return "registered by several packages (" + ", ".join(sorted(e.origin for e in entries)) + ")"


def name_problem(name: str) -> str | None:
    """Why an entry point may not use ``name``; ``None`` when it may."""
    if name in BUILTINS:
        return f"{name!r} is a built-in provider's name"
    if name in RESERVED:
        return f"[provider.{name}] would collide with the [provider] field {name!r}"
    if name in ASSET_RESERVED:
        return f"[asset.{name}] would collide with the asset field {name!r}"
    if not NAME_PATTERN.fullmatch(name):
        return "a provider name is a bare lowercase TOML key (a-z, 0-9, - and _, at most 40)"
    return None


def forget() -> None:
    """Drop what was read and loaded (after a package was installed in this process)."""
    registrations.cache_clear()
    load.cache_clear()


def find(name: str) -> Registration | None:
    """The registration ``name`` refers to, refused or not; ``None``: nobody registered it."""
    found = builtin(name)
    if found is not None:
        return found
    return next((entry for entry in registrations() if entry.name == name), None)


def names() -> tuple[str, ...]:
    """Every usable provider name: the built-ins first, then the others sorted."""
    usable = [entry.name for entry in registrations() if entry.refused is None]
    return (*BUILTINS, *sorted(set(usable) - set(BUILTINS)))


def is_registered(name: str) -> bool:
    entry = find(name)
    return entry is not None and entry.refused is None


def unknown(name: str) -> tuple[str, str | None]:
    """``(message, hint)`` for a provider name that cannot be used."""
    entry = find(name)
    if entry is not None and entry.refused is not None:
        return (
            f"provider {name!r} ({entry.origin}) is refused: {entry.refused}",
            "the package must register another name",
        )
    known = names()
    return (
        f"unknown provider {name!r}; registered providers: {', '.join(known)}",
        did_you_mean(name, known),
    )


def key_revision(name: str) -> int:
    """The ``key_revision`` of provider ``name``; 0 for a name not registered here.

    A lock may name a provider that is not installed: its keys are then
    computed as revision 0 and match only what that provider locked at 0.
    """
    if name in BUILTIN_KEY_REVISIONS:
        return BUILTIN_KEY_REVISIONS[name]
    return load(name).key_revision if is_registered(name) else 0


@cache
def load(name: str) -> Any:
    """The class of registered provider ``name``, imported now and checked.

    Raises SpecError (field ``provider.name``) when ``name`` is not registered
    or its class cannot be imported or does not declare what a provider must.
    """
    entry = find(name)
    if entry is None or entry.refused is not None:
        message, hint = unknown(name)
        raise SpecError(message, field="provider.name", hint=hint)
    try:
        cls = import_target(entry.target)
    except Exception as exc:  # a package's own code: any failure means "cannot load"
        raise broken(entry, f"{type(exc).__name__}: {exc}") from exc
    problem = class_problem(cls, name)
    if problem is not None:
        raise broken(entry, problem)
    return cls


def import_target(target: str) -> Any:
    module, _, attribute = target.partition(":")
    found: Any = importlib.import_module(module.strip())
    for part in attribute.strip().split("."):
        found = getattr(found, part)
    return found


def class_problem(cls: Any, name: str) -> str | None:
    """What a provider class fails to declare; ``None`` when it declares it all."""
    if not isinstance(cls, type):
        return f"expected a class, got {type(cls).__name__}"
    if getattr(cls, "name", None) != name:
        return f"its class declares name = {getattr(cls, 'name', None)!r}, not {name!r}"
    revision = getattr(cls, "key_revision", None)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 0:
        return f"key_revision must be an integer >= 0, got {revision!r}"
    try:
        option_kinds(getattr(cls, "options_class", None))
    except TypeError as exc:
        return f"options_class: {exc}"
    per_asset = getattr(cls, "asset_options_class", None)
    try:
        if per_asset is not None:
            asset_option_kinds(per_asset)
    except TypeError as exc:
        return f"asset_options_class: {exc}"
    return None


def broken(entry: Registration, problem: str) -> SpecError:
    return SpecError(
        f"provider {entry.name!r} ({entry.origin}, {entry.target}) cannot be loaded: {problem}",
        field="provider.name",
        hint="reinstall or upgrade the package that provides it",
    )
