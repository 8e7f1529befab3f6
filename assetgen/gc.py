"""``assetgen gc``: find store and cache objects that no lock entry references.

gc deletes only what assetgen wrote and can recognise:

* **objects**: ``<2 hex>/<64 hex>.<png|jpg|webp>`` directly under the store
  folder or ``.assetgen/cache/objects/``, the two hex digits being the first
  two of the name, a regular file (never a symlink, never through one) whose
  bytes hash to its name;
* **key records**: ``.assetgen/cache/keys/<2 hex>/<64 hex>.json``;
* **temp files** left by killed assetgen processes (see :mod:`assetgen.fsutil`).

Referenced objects are every candidate of every entry of the lock and of the
journal of an interrupted build (the draft lock's too), and of the key records
of those entries' keys; gc runs under the project lock, so no build can add one
meanwhile. Everything else in the store folder is not assetgen's and is left
alone. Removing unreferenced objects gives up the "revert a prompt for free"
cache for those keys: that is the point.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .fsutil import TEMP_PATTERN, is_within, remove_files
from .hashing import sha256_file
from .lockfile import LockStore
from .project import DRAFT_DIR, Project
from .store import OBJECT_SUFFIXES

PREFIX = re.compile(r"[0-9a-f]{2}")
OBJECT = re.compile(r"(?P<sha>[0-9a-f]{64})(?P<suffix>\.[a-z]+)")
RECORD = re.compile(r"(?P<sha>[0-9a-f]{64})\.json")


@dataclass
class Garbage:
    """What gc would delete, and what it leaves alone."""

    objects: list[Path] = field(default_factory=list)
    """Unreferenced store and cache objects whose bytes match their name."""
    records: list[Path] = field(default_factory=list)
    """Key records of keys no lock entry uses."""
    temps: list[Path] = field(default_factory=list)
    """Temp files left by killed assetgen processes."""
    foreign: list[Path] = field(default_factory=list)
    """Files in the store folder that are not assetgen's: never deleted."""
    bytes: int = 0
    """Disk space freed."""

    @property
    def paths(self) -> list[Path]:
        """Everything :meth:`delete` removes."""
        return [*self.objects, *self.records, *self.temps]

    def delete(self) -> list[Path]:
        """Remove :attr:`paths` (regular files only), then the object folders emptied."""
        removed = remove_files(self.paths)
        for folder in sorted({path.parent for path in removed}):
            if PREFIX.fullmatch(folder.name):
                with contextlib.suppress(OSError):  # not empty: other files live there
                    folder.rmdir()
        return removed


@dataclass
class Scan:
    """Files found in one object folder."""

    objects: dict[Path, str] = field(default_factory=dict)
    """Candidate objects by path, with the digest their name claims."""
    foreign: list[Path] = field(default_factory=list)


def scan_objects(folder: Path, pattern: re.Pattern[str] = OBJECT) -> Scan:
    """Split ``folder`` into files named like assetgen objects and everything else.

    Nothing is followed through a symlink: a symlinked subfolder or file is
    reported as foreign, whatever its name.
    """
    scan = Scan()
    for entry in _entries(folder):
        path = Path(entry.path)
        if not (PREFIX.fullmatch(entry.name) and entry.is_dir(follow_symlinks=False)):
            scan.foreign.append(path)
            continue
        for item in _entries(path):
            digest = _object_digest(item, entry.name, pattern)
            if digest is not None:
                scan.objects[Path(item.path)] = digest
            elif not TEMP_PATTERN.fullmatch(item.name):
                scan.foreign.append(Path(item.path))
    return scan


def _entries(folder: Path) -> list[os.DirEntry[str]]:
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _object_digest(item: os.DirEntry[str], prefix: str, pattern: re.Pattern[str]) -> str | None:
    """The digest an object's name claims, if it is a regular file named like one."""
    match = pattern.fullmatch(item.name)
    if match is None or not match["sha"].startswith(prefix):
        return None
    if "suffix" in pattern.groupindex and match["suffix"] not in OBJECT_SUFFIXES:
        return None
    return match["sha"] if item.is_file(follow_symlinks=False) else None


def referenced(project: Project) -> tuple[set[str], set[str]]:
    """(content digests, generation keys) of every lock and journal entry, draft included."""
    stores = [project.locks]
    if not project.draft:
        state = project.spec.state_dir
        draft_lock = project.spec.project_path(f"{DRAFT_DIR}/assetgen.lock")
        stores.append(LockStore(draft_lock, state / "draft-journal.jsonl"))
    digests: set[str] = set()
    keys: set[str] = set()
    for store in stores:
        for entry in store.load().assets.values():
            keys.add(entry.key)
            digests.update(c.sha256 for c in entry.candidates)
    for key in keys:
        record = project.store.recall_file(project.store.record_path(key))
        if record is not None:
            digests.update(c.sha256 for c in record.candidates)
    return digests, keys


def find_garbage(project: Project) -> Garbage:
    """What ``gc`` removes; call it holding the project lock."""
    check_inside(project)
    keep, keys = referenced(project)
    garbage = Garbage(temps=project.leftovers())
    store_scan = scan_objects(project.store.folder)
    garbage.foreign.extend(store_scan.foreign)
    collect_objects(garbage, [store_scan, scan_objects(project.store.objects_dir)], keep)
    records = scan_objects(project.store.keys_dir, RECORD)
    for path in records.objects:
        record = project.store.recall_file(path)
        used = record is not None and (
            record.key in keys or any(c.sha256 in keep for c in record.candidates)
        )
        if not used:
            garbage.records.append(path)
    return garbage


def collect_objects(garbage: Garbage, scans: list[Scan], keep: set[str]) -> None:
    """Add each unreferenced object whose bytes hash to its name (others are foreign)."""
    for scan in scans:
        for path, digest in scan.objects.items():
            if digest in keep:
                continue
            if sha256_file(path) != digest:
                garbage.foreign.append(path)  # a file we did not write, or one edited since
                continue
            garbage.objects.append(path)
            garbage.bytes += path.stat().st_size


def check_inside(project: Project) -> None:
    """Refuse to work on a store or state folder that resolves outside the project."""
    folders = {"[build] store_dir": project.store.folder, ".assetgen": project.spec.state_dir}
    for what, folder in folders.items():
        if not is_within(folder, project.root):
            raise UsageError(
                f"{what} ({folder.resolve()}) resolves outside the project: "
                "gc works only inside it",
                file=project.spec.display_path,
            )
