"""Key records: what one generation produced, the value every tier shares.

A :class:`KeyRecord` is the one type for "what a generation key resolved
to" (provider, model, candidate originals, the selected one, usage, cost):
the key caches (local and remote) keep it as JSON, and a lock entry holds it
as :attr:`~assetgen.lockfile.LockEntry.generation`, next to what only the
lock knows (prompt, params, inputs, variants, C2PA). Moving a generation
between the lock and a cache is taking or putting that one value, so no
field is copied by hand (and none can be forgotten) on the way.

It lives here, below :mod:`assetgen.lockfile`, with :class:`LockOriginal`
(a candidate): the lock imports both, and the storage backends need neither
the lock's reader nor its TOML writer.

A record is written as JSON next to the originals it names; every reader
treats it as untrusted (:meth:`KeyRecord.from_json` checks every field).
``version`` is the record format: a reader refuses a record newer than it
knows, so an older assetgen never misreads a newer record.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

SHA256 = re.compile(r"[0-9a-f]{64}")
KEY = re.compile(r"sha256:[0-9a-f]{64}")
MAX_SIDE = 100_000
"""Largest width or height a record may claim (anything bigger is a corrupt record)."""
RECORD_VERSION = 1
"""The key record format this assetgen writes and the newest it reads."""


@dataclass(frozen=True)
class LockOriginal:
    """A generated original in the store."""

    path: str
    """Project-relative path in the store."""
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class KeyRecord:
    """What one generation key resolved to: in the key caches and in a lock entry."""

    key: str
    provider: str
    model: str
    candidates: tuple[LockOriginal, ...]
    usage: dict[str, int] | None
    cost_usd: float
    generated_at: str
    selected: int = 0
    """The candidate the designer picked for this generation (``assetgen pick``): it
    belongs with the key, so reverting a prompt or renaming an asset restores it.
    In a lock entry, the candidate the asset uses."""
    version: int = RECORD_VERSION
    """The record format (records written before it existed are version 1). The lock
    does not write it (the lock has its own format version): a generation read from
    the lock is of today's format."""

    @property
    def original(self) -> LockOriginal:
        """The selected candidate."""
        return self.candidates[self.selected]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidates"] = [asdict(c) for c in self.candidates]
        return data

    @classmethod
    def from_json(cls, data: object) -> KeyRecord:
        """Parse a record, checking every field; raises ValueError when malformed."""
        if not isinstance(data, dict):
            raise ValueError("a key record is a JSON object")
        candidates = data.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            raise ValueError("candidates: a non-empty list")
        return cls(
            key=_text(data, "key", KEY),
            provider=_text(data, "provider"),
            model=_text(data, "model"),
            candidates=tuple(_original(item) for item in candidates),
            usage=_usage(data.get("usage")),
            cost_usd=_cost(data.get("cost_usd", 0.0)),
            generated_at=_text(data, "generated_at", default=""),
            selected=_count(data.get("selected", 0), "selected", high=len(candidates) - 1),
            version=_count(data.get("version", 1), "version", low=1, high=RECORD_VERSION),
        )


def _text(
    data: dict[str, Any],
    name: str,
    pattern: re.Pattern[str] | None = None,
    default: str | None = None,
) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        raise ValueError(f"{name}: not a valid string")
    return value


def _count(value: object, name: str, *, low: int = 0, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name}: not an integer of at least {low}")
    if high is not None and value > high:
        raise ValueError(f"{name}: over {high}")
    return value


def _original(item: object) -> LockOriginal:
    if not isinstance(item, dict) or set(item) != {"path", "sha256", "width", "height"}:
        raise ValueError("candidate: expected path, sha256, width and height")
    return LockOriginal(
        path=_text(item, "path"),
        sha256=_text(item, "sha256", SHA256),
        width=_count(item["width"], "width", low=1, high=MAX_SIDE),
        height=_count(item["height"], "height", low=1, high=MAX_SIDE),
    )


def _usage(value: object) -> dict[str, int] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise ValueError("usage: a table of token counts")
    return {k: _count(v, f"usage.{k}") for k, v in value.items()}


def _cost(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("cost_usd: not a number")
    if not math.isfinite(value) or value < 0:
        raise ValueError("cost_usd: not a finite amount of at least 0")
    return float(value)
