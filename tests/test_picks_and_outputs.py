"""Picks that stick, variants that collapse, collisions found by ``plan`` (issue 10: 2, 4, 5)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assetgen.cli import main

from .projects import make_project

HERO = """
[[asset]]
name = "hero"
prompt = "a {{ mood }} hero"
vars = { mood = "calm" }
candidates = 3
variants = [{ width = 64, format = "webp" }]
"""


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def edit(root: Path, old: str, new: str) -> None:
    spec = root / "assetgen.toml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new))


def lock(root: Path) -> dict:
    return tomllib.loads((root / "assetgen.lock").read_text())["assets"]


@pytest.fixture
def picked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    make_project(tmp_path, HERO)
    assert run(tmp_path, "-q", "build") == 0
    assert run(tmp_path, "-q", "pick", "hero", "2") == 0
    capsys.readouterr()
    return tmp_path


def test_a_pick_survives_a_prompt_round_trip(
    picked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = lock(picked)["hero"]["original"]
    output = (picked / "public/img/hero-64w.webp").read_bytes()
    edit(picked, 'mood = "calm"', 'mood = "bold"')
    assert run(picked, "-q", "build") == 0
    assert lock(picked)["hero"].get("selected", 0) == 0  # a new generation starts at 0
    edit(picked, 'mood = "bold"', 'mood = "calm"')
    assert run(picked, "build") == 0
    assert "1 reused" in capsys.readouterr().out
    entry = lock(picked)["hero"]
    assert entry["selected"] == 2 and entry["original"] == chosen
    assert (picked / "public/img/hero-64w.webp").read_bytes() == output


def test_a_pick_survives_renaming_the_asset(
    picked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chosen = lock(picked)["hero"]["original"]
    edit(picked, 'name = "hero"', 'name = "banner"')
    assert run(picked, "build") == 0
    assert "1 reused" in capsys.readouterr().out
    entries = lock(picked)
    assert "hero" not in entries
    assert entries["banner"]["selected"] == 2 and entries["banner"]["original"] == chosen


def test_pick_of_a_name_not_in_the_spec_says_so(
    picked: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(picked, "pick", "heor", "0") == 2
    err = capsys.readouterr().err
    assert "matches no asset" in err and "hero" in err and "build it first" not in err


WIDE = """
[[asset]]
name = "hero"
prompt = "a hero"
size = "1536x1024"
variants = [{ widths = [800, 1600, 2000], formats = ["jpeg"] }]
"""


def test_widths_past_the_original_collapse_into_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, WIDE.replace("{ widths", "{ filename = '{name}-{width}w.{ext}', widths"))
    assert run(tmp_path, "build") == 0
    err = capsys.readouterr().err
    assert err.count("both give 1536 px") == 1, err
    paths = [v["path"] for v in lock(tmp_path)["hero"]["variants"]]
    assert paths == ["public/img/hero-1536w.jpg", "public/img/hero-800w.jpg"]
    assert run(tmp_path, "plan") == 0
    out = capsys.readouterr().out
    assert "1 asset up to date" in out and "both give 1536 px" in out
    assert run(tmp_path, "check") == 0


def test_a_manifest_lists_a_collapsed_file_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, WIDE)
    edit(tmp_path, 'templates = "prompts"', 'templates = "prompts"\nmanifest = "public/img/a.json"')
    assert run(tmp_path, "-q", "build") == 0
    import json

    variants = json.loads((tmp_path / "public/img/a.json").read_text())["assets"]["hero"]
    urls = [v["url"] for v in variants["variants"]]
    assert len(urls) == len(set(urls)) == 2


COLLIDING = """
[[asset]]
name = "hero"
prompt = "a hero"
variants = [{ format = "webp", quality = 80, filename = "{name}.{ext}" },
            { format = "webp", quality = 60, filename = "{name}.{ext}" }]
"""


def test_plan_refuses_two_variants_writing_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, COLLIDING)
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "asset 'hero'" in err and "both write public/img/hero.webp" in err
    assert "quality=80" in err and "quality=60" in err and "{hash8}" in err
    assert "sha256:" not in err
    assert run(tmp_path, "build") == 2
    assert not (tmp_path / "public").exists()  # nothing written, nothing left behind


def test_plan_refuses_two_assets_writing_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(
        tmp_path,
        """
        [[asset]]
        name = "logo"
        prompt = "one"
        variants = [{ format = "png", filename = "{name}-dark.{ext}" }]

        [[asset]]
        name = "logo-dark"
        prompt = "two"
        variants = [{ format = "png", filename = "{name}.{ext}" }]
        """,
    )
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "asset 'logo-dark'" in err and "which asset 'logo' writes too" in err
