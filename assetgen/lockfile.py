"""``assetgen.lock``: what every asset's key resolved to, in stable TOML.

One table per concrete asset, keys sorted, floats rounded: the same state
always gives the same bytes, and a merge conflict between branches stays
local to the assets both changed.

Durability without quadratic rewrites: each finished asset is appended as
one JSON line to a journal under ``.assetgen/`` and fsynced (cheap, O(1) per
asset). The journal is folded into the lock at the end of a build and on the
next start after a crash. A torn last line (a crash mid-append) is ignored:
every complete line is an asset that is fully on disk.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import LockfileError
from .fsutil import atomic_write_text

LOCK_VERSION = 1
HEADER = "# assetgen.lock: written by `assetgen build`; do not edit by hand.\n"


@dataclass(frozen=True)
class LockOriginal:
    """A generated original in the store."""

    path: str
    """Project-relative path in the store."""
    sha256: str
    width: int
    height: int


@dataclass(frozen=True)
class LockVariant:
    """A variant file written to the output folder."""

    path: str
    key: str
    sha256: str
    width: int
    height: int
    bytes: int
    format: str
    encoder: str = ""
    """Encoder that wrote it (information only: never part of a key)."""


@dataclass(frozen=True)
class LockInput:
    role: str
    path: str
    sha256: str


@dataclass(frozen=True)
class LockEntry:
    """Everything recorded about one concrete asset."""

    key: str
    provider: str
    model: str
    prompt: str
    params: dict[str, Any]
    inputs: tuple[LockInput, ...]
    candidates: tuple[LockOriginal, ...]
    """Every original the generation returned; ``selected`` is the one used."""
    selected: int = 0
    usage: dict[str, int] | None = None
    cost_usd: float = 0.0
    generated_at: str = ""
    variants: tuple[LockVariant, ...] = ()

    @property
    def original(self) -> LockOriginal:
        return self.candidates[self.selected]

    def to_toml(self) -> dict[str, Any]:
        # A fixed, reading order (not alphabetical): what changed first, then results.
        data: dict[str, Any] = {
            "key": self.key,
            "provider": self.provider,
            "model": self.model,
            "prompt": self.prompt,
            "params": dict(sorted(self.params.items())),
            "inputs": [asdict(item) for item in self.inputs],
            "original": asdict(self.original),
        }
        if len(self.candidates) > 1:
            data["selected"] = self.selected
            data["candidates"] = [asdict(item) for item in self.candidates]
        if self.usage:
            data["usage"] = dict(sorted(self.usage.items()))
        data["cost_usd"] = round(self.cost_usd, 6)
        data["generated_at"] = self.generated_at
        data["variants"] = [asdict(item) for item in sorted(self.variants, key=lambda v: v.path)]
        return data

    @classmethod
    def from_toml(cls, data: dict[str, Any]) -> LockEntry:
        """Build an entry from its TOML table; raises KeyError/TypeError when malformed."""
        candidates = data.get("candidates") or [data["original"]]
        return cls(
            key=str(data["key"]),
            provider=str(data["provider"]),
            model=str(data["model"]),
            prompt=str(data["prompt"]),
            params=dict(data.get("params", {})),
            inputs=tuple(LockInput(**item) for item in data.get("inputs", [])),
            candidates=tuple(LockOriginal(**item) for item in candidates),
            selected=int(data.get("selected", 0)),
            usage=dict(data["usage"]) if data.get("usage") else None,
            cost_usd=float(data.get("cost_usd", 0.0)),
            generated_at=str(data.get("generated_at", "")),
            variants=tuple(LockVariant(**item) for item in data.get("variants", [])),
        )

    def with_variants(self, variants: tuple[LockVariant, ...]) -> LockEntry:
        return replace(self, variants=variants)


@dataclass
class Lockfile:
    """The lock's assets by name."""

    assets: dict[str, LockEntry] = field(default_factory=dict)

    def dumps(self) -> str:
        import tomli_w

        body = {
            "version": LOCK_VERSION,
            "assets": {name: self.assets[name].to_toml() for name in sorted(self.assets)},
        }
        return HEADER + tomli_w.dumps(body, multiline_strings=False)


def parse_lock(text: str, *, file: str) -> Lockfile:
    fix = "fix it, or delete it and run `assetgen build` (cached originals are reused)"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(f"not valid TOML: {exc}", file=file, hint=fix) from exc
    version = data.get("version")
    if version != LOCK_VERSION:
        raise LockfileError(
            f"lock format version {version!r} is not supported (expected {LOCK_VERSION})",
            file=file,
            hint="upgrade assetgen" if isinstance(version, int) and version > 1 else fix,
        )
    assets: dict[str, LockEntry] = {}
    for name, table in data.get("assets", {}).items():
        try:
            assets[name] = LockEntry.from_toml(table)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise LockfileError(
                f"entry for asset {name!r} is malformed ({exc!r})", file=file, hint=fix
            ) from exc
    return Lockfile(assets)


class LockStore:
    """The lockfile on disk plus its journal: read, record, fold."""

    def __init__(self, path: Path, journal: Path) -> None:
        self.path = path
        self.journal = journal
        self._journal_handle: Any = None

    def read_committed(self) -> Lockfile:
        """The lock file alone, without the journal."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return Lockfile()
        return parse_lock(text, file=self.path.name)

    def load(self) -> Lockfile:
        """The lock with any journal of an interrupted build applied (not written)."""
        lock = self.read_committed()
        for record in self._journal_records():
            if "entry" in record:
                lock.assets[record["name"]] = LockEntry.from_toml(record["entry"])
            else:
                lock.assets.pop(record["name"], None)
        return lock

    def recover(self) -> Lockfile:
        """Fold a leftover journal into the lock file; return the lock."""
        lock = self.load()
        if self.journal.exists():
            self.write(lock)
        return lock

    def _journal_records(self) -> list[dict[str, Any]]:
        try:
            lines = self.journal.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                break  # a torn last line: the crash happened mid-append
            if isinstance(record, dict) and isinstance(record.get("name"), str):
                records.append(record)
        return records

    def record(self, name: str, entry: LockEntry | None) -> None:
        """Make one asset's new state durable now (``None`` removes it)."""
        payload: dict[str, Any] = {"name": name}
        if entry is not None:
            payload["entry"] = entry.to_toml()
        if self._journal_handle is None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self._journal_handle = self.journal.open("a", encoding="utf-8")
        self._journal_handle.write(json.dumps(payload, sort_keys=True) + "\n")
        self._journal_handle.flush()
        os.fsync(self._journal_handle.fileno())

    def write(self, lock: Lockfile) -> bool:
        """Write the lock if its bytes change; then drop the journal. Returns changed."""
        text = lock.dumps()
        try:
            changed = self.path.read_text(encoding="utf-8") != text
        except FileNotFoundError:
            changed = True
        if changed:
            atomic_write_text(self.path, text)
        self.close()
        self.journal.unlink(missing_ok=True)
        return changed

    def close(self) -> None:
        if self._journal_handle is not None:
            self._journal_handle.close()
            self._journal_handle = None
