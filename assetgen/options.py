"""A provider's own options: a ``[provider.<name>]`` table read into its frozen dataclass.

The dataclass is the schema. Each field's annotation says what TOML value it
takes: ``str``, ``int``, ``float`` (an integer is accepted), ``bool``, a
``Literal`` of allowed strings or integers, ``tuple[X, ...]`` of those (a TOML
array), each optionally ``| None``. A field without a default is required.
``__post_init__`` may raise ``ValueError`` for what the types cannot say (a
range); its message is reported against the table. Unknown keys (with a "did
you mean"), wrong types and missing fields are all reported at once, each
with its dotted field, like every other spec problem.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from .checks import is_bool, is_int, is_number, is_str
from .errors import SpecError
from .validation import did_you_mean, shown

SCALARS: dict[Any, tuple[Callable[[Any], bool], str]] = {
    str: (is_str, "a string"),
    int: (is_int, "an integer"),
    float: (is_number, "a number"),
    bool: (is_bool, "true or false"),
}


@dataclass(frozen=True)
class NoOptions:
    """The options of a provider that takes none: its ``[provider.<name>]`` must be empty.

    (Defined here, below the providers, so the parsed-state cache can name it without
    importing any provider code; :mod:`assetgen.providers.base` exports it too.)
    """


def as_is(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class OptionKind:
    """What one options field accepts, in words for messages."""

    check: Callable[[Any], bool]
    expected: str
    convert: Callable[[Any], Any] = as_is
    """TOML value to field value: an array to a tuple, an integer to a float."""


def option_kinds(cls: Any) -> dict[str, OptionKind]:
    """The fields of an options dataclass and what each accepts.

    Raises TypeError for a class that is not a frozen dataclass or a field
    whose type TOML cannot carry: a provider's own bug, found when it loads.
    """
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        raise TypeError(f"expected a frozen dataclass, got {cls!r}")
    if not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__} must be a frozen dataclass (@dataclass(frozen=True))")
    try:
        hints = typing.get_type_hints(cls)
    except Exception as exc:  # an annotation naming what its module does not define
        raise TypeError(f"cannot resolve the annotations of {cls.__name__}: {exc}") from exc
    return {f.name: kind_of(hints[f.name], f.name) for f in dataclasses.fields(cls) if f.init}


def kind_of(hint: Any, name: str) -> OptionKind:
    args = typing.get_args(hint)
    origin = typing.get_origin(hint)
    others = [arg for arg in args if arg is not type(None)]
    if origin in (Union, types.UnionType) and len(others) == 1 < len(args):
        return kind_of(others[0], name)  # X | None: TOML has no null, so None is a default
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = kind_of(args[0], name)
        if not item.expected.startswith("an array"):
            return OptionKind(
                lambda v: isinstance(v, list) and all(item.check(x) for x in v),
                f"an array, each {item.expected}",
                lambda v: tuple(item.convert(x) for x in v),
            )
    if origin is Literal and all(is_str(a) or is_int(a) for a in args):
        allowed = "one of: " + ", ".join(str(a) for a in args)
        return OptionKind(lambda v: any(v == a and type(v) is type(a) for a in args), allowed)
    if hint in SCALARS:
        check, expected = SCALARS[hint]
        return OptionKind(check, expected, float if hint is float else as_is)
    raise TypeError(f"field {name!r} has type {hint!r}, which a TOML table cannot carry")


def asset_option_kinds(cls: Any) -> dict[str, OptionKind]:
    """:func:`option_kinds` of an ``asset_options_class``, which has two more rules.

    Every field has a default (an asset that sets nothing gets it; a field at its
    default stays out of the key), and none is an array (the lock's ``params``
    table holds single values). Raises TypeError like :func:`option_kinds`.
    """
    kinds = option_kinds(cls)
    for name, kind in kinds.items():
        if is_required(cls, name):
            raise TypeError(f"field {name!r} needs a default (per-asset options are optional)")
        if kind.expected.startswith("an array"):
            raise TypeError(f"field {name!r} is an array; per-asset options are single values")
    try:
        cls()
    except ValueError as exc:
        raise TypeError(f"its defaults fail its own check: {exc}") from exc
    return kinds


def read_options(
    cls: Any,
    table: Mapping[str, Any],
    prefix: str,
    *,
    file: str | None = None,
    asset: str | None = None,
) -> tuple[Any, list[SpecError]]:
    """``(instance of cls, [])``, or ``(None, problems)``; ``prefix`` like ``provider.solid.``.

    ``asset``: the asset whose table it is (per-asset options), for messages.
    """
    kinds = option_kinds(cls)
    problems: list[SpecError] = []

    def problem(message: str, field: str, hint: str | None = None) -> None:
        problems.append(SpecError(message, file=file, asset=asset, field=field, hint=hint))

    for key in table:
        if key not in kinds:
            hint = did_you_mean(key, list(kinds)) or f"expected one of: {', '.join(kinds) or '-'}"
            problem("unknown key", f"{prefix}{key}", hint)
    values = {}
    for name, kind in kinds.items():
        if name in table and kind.check(table[name]):
            values[name] = kind.convert(table[name])
        elif name in table:
            got = f"{type(table[name]).__name__} {shown(table[name])}"
            problem(f"expected {kind.expected}, got {got}", f"{prefix}{name}")
        elif is_required(cls, name):
            problem("missing: this provider needs it", f"{prefix}{name}")
    if problems:
        return None, problems
    try:
        return cls(**values), []
    except ValueError as exc:  # the dataclass's own __post_init__ check
        problem(str(exc), prefix.rstrip("."))
        return None, problems


def is_required(cls: Any, name: str) -> bool:
    field = cls.__dataclass_fields__[name]
    return field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
