"""The tiered lookup of paid originals: lock → store → local cache → remote cache.

The first three tiers are local files, asked by the planner itself (stat
calls). The remote tier is a network: it is never asked inside the planner's
per-asset loop. :class:`RemoteCache` answers for many keys in one batch, in
parallel threads, bounded by ``[cache] timeout``, before planning (and, for
an asset whose key is known only once its ``@inputs`` exist, in the build,
off the event loop). The planner receives the answers as a mapping.

* **fetch**: a found record's originals are downloaded into the local cache,
  each checked against its sha256; a damaged object is reported, ignored
  (the asset is generated) and replaced by the next upload.
* **publish**: after a generation, the originals, then the key record, are
  uploaded before the asset counts as done; a record therefore never names
  an object the remote does not have.
* **down**: the first failure (unreachable, unauthorised, timed out) warns
  once, naming the remote, and the rest of the command goes on locally;
  with ``require`` it raises :class:`~assetgen.errors.RemoteCacheError`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

from .errors import RemoteCacheError
from .keyrecords import KeyRecord, LockOriginal
from .secrets import Redactor
from .spec_types import CacheConfig
from .storage import Backend, BackendUnavailable, DamagedObject
from .store import Store

Warn = Callable[[str], None]
LOOKUP_THREADS = 16


class RemoteCache:
    """The remote tier of one command, over one :class:`~assetgen.storage.Backend`."""

    def __init__(
        self,
        backend: Backend,
        store: Store,
        *,
        warn: Warn,
        require: bool = False,
        timeout: float = 10.0,
        fetches: bool = True,
    ) -> None:
        self.backend = backend
        self.fetches = fetches
        """Whether lookups before planning download what they find (``build``: yes;
        ``plan``: no, it only says what would come from the remote)."""
        self.store = store
        self.warn_user = warn
        self.require = require
        self.timeout = timeout
        self.available = True
        self.damaged: set[str] = set()
        """Digests of remote objects found damaged: the next upload replaces them."""
        self.redactor = Redactor.for_environment("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.backend.name

    # -- failures -------------------------------------------------------------

    def warn(self, message: str) -> None:
        with self._lock:
            self.warn_user(self.redactor.redact(message))

    def down(self, exc: BaseException) -> None:
        """The remote failed: raise under ``require``, else warn once and stop asking it."""
        message = str(exc) or type(exc).__name__
        if self.require:
            raise RemoteCacheError(
                f"remote cache {self.name} failed: {self.redactor.redact(message)}",
                hint="without --require-remote the build goes on with the local cache",
            ) from exc
        with self._lock:
            was, self.available = self.available, False
        if was:
            self.warn(
                f"remote cache unavailable ({message}): building with the local cache only; "
                "new originals stay local until `assetgen cache push`"
            )

    # -- lookup and fetch -----------------------------------------------------------

    def lookup(self, keys: Iterable[str], *, fetch: bool) -> dict[str, KeyRecord]:
        """The remote's records of ``keys`` (with ``fetch``: only those whose originals
        are now in the local cache, verified). One bounded batch; never raises unless
        ``require``."""
        wanted = sorted(set(keys))
        if not wanted or not self.available:
            return {}
        pool = ThreadPoolExecutor(max_workers=min(LOOKUP_THREADS, len(wanted)))
        futures = {pool.submit(self._one, key, fetch): key for key in wanted}
        try:
            finished, unfinished = wait(futures, timeout=self.timeout * 2)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        found: dict[str, KeyRecord] = {}
        for future in finished:
            error = future.exception()
            if isinstance(error, BackendUnavailable):
                self.down(error)
            elif error is not None:
                raise error
            elif (record := future.result()) is not None:
                found[futures[future]] = record
        if unfinished:
            self.down(TimeoutError(f"{self.name}: no answer within {self.timeout * 2:g} s"))
        return found

    def _one(self, key: str, fetch: bool) -> KeyRecord | None:
        if not self.available:
            return None
        record = self.backend.get_record(key)
        if record is None or not fetch:
            return record
        for original in record.candidates:
            if not self.fetch(original):
                return None
        self.store.remember(record)
        return record

    def fetch(self, original: LockOriginal) -> bool:
        """Bring one original into the local cache (verified); False if it cannot be had."""
        suffix = Path(original.path).suffix
        if self.store.present(original) or self.store.cache.intact(original.sha256, suffix):
            return True
        target = self.store.cache.object_path(original.sha256, suffix)
        try:
            got = self.backend.get_object(original.sha256, suffix, target)
        except DamagedObject as exc:
            self.damaged.add(original.sha256)
            self.warn(f"{exc}: ignored; it is generated again and replaced")
            return False
        if got:
            self.store.hashes.record(target, original.sha256)
        return got

    # -- publish ---------------------------------------------------------------------

    def publish(self, record: KeyRecord) -> bool:
        """Upload a generation's originals, then its record; False when the remote is down."""
        if not self.available:
            return False
        try:
            for original in record.candidates:
                suffix = Path(original.path).suffix
                source = self.source_of(original)
                if source is None:
                    return False
                replace = original.sha256 in self.damaged
                self.backend.put_object(original.sha256, suffix, source, replace=replace)
            self.backend.put_record(record)
        except BackendUnavailable as exc:
            self.down(exc)
            return False
        return True

    def source_of(self, original: LockOriginal) -> Path | None:
        """An intact local copy of ``original`` (store first, then the cache)."""
        if self.store.present(original):
            return self.store.root / original.path
        suffix = Path(original.path).suffix
        if self.store.cache.intact(original.sha256, suffix):
            return self.store.cache.object_path(original.sha256, suffix)
        return None


def open_remote(
    store: Store, cache: CacheConfig, *, warn: Warn, require: bool = False
) -> RemoteCache | None:
    """The remote tier ``[cache]`` configures, or None; a driver missing is warned about."""
    if cache.remote is None:
        return None
    from .remote_storage import FsspecBackend

    try:
        backend = FsspecBackend(
            cache.remote, endpoint_url=cache.endpoint_url, timeout=cache.timeout
        )
    except BackendUnavailable as exc:
        if require:
            raise RemoteCacheError(f"remote cache {cache.remote}: {exc}") from exc
        warn(f"remote cache {cache.remote} unavailable ({exc}): building with the local cache only")
        return None
    return RemoteCache(backend, store, warn=warn, require=require, timeout=cache.timeout)
