"""The lockfile: stable TOML, a journal that survives crashes, clear errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from assetgen.errors import LockfileError
from assetgen.keyrecords import KeyRecord, LockOriginal
from assetgen.lockfile import LockEntry, Lockfile, LockInput, LockStore, LockVariant


def hexed(short: str) -> str:
    """A well-formed 64-hex-digit hash made from a short tag (the lock checks the shape)."""
    return (short * 64)[:64]


def entry(name: str, key: str = "sha256:" + hexed("aa")) -> LockEntry:
    generation = KeyRecord(
        key=key,
        provider="offline",
        model="gpt-image-1-mini",
        candidates=(
            LockOriginal(f"assets/generated/cc/{hexed('cc')}.png", hexed("cc"), 1024, 1024),
        ),
        usage={"output_tokens": 272, "input_text_tokens": 12},
        cost_usd=0.0050000001,
        generated_at="2026-11-25T12:00:00Z",
    )
    return LockEntry(
        generation=generation,
        prompt=f"a prompt for {name}",
        params={"size": "1024x1024", "quality": "low"},
        inputs=(LockInput("image", "art/base.png", hexed("bb")),),
        variants=(
            LockVariant(
                f"public/img/{name}-b.webp",
                "sha256:" + hexed("e2"),
                hexed("d2"),
                480,
                480,
                100,
                "webp",
            ),
            LockVariant(
                f"public/img/{name}-a.webp",
                "sha256:" + hexed("e1"),
                hexed("d1"),
                960,
                960,
                200,
                "webp",
            ),
        ),
    )


def store(tmp_path: Path) -> LockStore:
    return LockStore(tmp_path / "assetgen.lock", tmp_path / ".assetgen/journal.jsonl")


def test_round_trip_and_stable_order(tmp_path: Path) -> None:
    one = Lockfile({"b": entry("b"), "a": entry("a")})
    other = Lockfile({"a": entry("a"), "b": entry("b")})
    assert one.dumps() == other.dumps()
    text = one.dumps()
    assert text.index("[assets.a]") < text.index("[assets.b]")
    assert text.index("-a.webp") < text.index("-b.webp")
    assert "cost_usd = 0.005\n" in text
    locks = store(tmp_path)
    locks.write(one)
    parsed = locks.read_committed().assets
    assert {n: e.to_toml() for n, e in parsed.items()} == {
        n: e.to_toml() for n, e in one.assets.items()
    }
    assert (tmp_path / "assetgen.lock").read_text() == text


def test_candidates_round_trip(tmp_path: Path) -> None:
    two = LockOriginal("assets/generated/dd/dd.png", hexed("dd"), 1024, 1024)
    first = entry("a")
    generation = replace(first.generation, candidates=(*first.candidates, two), selected=1)
    many = replace(first, generation=generation)
    parsed = LockEntry.from_toml(many.to_toml())
    assert parsed.selected == 1 and parsed.original == two and len(parsed.candidates) == 2


def test_write_reports_whether_bytes_changed(tmp_path: Path) -> None:
    locks = store(tmp_path)
    assert locks.write(Lockfile({"a": entry("a")})) is True
    mtime = (tmp_path / "assetgen.lock").stat().st_mtime_ns
    assert locks.write(Lockfile({"a": entry("a")})) is False
    assert (tmp_path / "assetgen.lock").stat().st_mtime_ns == mtime


def test_journal_survives_a_crash_and_is_folded(tmp_path: Path) -> None:
    crashed = store(tmp_path)
    crashed.write(Lockfile({"old": entry("old")}))
    crashed.record("a", entry("a"))
    crashed.record("old", None)
    crashed.close()  # the process dies here: no final write
    assert "[assets.a]" not in (tmp_path / "assetgen.lock").read_text()
    lock = store(tmp_path).recover()
    assert sorted(lock.assets) == ["a"]
    assert "[assets.a]" in (tmp_path / "assetgen.lock").read_text()
    assert not (tmp_path / ".assetgen/journal.jsonl").exists()


def test_a_torn_journal_line_is_ignored(tmp_path: Path) -> None:
    locks = store(tmp_path)
    locks.record("a", entry("a"))
    locks.close()
    with (tmp_path / ".assetgen/journal.jsonl").open("a") as handle:
        handle.write(json.dumps({"name": "b", "entry": entry("b").to_toml()})[:40])
    assert sorted(store(tmp_path).load().assets) == ["a"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version = [", "not valid TOML"),
        ("version = 7\n", "lock format version 7 is not supported"),
        ('version = 1\n[assets.a]\nkey = "x"\n', "asset 'a': field 'model': is missing"),
    ],
)
def test_corrupt_lock_names_the_file_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "assetgen.lock").write_text(text)
    with pytest.raises(LockfileError) as caught:
        store(tmp_path).load()
    assert message in str(caught.value)
    assert str(caught.value).startswith("assetgen.lock: ")
    assert caught.value.exit_code == 2


def test_a_running_builds_journal_is_read_not_folded(tmp_path: Path) -> None:
    import fcntl

    from assetgen.project import open_project
    from tests.projects import make_project

    make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "x"\n')
    project = open_project(tmp_path / "assetgen.toml")
    project.locks.record("a", entry("a"))  # a build in progress has journaled "a"
    with (tmp_path / ".assetgen/build.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert sorted(open_project(tmp_path / "assetgen.toml").lock().assets) == ["a"]
        assert (tmp_path / ".assetgen/journal.jsonl").exists()
        assert not (tmp_path / "assetgen.lock").exists()
    assert sorted(open_project(tmp_path / "assetgen.toml").lock().assets) == ["a"]
    assert not (tmp_path / "assetgen.lock").exists()  # reading never folds (issue 9 item 12)
    later = open_project(tmp_path / "assetgen.toml")
    with later.exclusive():  # the next build folds it
        assert sorted(later.lock().assets) == ["a"]
    assert (tmp_path / "assetgen.lock").exists()
    assert not (tmp_path / ".assetgen/journal.jsonl").exists()
    project.locks.close()
