"""Command-line basics: init, show, -C/-c, spec discovery, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assetgen.cli import main

from .projects import make_project


def test_init_creates_a_project_that_builds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/")
    assert main(["-C", str(tmp_path), "init"]) == 0
    assert (tmp_path / "assetgen.toml").exists() and (tmp_path / "prompts/hero.j2").exists()
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.assetgen/\n"
    assert main(["-C", str(tmp_path), "-q", "build"]) == 0
    assert "2 generated" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "public/img").iterdir()) == [
        "hero-bold-480w.jpg", "hero-bold-480w.webp", "hero-bold-960w.jpg", "hero-bold-960w.webp",
        "hero-calm-480w.jpg", "hero-calm-480w.webp", "hero-calm-960w.jpg", "hero-calm-960w.webp",
    ]  # fmt: skip


def test_init_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "assetgen.toml").write_text("# mine\n")
    assert main(["-C", str(tmp_path), "init"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "assetgen.toml").read_text() == "# mine\n"
    assert main(["-C", str(tmp_path), "init", "--force"]) == 0
    assert main(["-C", str(tmp_path), "init", "--force"]) == 0
    assert (tmp_path / ".gitignore").read_text().count(".assetgen/") == 1


def test_spec_is_found_in_a_parent_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "x"\n')
    (tmp_path / "deep/er").mkdir(parents=True)
    assert main(["-C", str(tmp_path / "deep/er"), "plan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["generate"] == ["a"]


def test_dash_c_names_another_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(tmp_path / "site", '[[asset]]\nname = "b"\nprompt = "x"\n')
    assert main(["-C", str(tmp_path), "-c", "site/assetgen.toml", "plan", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["generate"] == ["b"]
    assert main(["-C", str(tmp_path), "-c", "nope.toml", "plan"]) == 2
    assert "spec file not found: nope.toml" in capsys.readouterr().err


def test_bad_directory_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(tmp_path / "missing"), "plan"]) == 2
    assert "-C" in capsys.readouterr().err


def test_show_explains_one_asset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(
        tmp_path,
        '[[asset]]\nname = "hero-{{ s }}"\nprompt = "{{ brand }}   in\\n {{ s }}"\n'
        'matrix = { s = ["spring"] }\n',
    )
    assert main(["-C", str(tmp_path), "show", "hero-spring", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["prompt"] == "Acme in spring"
    assert info["params"] == {"size": "256x256", "quality": "low", "background": "auto"}
    assert info["locked"] is False and info["key"].startswith("sha256:")
    assert main(["-C", str(tmp_path), "-q", "build"]) == 0
    capsys.readouterr()
    assert main(["-C", str(tmp_path), "show", "hero-spring"]) == 0
    out = capsys.readouterr().out
    assert "locked:    yes" in out and "original:  assets/generated/" in out
    assert main(["-C", str(tmp_path), "show", "hero-sprin"]) == 2
    assert "did you mean 'hero-spring'?" in capsys.readouterr().err


def test_jobs_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(tmp_path, '[[asset]]\nname = "a"\nprompt = "x"\n')
    assert main(["-C", str(tmp_path), "build", "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_a_reader_that_leaves_early_gets_no_traceback() -> None:
    import subprocess
    import sys

    command = f"{sys.executable} -m assetgen models | head -1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() and "Traceback" not in done.stderr, done.stderr
