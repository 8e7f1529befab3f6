"""A team's shared remote cache ([cache] remote): a shared folder and an S3 server.

Two clones of one project with separate local caches share one remote; the
remotes are real: a folder through fsspec, and moto's S3 server on 127.0.0.1
driven through s3fs with ``endpoint_url``, as a real bucket would be.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assetgen.cli import main
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI
from tests.test_build_openai import OPENAI_BASE, api_env

__all__ = ["api_env"]  # the fixture, shared with the other builds through the fake API

from .projects import BASE_SPEC, make_project

CARDS = """
[[asset]]
name = "card-{{ n }}"
prompt = "a playing card number {{ n }}"
matrix = { n = [1, 2, 3] }
variants = [{ width = 64, format = "webp" }, { width = 32, format = "png" }]
"""


def cache_table(remote: str, endpoint: str | None = None) -> str:
    lines = ["", "[cache]", f'remote = "{remote}"']
    if endpoint:
        lines.append(f'endpoint_url = "{endpoint}"')
    return "\n".join(lines) + "\n"


def cli(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def outputs(root: Path) -> dict[str, bytes]:
    """Every variant, original and the lock, by project-relative path."""
    found = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for folder in ("public", "assets")
        for p in (root / folder).rglob("*")
        if p.is_file()
    }
    found["assetgen.lock"] = (root / "assetgen.lock").read_bytes()
    return found


def undated(lock: bytes) -> list[bytes]:
    return [line for line in lock.splitlines() if not line.startswith(b"generated_at = ")]


@pytest.fixture(params=["file", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(remote URL, endpoint) of an empty remote: a shared folder, or a bucket on moto."""
    if request.param == "file":
        return f"file://{tmp_path}/shared-cache", None
    endpoint = request.getfixturevalue("moto_server")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/team-cache", endpoint


def test_a_second_clone_builds_from_the_remote_with_zero_api_calls(
    tmp_path: Path,
    remote: tuple[str, str | None],
    api_env: FakeImagesAPI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    base = OPENAI_BASE.format(base_url=api_env.base_url, concurrency=1)
    spec = CARDS + cache_table(*remote)
    first, second = tmp_path / "designer-a", tmp_path / "designer-b"
    make_project(first, spec, base=base)
    make_project(second, spec, base=base)

    assert cli(first, "build", "--yes") == 0
    paid = len(api_env.requests)
    assert paid == 3
    capsys.readouterr()

    assert cli(second, "plan", "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["api_calls"] == 0 and plan["remote_reuses"] == 3
    assert {a["reason_code"] for a in plan["assets"]} == {"remote-cache"}
    assert plan["remote_saves_usd"] > 0
    assert "reuse: remote cache" in plan["assets"][0]["reason"]

    assert cli(second, "build", "--json", "--yes") == 0
    report = json.loads(capsys.readouterr().out)
    assert len(api_env.requests) == paid, "the second clone called the API"
    assert report["generated"] == 0 and report["remote_reused"] == 3
    ours, theirs = outputs(first), outputs(second)
    assert ours == theirs, "the second clone's files differ from the first's"
    assert FAKE_API_KEY not in json.dumps(plan) + json.dumps(report)


OFFLINE_CARDS = CARDS.replace("[1, 2, 3]", "[1, 2]")


def offline_clones(tmp_path: Path, url: str) -> tuple[Path, Path]:
    spec = OFFLINE_CARDS + cache_table(url)
    base = BASE_SPEC.replace('model = "sketch"', 'model = "sketch"\nconcurrency = 1')
    first, second = tmp_path / "a", tmp_path / "b"
    make_project(first, spec, base=base)
    make_project(second, spec, base=base)
    return first, second


def test_a_damaged_remote_object_is_reported_ignored_and_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    first, second = offline_clones(tmp_path, f"file://{shared}")
    assert cli(first, "build") == 0
    objects = sorted((shared / "objects").rglob("*.png"))
    assert len(objects) == 2
    good = objects[0].read_bytes()
    objects[0].write_bytes(good[: len(good) // 2])  # a truncated upload, or bit rot
    capsys.readouterr()

    assert cli(second, "build", "--json") == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert "is damaged" in captured.err and objects[0].name in captured.err
    assert report["generated"] == 1 and report["remote_reused"] == 1
    assert objects[0].read_bytes() == good, "the damaged object was not replaced"
    # The same bytes everywhere; only the regenerated asset's time differs (a later second).
    ours, theirs = outputs(first), outputs(second)
    assert undated(ours.pop("assetgen.lock")) == undated(theirs.pop("assetgen.lock"))
    assert ours == theirs


def test_the_remote_going_away_mid_build_warns_once_and_builds_locally(
    tmp_path: Path,
) -> None:
    from assetgen import open_project
    from assetgen.build import build
    from assetgen.cache_tiers import open_remote
    from assetgen.events import Event
    from assetgen.providers import create_provider

    shared = tmp_path / "shared"
    first, _ = offline_clones(tmp_path, f"file://{shared}")
    project = open_project(first / "assetgen.toml")
    warnings: list[str] = []
    project.remote = open_remote(project.store, project.spec.cache, warn=warnings.append)
    generated = 0

    def emit(event: Event) -> None:
        nonlocal generated
        if event.kind == "generated":
            generated += 1
            if generated == 2:  # the share goes away after the first upload
                shutil.rmtree(shared)
                shared.write_text("not a folder any more")

    import asyncio

    plan = project.plan()
    provider = create_provider(project.spec.provider, emit=emit)
    report = asyncio.run(build(project, plan, provider, emit=emit))
    assert report.count("generated") == 2 and not report.failed
    assert len(warnings) == 1, warnings
    assert str(shared) in warnings[0] and "local cache only" in warnings[0]
    lock = project.locks.load()
    assert sorted(lock.assets) == ["card-1", "card-2"]
    assert all(project.store.present(e.original) for e in lock.assets.values())


def test_an_unreachable_remote_is_a_warning_unless_required(
    tmp_path: Path, moto_server: str, s3_bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing listens on port 9: the connection is refused at once.
    spec = OFFLINE_CARDS + cache_table(f"s3://{s3_bucket}/x", "http://127.0.0.1:9")
    make_project(tmp_path / "p", spec)
    assert cli(tmp_path / "p", "build", "--require-remote") == 1
    err = capsys.readouterr().err
    assert f"remote cache s3://{s3_bucket}/x failed" in err and "Traceback" not in err
    assert cli(tmp_path / "p", "build") == 0
    err = capsys.readouterr().err
    assert err.count("remote cache unavailable") == 1
    assert "testing-secret-5b1e" not in err


def test_push_status_and_a_locked_pull_for_ci(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    first, ci = offline_clones(tmp_path, f"file://{shared}")
    spec = (first / "assetgen.toml").read_text()
    (first / "assetgen.toml").write_text(spec.split("[cache]")[0])
    assert cli(first, "build") == 0  # built before the team had a remote
    (first / "assetgen.toml").write_text(spec)
    capsys.readouterr()
    assert cli(first, "cache", "status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["missing"] == ["card-1", "card-2"]
    assert cli(first, "cache", "push") == 0
    assert "2 on the remote" in capsys.readouterr().out
    assert cli(first, "cache", "status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["complete"] == ["card-1", "card-2"]

    # CI checks out the lock and the variants only (originals are not committed).
    shutil.copy(first / "assetgen.lock", ci / "assetgen.lock")
    shutil.copytree(first / "public", ci / "public")
    assert cli(ci, "build", "--locked") == 3
    assert cli(ci, "build", "--locked", "--pull") == 0
    assert outputs(ci) == outputs(first)


def test_credentials_in_the_remote_url_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = OFFLINE_CARDS + cache_table("s3://AKIAKEY:hunter2@bucket/prefix")
    make_project(tmp_path, spec)
    assert cli(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "cache.remote" in err and "credentials never go in the spec" in err
    assert "hunter2" not in err
