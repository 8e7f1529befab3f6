"""One generation type: a lock entry holds the key record its caches keep (issue 13, 3).

The lock's TOML, the key records' JSON and the journal's lines are the
contract; these build a real project and check that every file comes back
byte for byte through the one value, and that lock and cache agree on it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.keyrecords import KeyRecord, LockOriginal
from assetgen.lockfile import LockEntry, Lockfile, parse_lock, read_entry
from assetgen.storage import encode_record

from .projects import make_project

ASSETS = """
[[asset]]
name = "hero"
prompt = "a calm hero"
candidates = 3
variants = [{ width = 64, format = "webp" }, { width = 32, format = "png" }]

[[asset]]
name = "icon"
prompt = "a small icon"
variants = [{ width = 16, format = "png" }]
"""


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), "-q", *args])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project built (offline), with candidate 2 of ``hero`` picked."""
    root = tmp_path_factory.mktemp("records")
    make_project(root, ASSETS)
    assert run(root, "build") == 0
    assert run(root, "pick", "hero", "2") == 0
    return root


def lock_of(root: Path) -> Lockfile:
    return parse_lock((root / "assetgen.lock").read_text(encoding="utf-8"), file="assetgen.lock")


def record_files(root: Path) -> list[Path]:
    return sorted((root / ".assetgen/cache/keys").glob("*/*.json"))


def test_the_lock_comes_back_byte_for_byte(built: Path) -> None:
    text = (built / "assetgen.lock").read_text(encoding="utf-8")
    lock = lock_of(built)
    assert lock.assets["hero"].selected == 2
    assert lock.dumps() == text


def test_every_key_record_comes_back_byte_for_byte(built: Path) -> None:
    files = record_files(built)
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        assert encode_record(KeyRecord.from_json(json.loads(data))) == data


def test_a_journal_line_comes_back_as_the_same_entry(built: Path) -> None:
    for name, entry in lock_of(built).assets.items():
        line = json.loads(json.dumps(entry.to_toml(), sort_keys=True))
        assert read_entry(line, file="journal", asset=name) == entry


def test_lock_and_cache_hold_the_same_generation(built: Path) -> None:
    """What the lock holds of a generation is what the cache holds, pick included."""
    lock = lock_of(built)
    records = {
        record.key: record
        for record in (KeyRecord.from_json(json.loads(p.read_bytes())) for p in record_files(built))
    }
    for entry in lock.assets.values():
        assert entry.generation == records[entry.key]
    assert records[lock.assets["hero"].key].selected == 2


def test_an_entry_assembled_from_a_record_is_the_locks_entry(built: Path) -> None:
    lock = lock_of(built)
    for path in record_files(built):
        record = KeyRecord.from_json(json.loads(path.read_bytes()))
        entry = next(e for e in lock.assets.values() if e.key == record.key)
        assembled = LockEntry(record, entry.prompt, entry.params, entry.inputs, entry.variants)
        assert assembled == entry
        assert assembled.to_toml() == entry.to_toml()


def test_the_entry_names_its_generations_fields() -> None:
    """The entry's fields of a generation are read-only views of ``generation``."""
    entry = lock_entry()
    generation = entry.generation
    assert (entry.key, entry.provider, entry.model, entry.cost_usd) == (
        generation.key, generation.provider, generation.model, generation.cost_usd,
    )  # fmt: skip
    assert entry.original == generation.candidates[1] == generation.original
    picked = entry.with_selected(0)
    assert picked.generation == replace(generation, selected=0)
    assert picked.original == generation.candidates[0] and entry.selected == 1
    with pytest.raises(AttributeError):
        entry.key = "sha256:" + "1" * 64  # type: ignore[misc]


def lock_entry() -> LockEntry:
    candidates = tuple(LockOriginal(f"s/{c * 2}/{c * 64}.png", c * 64, 8, 8) for c in "ab")
    generation = KeyRecord("sha256:" + "0" * 64, "offline", "m", candidates, None, 0.5, "", 1)
    return LockEntry(generation, "a prompt", {}, ())
