"""The parsed-state cache (``.assetgen/parsed/``): used when nothing changed, never stale.

Every kind of change a project sees must reach the answer: the spec, a
template, a template it includes, a stock template, an input image, a lock
edited by hand, a symlink swapped in, a new assetgen. A damaged, truncated or
foreign cache file is a miss, never an error and never trusted. Commands run
in-process; Jinja2's compiled templates are dropped between commands, as a
new process would.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import pickle
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from assetgen import key_memo, lockfile, prompts, state_cache
from assetgen.cli import main
from assetgen.dependencies import resolve
from assetgen.graph import expand, generation_key, variant_key
from assetgen.hashing import HashCache
from assetgen.plan import effective_recipe, variant_recipe
from assetgen.spec import load_spec
from assetgen.state_cache import MAGIC, StateCache

from .projects import heavy_imports, make_image, make_project, write

SPEC = """
[[asset]]
name = "tile-{{ n }}"
template = "tile.j2"
matrix = { n = [1, 2] }
variants = [{ width = 64, format = "png" }]

[[asset]]
name = "edit"
image = "art/base.png"
prompt = "restyle the fox"
variants = [{ width = 64, format = "webp" }]
"""


@pytest.fixture
def stock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stock template folder of this test's own (the real one is shared)."""
    folder = tmp_path / "stock"
    write(folder / "_style.j2", "{% macro style() %}in flat colours{% endmacro %}")
    monkeypatch.setattr(prompts, "stock_templates_dir", lambda: folder)
    return folder


@pytest.fixture
def site(tmp_path: Path, stock: Path) -> Path:
    root = tmp_path / "site"
    make_project(root, SPEC)
    write(
        root / "prompts/tile.j2",
        '{% import "stock/_style.j2" as s %}tile {{ n }} of {{ brand }} '
        '{% include "_detail.j2" %} {{ s.style() }}',
    )
    write(root / "prompts/_detail.j2", "with round corners")
    make_image(root / "art/base.png", (64, 64))
    assert run(root, "build") == 0
    return root


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """How often the slow paths ran: spec parse, expansion, lock parse."""
    counts = {"spec": 0, "expand": 0, "lock": 0}

    def counting(name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return function(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(state_cache, "load_spec", counting("spec", state_cache.load_spec))
    expand = state_cache.Expander.expand
    monkeypatch.setattr(state_cache.Expander, "expand", counting("expand", expand))
    monkeypatch.setattr(lockfile, "parse_lock", counting("lock", lockfile.parse_lock))
    return counts


def run(root: Path, *args: str) -> int:
    prompts.environment.cache_clear()  # as a new process: no compiled template kept
    return main(["-C", str(root), "-q", *args])


def shown(root: Path, name: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert run(root, "show", name, "--json") == 0
    return json.loads(capsys.readouterr().out)


def planned(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    capsys.readouterr()
    assert run(root, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def refused(root: Path, command: str, capsys: pytest.CaptureFixture[str], message: str) -> None:
    """``command`` stops with exit 2 and ``message``, as without any cache."""
    capsys.readouterr()
    assert run(root, command) == 2, command
    assert message in capsys.readouterr().err


def swap_for_link(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


def same_size_edit(path: Path, old: str, new: str) -> None:
    """Rewrite ``path`` with ``old`` replaced, same length, same mtime: only content tells."""
    assert len(old) == len(new)
    info = path.stat()
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size


# -- used when nothing changed --------------------------------------------------------


def test_a_no_op_parses_and_renders_nothing(
    site: Path, counted: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "plan") == 0  # the build changed the lock: parsed once here
    counted.update(spec=0, expand=0, lock=0)
    for command in ("plan", "check", "build"):
        assert run(site, command) == 0, command
    assert counted == {"spec": 0, "expand": 0, "lock": 0}
    assert planned(site, capsys)["fresh"] == ["tile-1", "tile-2", "edit"]


def test_a_build_parses_its_lock_once(site: Path, counted: dict[str, int]) -> None:
    (site / ".assetgen/parsed").rename(site / "elsewhere")  # no cache: the slow path
    assert run(site, "build") == 0
    assert counted == {"spec": 1, "expand": 1, "lock": 1}  # plan and build share one parse


# -- keys: computed once per expansion (key_memo) --------------------------------------------


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every key computed (not taken from the memo), by kind."""
    calls: list[str] = []
    for name in ("generation_key", "variant_key"):
        real = getattr(key_memo, name)

        def counting(*args: Any, _real: Any = real, _name: str = name) -> str:
            calls.append(_name)
            return str(_real(*args))

        monkeypatch.setattr(key_memo, name, counting)
    return calls


def fresh_keys(root: Path) -> dict[str, tuple[str, list[str]]]:
    """Each asset's generation key and variant keys as computed from scratch."""
    spec = load_spec(root / "assetgen.toml")
    lock = tomllib.loads((root / "assetgen.lock").read_text())["assets"]
    keys = {}
    originals = {
        name: SimpleNamespace(path=entry["original"]["path"], sha256=entry["original"]["sha256"])
        for name, entry in lock.items()
    }
    for asset in expand(spec, HashCache()):
        asset = resolve(asset, originals, root)
        entry = lock[asset.name]
        original = (
            entry["original"]["sha256"],
            entry["original"]["width"],
            entry["original"]["height"],
        )
        recipes = [variant_recipe(spec, asset, v) for v in asset.variants]
        variants = [variant_key(original[0], effective_recipe(r, original[1:])) for r in recipes]
        keys[asset.name] = (generation_key(spec.provider.name, asset), variants)
    return keys


def planned_keys(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> dict[str, tuple[str, list[str]]]:
    lock = tomllib.loads((root / "assetgen.lock").read_text())["assets"]
    return {
        name: (entry["key"], [v["key"] for v in entry["variants"]]) for name, entry in lock.items()
    }


def test_a_no_op_computes_no_key_and_the_memo_gives_the_real_ones(
    site: Path, hashed: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "plan") == 0  # the memo of this expansion is written
    hashed.clear()
    assert planned(site, capsys)["fresh"] == ["tile-1", "tile-2", "edit"]
    assert run(site, "build") == 0 and run(site, "check") == 0
    assert hashed == []
    assert planned_keys(site, capsys) == fresh_keys(site)


def test_a_template_edit_renders_and_keys_again_only_the_tables_that_read_it(
    site: Path,
    hashed: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run(site, "plan") == 0
    hashed.clear()
    rendered: list[str] = []
    real = state_cache.Expander.expand_table
    monkeypatch.setattr(
        state_cache.Expander,
        "expand_table",
        lambda self, table: rendered.append(table.name) or real(self, table),
    )
    same_size_edit(site / "prompts/tile.j2", "tile {{ n }}", "TILE {{ n }}")
    assert planned(site, capsys)["generate"] == ["tile-1", "tile-2"]
    assert rendered == ["tile-{{ n }}"]  # the "edit" table read no template: kept
    assert hashed.count("generation_key") == 2  # and its key was known
    assert run(site, "build") == 0
    assert planned_keys(site, capsys) == fresh_keys(site)


def test_a_new_upstream_original_changes_the_dependents_key_under_the_memo(
    tmp_path: Path, stock: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``pick`` changes an ``@asset`` input and nothing the expansion read."""
    root = tmp_path / "site"
    make_project(
        root,
        """
        [[asset]]
        name = "base"
        prompt = "a fox"
        candidates = 2
        variants = [{ width = 64, format = "png" }]

        [[asset]]
        name = "poster"
        image = "@base"
        prompt = "the fox on a poster"
        variants = [{ width = 64, format = "png" }]
        """,
    )
    assert run(root, "build") == 0 and run(root, "plan") == 0
    before = planned_keys(root, capsys)["poster"][0]
    assert run(root, "pick", "base", "1") == 0
    assert planned(root, capsys)["generate"] == ["poster"]
    assert run(root, "build") == 0
    assert planned_keys(root, capsys)["poster"][0] != before
    assert planned_keys(root, capsys) == fresh_keys(root)


def test_spec_edits_replace_the_state_files_instead_of_adding_some(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Watch mode saves the spec again and again: the cache stays one file per kind."""
    for word in ("cat", "owl", "elk", "yak"):
        text = (site / "assetgen.toml").read_text()
        (site / "assetgen.toml").write_text(text.replace("restyle the ", f"restyle the {word} "))
        assert run(site, "plan") == 0
    kinds = sorted(path.name.split("-")[0] for path in cache_files(site))
    assert kinds == sorted(set(kinds)), kinds
    assert {"spec", "assets", "keys", "lock"} <= set(kinds)


# -- every kind of change reaches the answer ---------------------------------------------


def test_a_spec_edit_is_seen(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same_size_edit(site / "assetgen.toml", "restyle the fox", "restyle the cat")
    assert shown(site, "edit", capsys)["prompt"] == "restyle the cat"


def test_a_template_edit_is_seen(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same_size_edit(site / "prompts/tile.j2", "tile {{ n }}", "TILE {{ n }}")
    assert shown(site, "tile-1", capsys)["prompt"].startswith("TILE 1 of Acme")


def test_an_included_template_edit_is_seen(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same_size_edit(site / "prompts/_detail.j2", "round", "sharp")
    assert "with sharp corners" in shown(site, "tile-2", capsys)["prompt"]


def test_a_stock_template_edit_is_seen(
    site: Path, stock: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same_size_edit(stock / "_style.j2", "flat", "bold")
    assert shown(site, "tile-1", capsys)["prompt"].endswith("in bold colours")


def test_a_project_template_shadowing_a_stock_one_is_seen(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The loader looks in the project first: a template it did not find must stay missing."""
    write(site / "prompts/stock/_style.j2", "{% macro style() %}in pastels{% endmacro %}")
    assert shown(site, "tile-1", capsys)["prompt"].endswith("in pastels")


def test_an_input_image_edit_is_seen(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = shown(site, "edit", capsys)["inputs"][0]["sha256"]
    make_image(site / "art/base.png", (64, 64), (200, 10, 10))
    after = shown(site, "edit", capsys)["inputs"][0]["sha256"]
    assert after != before
    assert after == hashlib.sha256((site / "art/base.png").read_bytes()).hexdigest()
    assert planned(site, capsys)["generate"] == ["edit"]


def test_an_input_swapped_for_a_symlink_out_of_the_project_is_refused(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    swap_for_link(site / "art/base.png", make_image(tmp_path / "outside.png", (64, 64)))
    refused(site, "plan", capsys, "outside the project folder")


def test_a_lock_edited_by_hand_is_seen(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = site / "assetgen.lock"
    same_size_edit(lock, 'prompt = "restyle the fox"', 'prompt = "restyle the owl"')
    assert shown(site, "edit", capsys)["lock"]["prompt"] == "restyle the owl"


def test_a_crafted_lock_path_is_refused_although_the_old_parse_was_kept(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lock = site / "assetgen.lock"
    lock.write_text(lock.read_text().replace('path = "public/img/', 'path = "public/../../'))
    for command in ("plan", "check", "build"):
        refused(site, command, capsys, "is outside out_dir")


def test_a_variant_swapped_for_a_symlink_is_refused_with_the_lock_unchanged(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The lock's bytes are the same, so its kept parse is used: its paths are checked anew."""
    assert run(site, "plan") == 0  # the parse of today's lock is kept
    victim = write(tmp_path / "victim.txt", "precious\n")
    swap_for_link(site / "public/img/edit-64w.webp", victim)
    refused(site, "build", capsys, "is outside out_dir")
    assert victim.read_text() == "precious\n"


def test_a_store_folder_swapped_for_a_symlink_is_refused_with_the_lock_unchanged(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "plan") == 0  # the parse of today's lock is kept
    folder = next((site / "assets/generated").iterdir())
    moved = tmp_path / "moved"
    folder.rename(moved)
    folder.symlink_to(moved)  # same files, now outside the project
    refused(site, "plan", capsys, "leads outside store_dir")


def test_another_assetgen_version_ignores_the_cache(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = StateCache(site / ".assetgen")
    cache.write("assets", "probe", "key", ("kept",))
    assert cache.read("assets", "probe", "key") == ("kept",)
    monkeypatch.setattr(state_cache, "__version__", "99.0")
    state_cache.code_fingerprint.cache_clear()
    try:
        assert cache.read("assets", "probe", "key") is None
    finally:
        state_cache.code_fingerprint.cache_clear()


# -- damaged and foreign files ---------------------------------------------------------


def cache_files(root: Path) -> Iterator[Path]:
    return (p for p in (root / ".assetgen/parsed").iterdir() if p.suffix == ".pickle")


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "junk"])
def test_a_damaged_cache_file_is_ignored(
    site: Path, damage: str, counted: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "plan") == 0
    for path in cache_files(site):
        data = path.read_bytes()
        damaged = {
            "truncate": data[: len(data) // 2],
            "flip": data[:-5] + bytes([data[-5] ^ 1]) + data[-4:],
            "empty": b"",
            "junk": os.urandom(200),
        }[damage]
        path.write_bytes(damaged)
    counted.update(spec=0, expand=0, lock=0)
    assert planned(site, capsys)["fresh"] == ["tile-1", "tile-2", "edit"]
    assert counted == {"spec": 1, "expand": 1, "lock": 1}  # every file was a miss


def forged(payload: Any, key: bytes) -> bytes:
    buffer = io.BytesIO()
    pickle.dump(payload, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    data = buffer.getvalue()
    return MAGIC + hmac.new(key, MAGIC + data, hashlib.sha256).digest() + data


class Boom:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("touch pwned",))


def test_a_foreign_cache_file_is_never_trusted(
    site: Path, counted: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    """Signed with another secret, or with the right one and naming a callable: ignored."""
    cache = StateCache(site / ".assetgen")
    own_key = cache._secret(create=False)
    assert own_key is not None
    header = (state_cache.code_fingerprint(), "assets", "x", "y")
    for path in cache_files(site):
        path.write_bytes(forged((header, ()), os.urandom(32)))  # another project's secret
    assert planned(site, capsys)["fresh"] == ["tile-1", "tile-2", "edit"]
    for path in cache_files(site):
        path.write_bytes(forged((header, Boom()), own_key))  # authentic, but not plain data
    assert planned(site, capsys)["fresh"] == ["tile-1", "tile-2", "edit"]
    assert not (site / "pwned").exists()


def test_a_shared_or_copied_secret_is_not_used(site: Path, counted: dict[str, int]) -> None:
    secret = site / ".assetgen/parsed/secret"
    secret.chmod(0o644)  # readable by others: anyone could sign
    counted.update(spec=0, expand=0, lock=0)
    assert run(site, "plan") == 0
    assert counted == {"spec": 1, "expand": 1, "lock": 1}
    assert secret.stat().st_mode & 0o777 == 0o600  # replaced by a private one
    copy = secret.read_bytes()
    secret.unlink()
    secret.write_bytes(copy)  # the same bytes in a new file (a tarball, a backup)
    secret.chmod(0o600)
    counted.update(spec=0, expand=0, lock=0)
    assert run(site, "plan") == 0
    assert counted == {"spec": 1, "expand": 1, "lock": 1}


def test_an_unwritable_cache_folder_costs_nothing_but_time(site: Path) -> None:
    parsed = site / ".assetgen/parsed"
    for path in parsed.iterdir():
        path.unlink()
    parsed.rmdir()
    parsed.write_text("not a folder")  # nothing can be written under it
    assert run(site, "plan") == 0
    assert run(site, "check") == 0


# -- the scan for leftover temp files ----------------------------------------------------


def age(root: Path, seconds: int = 60) -> None:
    """Make every folder's mtime old enough for a scan to trust it."""
    past = time.time_ns() - seconds * 1_000_000_000
    for folder in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        os.utime(folder, ns=(past, past))


def test_a_temp_file_left_after_a_clean_scan_is_still_removed(site: Path) -> None:
    age(site)
    assert run(site, "build") == 0  # scans everything: every folder is found clean
    assert (site / ".assetgen/parsed").is_dir()
    folder = next((site / "assets/generated").iterdir())
    dead = 2**22 + 12345  # above Linux's default pid_max: no such process
    temp = folder / f".x.png.assetgen-{dead}-0123abcd.tmp"
    temp.write_bytes(b"half an image")  # as a killed build leaves it
    assert run(site, "build") == 0
    assert not temp.exists()


def test_an_unchanged_folder_is_not_listed_again(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    age(site)
    assert run(site, "build") == 0
    listed: list[str] = []
    scandir = os.scandir

    def counting(path: Any) -> Any:
        if sys._getframe(1).f_code.co_name == "_temp_entries":  # the scan, not a lock check
            listed.append(os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    assert run(site, "build") == 0
    assert listed  # the scan ran, and listed only what changed since (the state it wrote)
    assert not [p for p in listed if "/assets/generated" in p or "/public/img" in p]


def test_a_manifest_edited_by_hand_is_seen(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from .projects import BASE_SPEC

    base = BASE_SPEC.replace('templates = "prompts"', 'templates = "prompts"\nmanifest = "m.json"')
    root = tmp_path / "m"
    tiles = '[[asset]]\nname = "tile"\nprompt = "a tile"\nvariants = [{ width = 64 }]\n'
    make_project(root, tiles, base=base)
    assert run(root, "build") == 0
    assert run(root, "check") == 0  # the state is known now: its text is not built again
    manifest = root / "m.json"
    same_size_edit(manifest, '"width": 64', '"width": 65')
    capsys.readouterr()
    assert run(root, "check") == 3
    assert "manifest out of date" in capsys.readouterr().err
    assert run(root, "build") == 0
    assert '"width": 64' in manifest.read_text()


def test_every_dataclass_inside_a_spec_or_lock_may_be_cached() -> None:
    """A new dataclass inside the spec or the lock must join the allowlist, or no-ops slow down."""
    import dataclasses
    import typing

    from assetgen.graph import Asset
    from assetgen.lockfile import Lockfile
    from assetgen.spec_types import Spec

    allowed = set(state_cache._ALLOWED.values())
    seen: set[type] = set()
    missing: list[str] = []

    def visit(hint: object) -> None:
        for arg in typing.get_args(hint):
            visit(arg)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint not in seen:
            seen.add(hint)
            if hint not in allowed:
                missing.append(hint.__qualname__)
            for item in typing.get_type_hints(hint).values():
                visit(item)

    for root in (Spec, Lockfile, Asset):
        visit(root)
    assert len(seen) >= 10 and missing == []


@pytest.mark.parametrize("command", ["plan", "check", "build"])
def test_a_no_op_imports_nothing_heavy(site: Path, command: str) -> None:
    """What a no-op must not pay for: Pillow, Jinja2, httpx, fsspec, c2pa, an event loop."""
    assert run(site, "plan") == 0  # the parsed state is cached now
    assert heavy_imports(site, command) == (0, "")
