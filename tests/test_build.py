"""Incremental builds through the CLI, on real temporary projects (offline provider)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from PIL import Image

from assetgen.cli import main

from .projects import make_image, make_mask, make_project, write

SITE = """
[variant_sets.web]
widths = [64, 128]
formats = ["webp", "jpeg"]

[[asset]]
name = "hero-{{ season }}"
prompt = "{{ brand }} hero in {{ season }}"
matrix = { season = ["spring", "autumn"] }
size = "320x192"
variants = ["web"]

[[asset]]
name = "icon"
prompt = "an icon of a {{ thing }}"
vars = { thing = "rocket" }
background = "transparent"
variants = [{ width = 32, format = "png" }]

[[asset]]
name = "mascot-wave"
prompt = "the mascot waving"
image = "art/mascot.png"
mask = "art/mask.png"
references = ["art/style.png"]
variants = [{ width = 96, format = "png" }]
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    make_image(root / "art/mascot.png", (128, 128), (20, 120, 120))
    make_mask(root / "art/mask.png", (128, 128), (64, 0, 128, 64))
    make_image(root / "art/style.png", (64, 64), (240, 110, 90))
    make_project(root, SITE)
    return root


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def plan(root: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(root, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def build(root: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(root, "-q", "build", "--json") == 0
    return json.loads(capsys.readouterr().out)


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file of the project (but local state) with its mtime and content."""
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".assetgen" not in p.parts
    }


def test_first_build_makes_every_variant(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = build(site, capsys)
    assert (report["generated"], report["failed"]) == (4, 0)
    img = site / "public/img"
    with Image.open(img / "hero-spring-128w.webp") as hero:
        assert (hero.format, hero.size) == ("WEBP", (128, 77))
    with Image.open(img / "hero-autumn-64w.jpg") as hero:
        assert (hero.format, hero.size) == ("JPEG", (64, 38))
    with Image.open(img / "icon-32w.png") as icon:
        assert icon.size == (32, 32) and icon.mode == "RGBA"
    lock = (site / "assetgen.lock").read_text()
    assert "[assets.hero-spring]" in lock and 'prompt = "Acme hero in spring"' in lock


def test_second_build_does_nothing_and_writes_nothing(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    before = snapshot(site)
    report = build(site, capsys)
    assert report["generated"] == report["rendered"] == report["reused"] == 0
    assert report["fresh"] == 4
    assert snapshot(site) == before
    after = plan(site, capsys)
    assert after["generate"] == after["render"] == after["reuse"] == after["remove"] == []
    assert after["api_calls"] == 0


def test_changing_a_matrix_value_touches_only_that_asset(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    spec = site / "assetgen.toml"
    spec.write_text(spec.read_text().replace('"autumn"]', '"winter"]'))
    planned = plan(site, capsys)
    assert planned["generate"] == ["hero-winter"]
    assert planned["remove"] == ["hero-autumn"]
    assert sorted(planned["fresh"]) == ["hero-spring", "icon", "mascot-wave"]
    build(site, capsys)
    names = {p.name for p in (site / "public/img").iterdir()}
    assert "hero-winter-64w.webp" in names
    assert not any(n.startswith("hero-autumn") for n in names)


def test_changing_a_variable_touches_only_its_users(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    spec = site / "assetgen.toml"
    spec.write_text(spec.read_text().replace('thing = "rocket"', 'thing = "comet"'))
    planned = plan(site, capsys)
    assert planned["generate"] == ["icon"]
    assert planned["assets"][2]["reason"] == "prompt changed"


def test_one_mask_pixel_regenerates_only_the_edit(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    mask = site / "art/mask.png"
    with Image.open(mask) as image:
        image = image.copy()
    image.putpixel((0, 127), 255)
    image.save(mask)
    planned = plan(site, capsys)
    assert planned["generate"] == ["mascot-wave"]
    assert planned["assets"][3]["reason"] == "input image changed (art/mask.png)"


def test_one_variant_setting_rerenders_without_generating(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    spec = site / "assetgen.toml"
    spec.write_text(spec.read_text().replace("widths = [64, 128]", "widths = [64, 100]"))
    planned = plan(site, capsys)
    assert planned["render"] == ["hero-spring", "hero-autumn"]
    assert planned["api_calls"] == 0
    report = build(site, capsys)
    assert report["rendered"] == 2 and report["generated"] == 0
    names = {p.name for p in (site / "public/img").iterdir()}
    assert "hero-spring-100w.webp" in names and "hero-spring-128w.webp" not in names


def test_reverting_a_prompt_reuses_the_cached_original(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    spec = site / "assetgen.toml"
    text = spec.read_text()
    spec.write_text(text.replace('thing = "rocket"', 'thing = "comet"'))
    build(site, capsys)
    spec.write_text(text)
    planned = plan(site, capsys)
    assert planned["reuse"] == ["icon"] and planned["api_calls"] == 0


def test_missing_or_altered_outputs_are_rewritten(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    (site / "public/img/icon-32w.png").unlink()
    (site / "public/img/mascot-wave-96w.png").write_bytes(b"not an image")
    planned = plan(site, capsys)
    reasons = {a["name"]: a["reason"] for a in planned["assets"]}
    assert reasons["icon"] == "output missing: public/img/icon-32w.png"
    assert reasons["mascot-wave"] == "output altered: public/img/mascot-wave-96w.png"
    assert planned["api_calls"] == 0
    build(site, capsys)
    assert plan(site, capsys)["render"] == []


def test_removed_assets_lose_their_outputs_but_foreign_files_stay(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    foreign = write(site / "public/img/logo.svg", "<svg/>")
    spec = site / "assetgen.toml"
    spec.write_text(spec.read_text().split('[[asset]]\nname = "icon"')[0])
    report = build(site, capsys)
    assert report["removed"] == ["icon", "mascot-wave"]
    assert not (site / "public/img/icon-32w.png").exists()
    assert foreign.read_text() == "<svg/>"
    assert "icon" not in (site / "assetgen.lock").read_text()


def test_lockfile_is_byte_stable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764072000")
    locks = []
    for name in ("one", "two"):
        root = tmp_path / name
        make_image(root / "art/mascot.png", (128, 128), (20, 120, 120))
        make_mask(root / "art/mask.png", (128, 128), (64, 0, 128, 64))
        make_image(root / "art/style.png", (64, 64), (240, 110, 90))
        make_project(root, SITE)
        build(root, capsys)
        locks.append((root / "assetgen.lock").read_bytes())
    assert locks[0] == locks[1]
    assert b"2025-11-25T12:00:00Z" in locks[0]


def test_edit_keeps_the_base_outside_the_mask(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(site, capsys)
    lock = (site / "assetgen.lock").read_text()
    from assetgen.lockfile import parse_lock

    entry = parse_lock(lock, file="assetgen.lock").assets["mascot-wave"]
    with (
        Image.open(site / entry.original.path) as result,
        Image.open(site / "art/mascot.png") as base,
    ):
        result, base = result.convert("RGB"), base.convert("RGB")
        assert result.getpixel((10, 100)) == base.getpixel((10, 100))
        assert result.getpixel((100, 30)) != base.getpixel((100, 30))


def test_noop_plan_reads_no_file_contents(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from assetgen.project import open_project

    past = time.time() - 60  # older than the stat cache's racy window
    for path in site.rglob("*"):
        os.utime(path, (past, past))
    build(site, capsys)
    project = open_project(site / "assetgen.toml")
    plan = project.plan()
    assert plan.is_noop
    assert project.hashes.reads == 0, "the stat cache should answer for every unchanged file"
    (site / "art/style.png").touch()  # same content, new mtime: re-read once, still fresh
    project = open_project(site / "assetgen.toml")
    assert project.plan().is_noop and project.hashes.reads == 1


def test_a_write_error_fails_one_asset_and_keeps_the_others(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = site / "assetgen.toml"
    spec.write_text(
        spec.read_text().replace(
            'variants = [{ width = 32, format = "png" }]',
            'variants = [{ width = 32, format = "png", filename = "{name}/{width}.{ext}" }]',
        )
    )
    write(site / "public/img/icon", "a file where the asset's folder should be")
    capsys.readouterr()
    assert run(site, "build", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    status = {a["name"]: (a["status"], a["error"]) for a in report["assets"]}
    assert status["icon"][0] == "failed" and "public/img/icon" in status["icon"][1]
    assert "Traceback" not in status["icon"][1]
    assert {name for name, (s, _) in status.items() if s == "generated"} == {
        "hero-spring", "hero-autumn", "mascot-wave"
    }  # fmt: skip
    lock = (site / "assetgen.lock").read_text()
    assert "[assets.hero-spring]" in lock and "[assets.icon]" in lock  # original kept


def test_two_builds_at_once_are_refused(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import fcntl

    (site / ".assetgen").mkdir()
    with (site / ".assetgen/build.lock").open("a+") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert run(site, "build") == 2
        assert "another assetgen build is running in this project" in capsys.readouterr().err
    assert not (site / "assetgen.lock").exists()
    assert run(site, "-q", "build") == 0
