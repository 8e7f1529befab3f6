"""The library session (issue 13, item 5): what the CLI and watch mode are shells over."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import assetgen
from assetgen.cli import main
from assetgen.errors import BudgetError, SpecError, SpecErrors, UsageError
from assetgen.events import Event
from assetgen.session import Session

from .projects import make_project

ASSETS = """
[[asset]]
name = "hero-{{ mood }}"
prompt = "a {{ mood }} hero"
matrix = { mood = ["calm", "bold"] }
variants = [{ width = 128, format = "png" }]
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_project(tmp_path / "site", ASSETS)
    return tmp_path / "site"


def test_a_session_plans_builds_and_checks(site: Path) -> None:
    events: list[Event] = []
    (site / "art").mkdir()
    with assetgen.Session.open(site / "art", emit=events.append) as session:  # searched upward
        plan = session.plan()
        assert plan.names("generate") == ["hero-calm", "hero-bold"]
        session.approve(plan)  # offline: free, nothing to ask
        report = session.build(plan)
    assert report.count("generated") == 2 and not report.failed
    assert any(event.kind == "plan" for event in events)
    session = Session.open(site)
    assert session.plan().is_noop
    result = session.check()
    assert result.problems == [] and result.repairable == set()


def test_check_with_writes_repairs_only_what_it_may(site: Path) -> None:
    Session.open(site).build(Session.open(site).plan())
    [output] = (site / "public/img").glob("hero-calm*")
    output.unlink()
    session = Session.open(site)
    assert session.check().problems == [f"hero-calm: output missing: {output.relative_to(site)}"]
    result = session.check(write=True)
    assert result.problems == [] and result.repairable == {"hero-calm"}
    assert session.repair(result).count("rendered") == 1
    assert output.exists()
    with pytest.raises(UsageError):
        session.repair(session.check(write=True))  # nothing left to repair


def test_approve_asks_through_the_callback_and_refuses_without_one(site: Path) -> None:
    spec = site / "assetgen.toml"
    spec.write_text(spec.read_text().replace("[build]\n", "[build]\nconfirm_above = 0.0\n", 1))
    session = Session.open(site)
    plan = session.plan()
    plan.steps[:] = [
        step.__class__(**{**step.__dict__, "estimated_cost": 0.5}) for step in plan.steps
    ]
    questions: list[str] = []

    def no(question: str) -> bool:
        questions.append(question)
        return False

    with pytest.raises(BudgetError, match="nothing was generated"):
        session.approve(plan, ask=no)
    assert questions and "$1.00" in questions[0]
    with pytest.raises(BudgetError):
        session.approve(plan)  # nobody to ask: refused, never a hang
    session.approve(plan, ask=lambda question: True)
    session.approve(plan, yes=True)
    with pytest.raises(BudgetError):
        session.approve(plan, budget=0.5, yes=True)  # a budget is never waived


def test_a_spec_problem_is_raised_before_any_question(site: Path) -> None:
    spec = site / "assetgen.toml"
    spec.write_text(spec.read_text().replace('model = "sketch"', 'model = "gpt-image-2"'))
    with pytest.raises((SpecError, SpecErrors), match="too small"):
        Session.open(site).plan()


def test_dash_c_never_changes_the_working_directory(
    site: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = os.getcwd()
    assert main(["-C", str(site), "build"]) == 0
    assert os.getcwd() == before
    fresh = tmp_path / "new"
    fresh.mkdir()
    assert main(["-C", str(fresh), "init"]) == 0
    assert (fresh / "assetgen.toml").is_file() and os.getcwd() == before
    assert main(["-C", str(site), "gallery", "--output", "page.html"]) == 0
    assert (site / "page.html").is_file() and not Path("page.html").exists()
    assert main(["-C", str(tmp_path / "missing"), "plan"]) == 2
    assert "-C" in capsys.readouterr().err
