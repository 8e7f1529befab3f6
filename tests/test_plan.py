"""``plan`` knows everything the API would refuse, with no key and no network (issue 11, 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assetgen.cli import main

from .projects import make_image, make_project

OPENAI = """
[provider]
name = "openai"
base_url = "http://127.0.0.1:9/v1"
"""


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


@pytest.fixture(autouse=True)
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


@pytest.fixture(params=["openai", "offline"])
def provider(request: pytest.FixtureRequest) -> str:
    """The same refusals from both: the offline provider applies the model's profile."""
    return str(request.param)


def spec(root: Path, assets: str, provider: str) -> None:
    make_project(root, assets)
    text = (root / "assetgen.toml").read_text()
    text = re.sub(r'\[provider\]\nname = "offline"\nmodel = .*\n', "[provider]\n", text)
    if provider == "openai":
        text = text.replace("[provider]\n", OPENAI)
    else:
        text = text.replace("[provider]\n", '[provider]\nname = "offline"\n')
    (root / "assetgen.toml").write_text(text)


def test_plan_refuses_transparency_on_a_model_without_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str
) -> None:
    spec(
        tmp_path,
        """
        [[asset]]
        name = "icon"
        prompt = "an icon"
        model = "gpt-image-2"
        size = "1024x1024"
        background = "transparent"
        """,
        provider,
    )
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "assetgen.toml: asset 'icon': field 'background'" in err
    assert "transparent" in err and "gpt-image-2.6-flare" in err  # what to try instead
    assert run(tmp_path, "build") == 2  # the same answer, before any cost question
    err = capsys.readouterr().err
    assert "field 'background'" in err and "--yes" not in err


def test_plan_refuses_a_mask_of_the_wrong_size_and_reports_all_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str
) -> None:
    make_image(tmp_path / "art/base.png", (64, 64))
    make_image(tmp_path / "art/mask.png", (32, 32))
    spec(
        tmp_path,
        """
        [[asset]]
        name = "edit"
        prompt = "repaint"
        model = "gpt-image-1"
        image = "art/base.png"
        mask = "art/mask.png"

        [[asset]]
        name = "wide"
        prompt = "a banner"
        model = "gpt-image-1"
        size = "1920x1080"
        """,
        provider,
    )
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "asset 'edit': field 'mask'" in err
    assert "asset 'wide': field 'size'" in err


def test_one_asset_with_several_problems_reports_them_all(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], provider: str
) -> None:
    make_image(tmp_path / "art/base.png", (64, 64))
    make_image(tmp_path / "art/mask.png", (32, 32))
    spec(
        tmp_path,
        """
        [[asset]]
        name = "edit"
        prompt = "repaint"
        model = "gpt-image-2"
        background = "transparent"
        size = "1000x1000"
        image = "art/base.png"
        """,
        provider,
    )
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "background:" in err and "size:" in err, err
