"""Variant file names and formats: checks light enough for spec validation.

Spec validation (layer 1) uses these without importing Pillow's encoders;
:mod:`assetgen.variants` renders with them.
"""

from __future__ import annotations

import difflib
import re
import string
from pathlib import PureWindowsPath
from types import ModuleType

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp", "avif": "avif"}
ORIGINAL_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
"""Extensions of the originals a provider returns (store and cache objects)."""
PLACEHOLDERS = ("name", "width", "height", "ext", "hash8")


def check_filename_pattern(pattern: str) -> str | None:
    """``None`` if ``pattern`` is a usable variant filename, else what is wrong."""
    try:
        parsed = [
            (name, spec, conversion)
            for _, name, spec, conversion in string.Formatter().parse(pattern)
            if name is not None
        ]
    except ValueError as exc:
        return f"filename pattern {pattern!r} is malformed: {exc}"
    fields = [name for name, _, _ in parsed]
    problems = [_unknown_placeholder(name) for name in fields if name not in PLACEHOLDERS]
    problems.extend(_spec_problem(name, spec, conversion) for name, spec, conversion in parsed)
    if "name" not in fields:
        problems.append("must contain {name}")
    problems.append(_path_problem(pattern) or "")
    if not any(problems):
        problems.append(_format_problem(pattern))
    problems = [problem for problem in problems if problem]
    return f"filename pattern {pattern!r}: " + "; ".join(problems) if problems else None


def _spec_problem(name: str, spec: str | None, conversion: str | None) -> str:
    """Placeholders are plain ``{name}``: a width or conversion is user-sized formatting."""
    if spec or conversion:
        extra = f"!{conversion}" if conversion else ""
        extra += f":{spec}" if spec else ""
        plain = f"write plain {{{name}}}"
        return f"{{{name}{extra}}} cannot be filled in: no format specs or conversions, {plain}"
    return ""


def _unknown_placeholder(name: str) -> str:
    allowed = ", ".join("{" + known + "}" for known in PLACEHOLDERS)
    close = difflib.get_close_matches(name, PLACEHOLDERS, n=1)
    hint = f"did you mean {{{close[0]}}}? " if close else ""
    return f"unknown placeholder {{{name}}} ({hint}allowed: {allowed})"


def _format_problem(pattern: str) -> str:
    sample = {"name": "a", "width": 1, "height": 1, "ext": "png", "hash8": "0" * 8}
    try:
        pattern.format(**sample)
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        return f"cannot be filled in: {exc}"
    return ""


def _path_problem(pattern: str) -> str | None:
    if pattern.startswith(("/", "\\")) or PureWindowsPath(pattern).drive:
        return "must be relative to out_dir, not absolute"
    if ".." in re.split(r"[/\\]", pattern):
        return "must not contain '..'"
    if pattern.endswith(("/", "\\")):
        return "must name a file, not a folder"
    return None


def format_supported(fmt: str) -> bool:
    """Whether this Pillow can write variants in ``fmt`` (a spec format name)."""
    if fmt in ("png", "jpeg"):
        return True
    if fmt == "webp":
        return bool(_features().check_module("webp"))
    return fmt == "avif" and _avif_available()


def _avif_available() -> bool:
    if "avif" in _features().modules:  # Pillow >= 11.2
        return bool(_features().check_module("avif"))
    try:
        import pillow_avif  # type: ignore[import-not-found]  # noqa: F401  (older Pillow: the plugin registers AVIF)
    except ImportError:
        return False
    return True


def _features() -> ModuleType:
    from PIL import features

    return features
