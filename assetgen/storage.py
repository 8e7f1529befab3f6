"""The storage seam: where originals (by sha256) and key records (by key) live.

A :class:`Backend` keeps two kinds of immutable objects:

* **originals**, named by their content hash: ``objects/<sha[:2]>/<sha>.<ext>``;
* **key records** (:class:`~assetgen.keyrecords.KeyRecord`), named by their
  generation key: ``keys/<sha[:2]>/<sha>.json``.

Every backend keeps the same promises, checked by one test body
(``tests/storage_contract.py``) that each implementation passes:

* ``put_*`` is idempotent and never makes a partial object visible (a temporary
  name, then an atomic commit: a rename, or one PUT for object stores);
* ``get_object`` writes into a local path atomically and only bytes whose
  sha256 is the object's name: a mismatch raises :class:`DamagedObject` and
  leaves the destination untouched;
* a malformed or misfiled record reads as absent;
* ``objects()`` lists only what the backend recognises as its own (names it
  writes, regular files): ``gc`` deletes nothing else.

:class:`LocalBackend` is the local cache (``.assetgen/cache/``) and, records
aside, the store folder. :mod:`assetgen.remote_storage` holds the fsspec one.
"""

from __future__ import annotations

import json
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .filenames import ORIGINAL_EXTENSIONS
from .fsutil import TEMP_PATTERN, atomic_copy, atomic_write_bytes, atomic_write_text
from .hashing import HashCache, sha256_bytes, sha256_file
from .keyrecords import KEY, SHA256, KeyRecord

OBJECT_SUFFIXES = frozenset(f".{ext}" for ext in ORIGINAL_EXTENSIONS.values())
"""The file suffixes of originals (what a backend recognises as its objects)."""
MAX_OBJECT_BYTES = 256 * 1024 * 1024
"""Largest original a backend reads back (anything bigger is not one of ours)."""
MAX_RECORD_BYTES = 1024 * 1024
"""Largest key record a backend reads back."""
PREFIX = re.compile(r"[0-9a-f]{2}")
OBJECT = re.compile(r"(?P<sha>[0-9a-f]{64})(?P<suffix>\.[a-z]+)")
RECORD = re.compile(r"(?P<sha>[0-9a-f]{64})\.json")


class DamagedObject(Exception):
    """A backend's object whose bytes do not hash to its name (truncated, altered)."""

    def __init__(self, backend: str, name: str) -> None:
        super().__init__(f"{backend}: {name} is damaged (its bytes do not match its name)")
        self.name = name


class BackendUnavailable(Exception):
    """A backend that cannot be reached or refuses us (down, unauthorised, timed out)."""


@dataclass(frozen=True)
class StoredObject:
    """One object a backend recognises as its own."""

    name: str
    """``<sha[:2]>/<sha><suffix>`` (objects) or ``<sha[:2]>/<sha>.json`` (records)."""
    sha256: str
    """The digest the name claims (a record's: its key's)."""


def object_name(sha256: str, suffix: str) -> str:
    """``<sha[:2]>/<sha><suffix>``: where an object lives inside a backend."""
    return f"{sha256[:2]}/{sha256}{suffix}"


def checked_name(sha256: str, suffix: str) -> str:
    """:func:`object_name`, refusing a digest or suffix no backend writes."""
    if not SHA256.fullmatch(sha256) or suffix not in OBJECT_SUFFIXES:
        raise ValueError(f"not an object name: {sha256}{suffix}")
    return object_name(sha256, suffix)


def record_name(key: str) -> str:
    """``<sha[:2]>/<sha>.json``: where the record of ``key`` lives inside a backend."""
    if not KEY.fullmatch(key):
        raise ValueError(f"not a generation key: {key}")
    digest = key.removeprefix("sha256:")
    return f"{digest[:2]}/{digest}.json"


def encode_record(record: KeyRecord) -> bytes:
    return json.dumps(record.to_json(), indent=1).encode("utf-8")


def decode_record(key: str, data: bytes) -> KeyRecord | None:
    """The record in ``data`` if it is well-formed and filed under its own key."""
    try:
        record = KeyRecord.from_json(json.loads(data.decode("utf-8")))
    except (ValueError, RecursionError, UnicodeDecodeError):
        return None
    return record if record.key == key else None


class Backend(ABC):
    """Originals by sha256 and key records by key, immutable and content-addressed."""

    name: str
    """Shown in messages (a path or URL without credentials)."""

    @abstractmethod
    def has_object(self, sha256: str, suffix: str) -> bool:
        """Whether the backend holds an object of that name (its bytes are not checked)."""

    @abstractmethod
    def get_object(self, sha256: str, suffix: str, dest: Path) -> bool:
        """Copy the object to ``dest`` (atomically); False if absent.

        Raises :class:`DamagedObject` when its bytes do not hash to ``sha256``.
        """

    @abstractmethod
    def put_object(self, sha256: str, suffix: str, source: Path, *, replace: bool = False) -> None:
        """Publish ``source`` under its name; a no-op if present, unless ``replace``."""

    @abstractmethod
    def get_record(self, key: str) -> KeyRecord | None:
        """The record of ``key``; None if absent, malformed or filed under another key."""

    @abstractmethod
    def put_record(self, record: KeyRecord) -> None:
        """Publish ``record`` under its key (the newer record of a key wins)."""

    @abstractmethod
    def objects(self) -> Iterator[StoredObject]:
        """Every original the backend recognises as its own."""

    @abstractmethod
    def records(self) -> Iterator[StoredObject]:
        """Every key record the backend recognises as its own."""


class LocalBackend(Backend):
    """A folder on this machine: ``<objects>/<2 hex>/<sha>.<ext>``, ``<keys>/<2 hex>/<sha>.json``.

    Reads go through the stat cache (:class:`~assetgen.hashing.HashCache`):
    an unchanged file is never hashed twice. Nothing is followed through a
    symlink when listing. ``keys_dir`` None: a folder of originals only (the store).
    """

    def __init__(self, objects_dir: Path, keys_dir: Path | None, hashes: HashCache) -> None:
        self.objects_dir = objects_dir
        self.keys_dir = keys_dir
        self.hashes = hashes
        self.name = str(objects_dir)

    def object_path(self, sha256: str, suffix: str) -> Path:
        return self.objects_dir / checked_name(sha256, suffix)

    def record_path(self, key: str) -> Path:
        if self.keys_dir is None:
            raise ValueError(f"{self.name} keeps no key records")
        return self.keys_dir / record_name(key)

    def intact(self, sha256: str, suffix: str) -> bool:
        """Whether the object is here with the right bytes (stat-cached)."""
        return self.hashes.sha256_or_none(self.object_path(sha256, suffix)) == sha256

    def has_object(self, sha256: str, suffix: str) -> bool:
        return self.object_path(sha256, suffix).is_file()

    def get_object(self, sha256: str, suffix: str, dest: Path) -> bool:
        path = self.object_path(sha256, suffix)
        if not path.is_file():
            return False
        if not self.intact(sha256, suffix):
            raise DamagedObject(self.name, object_name(sha256, suffix))
        atomic_copy(path, dest)
        digest = sha256_file(dest)  # the source may have changed since it was checked
        self.hashes.record(dest, digest)
        if digest != sha256:
            dest.unlink(missing_ok=True)
            raise DamagedObject(self.name, object_name(sha256, suffix))
        return True

    def put_object(self, sha256: str, suffix: str, source: Path, *, replace: bool = False) -> None:
        path = self.object_path(sha256, suffix)
        if not replace and self.intact(sha256, suffix) and not _same_file(path, source):
            return
        # A hard link left by an older assetgen is replaced by a copy here.
        atomic_copy(source, path)
        self.hashes.record(path, sha256_file(path))

    def put_bytes(self, data: bytes, suffix: str) -> str:
        """Publish ``data`` (already in memory) as an object; returns its digest."""
        digest = sha256_bytes(data)
        path = self.object_path(digest, suffix)
        if not self.intact(digest, suffix):
            atomic_write_bytes(path, data)
            self.hashes.record(path, digest)
        return digest

    def get_record(self, key: str) -> KeyRecord | None:
        try:
            path = self.record_path(key)
            with path.open("rb") as handle:
                data = handle.read(MAX_RECORD_BYTES + 1)
        except (OSError, ValueError):
            return None
        return decode_record(key, data) if len(data) <= MAX_RECORD_BYTES else None

    def put_record(self, record: KeyRecord) -> None:
        atomic_write_text(self.record_path(record.key), encode_record(record).decode("utf-8"))

    def objects(self) -> Iterator[StoredObject]:
        yield from self.scan(self.objects_dir, OBJECT)[0]

    def records(self) -> Iterator[StoredObject]:
        if self.keys_dir is not None:
            yield from self.scan(self.keys_dir, RECORD)[0]

    def path_of(self, item: StoredObject, *, record: bool = False) -> Path:
        return (self.keys_dir if record and self.keys_dir else self.objects_dir) / item.name

    @staticmethod
    def scan(folder: Path, pattern: re.Pattern[str]) -> tuple[list[StoredObject], list[Path]]:
        """(objects named as this backend names them, every other file) in ``folder``.

        Nothing is followed through a symlink: a symlinked subfolder or file
        is foreign, whatever its name. Temp files of writes in progress are neither.
        """
        own: list[StoredObject] = []
        foreign: list[Path] = []
        for entry in _entries(folder):
            if not (PREFIX.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)):
                foreign.append(Path(entry.path))
                continue
            for item in _entries(Path(entry.path)):
                digest = _claimed_digest(item, entry.name, pattern)
                if digest is not None:
                    own.append(StoredObject(f"{entry.name}/{item.name}", digest))
                elif not TEMP_PATTERN.fullmatch(item.name):
                    foreign.append(Path(item.path))
        return own, foreign


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _claimed_digest(item: os.DirEntry[str], prefix: str, pattern: re.Pattern[str]) -> str | None:
    """The digest an object's name claims, if it is a regular file named like one."""
    match = pattern.fullmatch(item.name)
    if match is None or not match["sha"].startswith(prefix):
        return None
    if "suffix" in pattern.groupindex and match["suffix"] not in OBJECT_SUFFIXES:
        return None
    return match["sha"] if item.is_file(follow_symlinks=False) else None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
