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
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .fsutil import is_within, remove_files
from .hashing import sha256_file
from .lockfile import LockStore
from .project import DRAFT_DIR, Project
from .storage import OBJECT, PREFIX, RECORD, LocalBackend


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
    """Files found in one backend folder."""

    objects: dict[Path, str] = field(default_factory=dict)
    """What the backend recognises as its own, by path, with the digest its name claims."""
    foreign: list[Path] = field(default_factory=list)


def scan_backend(backend: LocalBackend, *, records: bool = False) -> Scan:
    """What ``backend`` recognises as its objects (or records) and everything else there."""
    folder = backend.keys_dir if records and backend.keys_dir else backend.objects_dir
    own, foreign = backend.scan(folder, RECORD if records else OBJECT)
    return Scan({folder / item.name: item.sha256 for item in own}, foreign)


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
    store_scan = scan_backend(project.store.objects)
    garbage.foreign.extend(store_scan.foreign)
    collect_objects(garbage, [store_scan, scan_backend(project.store.cache)], keep)
    records = scan_backend(project.store.cache, records=True)
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
