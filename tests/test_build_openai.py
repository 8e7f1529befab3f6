"""Whole builds through the `openai` provider against the fake Images API."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.lockfile import LockStore
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

from .projects import heavy_imports, make_project

EXAMPLE = Path(__file__).parents[1] / "examples" / "landing"

OPENAI_BASE = """\
[build]
out_dir = "public/img"

[provider]
name = "openai"
base_url = "{base_url}"
concurrency = {concurrency}
max_retries = 0

[defaults]
size = "1024x1024"
quality = "low"
"""

THREE = """
[[asset]]
name = "card-{{ n }}"
prompt = "a playing card number {{ n }}"
matrix = { n = [1, 2, 3] }
variants = [{ width = 64, format = "webp" }]
"""


@pytest.fixture
def api_env(fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> FakeImagesAPI:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return fake_api


def project(root: Path, fake: FakeImagesAPI, body: str = THREE, concurrency: int = 1) -> Path:
    base = OPENAI_BASE.format(base_url=fake.base_url, concurrency=concurrency)
    make_project(root, body, base=base)
    return root


def cli(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def everything_written(root: Path, captured: str) -> str:
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix in (".lock", ".json", ".jsonl")]
    return captured + "".join(p.read_text(errors="replace") for p in files)


def test_example_builds_end_to_end_through_the_fake_api(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "landing"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".assetgen", "assetgen.lock"))
    spec = root / "assetgen.toml"
    text = spec.read_text().replace(
        'name = "offline"', f'name = "openai"\nbase_url = "{api_env.base_url}"'
    )
    spec.write_text(text)
    assert cli(root, "plan", "--json") == 0
    planned = json.loads(capsys.readouterr().out)
    assert planned["api_calls"] == 10 and planned["estimated_cost_usd"] > 0
    assert cli(root, "-q", "build", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["generated"] == 10 and report["cost_usd"] > 0
    assert len(api_env.requests) == 10
    edits = [r for r in api_env.requests if r.path.endswith("/images/edits")]
    # The mascot (one reference) and its two poses (base image @mascot + reference + mask).
    assert sorted(r.file_names() for r in edits) == [
        ["image"],
        ["image[]", "image[]", "mask"],
        ["image[]", "image[]", "mask"],
    ]
    lock = (root / "assetgen.lock").read_text()
    assert "[assets.hero-spring.usage]" in lock and 'provider = "openai"' in lock
    assert cli(root, "-q", "build") == 0
    assert len(api_env.requests) == 10, "a second build must not call the API"


def test_a_refusal_fails_one_asset_and_keeps_the_others(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env)
    api_env.script(Reply(), Reply.moderation())
    assert cli(root, "build") == 1
    captured = capsys.readouterr()
    assert "moderation_blocked" in captured.err and "rejected by the safety system" in captured.err
    assert "2 generated" in captured.out and "1 failed" in captured.out
    locked = LockStore(root / "assetgen.lock", root / ".assetgen/journal.jsonl").load()
    assert len(locked.assets) == 2
    assert cli(root, "build") == 0
    assert len(api_env.requests) == 4, "the rerun pays only for the asset that failed"


def test_missing_key_is_one_line_and_no_request(
    api_env: FakeImagesAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    root = project(tmp_path, api_env)
    assert cli(root, "build") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if line.startswith("error:")] == [
        line for line in err if "OPENAI_API_KEY" in line
    ]
    assert "Traceback" not in "\n".join(err)
    assert api_env.requests == []


def test_the_key_never_reaches_output_or_files(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env)
    api_env.script(Reply.server_error(), Reply.moderation())
    cli(root, "-v", "build")
    cli(root, "plan", "--json")
    cli(root, "show", "card-1")
    captured = capsys.readouterr()
    assert FAKE_API_KEY not in everything_written(root, captured.out + captured.err)


def test_plan_shows_cost_per_asset_and_total(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env)
    assert cli(root, "plan") == 0
    out = capsys.readouterr().out
    assert out.count("~$0.0060") == 3  # the default gpt-image-2.6-flare, low, 1024x1024
    assert "3 API calls, estimated cost $0.0180" in out


def test_cost_and_usage_are_recorded(
    api_env: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path, api_env)
    assert cli(root, "-q", "build", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    entry = LockStore(root / "assetgen.lock", root / "j").load().assets["card-1"]
    assert entry.usage is not None and entry.usage["output_tokens"] > 0
    expected = entry.usage["input_text_tokens"] * 5e-6 + entry.usage["output_tokens"] * 30e-6
    assert entry.cost_usd == pytest.approx(expected, rel=1e-3)
    assert report["cost_usd"] == pytest.approx(3 * entry.cost_usd, rel=0.2)


def test_killed_build_loses_no_paid_image(api_env: FakeImagesAPI, tmp_path: Path) -> None:
    body = THREE.replace("[1, 2, 3]", "[1, 2, 3, 4, 5, 6]")
    root = project(tmp_path, api_env, body=body)
    api_env.latency = 0.4
    env = {**os.environ, "OPENAI_API_KEY": FAKE_API_KEY}
    repo = Path(__file__).parents[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "assetgen", "-C", str(root), "-q", "build"],
        cwd=repo,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    journal = root / ".assetgen/journal.jsonl"
    paid = root / ".assetgen/cache/keys"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(paid.glob("*/*.json"))) < 2:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the whole group: workers die too, as in a crash
    process.wait()
    paid_before_kill = len(api_env.requests)
    keys = list(paid.glob("*/*.json"))
    assert 2 <= len(keys) < 6
    lock_path = root / "assetgen.lock"
    if lock_path.exists():  # whatever the moment, the lock on disk is complete
        LockStore(lock_path, tmp_path / "none").read_committed()
    api_env.latency = 0.0
    assert cli(root, "-q", "build") == 0
    assert len(api_env.requests) - paid_before_kill <= 6 - len(keys)
    locked = LockStore(lock_path, journal).load()
    assert sorted(locked.assets) == [f"card-{n}" for n in range(1, 7)]


def test_ctrl_c_exits_130_with_a_valid_lock(api_env: FakeImagesAPI, tmp_path: Path) -> None:
    body = THREE.replace("[1, 2, 3]", "[1, 2, 3, 4, 5, 6]")
    root = project(tmp_path, api_env, body=body)
    api_env.latency = 0.3
    process = subprocess.Popen(
        [sys.executable, "-m", "assetgen", "-C", str(root), "-q", "build"],
        cwd=Path(__file__).parents[1],
        env={**os.environ, "OPENAI_API_KEY": FAKE_API_KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    paid = root / ".assetgen/cache/keys"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(paid.glob("*/*.json"))) < 2:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal's Ctrl-C: every process of the group
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    locked = LockStore(root / "assetgen.lock", tmp_path / "no-journal").read_committed()
    assert len(locked.assets) >= 2, "finished assets are folded into the lock on Ctrl-C"
    assert not (root / ".assetgen/journal.jsonl").exists()


@pytest.mark.parametrize("command", ["plan", "check", "build"])
def test_a_no_op_of_an_openai_project_needs_no_key_and_no_http_client(
    api_env: FakeImagesAPI, tmp_path: Path, command: str
) -> None:
    """CI verifies committed assets without a key, and a no-op never imports httpx."""
    root = project(tmp_path / "site", api_env)
    assert cli(root, "build") == 0
    assert cli(root, "plan") == 0  # the parsed state is cached now
    requests = len(api_env.requests)
    assert heavy_imports(root, command, drop_env=("OPENAI_API_KEY",)) == (0, "")
    assert len(api_env.requests) == requests
