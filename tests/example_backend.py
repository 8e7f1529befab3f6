"""A storage backend in memory: the example of docs/extending.md, run by tests/test_storage.py."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from assetgen.fsutil import atomic_write_bytes
from assetgen.keyrecords import KeyRecord
from assetgen.storage import (
    Backend,
    DamagedObject,
    StoredObject,
    checked_name,
    decode_record,
    encode_record,
    record_name,
)


class MemoryBackend(Backend):
    """Objects and records in two dicts, keyed by their backend names."""

    def __init__(self) -> None:
        self.name = "memory://"
        self.blobs: dict[str, bytes] = {}
        self.keys: dict[str, bytes] = {}

    def has_object(self, sha256: str, suffix: str) -> bool:
        return checked_name(sha256, suffix) in self.blobs

    def get_object(self, sha256: str, suffix: str, dest: Path) -> bool:
        data = self.blobs.get(checked_name(sha256, suffix))
        if data is None:
            return False
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DamagedObject(self.name, checked_name(sha256, suffix))
        atomic_write_bytes(dest, data)  # never a partial file at dest
        return True

    def put_object(self, sha256: str, suffix: str, source: Path, *, replace: bool = False) -> None:
        name = checked_name(sha256, suffix)
        if name in self.blobs and not replace:
            return  # content-addressed: what is there is what we would write
        data = source.read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"{source} does not hash to {sha256}")
        self.blobs[name] = data  # one assignment: never visible half-written

    def get_record(self, key: str) -> KeyRecord | None:
        data = self.keys.get(record_name(key))
        return None if data is None else decode_record(key, data)

    def put_record(self, record: KeyRecord) -> None:
        self.keys[record_name(record.key)] = encode_record(record)

    def objects(self) -> Iterator[StoredObject]:
        for name in sorted(self.blobs):
            yield StoredObject(name, name.split("/")[1].split(".")[0])

    def records(self) -> Iterator[StoredObject]:
        for name in sorted(self.keys):
            yield StoredObject(name, name.split("/")[1].removesuffix(".json"))
