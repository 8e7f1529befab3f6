"""Builds through the Batch API against the fake's Files and Batch endpoints.

Real HTTP on 127.0.0.1 (``tests/fakebatch.py``): uploads, batches that move
through ``validating`` → ``in_progress`` → ``finalizing`` → a final state as
they are polled, output and error files in the documented JSONL shape.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from assetgen.cli import main
from assetgen.console import Progress
from assetgen.events import BatchEvent, Event, PlanEvent
from assetgen.project import open_project
from assetgen.providers.base import Usage
from assetgen.providers.openai.batch import read_lines
from assetgen.providers.openai.models import BATCH_PRICE_FACTOR, prices_for, usage_cost
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI
from tests.fakebatch import BatchPlan

from .projects import make_image, make_project

REPO = Path(__file__).parents[1]
MODEL = "gpt-image-2.6-flare"
BASE = """\
[build]
out_dir = "public/img"

[provider]
name = "openai"
base_url = "{base_url}"
model = "{model}"
concurrency = 2
max_retries = 0
batch = "{mode}"
batch_poll = 0.02
batch_wait = 60

[defaults]
size = "1024x1024"
quality = "low"
"""


def cards(count: int) -> str:
    numbers = ", ".join(str(n) for n in range(1, count + 1))
    return f"""
[[asset]]
name = "card-{{{{ n }}}}"
prompt = "a playing card number {{{{ n }}}}"
matrix = {{ n = [{numbers}] }}
variants = [{{ width = 64, format = "webp" }}]
"""


@pytest.fixture
def api(fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> FakeImagesAPI:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    return fake_api


def project(root: Path, fake: FakeImagesAPI, body: str, mode: str = "always") -> Path:
    make_project(root, body, base=BASE.format(base_url=fake.base_url, model=MODEL, mode=mode))
    return root


def cli(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def calls(fake: FakeImagesAPI, method: str, path: str) -> int:
    return sum(1 for r in fake.requests if r.method == method and r.path == path)


def records(root: Path) -> list[dict[str, object]]:
    folder = root / ".assetgen" / "batches"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def left_running(root: Path, fake: FakeImagesAPI) -> tuple[Path, dict[str, Any]]:
    """A build with ``--no-wait`` of a batch held in progress: its record's path and content."""
    fake.batch.plan = BatchPlan(hold=True)
    assert cli(root, "build", "--no-wait") == 75
    [path] = (root / ".assetgen" / "batches").glob("*.json")
    return path, json.loads(path.read_text())


def build_json(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = cli(root, "build", "--json", *args)
    return code, json.loads(capsys.readouterr().out)


def test_twenty_assets_go_as_one_batch_and_are_locked_at_half_price(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(20))
    code, report = build_json(root, capsys)
    assert code == 0, capsys.readouterr().err
    assert report["generated"] == 20 and report["failed"] == 0 and report["pending"] == 0
    [batch] = report["batches"]
    assert batch["status"] == "completed" and batch["completed"] == batch["total"] == 20
    assert len(batch["assets"]) == 20
    assert calls(api, "POST", "/v1/files") == calls(api, "POST", "/v1/batches") == 1
    assert calls(api, "POST", "/v1/images/generations") == 0
    # One line per generation, the key as custom_id, the body a direct request's.
    lines = api.batch.input_lines(batch["id"])
    lock = open_project(root / "assetgen.toml").lock()
    assert sorted(line["custom_id"] for line in lines) == sorted(
        e.key for e in lock.assets.values()
    )
    assert {line["url"] for line in lines} == {"/v1/images/generations"}
    assert {line["body"]["model"] for line in lines} == {MODEL}
    # Usage is costed at the batch price, and the whole build at the sum of it.
    prices = prices_for(MODEL, {})
    for entry in lock.assets.values():
        assert entry.usage is not None
        full = usage_cost(prices, Usage(**entry.usage))
        assert full and entry.cost_usd == pytest.approx(full * BATCH_PRICE_FACTOR, abs=1e-6)
    total = sum(e.cost_usd for e in lock.assets.values())
    assert report["cost_usd"] == pytest.approx(total, abs=1e-5)
    assert records(root) == [], "a collected batch leaves no record behind"
    assert cli(root, "check") == 0
    assert cli(root, "build") == 0 and calls(api, "POST", "/v1/batches") == 1


def test_plan_marks_batched_generations_and_halves_their_estimate(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(3), mode="never")
    make_image(root / "art" / "base.png", (1024, 1024))
    (root / "assetgen.toml").write_text(
        (root / "assetgen.toml").read_text()
        + '\n[[asset]]\nname = "edited"\nimage = "art/base.png"\nprompt = "make it blue"\n'
    )
    assert cli(root, "plan", "--json") == 0
    direct = json.loads(capsys.readouterr().out)
    assert cli(root, "plan", "--json", "--batch") == 0
    batched = json.loads(capsys.readouterr().out)
    assert direct["batch"] == {}
    assert batched["batch"] == {f"card-{n}": "batch" for n in (1, 2, 3)}, "edits go direct"
    cost = {a["name"]: a["estimated_cost_usd"] for a in direct["assets"]}
    halved = {a["name"]: a["estimated_cost_usd"] for a in batched["assets"]}
    assert halved["card-1"] == pytest.approx(cost["card-1"] * BATCH_PRICE_FACTOR)
    assert halved["edited"] == cost["edited"]
    assert cli(root, "plan", "--batch") == 0
    text = capsys.readouterr().out
    assert "[batch]" in text.splitlines()[0]
    assert "4 API calls (3 by batch, at half price)" in text
    assert api.requests == [], "plan sends nothing"


def test_an_edit_goes_direct_and_an_error_line_fails_only_its_asset(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(3))
    make_image(root / "art" / "base.png", (1024, 1024))
    (root / "assetgen.toml").write_text(
        (root / "assetgen.toml").read_text()
        + '\n[[asset]]\nname = "edited"\nimage = "art/base.png"\nprompt = "make it blue"\n'
    )
    api.batch.plan = BatchPlan(refuse="number 2")
    code, report = build_json(root, capsys)
    assert code == 1
    status = {a["name"]: a for a in report["assets"]}
    assert status["card-2"]["status"] == "failed"
    assert "rejected by the safety system" in status["card-2"]["error"]
    assert "moderation_blocked" in status["card-2"]["error"]
    assert [status[n]["status"] for n in ("card-1", "card-3", "edited")] == ["generated"] * 3
    assert calls(api, "POST", "/v1/images/edits") == 1
    assert records(root) == [], "a failed key is let go, so a retry may be sent"
    api.batch.plan = BatchPlan()
    assert cli(root, "build") == 0
    second = api.batch.created[-1]
    assert [line["custom_id"] for line in api.batch.input_lines(second)] == [
        open_project(root / "assetgen.toml").lock().assets["card-2"].key
    ]


def test_an_expired_batch_keeps_the_12_done_and_sends_the_8_others_again(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(20))
    api.batch.plan = BatchPlan(complete=12)
    code, report = build_json(root, capsys)
    assert code == 1
    assert report["generated"] == 12 and report["failed"] == 8
    assert report["batches"][0]["status"] == "expired"
    failed = [a for a in report["assets"] if a["status"] == "failed"]
    assert all("before the completion window expired" in a["error"] for a in failed)
    assert all("batch_expired" in a["error"] for a in failed)
    assert len(open_project(root / "assetgen.toml").lock().assets) == 12
    assert records(root) == []
    api.batch.plan = BatchPlan()
    assert cli(root, "build") == 0
    assert len(api.batch.input_lines(api.batch.created[-1])) == 8
    assert calls(api, "POST", "/v1/images/generations") == 0


def test_no_wait_leaves_the_batch_running_and_batch_wait_collects_it(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(4))
    api.batch.plan = BatchPlan(hold=True)
    code, report = build_json(root, capsys, "--no-wait")
    assert code == 75
    assert report["pending"] == 4 and report["failed"] == 0
    [record] = records(root)
    assert record["batch_id"] == report["batches"][0]["id"]
    assert all("waits in batch" in a["error"] for a in report["assets"])
    # A build in "never" mode still never sends a pending key direct.
    assert cli(root, "build", "--no-batch", "--no-wait") == 75
    assert calls(api, "POST", "/v1/images/generations") == 0
    capsys.readouterr()
    assert cli(root, "batch", "status") == 0
    assert f"batch {record['batch_id']}: in_progress 0/4" in capsys.readouterr().out
    api.batch.batches[str(record["batch_id"])].plan = BatchPlan()
    assert cli(root, "batch", "wait") == 0
    assert len(open_project(root / "assetgen.toml").lock().assets) == 4
    assert records(root) == []
    assert calls(api, "POST", "/v1/batches") == 1


def test_cancel_returns_what_was_done_and_lets_the_rest_go(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(3))
    left_running(root, api)
    assert cli(root, "batch", "cancel") == 0
    assert "cancelling" in capsys.readouterr().out
    code, report = build_json(root, capsys, "--no-batch")
    assert code == 1 and report["batches"][0]["status"] == "cancelled"
    assert all("because the batch was cancelled" in a["error"] for a in report["assets"])
    assert records(root) == []
    assert cli(root, "build", "--no-batch") == 0, "released keys may go direct"
    assert calls(api, "POST", "/v1/images/generations") == 3


def test_a_lost_batch_id_is_found_by_its_submission_id(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As if killed between the create call and the write of its answer."""
    root = project(tmp_path / "p", api, cards(3))
    path, record = left_running(root, api)
    path.write_text(json.dumps({**record, "batch_id": None}))
    api.batch.batches[record["batch_id"]].plan = BatchPlan()
    assert cli(root, "build") == 0
    assert calls(api, "GET", "/v1/batches?limit=100") == 1
    assert calls(api, "POST", "/v1/files") == calls(api, "POST", "/v1/batches") == 1


def test_sigkill_while_polling_then_the_rerun_resumes_the_same_batch(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(6))
    api.batch.plan = BatchPlan(hold=True)
    process = subprocess.Popen(
        [sys.executable, "-m", "assetgen", "-C", str(root), "-q", "build"],
        cwd=REPO,
        env={**os.environ, "OPENAI_API_KEY": FAKE_API_KEY},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    polls = 0
    while process.poll() is None and polls < 5 and time.monotonic() < deadline:
        polls = sum(1 for r in api.requests if r.path.startswith("/v1/batches/batch_"))
        time.sleep(0.01)
    assert process.poll() is None, "the build stopped before it was killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    [record] = records(root)
    [batch_id] = api.batch.created
    assert record["batch_id"] == batch_id and len(record["keys"]) == 6  # type: ignore[arg-type]
    uploads, batches = calls(api, "POST", "/v1/files"), calls(api, "POST", "/v1/batches")
    api.batch.batches[batch_id].plan = BatchPlan()
    assert cli(root, "build") == 0, capsys.readouterr().err
    assert calls(api, "POST", "/v1/files") == uploads == 1, "no new upload"
    assert calls(api, "POST", "/v1/batches") == batches == 1, "no new batch"
    assert calls(api, "POST", "/v1/images/generations") == 0
    assert len(open_project(root / "assetgen.toml").lock().assets) == 6
    assert records(root) == []
    assert cli(root, "check") == 0


@pytest.mark.parametrize("mode", ["always", "ask"])
def test_a_reseller_without_a_batch_api_is_reported_once(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str
) -> None:
    root = project(tmp_path / "p", api, cards(3), mode=mode)
    api.batch.enabled = False
    code = cli(root, "build")
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("this base URL has no Batch API") == 2  # the warning, then one failure
    assert "same error as card-1" in err and "--no-batch" in err
    assert calls(api, "POST", "/v1/images/generations") == 0 and records(root) == []
    assert cli(root, "build", "--no-batch") == 0
    assert calls(api, "POST", "/v1/images/generations") == 3


def test_a_damaged_record_stops_the_build_naming_it(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "p", api, cards(2))
    path, record = left_running(root, api)
    path.write_text(json.dumps({**record, "batch_id": "../../v1/files"}))
    capsys.readouterr()
    assert cli(root, "build") == 2
    err = capsys.readouterr().err
    assert f".assetgen/batches/{path.name}" in err and "field 'batch_id'" in err
    assert "'../../v1/files' is not a valid id" in err
    assert not any(".." in r.path for r in api.requests)


def test_output_lines_are_read_one_at_a_time_within_a_bound(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    good = {"custom_id": "k1", "response": {"status_code": 200, "body": {"data": []}}}
    expired = {"custom_id": "k3", "response": None, "error": {"code": "batch_expired"}}
    huge = json.dumps({"custom_id": "k2", "pad": "x" * 5000})
    path.write_text("\n".join([json.dumps(good), huge, "not json", json.dumps(expired)]) + "\n")
    lines = list(read_lines(path, limit=1000))
    assert lines[0].custom_id == "k1" and lines[0].status == 200  # type: ignore[union-attr]
    assert lines[1] == "line 2 is larger than 0.000953674 MB"
    assert lines[2] == "line 3 is not JSON"
    assert lines[3].status is None and lines[3].error.code == "batch_expired"  # type: ignore[union-attr]


def test_progress_tells_a_batch_once_per_state_and_at_most_once_a_minute() -> None:
    import io

    stream, now = io.StringIO(), [0.0]
    progress = Progress(stream, ticking=False, clock=lambda: now[0])
    progress(PlanEvent(total=2))

    def batch(status: str, completed: int) -> None:
        counts = {"id": "batch_1", "status": status, "completed": completed, "total": 2}
        progress(BatchEvent(**counts, failed=0, assets=("a", "b")))  # type: ignore[arg-type]

    batch("validating", 0)
    for asset in ("a", "b"):
        progress(Event("start", "generate", asset=asset))
    now[0] = 20.0
    batch("in_progress", 0)
    now[0] = 40.0
    batch("in_progress", 1)  # under a minute since the last line: not told
    now[0] = 85.0
    progress.tick()  # no per-asset heartbeat for assets the batch speaks for
    batch("in_progress", 1)
    progress.close()
    assert stream.getvalue().splitlines() == [
        "  batch batch_1: validating 0/2, 0 s",
        "  batch batch_1: in_progress 0/2, 20 s",
        "  batch batch_1: in_progress 1/2, 1m25s",
    ]


class _Terminal:
    def isatty(self) -> bool:
        return True


def test_ask_on_a_terminal_offers_direct_when_the_base_url_has_no_batch_api(
    api: FakeImagesAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = project(tmp_path / "p", api, cards(2), mode="ask")
    api.batch.enabled = False
    asked: list[str] = []
    answers = iter(["", "y"])  # use the Batch API (the default), then: go direct
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda text: asked.append(text) or next(answers))
    assert cli(root, "build") == 0
    assert "2 generations can go through the Batch API at half price" in asked[0]
    assert "send the 2 generations direct, at the full price?" in asked[1]
    assert capsys.readouterr().err.count("this base URL has no Batch API") == 1
    assert calls(api, "POST", "/v1/images/generations") == 2


def test_declining_the_batch_question_builds_direct_at_the_direct_estimate(
    api: FakeImagesAPI,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    root = project(tmp_path / "p", api, cards(2), mode="ask")
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda text: "n")
    assert cli(root, "build") == 0
    assert calls(api, "POST", "/v1/images/generations") == 2
    assert calls(api, "GET", "/v1/batches?limit=1") == 0


def test_batch_settings_are_checked_with_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "p"
    base = BASE.format(base_url="http://127.0.0.1:9/v1", model=MODEL, mode="sometimes")
    make_project(root, cards(1), base=base.replace("batch_poll = 0.02", "batch_poll = 0"))
    assert cli(root, "plan") == 2
    err = capsys.readouterr().err
    assert (
        "field 'provider.batch': unknown value 'sometimes'; expected one of: never, ask, always"
        in err
    )
    assert "field 'provider.batch_poll'" in err


def test_cancel_forgets_a_submission_that_never_became_a_batch(
    api: FakeImagesAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As if killed between the upload and the create call, then cancelled."""
    root = project(tmp_path / "p", api, cards(2))
    path, record = left_running(root, api)
    api.batch.batches[record["batch_id"]].metadata = {}  # no batch carries its submission id
    path.write_text(json.dumps({**record, "batch_id": None}))
    capsys.readouterr()
    assert cli(root, "batch", "cancel") == 0
    assert "no batch was created; forgotten" in capsys.readouterr().out
    assert records(root) == []
