"""Assets made from other assets: cascades, cycles, failures, parallel branches."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from assetgen.cli import main
from assetgen.lockfile import LockStore
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

from .projects import make_mask, make_project

CHAIN = """
[[asset]]
name = "mascot"
prompt = "a round teal cloud mascot"

[[asset]]
name = "mascot-{{ pose }}"
prompt = "the mascot, {{ pose }}"
image = "@mascot"
mask = "art/{{ pose }}.png"
matrix = { pose = ["wave", "jump"] }
variants = [{ width = 64, format = "png" }]

[[asset]]
name = "badge"
prompt = "a badge in the style of the reference"
references = ["@mascot-wave"]

[[asset]]
name = "icon"
prompt = "an unrelated icon"
"""

PAID_BASE = """\
[provider]
name = "openai"
base_url = "{base_url}"
concurrency = 4
max_retries = 0

[defaults]
size = "1024x1024"
quality = "low"
"""


def chain_project(root: Path, base: str | None = None, side: int = 256) -> Path:
    """The chain, with masks of the mascot's size (``side``, as ``[defaults] size``)."""
    half = side // 2
    for pose, box in (("wave", (half, 0, side, half)), ("jump", (0, half, half, side))):
        make_mask(root / f"art/{pose}.png", (side, side), box)
    if base is None:
        make_project(root, CHAIN)
    else:
        make_project(root, CHAIN, base=base)
    return root


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def plan(root: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert run(root, "plan", "--json") == 0
    return json.loads(capsys.readouterr().out)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    root = chain_project(tmp_path)
    assert run(root, "-q", "build") == 0
    capsys.readouterr()
    return root


@pytest.fixture
def paid(tmp_path: Path, fake_api: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    base = '[build]\nout_dir = "public/img"\n\n' + PAID_BASE.format(base_url=fake_api.base_url)
    return chain_project(tmp_path, base, side=1024)


def test_first_build_follows_the_chain(chain: Path) -> None:
    lock = LockStore(chain / "assetgen.lock", chain / "j").load().assets
    mascot = lock["mascot"].original
    wave = lock["mascot-wave"]
    assert next((i.role, i.path, i.sha256) for i in wave.inputs) == (
        "image",
        "@mascot",
        mascot.sha256,
    )
    assert lock["badge"].inputs[0].path == "@mascot-wave"
    assert lock["badge"].inputs[0].sha256 == wave.original.sha256


def test_upstream_change_cascades_with_reasons_and_cost(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(paid, "-q", "build") == 0
    edit(paid / "assetgen.toml", "a round teal cloud mascot", "a round coral cloud mascot")
    planned = plan(paid, capsys)
    assert planned["generate"] == ["mascot", "mascot-wave", "mascot-jump", "badge"]
    assert planned["fresh"] == ["icon"]
    reasons = {a["name"]: a["reason"] for a in planned["assets"]}
    assert reasons["mascot"] == "prompt changed"
    assert reasons["mascot-wave"] == reasons["mascot-jump"] == "input @mascot changes"
    assert reasons["badge"] == "input @mascot-wave changes"
    # The default model (gpt-image-2.6-flare), low, 1024x1024; the three edits add
    # their input image (1,536 tokens at $8/1M).
    assert planned["estimated_cost_usd"] == pytest.approx(4 * 0.006 + 3 * 1536 * 8e-6)
    before = len(fake_api.requests)
    assert run(paid, "-q", "build") == 0
    assert len(fake_api.requests) - before == 4
    assert plan(paid, capsys)["api_calls"] == 0


def test_downstream_change_does_not_cascade_upwards(
    chain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_mask(chain / "art/wave.png", (256, 256), (120, 0, 256, 128))
    planned = plan(chain, capsys)
    assert planned["generate"] == ["mascot-wave", "badge"]
    assert sorted(planned["fresh"]) == ["icon", "mascot", "mascot-jump"]
    edit(chain / "assetgen.toml", "a badge in the style", "a round badge in the style")
    assert run(chain, "-q", "build") == 0
    edit(chain / "assetgen.toml", "a round badge in the style", "a square badge in the style")
    assert plan(chain, capsys)["generate"] == ["badge"]


def test_reverting_upstream_reuses_everything_downstream(
    chain: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = chain / "assetgen.toml"
    original = spec.read_text()
    edit(spec, "teal cloud", "coral cloud")
    assert run(chain, "-q", "build") == 0
    spec.write_text(original)
    planned = plan(chain, capsys)
    assert planned["api_calls"] == 0
    assert sorted(planned["reuse"]) == ["badge", "mascot", "mascot-jump", "mascot-wave"]


def test_cycles_print_the_whole_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_project(
        tmp_path,
        """
        [[asset]]
        name = "a"
        prompt = "a"
        image = "@c"
        [[asset]]
        name = "b"
        prompt = "b"
        image = "@a"
        [[asset]]
        name = "c"
        prompt = "c"
        references = ["@b"]
        """,
    )
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "assets form a cycle: a → b → c → a" in err
    assert err.count("cycle") == 1


def test_unknown_reference_is_a_spec_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, '[[asset]]\nname = "pose"\nprompt = "p"\nimage = "@mascott"\n'
                 '[[asset]]\nname = "mascot"\nprompt = "m"\n')  # fmt: skip
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "asset 'pose': field 'image': no asset named 'mascott' for input @mascott" in err
    assert "did you mean 'mascot'?" in err


def test_upstream_failure_skips_dependents_without_paying(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(paid / "assetgen.toml", "concurrency = 4", "concurrency = 1")
    fake_api.script(Reply.moderation())  # the first request is the mascot's
    assert run(paid, "build", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    status = {a["name"]: (a["status"], a["error"]) for a in report["assets"]}
    assert status["mascot"][0] == "failed"
    assert status["mascot-wave"] == ("skipped", "mascot-wave: input @mascot failed")
    assert status["badge"] == ("skipped", "badge: input @mascot-wave failed")
    assert status["icon"][0] == "generated"
    assert len(fake_api.requests) == 2


def test_independent_branches_run_in_parallel(
    paid: Path, fake_api: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = paid / "assetgen.toml"
    spec.write_text(spec.read_text().split('[[asset]]\nname = "badge"')[0])
    edit(spec, 'matrix = { pose = ["wave", "jump"] }', 'matrix = { pose = ["wave"] }')
    spec.write_text(
        spec.read_text()
        + '\n[[asset]]\nname = "robot"\nprompt = "a robot"\n'
        + '[[asset]]\nname = "robot-wave"\nprompt = "robot waving"\nimage = "@robot"\n'
    )
    latency = 1.0
    fake_api.latency = latency
    started = time.monotonic()
    assert run(paid, "-q", "build") == 0
    elapsed = time.monotonic() - started
    assert len(fake_api.requests) == 4
    # Two chains of two generations each: about two latencies in parallel, at least
    # four in series; the margin absorbs a loaded CI machine.
    assert elapsed < 4 * latency - 0.5, elapsed


def test_lock_is_stable_across_runs(chain: Path) -> None:
    first = (chain / "assetgen.lock").read_bytes()
    assert run(chain, "-q", "build") == 0
    assert (chain / "assetgen.lock").read_bytes() == first


def test_locked_checks_chains(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(chain, "check") == 0
    edit(chain / "assetgen.toml", "teal cloud", "coral cloud")
    assert run(chain, "check") == 3
    err = capsys.readouterr().err
    assert "mascot: prompt changed" in err
    assert "mascot-wave: input @mascot changes" in err
    assert "badge: input @mascot-wave changes" in err


def test_selecting_a_dependent_builds_what_it_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = chain_project(tmp_path)
    assert run(root, "-q", "build", "badge") == 0
    lock = LockStore(root / "assetgen.lock", root / "j").load().assets
    assert sorted(lock) == ["badge", "mascot", "mascot-wave"]


def test_plan_graph_tree_and_dot(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    edit(chain / "assetgen.toml", "teal cloud", "coral cloud")
    assert run(chain, "plan", "--graph") == 0
    tree = capsys.readouterr().out.splitlines()
    assert tree[0].startswith("mascot  [generate: prompt changed")
    assert tree[1].startswith("├── mascot-wave  [generate: input @mascot changes")
    assert tree[2].startswith("│   └── badge  [generate: input @mascot-wave changes")
    assert tree[3].startswith("└── mascot-jump  [generate")
    assert tree[4].startswith("icon  [fresh")
    assert run(chain, "plan", "--graph=dot") == 0
    dot = capsys.readouterr().out
    assert dot.startswith("digraph assetgen {")
    assert '"mascot" -> "mascot-wave" [label="image"];' in dot
    assert '"mascot-wave" -> "badge" [label="reference"];' in dot


def test_show_explains_a_dependent(chain: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(chain, "show", "mascot-wave", "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["inputs"][0]["path"] == "@mascot" and info["inputs"][0]["sha256"]
    assert (info["locked"], info["action"]) == (True, "fresh")
    edit(chain / "assetgen.toml", "teal cloud", "coral cloud")
    assert run(chain, "show", "mascot-wave") == 0
    out = capsys.readouterr().out
    assert (
        "key:       (known once its @inputs are generated)" in out
        and "reason:    input @mascot changes" in out
    )
    assert "input:     image @mascot\n" in out
