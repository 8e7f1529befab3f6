"""``build --shard K/N``: CI jobs split a project's generations and publish to one remote.

The partition is checked on its own (deterministic, every asset once, chains kept
together), then end to end through the fake Images API and a ``file://`` remote:
two shard jobs, then an assemble build that generates nothing and writes the lock
a single full build writes. Last, two builds racing on one new key.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from assetgen import open_project
from assetgen.cli import main
from assetgen.shards import Shard, components, parse_shard, shard_names, shard_of
from tests.fakeapi import FakeImagesAPI, Reply
from tests.test_build_openai import OPENAI_BASE, api_env

from .projects import make_project

__all__ = ["api_env"]  # the fixture, shared with the other builds through the fake API

CHAIN = """
[[asset]]
name = "mascot"
prompt = "a round teal cloud mascot"

[[asset]]
name = "mascot-wave"
prompt = "the mascot, waving"
image = "@mascot"

[[asset]]
name = "badge"
prompt = "a badge in the style of the reference"
references = ["@mascot-wave"]

[[asset]]
name = "card-{{ n }}"
prompt = "a playing card number {{ n }}"
matrix = { n = [1, 2, 3, 4, 5] }
variants = [{ width = 32, format = "png" }]
"""


def cli(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def remote_table(shared: Path) -> str:
    return f'\n[cache]\nremote = "file://{shared}"\n'


def assets_of(root: Path) -> list[Any]:
    return open_project(root / "assetgen.toml").assets()


def lock_entries(root: Path) -> dict[str, Any]:
    """The lock's assets, without what differs between machines by design."""
    data = tomllib.loads((root / "assetgen.lock").read_text())
    return dict(data["assets"])


# -- the partition ----------------------------------------------------------------------


def test_the_partition_is_deterministic_covers_every_asset_once_and_keeps_chains(
    tmp_path: Path,
) -> None:
    make_project(tmp_path, CHAIN)
    assets = assets_of(tmp_path)
    names = sorted(asset.name for asset in assets)
    groups = components(assets)
    assert ["badge", "mascot", "mascot-wave"] in groups
    for count in (1, 2, 3, 4, 7, 256):
        shards = [shard_names(assets, Shard(k, count)) for k in range(1, count + 1)]
        assert sorted(n for shard in shards for n in shard) == names, "not a partition"
        chain = [s for s in shards if "mascot" in s]
        assert len(chain) == 1 and {"mascot-wave", "badge"} <= chain[0]
    # Stable across processes and spec order: only the sorted names count.
    assert shard_names(list(reversed(assets)), Shard(1, 4)) == shard_names(assets, Shard(1, 4))
    assert shard_of(["mascot", "badge", "mascot-wave"], 4) == shard_of(
        ["badge", "mascot", "mascot-wave"], 4
    )


def test_shard_values_are_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    assert parse_shard("256/256") == Shard(256, 256)
    make_project(tmp_path, CHAIN + remote_table(tmp_path / "shared"))
    for bad in ("0/2", "3/2", "1/257", "1", "a/b", "1/0", "-1/2"):
        assert cli(tmp_path, "build", f"--shard={bad}") == 2, bad
        err = capsys.readouterr().err
        assert "--shard" in err and "K/N" in err and "Traceback" not in err
    assert cli(tmp_path, "build", "--locked", "--shard", "1/2") == 2
    assert "--locked never generates" in capsys.readouterr().err


def test_a_shard_without_a_remote_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, CHAIN)
    assert cli(tmp_path, "build", "--shard", "1/2") == 2
    err = capsys.readouterr().err
    assert "shards publish to [cache] remote; set one" in err
    assert not (tmp_path / "assetgen.lock").exists(), "it built anyway"


# -- shards, then assemble ----------------------------------------------------------------


def clone(root: Path, spec: str, base: str) -> Path:
    make_project(root, spec, base=base)
    return root


Team = Callable[..., Path]


@pytest.fixture
def team(tmp_path: Path, api_env: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> Team:
    """``team(folder)``: a clone of CHAIN through the fake API sharing one ``file://`` remote
    (``remote=False``: none); builds are stamped with one fixed time."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    base = OPENAI_BASE.format(base_url=api_env.base_url, concurrency=1)

    def make(folder: str, *, remote: bool = True) -> Path:
        return clone(tmp_path / folder, CHAIN + remote_table(tmp_path / "shared") * remote, base)

    return make


def test_two_shards_then_an_assemble_build_equal_one_full_build(
    team: Team, api_env: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    full = team("full", remote=False)  # a single runner
    before = len(api_env.requests)
    assert cli(full, "build", "--yes") == 0
    total = len(api_env.requests) - before
    assert total == 8
    capsys.readouterr()

    one, two = team("job-1"), team("job-2")
    made: list[int] = []
    for job, root in ((1, one), (2, two)):
        before = len(api_env.requests)
        assert cli(root, "build", "--yes", "--json", "--shard", f"{job}/2") == 0
        made.append(len(api_env.requests) - before)
        report = json.loads(capsys.readouterr().out)
        assert report["generated"] == made[-1]
    assert sum(made) == total and all(made), f"each generation once, in either job: {made}"
    assert set(lock_entries(one)).isdisjoint(lock_entries(two))

    assemble = team("assemble")
    before = len(api_env.requests)
    assert cli(assemble, "build", "--yes", "--json") == 0
    assert len(api_env.requests) == before, "the assemble build generated"
    report = json.loads(capsys.readouterr().out)
    assert report["generated"] == 0 and report["remote_reused"] == total
    assert lock_entries(assemble) == lock_entries(full)
    assert (assemble / "assetgen.lock").read_bytes() == (full / "assetgen.lock").read_bytes()


def test_locked_pull_assembles_from_the_remote_and_never_generates(
    team: Team, api_env: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    jobs = [team(f"job-{k}") for k in (1, 2, 3)]
    assert cli(jobs[0], "build", "--yes", "--shard", "1/3") == 0
    assert cli(jobs[1], "build", "--yes", "--shard", "2/3") == 0
    ci = team("ci")
    before = len(api_env.requests)
    assert cli(ci, "build", "--locked") == 3, "--locked alone fetches nothing"
    assert cli(ci, "build", "--locked", "--pull") == 3, "shard 3 has not run yet"
    assert len(api_env.requests) == before and not (ci / "assetgen.lock").exists()
    capsys.readouterr()

    assert cli(jobs[2], "build", "--yes", "--shard", "3/3") == 0
    before = len(api_env.requests)
    assert cli(ci, "build", "--locked", "--pull") == 0
    assert len(api_env.requests) == before, "--locked --pull generated"
    assert "assembled from the remote cache" in capsys.readouterr().err
    assert sorted(lock_entries(ci)) == sorted(a.name for a in assets_of(ci))
    assert cli(ci, "check") == 0
    full = team("full", remote=False)
    assert cli(full, "build", "--yes") == 0
    assert (ci / "assetgen.lock").read_bytes() == (full / "assetgen.lock").read_bytes()


# -- a race ---------------------------------------------------------------------------------


def png(colour: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (1024, 1024), colour).save(out, format="PNG")
    return out.getvalue()


def test_two_builds_racing_on_one_new_key_both_succeed_consistently(
    tmp_path: Path, api_env: FakeImagesAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    shared = tmp_path / "shared"
    base = OPENAI_BASE.format(base_url=api_env.base_url, concurrency=1)
    spec = '[[asset]]\nname = "race"\nprompt = "one new key, two builds"\n' + remote_table(shared)
    roots = [clone(tmp_path / name, spec, base) for name in ("a", "b")]
    start = threading.Barrier(2)
    codes: list[int] = []

    def build(root: Path) -> None:
        start.wait()
        codes.append(cli(root, "build", "--yes", "-q"))

    api_env.script(*(Reply.images(png(colour)) for colour in ("red", "blue")))  # two answers
    before = len(api_env.requests)
    threads = [threading.Thread(target=build, args=(root,)) for root in roots]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [0, 0]
    assert 1 <= len(api_env.requests) - before <= 2
    originals = {lock_entries(root)["race"]["original"]["sha256"] for root in roots}
    assert len(originals) == len(api_env.requests) - before, "each build keeps what it paid for"
    for root in roots:
        own = lock_entries(root)["race"]["original"]
        assert hashlib.sha256((root / own["path"]).read_bytes()).hexdigest() == own["sha256"]
    records = [json.loads(p.read_text()) for p in (shared / "keys").rglob("*.json")]
    assert len(records) == 1, "one key, one record"
    record = records[0]
    assert record["candidates"][record["selected"]]["sha256"] in originals, "neither build's"
    for path in (shared / "objects").rglob("*.png"):  # every committed object is whole
        assert hashlib.sha256(path.read_bytes()).hexdigest() == path.stem

    # A third clone gets the remote's record: one of the two, and its bytes verify.
    third = clone(tmp_path / "c", spec, base)
    capsys.readouterr()
    before = len(api_env.requests)
    assert cli(third, "build", "--yes", "--json") == 0
    assert len(api_env.requests) == before
    assert json.loads(capsys.readouterr().out)["remote_reused"] == 1
    assert lock_entries(third)["race"]["original"]["sha256"] in originals
