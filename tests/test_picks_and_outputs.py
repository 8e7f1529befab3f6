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
