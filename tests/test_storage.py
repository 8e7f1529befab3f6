"""The storage seam: every backend passes one test body (tests/storage_contract.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assetgen.hashing import HashCache
from assetgen.remote_storage import FsspecBackend
from assetgen.storage import Backend, BackendUnavailable, LocalBackend
from tests.storage_contract import check_backend, png_bytes, record_for, sha


def test_the_local_cache_passes_the_backend_contract(tmp_path: Path) -> None:
    count = iter(range(100))

    def make() -> Backend:
        folder = tmp_path / f"cache{next(count)}"
        return LocalBackend(folder / "objects", folder / "keys", HashCache(folder / "h.json"))

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    check_backend(make, scratch)


def test_a_shared_folder_passes_the_backend_contract(tmp_path: Path) -> None:
    count = iter(range(100))

    def make() -> Backend:
        return FsspecBackend(f"file://{tmp_path}/remote{next(count)}")

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    check_backend(make, scratch)


def test_an_s3_bucket_passes_the_backend_contract(
    tmp_path: Path, moto_server: str, s3_bucket: str
) -> None:
    count = iter(range(100))

    def make() -> Backend:
        return FsspecBackend(f"s3://{s3_bucket}/p{next(count)}", endpoint_url=moto_server)

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    check_backend(make, scratch)


def test_a_record_filed_under_another_key_reads_as_absent(tmp_path: Path) -> None:
    backend = FsspecBackend(f"file://{tmp_path}/remote")
    digest = sha(png_bytes())
    one, two = record_for(digest, "one"), record_for(digest, "two")
    backend.put_record(one)
    one_path = tmp_path / "remote" / "keys" / one.key[7:9] / f"{one.key[7:]}.json"
    two_path = one_path.parent.parent / two.key[7:9] / f"{two.key[7:]}.json"
    two_path.parent.mkdir(parents=True, exist_ok=True)
    two_path.write_text(one_path.read_text())  # one's record under two's name
    assert backend.get_record(two.key) is None
    one_path.write_text(json.dumps({"key": one.key, "candidates": "nonsense"}))
    assert backend.get_record(one.key) is None


def test_an_unreachable_bucket_is_unavailable_not_absent(
    tmp_path: Path, moto_server: str, s3_bucket: str
) -> None:
    # Nothing listens on port 9 of 127.0.0.1: connection refused, quickly.
    backend = FsspecBackend(f"s3://{s3_bucket}/x", endpoint_url="http://127.0.0.1:9", timeout=1)
    with pytest.raises(BackendUnavailable, match="s3://"):
        backend.get_record(record_for(sha(b"x")).key)


def test_the_documented_example_backend_passes_the_contract(tmp_path: Path) -> None:
    from tests.example_backend import MemoryBackend

    check_backend(MemoryBackend, tmp_path)


def test_the_contract_catches_a_backend_that_hands_out_damaged_bytes(tmp_path: Path) -> None:
    from tests.example_backend import MemoryBackend

    class Careless(MemoryBackend):
        def get_object(self, sha256: str, suffix: str, dest: Path) -> bool:
            data = self.blobs.get(f"{sha256[:2]}/{sha256}{suffix}")
            if data is None:
                return False
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)  # no sha256 check
            return True

        def put_object(
            self, sha256: str, suffix: str, source: Path, *, replace: bool = False
        ) -> None:
            self.blobs[f"{sha256[:2]}/{sha256}{suffix}"] = source.read_bytes()  # no check either

    with pytest.raises(AssertionError, match="do not match their name"):
        check_backend(Careless, tmp_path)
