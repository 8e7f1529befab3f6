"""The content-addressed store of originals and the local key cache.

* The **store** (``[build] store_dir``, committed by users) holds originals
  as ``<store_dir>/<sha[:2]>/<sha>.<ext>``: a file's name is its content
  hash, so it can be written once and never changes.
* The **key cache** (``.assetgen/cache/``, git-ignored) remembers every
  generation key ever paid for, with a second link to each original, so that
  reverting a prompt, or a ``gc`` of the store, never costs an API call for a
  result already bought.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .fsutil import atomic_write_bytes, atomic_write_text
from .hashing import HashCache, sha256_bytes
from .lockfile import LockOriginal

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}


@dataclass(frozen=True)
class KeyRecord:
    """What the key cache knows about one generation key."""

    key: str
    provider: str
    model: str
    candidates: tuple[LockOriginal, ...]
    usage: dict[str, int] | None
    cost_usd: float
    generated_at: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidates"] = [asdict(c) for c in self.candidates]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyRecord:
        return cls(
            key=data["key"],
            provider=data["provider"],
            model=data["model"],
            candidates=tuple(LockOriginal(**c) for c in data["candidates"]),
            usage=data.get("usage"),
            cost_usd=float(data.get("cost_usd", 0.0)),
            generated_at=data.get("generated_at", ""),
        )


def image_size(data: bytes) -> tuple[int, int]:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


class Store:
    """Originals on disk, addressed by content; keys remembered locally."""

    def __init__(self, root: Path, store_dir: str, state_dir: Path, hashes: HashCache) -> None:
        self.root = root
        self.store_dir = store_dir
        self.cache_dir = state_dir / "cache"
        self.hashes = hashes

    def relative_path(self, sha256: str, fmt: str) -> str:
        return f"{self.store_dir}/{sha256[:2]}/{sha256}.{EXTENSIONS.get(fmt, fmt)}"

    def put(self, data: bytes, fmt: str) -> LockOriginal:
        """Store an original (durably) and link it into the cache."""
        digest = sha256_bytes(data)
        rel = self.relative_path(digest, fmt)
        path = self.root / rel
        if self.hashes.sha256_or_none(path) != digest:
            atomic_write_bytes(path, data)
            self.hashes.record(path, digest)
        self._link_into_cache(path, digest, Path(rel).suffix)
        width, height = image_size(data)
        return LockOriginal(path=rel, sha256=digest, width=width, height=height)

    def _cache_object(self, digest: str, suffix: str) -> Path:
        return self.cache_dir / "objects" / digest[:2] / f"{digest}{suffix}"

    def _link_into_cache(self, path: Path, digest: str, suffix: str) -> None:
        target = self._cache_object(digest, suffix)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(target.name + ".tmp")
        try:
            os.link(path, temp)
        except OSError:
            shutil.copyfile(path, temp)
        os.replace(temp, target)

    def present(self, original: LockOriginal) -> bool:
        """Whether the store holds this original with the right content."""
        return self.hashes.sha256_or_none(self.root / original.path) == original.sha256

    def restore(self, original: LockOriginal) -> bool:
        """Put a missing store object back from the cache; False if the cache lacks it."""
        if self.present(original):
            return True
        cached = self._cache_object(original.sha256, Path(original.path).suffix)
        if self.hashes.sha256_or_none(cached) != original.sha256:
            return False
        path = self.root / original.path
        atomic_write_bytes(path, cached.read_bytes())
        self.hashes.record(path, original.sha256)
        return True

    def in_cache(self, original: LockOriginal) -> bool:
        cached = self._cache_object(original.sha256, Path(original.path).suffix)
        return cached.exists()

    def _record_path(self, key: str) -> Path:
        digest = key.split(":", 1)[-1]
        return self.cache_dir / "keys" / digest[:2] / f"{digest}.json"

    def remember(self, record: KeyRecord) -> None:
        """Remember a paid key durably (before anything else can fail)."""
        atomic_write_text(self._record_path(record.key), json.dumps(record.to_json(), indent=1))

    def recall_file(self, path: Path) -> KeyRecord | None:
        """The key record stored at ``path``; None if unreadable."""
        try:
            return KeyRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def recall(self, key: str) -> KeyRecord | None:
        """The cached record of ``key`` whose originals can be had, or None."""
        record = self.recall_file(self._record_path(key))
        if record is None:
            return None
        if all(self.present(c) or self.in_cache(c) for c in record.candidates):
            return record
        return None

    def recorded_keys(self) -> list[Path]:
        return sorted((self.cache_dir / "keys").glob("*/*.json"))
