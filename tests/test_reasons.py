"""Plan reasons carry a stable code beside their words (issue 13, item 4)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest

from assetgen.cli import main
from assetgen.reasons import REASON_CODES, ReasonCode

from .projects import make_project

ASSETS = """
[[asset]]
name = "hero"
prompt = "a calm hero"
variants = [{ width = 128, format = "png" }]
"""


def as_json(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    capsys.readouterr()
    code = main(["-C", str(root), *args, "--json"])
    assert code in (0, 3), capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


def codes(data: Any) -> dict[str, str]:
    return {asset["name"]: asset["reason_code"] for asset in data["assets"]}


def test_every_code_is_listed_once() -> None:
    assert sorted(REASON_CODES) == sorted(set(get_args(ReasonCode)))


def test_plan_build_and_check_carry_the_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = make_project(tmp_path, ASSETS)
    plan = as_json(tmp_path, capsys, "plan")
    assert codes(plan) == {"hero": "new-asset"}
    assert plan["assets"][0]["reason"] == "new asset"  # the words stay as they were
    assert codes(as_json(tmp_path, capsys, "build")) == {"hero": "new-asset"}
    assert codes(as_json(tmp_path, capsys, "check")) == {"hero": "up-to-date"}

    spec.write_text(spec.read_text().replace("a calm hero", "a bold hero"))
    assert codes(as_json(tmp_path, capsys, "plan")) == {"hero": "prompt-changed"}
    assert codes(as_json(tmp_path, capsys, "check")) == {"hero": "prompt-changed"}
    as_json(tmp_path, capsys, "build")

    spec.write_text(spec.read_text().replace("a bold hero", "a calm hero"))
    reuse = as_json(tmp_path, capsys, "plan")["assets"][0]
    assert reuse["action"] == "reuse" and reuse["reason_code"] == "prompt-changed"
    assert reuse["reason"].endswith("original known for this key")
    as_json(tmp_path, capsys, "build")

    [output] = (tmp_path / "public/img").glob("hero-*")
    output.unlink()
    assert codes(as_json(tmp_path, capsys, "plan")) == {"hero": "output-missing"}
    assert codes(as_json(tmp_path, capsys, "build")) == {"hero": "output-missing"}
    assert codes(as_json(tmp_path, capsys, "build", "--rerender")) == {"hero": "rerender-requested"}
