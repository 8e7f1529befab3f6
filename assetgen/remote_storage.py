"""A storage backend on any fsspec filesystem: a shared folder, S3 (and compatibles), GCS.

The layout is the local cache's: ``<prefix>/objects/<2 hex>/<sha>.<ext>`` and
``<prefix>/keys/<2 hex>/<sha>.json``. Objects are immutable and named by
their content, so two runners uploading one object write the same bytes;
a record is small and written whole (the newer record of a key wins, and
every record names only objects uploaded before it).

* ``file://``: written to a temporary name in the target folder, then renamed.
* ``s3://`` (s3fs) and ``gs://`` (gcsfs): one PUT, which an object store
  makes visible whole or not at all.

Credentials come only from each library's standard environment and config
(``AWS_*`` variables and profiles, ``AWS_ENDPOINT_URL``; Google's application
default credentials): nothing secret is ever in the spec or the URL.
Everything that is not "absent" (refused, unreachable, timed out) is raised as
:class:`~assetgen.storage.BackendUnavailable`; every call is bounded by ``timeout``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from .fsutil import atomic_write_bytes
from .hashing import sha256_bytes
from .keyrecords import KeyRecord
from .storage import (
    MAX_OBJECT_BYTES,
    MAX_RECORD_BYTES,
    OBJECT,
    PREFIX,
    RECORD,
    Backend,
    BackendUnavailable,
    DamagedObject,
    StoredObject,
    checked_name,
    decode_record,
    encode_record,
    record_name,
)

T = TypeVar("T")
PROTOCOLS = {"file": None, "s3": "s3", "gs": "gcs", "gcs": "gcs"}
"""Remote URL schemes, each with the extra that installs its library (None: built in)."""
DEFAULT_TIMEOUT = 10.0


class FsspecBackend(Backend):
    """Originals and key records under one fsspec URL."""

    def __init__(
        self, url: str, *, endpoint_url: str | None = None, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        protocol, _, path = url.partition("://")
        self.name = url
        self.protocol = protocol
        self.root = path.rstrip("/") or "/"
        self.fs = _filesystem(protocol, endpoint_url, timeout)

    # -- paths ----------------------------------------------------------------

    def _object(self, sha256: str, suffix: str) -> str:
        return f"{self.root}/objects/{checked_name(sha256, suffix)}"

    def _record(self, key: str) -> str:
        return f"{self.root}/keys/{record_name(key)}"

    # -- calls ----------------------------------------------------------------

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one filesystem call; anything but "absent" becomes BackendUnavailable."""
        try:
            return call()
        except FileNotFoundError:
            raise
        except Exception as exc:
            detail = str(exc).splitlines()[0][:200] if str(exc) else ""
            raise BackendUnavailable(
                f"{self.name}: {what} failed ({type(exc).__name__}{': ' if detail else ''}{detail})"
            ) from exc

    def _read(self, path: str, limit: int) -> bytes | None:
        try:
            return self._call("read", lambda: bytes(self.fs.cat_file(path, start=0, end=limit + 1)))
        except FileNotFoundError:
            return None

    def _write(self, path: str, data: bytes) -> None:
        parent = path.rsplit("/", 1)[0]
        if self.protocol != "file":
            self._call("upload", lambda: self.fs.pipe_file(path, data))
            return
        name = path.rsplit("/", 1)[1]
        temp = f"{parent}/.{name}.assetgen-{os.getpid()}-{secrets.token_hex(4)}.tmp"

        def commit() -> None:
            self.fs.makedirs(parent, exist_ok=True)
            self.fs.pipe_file(temp, data)
            try:
                self.fs.mv(temp, path)
            finally:
                if self.fs.exists(temp):
                    self.fs.rm_file(temp)

        self._call("upload", commit)

    # -- the Backend interface ------------------------------------------------------

    def has_object(self, sha256: str, suffix: str) -> bool:
        path = self._object(sha256, suffix)
        try:
            self._call("lookup", lambda: self.fs.info(path))
        except FileNotFoundError:
            return False
        return True

    def get_object(self, sha256: str, suffix: str, dest: Path) -> bool:
        data = self._read(self._object(sha256, suffix), MAX_OBJECT_BYTES)
        if data is None:
            return False
        if len(data) > MAX_OBJECT_BYTES or sha256_bytes(data) != sha256:
            raise DamagedObject(self.name, checked_name(sha256, suffix))
        atomic_write_bytes(dest, data)
        return True

    def put_object(self, sha256: str, suffix: str, source: Path, *, replace: bool = False) -> None:
        if not replace and self.has_object(sha256, suffix):
            return
        data = source.read_bytes()
        if sha256_bytes(data) != sha256:
            raise ValueError(f"{source} does not hash to {sha256}: not uploaded")
        self._write(self._object(sha256, suffix), data)

    def get_record(self, key: str) -> KeyRecord | None:
        data = self._read(self._record(key), MAX_RECORD_BYTES)
        if data is None or len(data) > MAX_RECORD_BYTES:
            return None
        return decode_record(key, data)

    def put_record(self, record: KeyRecord) -> None:
        self._write(self._record(record.key), encode_record(record))

    def objects(self) -> Iterator[StoredObject]:
        yield from self._listing("objects", lambda name: OBJECT.fullmatch(name))

    def records(self) -> Iterator[StoredObject]:
        yield from self._listing("keys", lambda name: RECORD.fullmatch(name))

    def _listing(self, folder: str, match: Callable[[str], Any]) -> Iterator[StoredObject]:
        base = f"{self.root}/{folder}"
        try:
            found = self._call("listing", lambda: self.fs.find(base))
        except FileNotFoundError:
            return
        for path in sorted(found):
            try:
                relative = PurePosixPath(str(path)).relative_to(base)
            except ValueError:
                continue
            if len(relative.parts) != 2 or not PREFIX.fullmatch(relative.parts[0]):
                continue
            hit = match(relative.name)
            if hit is not None and hit["sha"].startswith(relative.parts[0]):
                yield StoredObject(relative.as_posix(), hit["sha"])


def _filesystem(protocol: str, endpoint_url: str | None, timeout: float) -> Any:
    """The fsspec filesystem of ``protocol``, every call bounded by ``timeout`` seconds."""
    import fsspec

    options: dict[str, Any] = {"skip_instance_cache": True}
    if protocol == "s3":
        options["use_listings_cache"] = False
        options["config_kwargs"] = {
            "connect_timeout": timeout,
            "read_timeout": timeout,
            "retries": {"max_attempts": 2, "mode": "standard"},
        }
        if endpoint_url:
            options["endpoint_url"] = endpoint_url
    elif protocol in ("gs", "gcs"):
        options["timeout"] = timeout
    try:
        return fsspec.filesystem(protocol, **options)
    except ImportError as exc:
        extra = PROTOCOLS.get(protocol)
        raise BackendUnavailable(
            f"{protocol}:// needs {exc.name or 'its fsspec driver'}: "
            f"pip install 'assetgen-images[{extra}]'"
        ) from exc
    except ValueError as exc:
        raise BackendUnavailable(f"{protocol}://: {exc}") from exc
