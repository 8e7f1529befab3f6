"""``assetgen cache status|push|pull``: the lock's originals against the remote cache.

* ``status``: which lock entries the remote has whole (record and every
  candidate), which it lacks;
* ``push``: upload every lock entry's originals and key record that the
  remote lacks (uploads are idempotent: pushing twice sends nothing new);
* ``pull``: download what the lock needs and the store lacks (CI runners of
  teams that commit only the lock and the variants: ``build --locked --pull``).

Each is one bounded batch over threads; the remote failing is an error here
(these commands exist to talk to it).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cache_tiers import LOOKUP_THREADS, RemoteCache
from .lockfile import LockEntry
from .project import Project
from .storage import BackendUnavailable


@dataclass
class CacheReport:
    """What one ``cache`` command found or did, by asset name."""

    remote: str
    complete: list[str] = field(default_factory=list)
    """On the remote whole (status), uploaded or already there (push), fetched (pull)."""
    missing: list[str] = field(default_factory=list)
    """Not on the remote (status), no intact local copy to push, not to be had (pull)."""
    present: list[str] = field(default_factory=list)
    """pull: already in the store; nothing to fetch."""

    def to_json(self) -> dict[str, Any]:
        return {
            "remote": self.remote,
            "complete": sorted(self.complete),
            "missing": sorted(self.missing),
            "present": sorted(self.present),
        }


def _each(entries: dict[str, LockEntry], work: Any) -> list[tuple[str, Any]]:
    """``work(entry)`` for every lock entry, in parallel, in name order."""
    names = sorted(entries)
    with ThreadPoolExecutor(max_workers=LOOKUP_THREADS) as pool:
        return list(zip(names, pool.map(lambda n: work(entries[n]), names), strict=True))


def _guarded(remote: RemoteCache, call: Any) -> Any:
    try:
        return call()
    except BackendUnavailable as exc:
        remote.down(exc)  # raises: these commands run with require=True
        raise


def status(project: Project, remote: RemoteCache) -> CacheReport:
    """Which lock entries the remote holds whole."""

    def whole(entry: LockEntry) -> bool:
        if remote.backend.get_record(entry.key) is None:
            return False
        return all(
            remote.backend.has_object(c.sha256, Path(c.path).suffix) for c in entry.candidates
        )

    report = CacheReport(remote.name)
    found = _guarded(remote, lambda: _each(project.lock().assets, whole))
    for name, ok in found:
        (report.complete if ok else report.missing).append(name)
    return report


def push(project: Project, remote: RemoteCache) -> CacheReport:
    """Upload each lock entry's originals and record (what the remote has is skipped)."""
    store = project.store

    def upload(entry: LockEntry) -> bool:
        record = store.recall(entry.key) or entry.generation
        if any(remote.source_of(c) is None for c in record.candidates):
            return False
        return remote.publish(record)

    report = CacheReport(remote.name)
    for name, ok in _guarded(remote, lambda: _each(project.lock().assets, upload)):
        (report.complete if ok else report.missing).append(name)
    return report


def pull(project: Project, remote: RemoteCache) -> CacheReport:
    """Download into the store every original the lock needs and the store lacks."""
    store = project.store
    report = CacheReport(remote.name)
    with project.exclusive(purpose="cache pull"):
        entries = project.lock().assets
        lacking = {n: e for n, e in entries.items() if not all(map(store.present, e.candidates))}
        report.present = sorted(set(entries) - set(lacking))

        def fetch(entry: LockEntry) -> bool:
            return all(remote.fetch(c) and store.restore(c) for c in entry.candidates)

        for name, ok in _guarded(remote, lambda: _each(lacking, fetch)):
            (report.complete if ok else report.missing).append(name)
        project.hashes.save()
    return report
