"""The lock and the journal are untrusted input (issue 9, items 3 and 9).

A lock arrives in pull requests: a crafted one must never make a build read,
write or delete outside the folders assetgen owns, and a damaged one must give
a located error (exit 2), never a traceback or a silent spend.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from assetgen.cli import main
from assetgen.lockfile import LockVariant

from .projects import make_project

SPEC = """
[[asset]]
name = "hero"
prompt = "a hero"
variants = [{ width = 64, format = "webp" }, { width = 32, format = "png" }]

[[asset]]
name = "icon"
prompt = "an icon"
candidates = 2
variants = [{ width = 32, format = "png" }]
"""

EXAMPLE = Path(__file__).parent.parent / "examples/landing"


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


@pytest.fixture
def built(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A built project at tmp/site, with a victim folder beside it (outside the project)."""
    root = tmp_path / "site"
    make_project(root, SPEC)
    assert run(root, "-q", "build") == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "notes.txt").write_text("precious\n")
    capsys.readouterr()
    return root


def read_lock(root: Path) -> dict[str, Any]:
    return tomllib.loads((root / "assetgen.lock").read_text())


def write_lock(root: Path, data: dict[str, Any]) -> None:
    (root / "assetgen.lock").write_text(tomli_w.dumps(data))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def refused(
    root: Path, capsys: pytest.CaptureFixture[str], *args: str, file: str = "assetgen.lock"
) -> str:
    """Run a command that must refuse with exit 2 and a located message; return stderr."""
    code = run(root, *args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err
    assert err.startswith(f"{file}: ") or f"\n{file}: " in err or f" {file}: " in err, err
    return err


# -- item 3: paths outside what assetgen owns ---------------------------------------------


def test_crafted_removal_cannot_delete_outside(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = built.parent / "victim/notes.txt"
    data = read_lock(built)
    ghost = json.loads(json.dumps(data["assets"]["hero"]))
    ghost["variants"][0]["path"] = "../victim/notes.txt"
    ghost["variants"][0]["sha256"] = sha(victim)
    data["assets"]["ghost"] = ghost  # not in the spec: a build removes its outputs
    write_lock(built, data)
    before = snapshot(built)
    err = refused(built, capsys, "build")
    assert "asset 'ghost'" in err and "field 'variants[0].path'" in err
    assert "outside out_dir 'public/img'" in err
    assert victim.read_text() == "precious\n"
    assert snapshot(built) == before  # nothing written or deleted, not even in the project


def test_crafted_rerender_cannot_delete_outside(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = built.parent / "victim/notes.txt"
    data = read_lock(built)
    variant = data["assets"]["hero"]["variants"][0]
    variant.update(path="../victim/notes.txt", sha256=sha(victim), key="sha256:" + "0" * 64)
    write_lock(built, data)  # the variant's key no longer matches: a build re-renders it
    err = refused(built, capsys, "build")
    assert "asset 'hero'" in err and "variants[0].path" in err
    assert victim.read_text() == "precious\n"


def test_crafted_original_path_cannot_write_outside(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = read_lock(built)
    original = data["assets"]["hero"]["original"]
    stored = built / original["path"]
    stored.unlink()  # missing from the store: a build restores it from the cache
    original["path"] = "../victim/x.png"
    write_lock(built, data)
    err = refused(built, capsys, "build")
    assert "asset 'hero'" in err and "field 'original.path'" in err
    assert "not the store's own name" in err
    assert not (built.parent / "victim/x.png").exists()
    assert not stored.exists()  # refused before anything was written


def test_an_original_must_be_named_by_its_own_hash(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = read_lock(built)
    original = data["assets"]["hero"]["original"]
    other = data["assets"]["icon"]["candidates"][0]
    original["path"] = other["path"]  # a store path, but another object's name
    write_lock(built, data)
    err = refused(built, capsys, "check")
    assert "field 'original.path'" in err


def test_a_symlink_in_out_dir_cannot_lead_outside(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = built.parent / "victim/notes.txt"
    (built / "public/img/link").symlink_to(victim.parent, target_is_directory=True)
    data = read_lock(built)
    data["assets"]["ghost"] = json.loads(json.dumps(data["assets"]["hero"]))
    data["assets"]["ghost"]["variants"][0].update(
        path="public/img/link/notes.txt", sha256=sha(victim)
    )
    write_lock(built, data)
    err = refused(built, capsys, "build")
    assert "public/img/link/notes.txt" in err
    assert victim.exists()


def test_a_symlinked_store_subfolder_cannot_lead_outside(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = read_lock(built)
    original = data["assets"]["hero"]["original"]
    stored = built / original["path"]
    shutil.rmtree(stored.parent)
    stored.parent.symlink_to(built.parent / "victim", target_is_directory=True)
    err = refused(built, capsys, "build")
    assert "leads outside store_dir" in err
    assert sorted(p.name for p in (built.parent / "victim").iterdir()) == ["notes.txt"]


def test_drop_outputs_never_unlinks_outside_out_dir(built: Path) -> None:
    """Defence in depth: even a variant that skipped validation is not deleted."""
    from assetgen.build import Builder
    from assetgen.plan import Plan
    from assetgen.project import open_project

    victim = built.parent / "victim/notes.txt"
    project = open_project(built / "assetgen.toml")
    project.hashes.record(victim, sha(victim))
    warnings: list[str] = []
    builder = Builder(project, Plan(), None, emit=lambda e: warnings.append(e.message))
    bad = LockVariant("../victim/notes.txt", "sha256:" + "0" * 64, sha(victim), 1, 1, 9, "png")
    builder.drop_outputs([bad], keep=set())
    assert victim.exists()
    assert any("outside out_dir" in w for w in warnings)


def test_a_damaged_key_cache_record_cannot_write_outside(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The key cache's paths are placed by content hash, never used as recorded."""
    data = read_lock(built)
    stored = built / data["assets"]["hero"]["original"]["path"]
    record_path = next(
        p
        for p in (built / ".assetgen/cache/keys").rglob("*.json")
        if json.loads(p.read_text())["key"] == data["assets"]["hero"]["key"]
    )
    record = json.loads(record_path.read_text())
    record["candidates"][0]["path"] = "../victim/x.png"
    record_path.write_text(json.dumps(record))
    (built / "assetgen.lock").unlink()
    stored.unlink()
    assert run(built, "-q", "build") == 0, capsys.readouterr().err
    assert not (built.parent / "victim/x.png").exists()
    assert sha(stored) == stored.name.split(".")[0]  # restored where the store keeps it
    assert (
        read_lock(built)["assets"]["hero"]["original"]["path"]
        == data["assets"]["hero"]["original"]["path"]
    )


# -- item 9: every field checked --------------------------------------------------------


def set_field(data: dict[str, Any], dotted: str, value: Any) -> None:
    target: Any = data["assets"]["icon"]
    *parts, last = dotted.split(".")
    for part in parts:
        target = target[int(part)] if part.isdigit() else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("selected", -1, "selected"),
        ("selected", 7, "selected"),
        ("selected", "1", "selected"),
        ("key", "sha256:abc", "key"),
        ("key", 5, "key"),
        ("provider", "", "provider"),
        ("candidates.0.sha256", "abc", "candidates[0].sha256"),
        ("candidates.0.width", 0, "candidates[0].width"),
        ("candidates.1.height", True, "candidates[1].height"),
        ("original.width", 99, "original"),
        ("variants.0.bytes", -1, "variants[0].bytes"),
        ("variants.0.width", "32", "variants[0].width"),
        ("variants.0.format", "gif", "variants[0].format"),
        ("variants.0.key", "sha256:x", "variants[0].key"),
        ("variants.0.sha256", "", "variants[0].sha256"),
        ("variants.0", "not a table", "variants[0]"),
        ("cost_usd", -8000.0, "cost_usd"),
        ("cost_usd", float("nan"), "cost_usd"),
        ("cost_usd", float("inf"), "cost_usd"),
        ("cost_usd", "free", "cost_usd"),
        ("usage", {"output_tokens": -5}, "usage.output_tokens"),
        ("usage", {"output_tokens": 1.5}, "usage.output_tokens"),
        ("usage", "lots", "usage"),
        ("params", {"size": {"nested": 1}}, "params.size"),
        ("params", {"size": [1, 2]}, "params.size"),
        ("params", "x", "params"),
        ("inputs", [{"role": "image", "path": "a.png"}], "inputs[0].sha256"),
        ("inputs", [{"role": "hat", "path": "a.png", "sha256": "0" * 64}], "inputs[0].role"),
        ("inputs", {"role": "image"}, "inputs"),
        ("candidates", [], "candidates"),
        ("generated_at", 3, "generated_at"),
        ("selcted", 1, "unknown field"),
    ],
)
def test_a_malformed_field_is_a_located_error(
    built: Path, capsys: pytest.CaptureFixture[str], field: str, value: Any, named: str
) -> None:
    data = read_lock(built)
    set_field(data, field, value)
    write_lock(built, data)
    before = snapshot(built)
    for command in ("check", "build", "plan"):
        err = refused(built, capsys, command)
        assert "asset 'icon'" in err and named in err, err
        assert "git checkout -- assetgen.lock" in err  # how to repair it
    assert snapshot(built) == before


def test_selected_out_of_range_never_regenerates(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old main quietly took candidate -1 (the last): a silent change of the asset."""
    data = read_lock(built)
    data["assets"]["icon"]["selected"] = -1
    write_lock(built, data)
    err = refused(built, capsys, "build")
    assert "is -1, but there are 2 candidate(s): it must be 0 to 1" in err
    assert "assetgen pick" in err


@pytest.mark.parametrize(
    ("junk", "message"),
    [
        (b"version = 1\n\x00\x00\x00", "NUL byte at offset 12"),
        (b"version = 1\n# caf\xe9\n", "not UTF-8 text (bad byte at offset 17)"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "NUL byte"),
        (b"version = " + b"9" * 5000 + b"\n", "not a readable lock"),
        (b"version = 1\nassets = 3\n", "`assets` must be a table"),
        (b"version = 1\n[assets]\nhero = 3\n", "asset 'hero': must be a table"),
    ],
)
def test_binary_junk_in_the_lock_is_a_clear_error(
    built: Path, capsys: pytest.CaptureFixture[str], junk: bytes, message: str
) -> None:
    (built / "assetgen.lock").write_bytes(junk)
    for command in ("check", "build"):
        err = refused(built, capsys, command)
        assert message in err, err


def test_a_lock_that_is_a_folder_is_a_clear_error(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (built / "assetgen.lock").unlink()
    (built / "assetgen.lock").mkdir()
    assert run(built, "check") == 2  # the spec's own check finds it first
    err = capsys.readouterr().err
    assert "'assetgen.lock' is a folder" in err and "Traceback" not in err


# -- the journal ------------------------------------------------------------------------


def journal_line(root: Path, record: Any) -> None:
    journal = root / ".assetgen/journal.jsonl"
    with journal.open("a") as handle:
        handle.write(json.dumps(record) + "\n")


def test_a_malformed_journal_entry_is_a_located_error(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = read_lock(built)["assets"]["icon"]
    entry["selected"] = 9
    journal_line(built, {"name": "icon", "entry": entry})
    lock_before = (built / "assetgen.lock").read_bytes()
    err = refused(built, capsys, "build", file=".assetgen/journal.jsonl")
    assert "asset 'icon'" in err and "field 'selected'" in err
    assert "delete .assetgen/journal.jsonl" in err
    assert (built / "assetgen.lock").read_bytes() == lock_before  # not folded


def test_a_crafted_journal_path_is_refused(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = read_lock(built)["assets"]["hero"]
    entry["variants"][0]["path"] = "../victim/notes.txt"
    journal_line(built, {"name": "ghost", "entry": entry})
    err = refused(built, capsys, "build", file=".assetgen/journal.jsonl")
    assert "asset 'ghost'" in err and "variants[0].path" in err
    assert (built.parent / "victim/notes.txt").exists()


@pytest.mark.parametrize(
    "line", ['["icon"]', '{"entry": {}}', '{"name": 3}', "not json at all", "\xff\xfe junk"]
)
def test_a_bad_journal_line_before_the_last_is_an_error(
    built: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    journal = built / ".assetgen/journal.jsonl"
    journal.parent.mkdir(exist_ok=True)
    with journal.open("ab") as handle:
        handle.write(line.encode("latin-1") + b"\n" + b'{"name": "hero"}\n')
    err = refused(built, capsys, "check", file=".assetgen/journal.jsonl")
    assert "line 1 is not a journal record" in err


def test_a_torn_last_journal_line_is_still_ignored(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    entry = read_lock(built)["assets"]["icon"]
    journal = built / ".assetgen/journal.jsonl"
    journal.write_text(json.dumps({"name": "icon", "entry": entry})[:-7])
    assert run(built, "check") == 0, capsys.readouterr().err


# -- what must still parse ---------------------------------------------------------------


def test_the_bundled_example_lock_parses_with_path_checks(tmp_path: Path) -> None:
    from assetgen.project import open_project

    root = tmp_path / "landing"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".assetgen"))
    project = open_project(root / "assetgen.toml")
    lock = project.locks.read_committed()
    assert lock.assets and all(entry.variants for entry in lock.assets.values())


def test_a_store_dir_written_with_dot_slash_still_parses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "site"
    base = (Path(__file__).parent / "projects.py").read_text()
    assert 'store_dir = "assets/generated"' in base
    from .projects import BASE_SPEC

    make_project(
        root,
        SPEC,
        base=BASE_SPEC.replace('"assets/generated"', '"./assets/generated"').replace(
            '"public/img"', '"./public/img/"'
        ),
    )
    assert run(root, "-q", "build") == 0, capsys.readouterr().err
    assert run(root, "check") == 0, capsys.readouterr().err


# -- the lock tells the truth about the files it names ----------------------------------

CLASH = """
[[asset]]
name = "hero"
prompt = "{prompt}"
variants = [{variants}]
"""
ONE = '{ width = 64, format = "png" }'
TWO = ONE + ', { width = 64, format = "webp" }'


def test_a_render_that_fails_midway_leaves_no_stale_hash_in_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A variant file is overwritten before the render fails (as at a crash mid-render):
    the lock must not keep the old file's hash for it."""
    from assetgen.project import open_project

    root = tmp_path / "site"
    make_project(root, CLASH.format(prompt="a hero", variants=ONE))
    assert run(root, "-q", "build") == 0
    make_project(root, CLASH.format(prompt="a new hero", variants=TWO))
    (root / "public/img/hero-64w.webp").mkdir()  # the second variant cannot be written
    assert run(root, "-q", "build") == 1
    assert "hero-64w.webp" in capsys.readouterr().err
    lock = open_project(root / "assetgen.toml").locks.load()
    for variant in lock.assets["hero"].variants:
        assert sha(root / variant.path) == variant.sha256, variant.path


def test_a_moved_store_dir_is_followed_without_generating(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = built / "assetgen.toml"
    spec.write_text(spec.read_text().replace('"assets/generated"', '"art/generated"'))
    (built / "art").mkdir()
    (built / "assets/generated").rename(built / "art/generated")
    shutil.rmtree(built / ".assetgen")  # a fresh clone: no local cache to fall back on
    assert run(built, "build") == 0
    out = capsys.readouterr().out
    assert "0 generated" in out
    paths = [entry["original"]["path"] for entry in read_lock(built)["assets"].values()]
    assert paths and all(p.startswith("art/generated/") for p in paths)
    assert run(built, "check") == 0


def test_a_moved_store_dir_never_rebases_a_path_that_climbs_out(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = read_lock(built)
    original = data["assets"]["hero"]["original"]
    name = original["path"].split("/", 2)[-1]  # <ab>/<sha>.png
    original["path"] = f"../victim/{name}"
    write_lock(built, data)
    err = refused(built, capsys, "build")
    assert "field 'original.path'" in err
