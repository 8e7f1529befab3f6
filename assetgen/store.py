"""The content-addressed store of originals and the local key cache.

* The **store** (``[build] store_dir``, committed by users) holds originals
  as ``<store_dir>/<sha[:2]>/<sha>.<ext>``: a file's name is its content
  hash, so it can be written once and never changes.
* The **key cache** (``.assetgen/cache/``, git-ignored) remembers every
  generation key ever paid for, with an independent copy of each original
  (``objects/<sha[:2]>/<sha>.<ext>``, never a hard link: a tool that edits a
  store file in place must not wreck the backup), so that reverting a prompt,
  an edited store file, or a ``gc`` of the store never costs an API call for a
  result already bought.

Key records are local files, but still untrusted: a record that is malformed
in any field, or that names a file other than the canonical store path of its
own content hash, is treated as absent.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Literal

from .filenames import ORIGINAL_EXTENSIONS
from .fsutil import atomic_copy, atomic_write_bytes, is_within
from .hashing import HashCache, sha256_bytes, sha256_file
from .keyrecords import KEY, SHA256, KeyRecord, LockOriginal
from .storage import OBJECT_SUFFIXES, LocalBackend, object_name

EXTENSIONS = ORIGINAL_EXTENSIONS

OriginalState = Literal["present", "missing", "altered"]


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
        self.cache = LocalBackend(self.cache_dir / "objects", self.cache_dir / "keys", hashes)
        """The local cache behind the storage seam (:mod:`assetgen.storage`)."""
        self.objects = LocalBackend(self.folder, None, hashes)
        """The store folder as a backend of originals (what ``gc`` scans)."""

    @property
    def folder(self) -> Path:
        """The store folder on disk."""
        return self.root / self.store_dir

    @property
    def objects_dir(self) -> Path:
        """The cache's independent copies of originals."""
        return self.cache_dir / "objects"

    @property
    def keys_dir(self) -> Path:
        """The cache's key records."""
        return self.cache_dir / "keys"

    def relative_path(self, sha256: str, fmt: str) -> str:
        return f"{self.store_dir}/{sha256[:2]}/{sha256}.{EXTENSIONS.get(fmt, fmt)}"

    def canonical(self, original: LockOriginal) -> bool:
        """Whether ``original.path`` is exactly its store path, inside the store folder."""
        suffix = Path(original.path).suffix
        if not SHA256.fullmatch(original.sha256) or suffix not in OBJECT_SUFFIXES:
            return False
        expected = PurePosixPath(self.store_dir, object_name(original.sha256, suffix))
        if PurePosixPath(original.path) != expected:  # equal up to "./" and doubled slashes
            return False
        return is_within(self.root / expected, self.folder)

    def put(self, data: bytes, fmt: str) -> LockOriginal:
        """Store an original (durably) and copy it into the cache."""
        digest = sha256_bytes(data)
        rel = self.relative_path(digest, fmt)
        path = self.root / rel
        if self.hashes.sha256_or_none(path) != digest:
            atomic_write_bytes(path, data)
            self.hashes.record(path, digest)
        self._copy_into_cache(path, data, digest)
        width, height = image_size(data)
        return LockOriginal(path=rel, sha256=digest, width=width, height=height)

    def _cache_object(self, digest: str, suffix: str) -> Path:
        return self.objects_dir / object_name(digest, suffix)

    def _copy_into_cache(self, path: Path, data: bytes, digest: str) -> None:
        target = self.cache.object_path(digest, path.suffix)
        if self.cache.intact(digest, path.suffix) and not _same_file(target, path):
            return
        # A hard link left by an older assetgen is replaced by a copy here.
        atomic_write_bytes(target, data)
        self.hashes.record(target, digest)

    def state(self, original: LockOriginal) -> OriginalState:
        """``present`` (right bytes), ``missing``, or ``altered`` (bytes no longer match)."""
        path = f"{self.root}{os.sep}{original.path}"  # a str, not a Path: one per asset
        if self.hashes.sha256_or_none(path) == original.sha256:
            return "present"
        return "altered" if os.path.exists(path) else "missing"

    def present(self, original: LockOriginal) -> bool:
        """Whether the store holds this original with the right content."""
        return self.state(original) == "present"

    def restore(self, original: LockOriginal) -> bool:
        """Put a missing or altered store object back from the cache; False if it cannot."""
        if self.present(original):
            return True
        if not self.canonical(original) or not self.in_cache(original):
            return False
        path = self.root / original.path
        atomic_copy(self._cache_object(original.sha256, path.suffix), path)
        digest = sha256_file(path)  # the cache copy may have changed since it was checked
        self.hashes.record(path, digest)
        return digest == original.sha256

    def loss(self, original: LockOriginal) -> str:
        """Why :meth:`restore` could not put ``original`` back (for the error message)."""
        if not self.canonical(original):
            return f"original {original.path} is not a store path of its content hash"
        if self.state(original) == "altered":
            return (
                f"original {original.path} was altered (its bytes no longer match its name) "
                "and the cache has no intact copy"
            )
        return f"original {original.path} is missing from the store and the cache"

    def in_cache(self, original: LockOriginal) -> bool:
        """Whether the cache holds an intact copy of this original."""
        cached = self._cache_object(original.sha256, Path(original.path).suffix)
        return self.hashes.sha256_or_none(cached) == original.sha256

    def record_path(self, key: str) -> Path:
        """Where the key cache files the record of ``key``."""
        digest = key.split(":", 1)[-1]
        return self.keys_dir / digest[:2] / f"{digest}.json"

    def remember(self, record: KeyRecord) -> None:
        """Remember a paid key durably (before anything else can fail)."""
        self.cache.put_record(record)

    def recall_file(self, path: Path) -> KeyRecord | None:
        """The key record stored at ``path``; None if unreadable, malformed or misplaced."""
        try:
            record = KeyRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, RecursionError):
            return None
        if self.record_path(record.key) != path:
            return None  # a record filed under another key's name
        candidates = tuple(self._rebased(c) for c in record.candidates)
        if not all(self.canonical(c) for c in candidates):
            return None
        return replace(record, candidates=candidates)

    def _rebased(self, original: LockOriginal) -> LockOriginal:
        """The candidate at its path in the current store folder (``store_dir`` may have moved).

        Only the record's content hash and suffix are used: the path on disk is
        always derived from them, never taken from the record.
        """
        suffix = Path(original.path).suffix
        tail = "/" + object_name(original.sha256, suffix)
        if not original.path.endswith(tail) and original.path != tail[1:]:
            return original  # not a store path at all: canonical() refuses it
        return LockOriginal(
            f"{self.store_dir.rstrip('/')}{tail}", original.sha256, original.width, original.height
        )

    def recall(self, key: str) -> KeyRecord | None:
        """The cached record of ``key`` whose originals can be had, or None."""
        if not KEY.fullmatch(key):
            return None
        record = self.recall_file(self.record_path(key))
        if record is None:
            return None
        if all(self.present(c) or self.in_cache(c) for c in record.candidates):
            return record
        return None

    def recorded_keys(self) -> list[Path]:
        return sorted(self.keys_dir.glob("*/*.json"))


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
