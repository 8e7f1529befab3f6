"""The one test body every storage backend passes (see docs/extending.md).

Call :func:`check_backend` with a factory that makes a fresh, empty backend,
and a folder to use as the local side. It raises AssertionError naming the
promise a backend broke (see :mod:`assetgen.storage` for the promises).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

from assetgen.keyrecords import KeyRecord, LockOriginal
from assetgen.storage import Backend, DamagedObject


def png_bytes(colour: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, "PNG")
    return buffer.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_for(digest: str, key_seed: str = "a", *, cost: float = 0.01) -> KeyRecord:
    key = "sha256:" + hashlib.sha256(key_seed.encode()).hexdigest()
    original = LockOriginal(f"store/{digest[:2]}/{digest}.png", digest, 8, 8)
    return KeyRecord(
        key, "offline", "m", (original,), {"output_tokens": 3}, cost, "2026-01-01T00:00:00Z"
    )


def check_backend(make: Callable[[], Backend], scratch: Path) -> None:
    """Every promise of the storage seam, against fresh backends from ``make``."""
    for check in (
        check_objects_round_trip,
        check_puts_are_idempotent,
        check_damaged_objects_are_refused,
        check_records_round_trip,
        check_listing_names_only_own_objects,
    ):
        folder = scratch / check.__name__
        folder.mkdir()
        check(make(), folder)


def check_objects_round_trip(backend: Backend, scratch: Path) -> None:
    data = png_bytes()
    digest = sha(data)
    source = scratch / "source.png"
    source.write_bytes(data)
    assert not backend.has_object(digest, ".png"), "a fresh backend holds nothing"
    assert not backend.get_object(digest, ".png", scratch / "absent.png"), "absent reads False"
    assert not (scratch / "absent.png").exists(), "an absent object writes nothing"
    backend.put_object(digest, ".png", source)
    assert backend.has_object(digest, ".png"), "an object is there once put"
    assert backend.get_object(digest, ".png", scratch / "out" / "copy.png")
    assert (scratch / "out" / "copy.png").read_bytes() == data, "the bytes come back as put"


def check_puts_are_idempotent(backend: Backend, scratch: Path) -> None:
    data = png_bytes((1, 2, 3))
    digest = sha(data)
    source = scratch / "source.png"
    source.write_bytes(data)
    for _ in range(3):
        backend.put_object(digest, ".png", source)
    backend.put_object(digest, ".png", source, replace=True)
    assert [o.sha256 for o in backend.objects()] == [digest], "one object, however often put"
    record = record_for(digest)
    backend.put_record(record)
    backend.put_record(record)
    assert [r.sha256 for r in backend.records()] == [record.key.removeprefix("sha256:")]
    leftovers = [p for p in scratch.rglob("*") if ".tmp" in p.name]
    assert leftovers == [], "no temporary file is left behind"


def check_damaged_objects_are_refused(backend: Backend, scratch: Path) -> None:
    good, bad = png_bytes((4, 5, 6)), png_bytes((7, 8, 9))
    digest = sha(good)
    liar = scratch / "liar.png"
    liar.write_bytes(bad)  # bytes that do not hash to the name they are put under
    try:
        backend.put_object(digest, ".png", liar)
    except ValueError:
        pass  # refusing to publish a lie is the best answer
    else:
        dest = scratch / "dest.png"
        dest.write_bytes(b"before")
        try:
            backend.get_object(digest, ".png", dest)
        except DamagedObject:
            pass
        else:
            raise AssertionError("bytes that do not match their name were handed out")
        assert dest.read_bytes() == b"before", "a damaged object leaves the destination alone"
        source = scratch / "good.png"
        source.write_bytes(good)
        backend.put_object(digest, ".png", source, replace=True)
        assert backend.get_object(digest, ".png", dest), "replace repairs a damaged object"
        assert dest.read_bytes() == good


def check_records_round_trip(backend: Backend, scratch: Path) -> None:
    digest = sha(png_bytes())
    record = record_for(digest, "round-trip")
    assert backend.get_record(record.key) is None, "a fresh backend knows no key"
    backend.put_record(record)
    assert backend.get_record(record.key) == record, "a record comes back as put"
    newer = record_for(digest, "round-trip", cost=0.02)
    backend.put_record(newer)
    assert backend.get_record(record.key) == newer, "the newer record of a key wins"
    assert backend.get_record(record.key).version == 1, "records carry their version"


def check_listing_names_only_own_objects(backend: Backend, scratch: Path) -> None:
    data = png_bytes((30, 30, 30))
    source = scratch / "s.png"
    source.write_bytes(data)
    backend.put_object(sha(data), ".png", source)
    names = [o.name for o in backend.objects()]
    assert names == [f"{sha(data)[:2]}/{sha(data)}.png"], names
