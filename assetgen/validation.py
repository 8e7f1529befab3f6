"""A toolkit for validating parsed TOML tables and collecting every problem.

:class:`TableReader` reads values out of plain dicts with their expected
type, allowed values or path rules, and records a
:class:`~assetgen.errors.SpecError` (file, asset, field, what was expected,
a "did you mean") for each problem instead of stopping at the first, so a
user sees every mistake of a spec in one run.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from .checks import COLOUR_PATTERN, is_str
from .errors import SpecError
from .paths import path_text_problem
from .spec_types import MAX_NESTING


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


INT64 = range(-(2**63), 2**63)
"""TOML integers are 64-bit: a parser must refuse anything else (TOML 1.0, "Integer")."""
SHOWN_CHARS = 60
"""Longest value a message quotes before cutting it short."""


def shown(value: Any) -> str:
    """``repr(value)``, cut short: a message never carries a megabyte of spec."""
    if isinstance(value, str) and len(value) > SHOWN_CHARS:
        return repr(value[:SHOWN_CHARS]) + f"... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def structure_problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``(field, message)`` for nesting deeper than MAX_NESTING and non-64-bit integers.

    Iterative, so a hostile file cannot exhaust the stack of whatever reads it next.
    """
    problems: list[tuple[str, str]] = []
    stack: list[tuple[str, Any, int]] = [("", data, 0)]
    while stack:
        where, value, depth = stack.pop()
        if depth > MAX_NESTING:
            problems.append((where, f"nested more than {MAX_NESTING} levels deep"))
            continue
        if isinstance(value, dict):
            stack.extend((f"{where}.{k}" if where else k, v, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", v, depth + 1) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and value not in INT64:
            problems.append((where, "integer out of range (TOML integers are 64-bit)"))
    return problems


def check_project_path(value: str) -> str | None:
    """Why ``value`` may not name a path inside the project, or ``None`` if it may."""
    reason = path_text_problem(value)
    if reason:
        return reason
    posix = PurePosixPath(value.replace("\\", "/"))
    if posix.is_absolute() or re.match(r"^[A-Za-z]:", value):
        return "must be a path relative to the project folder, not an absolute path"
    if ".." in posix.parts:
        return "must stay inside the project folder ('..' is not allowed)"
    if not value.strip():
        return "must not be empty"
    return None


LIST_FORMS = ("width", "height", "format")
"""Variant fields with a list form (``widths``, ``heights``, ``formats``) in variant sets."""


class TableReader:
    """Reads values from tables of one file, collecting problems."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self.problems: list[SpecError] = []

    # -- reporting --------------------------------------------------------

    def problem(
        self, message: str, *, field: str, asset: str | None = None, hint: str | None = None
    ) -> None:
        self.problems.append(
            SpecError(message, file=self.path.name, asset=asset, field=field, hint=hint)
        )

    def unknown_keys(
        self, table: dict[str, Any], allowed: tuple[str, ...], prefix: str, asset: str | None = None
    ) -> None:
        for key in table:
            if key not in allowed:
                self.problem(
                    "unknown key",
                    field=f"{prefix}{key}",
                    asset=asset,
                    hint=did_you_mean(key, allowed) or f"expected one of: {', '.join(allowed)}",
                )

    def typed(
        self,
        table: dict[str, Any],
        key: str,
        check: Callable[[Any], bool],
        expected: str,
        *,
        prefix: str,
        asset: str | None = None,
    ) -> Any:
        """``table[key]`` if present and of the right type; else report and return None."""
        if key not in table:
            return None
        value = table[key]
        if check(value):
            return value
        plural = f"{key}s" if isinstance(value, list) and key in LIST_FORMS else None
        self.problem(
            f"expected {expected}, got {type(value).__name__} {shown(value)}",
            field=f"{prefix}{key}",
            asset=asset,
            hint=f"did you mean '{plural}'?" if plural else None,
        )
        return None

    def choice(
        self,
        table: dict[str, Any],
        key: str,
        allowed: tuple[str, ...],
        *,
        prefix: str,
        asset: str | None = None,
    ) -> str | None:
        value: str | None = self.typed(table, key, is_str, "a string", prefix=prefix, asset=asset)
        if value is None or value in allowed:
            return value
        self.problem(
            f"unknown value {shown(value)}; expected one of: {', '.join(allowed)}",
            field=f"{prefix}{key}",
            asset=asset,
            hint=did_you_mean(value, allowed),
        )
        return None

    def project_path(
        self, table: dict[str, Any], key: str, *, prefix: str, asset: str | None = None
    ) -> str | None:
        value: str | None = self.typed(table, key, is_str, "a string", prefix=prefix, asset=asset)
        if value is None:
            return None
        reason = check_project_path(value)
        if reason:
            self.problem(f"{shown(value)} {reason}", field=f"{prefix}{key}", asset=asset)
            return None
        return value

    def table(self, key: str) -> dict[str, Any]:
        value = self.data.get(key, {})
        if isinstance(value, dict):
            return value
        self.problem(f"expected a table [{key}], got {type(value).__name__}", field=key)
        return {}

    def colour(
        self, table: dict[str, Any], key: str, prefix: str, asset: str | None = None
    ) -> str | None:
        value: str | None = self.typed(
            table, key, is_str, "a colour string", prefix=prefix, asset=asset
        )
        if value is None or COLOUR_PATTERN.match(value):
            return value
        self.problem(
            f"expected a colour like '#ffffff' or '#00000000', got {shown(value)}",
            field=f"{prefix}{key}",
            asset=asset,
        )
        return None
