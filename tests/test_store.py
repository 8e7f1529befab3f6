"""Store, cache, gc, temp files and file modes: assetgen touches only what it wrote (issue 9)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.gc import find_garbage
from assetgen.hashing import sha256_file
from assetgen.lockfile import LockStore
from assetgen.project import Project, open_project
from assetgen.store import Store
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI

from .projects import make_project, write

REPO = Path(__file__).parents[1]

TWO = """
[[asset]]
name = "card-{{ n }}"
prompt = "a playing card number {{ n }}"
matrix = { n = [1, 2] }
variants = [{ width = 32, format = "webp" }]
"""


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    make_project(root, TWO)
    return root


@pytest.fixture
def built(site: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert run(site, "-q", "build") == 0
    capsys.readouterr()
    return site


def lock_of(root: Path) -> dict:
    return LockStore(root / "assetgen.lock", root / ".assetgen/journal.jsonl").load().assets


def orphan(root: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """Change the prompt and rebuild: card-1's (and card-2's) old original is unreferenced."""
    old = root / lock_of(root)["card-1"].original.path
    spec = root / "assetgen.toml"
    spec.write_text(spec.read_text().replace("number {{ n }}", "no. {{ n }}"))
    assert run(root, "-q", "build") == 0
    capsys.readouterr()
    return old


def fake_object(folder: Path, data: bytes, suffix: str = ".png") -> Path:
    """A file named like a store object whose bytes do match its name."""
    digest = hashlib.sha256(data).hexdigest()
    return write_bytes(folder / digest[:2] / f"{digest}{suffix}", data)


def write_bytes(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


# -- gc deletes only assetgen's objects (item 1) ---------------------------------------------


def test_gc_leaves_everything_but_its_own_objects_in_the_store(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    olds = {built / e.original.path for e in lock_of(built).values()}
    old = orphan(built, capsys)
    store = built / "assets/generated"
    digest = old.stem
    foreign = {
        "README.md": b"our store, keep",
        f"{digest[:2]}/notes.txt": b"a note beside the objects",
        f"{digest[:2]}/{'0' * 64}.png": b"wrong prefix and wrong bytes",
        f"{digest[:2]}/{digest}.txt": b"unknown extension",
        f"{digest}.png": b"not in a 2-hex folder",
        f"{'a' * 2}/{'a' * 64}.png": b"named like an object, bytes do not match",
        "objects/ab/" + "ab" * 19: b"a .git-like loose object",
        "css/site.css": b"body { color: teal }",
    }
    for name, data in foreign.items():
        write_bytes(store / name, data)
    before = snapshot(store)
    assert run(built, "-v", "gc") == 0
    out = capsys.readouterr().out
    assert "README.md: not assetgen's, left alone" in out
    assert f"{digest[:2]}/notes.txt: not assetgen's, left alone" in out
    assert f"{'a' * 64}.png: not assetgen's, left alone" in out  # bytes do not match its name
    assert run(built, "gc", "--yes") == 0
    after = snapshot(store)
    gone = set(before) - set(after)
    assert gone == {path.relative_to(store).as_posix() for path in olds}
    assert all(after[name] == data for name, data in foreign.items())
    assert run(built, "check") == 0


def test_gc_with_the_store_at_the_project_root_spares_git_templates_and_inputs(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A store folder that overlaps the project (refused by the spec loader, but gc
    # must be safe on its own): only content-addressed objects may go.
    for name, data in {
        ".git/HEAD": b"ref: refs/heads/main\n",
        ".git/config": b"[core]\n",
        ".git/index": b"DIRC",
        ".git/objects/ab/" + "cd" * 19: b"blob",
        "prompts/hero.j2": b"a hero",
        "art/base.png": b"input art",
    }.items():
        write_bytes(built / name, data)
    junk = fake_object(built, b"an unreferenced object at the root store")
    before = snapshot(built)
    project = open_project(built / "assetgen.toml")
    spec = replace(project.spec, build=replace(project.spec.build, store_dir="."))
    rooted = replace(project, spec=spec, store=Store(built, ".", spec.state_dir, project.hashes))
    with rooted.exclusive(clean=False):
        garbage = find_garbage(rooted)
    assert garbage.objects == [junk]
    garbage.delete()
    assert set(before) - set(snapshot(built)) == {junk.relative_to(built).as_posix()}


def test_gc_never_follows_or_deletes_through_symlinks(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = orphan(built, capsys)
    outside = tmp_path / "outside"
    target = fake_object(outside, b"precious bytes outside the project")
    digest = target.stem
    store = built / "assets/generated"
    link = store / digest[:2] / target.name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)  # a symlinked object, bytes matching its name
    away = fake_object(outside / "dir", b"an object in a folder linked into the store")
    (store / away.parent.name).symlink_to(away.parent, target_is_directory=True)
    assert run(built, "gc", "--yes") == 0
    out = capsys.readouterr().out
    assert target.exists() and link.is_symlink() and away.exists()
    assert str(outside) not in out and digest not in out
    assert not old.exists()


def test_gc_removes_unreferenced_cache_objects_and_records_only(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = orphan(built, capsys)
    cache = built / ".assetgen/cache"
    cached_old = cache / "objects" / old.relative_to(built / "assets/generated")
    assert cached_old.exists()
    stray = write_bytes(cache / "objects/zz/keep-me.txt", b"not ours")
    altered = fake_object(cache / "objects", b"x")
    altered.write_bytes(b"edited since")  # name no longer matches: not provably ours
    assert run(built, "gc", "--yes") == 0
    assert not cached_old.exists()
    assert stray.exists() and altered.exists()
    records = list((cache / "keys").glob("*/*.json"))
    assert len(records) == 2  # the two current keys
    assert run(built, "check") == 0


# -- gc takes the project lock (item 2) ------------------------------------------------------


def test_gc_waits_for_a_running_build_then_refuses_with_a_clear_message(
    built: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    old = orphan(built, capsys)
    import assetgen.project

    monkeypatch.setattr(assetgen.project, "LOCK_WAIT_SECONDS", 0.3)
    with (built / ".assetgen/build.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        started = time.monotonic()
        assert run(built, "gc", "--yes") == 2
        assert time.monotonic() - started >= 0.3
        err = capsys.readouterr().err
        assert "another assetgen build is running in this project (waited 0.3 s)" in err
        assert old.exists()
        timer = threading.Timer(0.2, fcntl.flock, (held.fileno(), fcntl.LOCK_UN))
        timer.start()
        monkeypatch.setattr(assetgen.project, "LOCK_WAIT_SECONDS", 10.0)
        assert run(built, "gc", "--yes") == 0  # waited for the "build" to finish
        timer.join()
    assert not old.exists()


def test_a_build_waits_for_a_gc(
    site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import assetgen.project

    monkeypatch.setattr(assetgen.project, "LOCK_WAIT_SECONDS", 0.3)
    (site / ".assetgen").mkdir()
    with (site / ".assetgen/build.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        held.write("gc 1\n")
        held.flush()
        assert run(site, "-q", "build") == 2
        assert "another assetgen gc is running in this project (waited 0.3 s)" in (
            capsys.readouterr().err
        )


GC_LOOP = """\
import sys, time
from pathlib import Path
from assetgen.cli import main
root, stop = sys.argv[1], Path(sys.argv[2])
runs = 0
while not stop.exists():
    main(["-C", root, "-q", "gc", "--yes"])
    runs += 1
print(runs)
"""


def test_a_gc_loop_beside_builds_never_loses_a_paid_original(
    fake_api: FakeImagesAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    base = textwrap.dedent(f"""\
        [build]
        out_dir = "public/img"
        [provider]
        name = "openai"
        base_url = "{fake_api.base_url}"
        concurrency = 2
        max_retries = 0
        [defaults]
        size = "1024x1024"
        quality = "low"
        """)
    root = tmp_path / "site"
    fake_api.latency = 0.15
    env = {**os.environ, "OPENAI_API_KEY": FAKE_API_KEY}
    stop = tmp_path / "stop"
    gc = subprocess.Popen(
        [sys.executable, "-c", GC_LOOP, str(root), str(stop)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        for round_ in range(3):
            assets = TWO.replace("[1, 2]", "[1, 2, 3, 4]")
            make_project(root, assets.replace("card number", f"card r{round_} number"), base=base)
            build = subprocess.run(
                [sys.executable, "-m", "assetgen", "-C", str(root), "-q", "build"],
                cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert build.returncode == 0, build.stderr
            for entry in lock_of(root).values():
                assert sha256_file(root / entry.original.path) == entry.original.sha256
    finally:
        stop.touch()
        runs, _ = gc.communicate(timeout=60)
    assert int(runs.splitlines()[-1]) >= 3
    assert len(fake_api.requests) == 3 * 4  # nothing was paid twice
    assert run(root, "check") == 0


# -- store and cache copies are independent (item 8) -----------------------------------------


def test_an_original_edited_in_place_is_reported_altered_and_restored(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = lock_of(built)["card-1"].original
    path = built / original.path
    cached = built / ".assetgen/cache/objects" / path.relative_to(built / "assets/generated")
    assert not os.path.samefile(path, cached)
    with path.open("r+b") as handle:  # as `mogrify` does: same inode, new bytes
        handle.seek(40)
        handle.write(b"\x00" * 16)
    assert sha256_file(cached) == original.sha256
    assert run(built, "plan") == 0
    assert "original altered in the store, restored from the local cache" in (
        capsys.readouterr().out
    )
    assert run(built, "check") == 3
    assert "card-1: original altered: assets/generated/" in capsys.readouterr().err
    assert run(built, "-q", "build") == 0
    assert sha256_file(path) == original.sha256
    assert run(built, "check") == 0


def test_an_altered_original_without_a_cache_copy_says_altered(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    original = lock_of(built)["card-1"].original
    project = open_project(built / "assetgen.toml")
    assert project.store.state(original) == "present"
    (built / original.path).write_bytes(b"edited")
    assert project.store.state(original) == "altered"
    assert "was altered (its bytes no longer match its name)" in project.store.loss(original)
    (built / original.path).unlink()
    assert project.store.state(original) == "missing"


# -- key records are untrusted ---------------------------------------------------------------


def forget_store_and_lock(root: Path) -> None:
    (root / "assetgen.lock").unlink()
    for path in (root / "assets/generated").rglob("*.png"):
        path.unlink()


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: {**r, "candidates": [{**r["candidates"][0], "path": "../victim/x.png"}]},
        lambda r: {**r, "candidates": [{**r["candidates"][0], "path": "/tmp/victim.png"}]},
        lambda r: {**r, "candidates": [{**r["candidates"][0], "width": True}]},
        lambda r: {**r, "candidates": [{**r["candidates"][0], "sha256": "../../x"}]},
        lambda r: {**r, "candidates": []},
        lambda r: {**r, "cost_usd": -8000},
        lambda r: {**r, "cost_usd": float("inf")},
        lambda r: {**r, "usage": {"total_tokens": -1}},
        lambda r: {**r, "key": "sha256:" + "0" * 64},
        lambda r: [r],
        lambda r: "junk",
    ],
)
def test_a_malformed_key_record_is_ignored_without_a_traceback(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], tamper: object
) -> None:
    forget_store_and_lock(built)
    for record_path in (built / ".assetgen/cache/keys").glob("*/*.json"):
        record = json.loads(record_path.read_text())
        record_path.write_text(json.dumps(tamper(record)))  # type: ignore[operator]
    assert run(built, "plan") == 0
    out = capsys.readouterr().out
    assert "generate" in out and "Traceback" not in out
    assert run(built, "-q", "build") == 0
    assert not (tmp_path / "victim").exists() and not Path("/tmp/victim.png").exists()
    assert run(built, "check") == 0


def test_a_key_record_from_a_moved_store_dir_is_rebased_inside_the_store(
    built: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forget_store_and_lock(built)
    for record_path in (built / ".assetgen/cache/keys").glob("*/*.json"):
        record = json.loads(record_path.read_text())
        tail = record["candidates"][0]["path"].removeprefix("assets/generated/")
        record["candidates"][0]["path"] = f"../victim/{tail}"
        record_path.write_text(json.dumps(record))
    assert run(built, "plan") == 0
    assert "generate" not in capsys.readouterr().out  # reused from the cache, for free
    assert run(built, "-q", "build") == 0
    assert not (tmp_path / "victim").exists()
    assert all(e.original.path.startswith("assets/generated/") for e in lock_of(built).values())


def test_binary_junk_in_a_key_record_is_ignored(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forget_store_and_lock(built)
    for record_path in (built / ".assetgen/cache/keys").glob("*/*.json"):
        record_path.write_bytes(b"\xff\xfe\x00junk" + b"[" * 100_000)
    assert run(built, "-q", "build") == 0
    assert "Traceback" not in capsys.readouterr().err


def test_a_damaged_hash_cache_is_ignored_entry_by_entry(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = built / ".assetgen/hashes.json"
    data = json.loads(cache.read_text())
    assert len(data["files"]) >= 4
    junk: list[object] = [7, [1, 2], "x", [1, 2, 3, None], [True, 2, 3, "0" * 64], None]
    data["files"] = {path: junk[i % len(junk)] for i, path in enumerate(data["files"])}
    cache.write_text(json.dumps(data))
    assert run(built, "-q", "build") == 0
    assert run(built, "check") == 0
    assert "Traceback" not in capsys.readouterr().err


# -- temp files of killed processes (item 11) ------------------------------------------------

KILLED_WRITE = """\
import os, signal, sys
from pathlib import Path
from assetgen import fsutil
os.replace = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # die just before the rename
fsutil.atomic_write_bytes(Path(sys.argv[1]), b"half a variant")
"""


def killed_write(path: Path) -> None:
    """Have a real process die in the middle of an atomic write of ``path``."""
    done = subprocess.run([sys.executable, "-c", KILLED_WRITE, str(path)], cwd=REPO, check=False)
    assert done.returncode == -9


def test_temp_files_of_a_killed_build_are_removed_at_the_next_start(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    targets = [
        built / "public/img/card-1-32w.webp",
        built / "assets/generated/ab/new.png",
        built / ".assetgen/cache/keys/ab/new.json",
        built / "assetgen.lock",
    ]
    for target in targets:
        killed_write(target)
    leftovers = [p for t in targets for p in t.parent.glob(f".{t.name}.*.tmp")]
    assert len(leftovers) == len(targets)
    foreign = [
        write_bytes(built / "public/img/.card-1-32w.webp.ktdmntx0.tmp", b"someone else's"),
        write_bytes(built / "public/img/.x.assetgen-1-nothexxx.tmp", b"not our pattern"),
        write_bytes(built / "public/img/keep.tmp", b"user file"),
    ]
    link = built / "public/img/.y.assetgen-999999999-0123abcd.tmp"
    link.symlink_to(built / "assetgen.toml")
    assert run(built, "gc") == 0
    listed = capsys.readouterr().out
    assert all(p.relative_to(built).as_posix() in listed for p in leftovers)
    assert "temp file of a killed assetgen" in listed
    assert all(p.exists() for p in leftovers)  # a dry run deletes nothing
    assert run(built, "-q", "build") == 0
    assert not any(p.exists() for p in leftovers)
    assert all(p.exists() for p in foreign) and link.is_symlink()
    assert (built / "assetgen.toml").exists()


def test_gc_yes_removes_leftover_temp_files(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    killed_write(built / "public/img/card-2-32w.webp")
    (leftover,) = (built / "public/img").glob(".card-2-32w.webp.*.tmp")
    assert run(built, "gc", "--yes") == 0
    assert "removed 1 files" in capsys.readouterr().out
    assert not leftover.exists()


def test_a_temp_file_of_a_running_process_is_left_alone(built: Path) -> None:
    running = built / f"public/img/.card-1-32w.webp.assetgen-{os.getpid()}-0123abcd.tmp"
    write_bytes(running, b"being written right now")
    assert run(built, "-q", "build") == 0
    assert running.exists()


# -- file modes follow the umask (issue 10 item 1) -------------------------------------------


def assetgen_cli(root: Path, *args: str, umask: int) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "assetgen", "-C", str(root), "-q", *args],
        cwd=REPO, umask=umask, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_every_written_file_gets_the_umask_mode(tmp_path: Path, umask: int, mode: int) -> None:
    root = tmp_path / "site"
    root.mkdir()
    assetgen_cli(root, "init", umask=umask)
    spec = root / "assetgen.toml"
    spec.write_text(
        spec.read_text()
        .replace('size = "1536x1024"', 'size = "256x256"')
        .replace('size = "1024x1024"', 'size = "256x256"')
        .replace('model = "gpt-image-2.6-flare"', 'model = "sketch"')
        .replace('templates = "prompts"', 'templates = "prompts"\nmanifest = "public/img/a.json"')
    )
    os.chmod(spec, mode)  # rewritten by the test, not by assetgen
    assetgen_cli(root, "build", "--jobs", "2", umask=umask)
    assetgen_cli(root, "gallery", umask=umask)
    files = [p for p in root.rglob("*") if p.is_file()]
    kinds = {p.relative_to(root).parts[0] for p in files}
    assert {"public", "assets", "assetgen.lock", ".assetgen", ".gitignore", "prompts"} <= kinds
    assert (root / ".assetgen/gallery/index.html").exists()
    assert list((root / ".assetgen/cache/objects").rglob("*.png"))
    wrong = {p.relative_to(root).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    secret = ".assetgen/parsed/secret"  # the parsed-state cache's key: the one private file
    assert wrong.pop(secret) == oct(0o600)
    assert {k: v for k, v in wrong.items() if v != oct(mode)} == {}


def test_init_keeps_the_mode_of_an_existing_gitignore(tmp_path: Path) -> None:
    gitignore = write(tmp_path / ".gitignore", "node_modules/\n")
    gitignore.chmod(0o640)
    assert run(tmp_path, "init") == 0
    assert ".assetgen/" in gitignore.read_text()
    assert stat.S_IMODE(gitignore.stat().st_mode) == 0o640


def test_a_rewritten_file_keeps_its_mode(built: Path) -> None:
    lock = built / "assetgen.lock"
    lock.chmod(0o664)
    spec = built / "assetgen.toml"
    spec.write_text(spec.read_text().replace("number {{ n }}", "no. {{ n }}"))
    before = lock.read_bytes()
    assert run(built, "-q", "build") == 0
    assert lock.read_bytes() != before
    assert stat.S_IMODE(lock.stat().st_mode) == 0o664


# -- read-only commands never fold the journal (item 12) -------------------------------------


def test_plan_show_check_and_gallery_read_a_leftover_journal_without_folding(
    built: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = built / "assetgen.lock"
    journal = built / ".assetgen/journal.jsonl"
    entries = lock_of(built)
    locks = LockStore(lock, journal)
    card = entries["card-2"]
    killed = replace(card.generation, generated_at="from a killed build")
    locks.record("card-2", replace(card, generation=killed))
    locks.close()
    before, journaled = lock.read_bytes(), journal.read_bytes()
    for command in (["plan"], ["plan", "--json"], ["show", "card-2"], ["check"], ["gallery"]):
        run(built, *command)
        assert lock.read_bytes() == before, command
        assert journal.read_bytes() == journaled, command
    assert "from a killed build" not in lock.read_text()
    assert run(built, "-q", "build") == 0  # the build folds it
    assert not journal.exists()
    assert 'generated_at = "from a killed build"' in lock.read_text()


def test_only_the_holder_of_the_project_lock_folds(built: Path) -> None:
    journal = built / ".assetgen/journal.jsonl"
    locks = LockStore(built / "assetgen.lock", journal)
    locks.record("card-1", None)
    locks.close()
    project: Project = open_project(built / "assetgen.toml")
    assert "card-1" not in project.lock().assets and journal.exists()
    with project.exclusive():
        assert "card-1" not in project.lock().assets
    assert not journal.exists()


def test_a_temp_file_of_a_dead_but_unreaped_process_is_a_leftover(tmp_path: Path) -> None:
    """Killed workers re-parented to a container's PID 1 may stay zombies: they write nothing."""
    import subprocess
    import sys
    import time

    from assetgen.fsutil import leftover_temps

    if not Path("/proc/self/stat").exists():
        pytest.skip("needs /proc to tell a zombie")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.05)
        leftover = tmp_path / f".hero.webp.assetgen-{child.pid}-0123abcd.tmp"
        leftover.write_bytes(b"half")
        assert leftover_temps([tmp_path]) == [leftover]
    finally:
        child.wait()
