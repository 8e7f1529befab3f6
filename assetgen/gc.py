"""``assetgen gc``: find store and cache objects that no lock entry references.

Referenced objects are every candidate original of every entry in the lock.
Everything else in the store folder, the local cache's objects and the key
records that point only at unreferenced objects can go. Removing them gives
up the "revert a prompt for free" cache for those keys: that is the point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .project import Project


@dataclass
class Garbage:
    paths: list[Path] = field(default_factory=list)
    bytes: int = 0
    """Disk space freed (files linked twice count once)."""

    def delete(self) -> None:
        for path in self.paths:
            path.unlink(missing_ok=True)


def object_digest(path: Path) -> str:
    return path.name.split(".", 1)[0]


def find_garbage(project: Project) -> Garbage:
    lock = project.lock()
    keep = {c.sha256 for entry in lock.assets.values() for c in entry.candidates}
    store_root = project.root / project.spec.build.store_dir
    cache = project.store.cache_dir
    objects = [*sorted(store_root.glob("*/*")), *sorted((cache / "objects").glob("*/*"))]
    garbage = Garbage()
    inodes: set[tuple[int, int]] = set()
    for path in objects:
        if not path.is_file() or object_digest(path) in keep:
            continue
        garbage.paths.append(path)
        stat = path.stat()
        if (stat.st_dev, stat.st_ino) not in inodes:
            inodes.add((stat.st_dev, stat.st_ino))
            garbage.bytes += stat.st_size
    for record_path in project.store.recorded_keys():
        record = project.store.recall_file(record_path)
        if record is None or not any(c.sha256 in keep for c in record.candidates):
            garbage.paths.append(record_path)
    return garbage
