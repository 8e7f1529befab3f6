"""Content hashes of files, with a stat cache so unchanged files are not re-read.

The cache maps a path to ``(size, mtime_ns, inode, sha256)``. A file whose
stat matches is trusted; anything else is re-hashed. This is what makes a
no-op build cheap: it reads no image and re-encodes nothing. Deleting the
cache file is always safe.

Like git's "racily clean" rule, a file modified less than ``RACY_SECONDS``
before it was hashed is not remembered: on filesystems with coarse
timestamps, a second save within the same tick (and the same size) would
otherwise look unchanged. Such files are simply hashed again next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat as stat_module
import time
from pathlib import Path

from .fsutil import atomic_write_text

CACHE_VERSION = 1
CHUNK = 1 << 20
RACY_SECONDS = 2


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    """Hex SHA-256 of ``text`` as UTF-8 (lone surrogates kept, never an error)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class NotARegularFile(OSError):
    """A FIFO, device, socket or folder where a file was expected (reading it could hang)."""


def open_regular(path: Path) -> int:
    """A read-only descriptor of ``path``, or :class:`NotARegularFile`.

    Opened non-blocking (a FIFO's open would wait for a writer) and checked
    with ``fstat`` on the descriptor, so a swap after the check cannot slip by.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat_module.S_ISREG(os.fstat(fd).st_mode):
            raise NotARegularFile(f"{path.name} is not a regular file")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def missing_reason(path: Path) -> str:
    """Why ``path`` has no hash: ``file not found`` or ``not a regular file``."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return "file not found"
    return "file not found" if stat_module.S_ISREG(mode) else "not a regular file"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a regular file (a FIFO or device raises NotARegularFile, never hangs)."""
    digest = hashlib.sha256()
    with os.fdopen(open_regular(path), "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(entry: object, stat: os.stat_result) -> bool:
    """Whether a cache entry is ``[size, mtime_ns, inode, sha256]`` of this stat (a
    malformed entry never matches: it is simply hashed again)."""
    return (
        type(entry) is list
        and len(entry) == 4
        and entry[0] == stat.st_size
        and entry[1] == stat.st_mtime_ns
        and entry[2] == stat.st_ino
        and type(entry[3]) is str
        and len(entry[3]) == 64
    )


def _signature(stat: os.stat_result) -> list[int]:
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


class HashCache:
    """File hashes keyed by path, trusted while size, mtime and inode hold."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = cache_file
        self.entries: dict[str, list[object]] = {}
        self.changed = False
        self.reads = 0
        """Files actually read (for tests and benchmarks)."""
        if cache_file is not None:
            self._load(cache_file)

    def _load(self, cache_file: Path) -> None:
        try:
            data = json.loads(cache_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # a missing or damaged cache only costs re-hashing
        if isinstance(data, dict) and data.get("version") == CACHE_VERSION:
            entries = data.get("files")
            if isinstance(entries, dict):
                self.entries = entries  # each entry is checked when it is used

    def sha256(self, path: Path | str) -> str:
        """Hex sha256 of the file at ``path`` (raises FileNotFoundError)."""
        key = os.fspath(path)
        stat = os.stat(key)
        if not stat_module.S_ISREG(stat.st_mode):
            raise NotARegularFile(f"{os.path.basename(key)} is not a regular file")
        cached = self.entries.get(key)
        if cached is not None and _matches(cached, stat):
            return str(cached[3])
        digest = sha256_file(Path(key))
        self.reads += 1
        if time.time_ns() - stat.st_mtime_ns >= RACY_SECONDS * 1_000_000_000:
            self.entries[key] = [*_signature(stat), digest]
            self.changed = True
        elif self.entries.pop(key, None) is not None:
            self.changed = True
        return digest

    def sha256_or_none(self, path: Path | str) -> str | None:
        try:
            return self.sha256(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError, NotARegularFile):
            return None

    def record(self, path: Path, digest: str) -> None:
        """Remember the hash of a file we just wrote (saves reading it back)."""
        self.entries[str(path)] = [*_signature(path.stat()), digest]
        self.changed = True

    def forget(self, path: Path) -> None:
        if self.entries.pop(str(path), None) is not None:
            self.changed = True

    def save(self) -> None:
        """Write the cache if anything changed (atomically)."""
        if self.cache_file is None or not self.changed:
            return
        payload = {"version": CACHE_VERSION, "files": dict(sorted(self.entries.items()))}
        atomic_write_text(
            self.cache_file, json.dumps(payload, separators=(",", ":")), durable=False
        )
        self.changed = False
