"""Resolving untrusted paths and checking that they stay where they belong.

Every path that comes from a spec, a lock, a journal or a cache is untrusted.
These helpers resolve it (symlinks followed, dangling ones too) and say
whether it stays inside a folder, so callers compare real locations, never
spellings: ``outlink/x`` where ``outlink -> /elsewhere`` is ``/elsewhere/x``.

This module imports nothing from the package, so every layer can use it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

MAX_NAME_BYTES = 255
"""Longest file or folder name most filesystems accept (``NAME_MAX``)."""
MAX_PATH_BYTES = 1024
"""Longest path a spec may write (macOS's ``PATH_MAX``; Linux allows 4096)."""

_SEPARATORS = re.compile(r"[/\\]")


class UnresolvablePath(ValueError):
    """A path that cannot be resolved: a symlink loop, a NUL byte, a name too long."""


def path_text_problem(value: str) -> str | None:
    """Why the text ``value`` cannot name a file on the systems we support, or ``None``."""
    if "\0" in value:
        return "contains a NUL character"
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    for part in _SEPARATORS.split(value):
        if len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            return f"has a file name longer than {MAX_NAME_BYTES} bytes ({part[:16]}...)"
    return None


def real_path(path: Path) -> Path:
    """``path`` absolute, with every symlink followed (raises :class:`UnresolvablePath`)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError, ValueError) as exc:
        raise UnresolvablePath(f"cannot be resolved: {exc}") from exc


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or inside it (both already resolved)."""
    return path == folder or folder in path.parents


def overlap(a: Path, b: Path) -> bool:
    """Whether one of two resolved paths is, or is inside, the other."""
    return is_within(a, b) or is_within(b, a)


def resolve_inside(root: Path, relative: str | Path) -> Path | None:
    """``root / relative`` resolved (symlinks followed), or ``None`` if it leaves ``root``.

    A path that cannot be resolved at all (a loop, a NUL byte) is ``None`` too.
    """
    try:
        base = real_path(root)
        target = real_path(base / relative)
    except UnresolvablePath:
        return None
    return target if is_within(target, base) else None


def file_kind_problem(path: Path) -> str | None:
    """Why ``path`` (resolved) is not a regular file to read, or ``None`` if it is.

    Checked before opening: a FIFO or a device would block or never end.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as exc:
        return f"cannot be read: {exc.strerror}"
    if stat.S_ISDIR(mode):
        return "is a folder, not an image file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a device, pipe or socket)"
    return None


def blocking_file(path: Path, root: Path, *, include_self: bool) -> Path | None:
    """The first existing non-folder between ``root`` and ``path`` (resolved), if any.

    Creating ``path`` (or, with ``include_self``, using it as a folder) would fail there.
    """
    candidates = [path] if include_self else []
    candidates += [p for p in path.parents if is_within(p, root) and p != root]
    for candidate in reversed(candidates):
        try:
            if candidate.exists() and not candidate.is_dir():
                return candidate
        except OSError:
            return candidate
    return None
