"""The stat cache: trusted while size, mtime and inode hold; racy files re-read."""

from __future__ import annotations

import os
import time
from pathlib import Path

from assetgen.hashing import HashCache, sha256_file


def aged(path: Path, data: bytes, seconds: float = 60) -> Path:
    path.write_bytes(data)
    past = time.time() - seconds
    os.utime(path, (past, past))
    return path


def test_unchanged_files_are_not_read_again(tmp_path: Path) -> None:
    file = aged(tmp_path / "a.png", b"one")
    cache = HashCache(tmp_path / "cache.json")
    assert cache.sha256(file) == sha256_file(file)
    cache.save()
    again = HashCache(tmp_path / "cache.json")
    assert again.sha256(file) == sha256_file(file) and again.reads == 0


def test_a_changed_file_is_read_again(tmp_path: Path) -> None:
    file = aged(tmp_path / "a.png", b"one")
    cache = HashCache()
    first = cache.sha256(file)
    aged(file, b"two", seconds=30)
    assert cache.sha256(file) != first and cache.reads == 2


def test_a_racily_recent_file_is_not_trusted(tmp_path: Path) -> None:
    file = tmp_path / "mask.png"
    file.write_bytes(b"AAAA")
    cache = HashCache()
    first = cache.sha256(file)
    stat = file.stat()
    file.write_bytes(b"BBBB")  # same size; force the same mtime, as a coarse clock would
    os.utime(file, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.sha256(file) != first


def test_a_damaged_cache_only_costs_rehashing(tmp_path: Path) -> None:
    (tmp_path / "cache.json").write_text("{not json")
    file = aged(tmp_path / "a.png", b"one")
    assert HashCache(tmp_path / "cache.json").sha256(file) == sha256_file(file)
