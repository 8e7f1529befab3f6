"""``assetgen watch``: a real watcher process on a temporary project.

Each test starts ``python -m assetgen -C <project> watch``, edits files the way
an editor would, and reads the one line the watcher prints per rebuild:
``HH:MM:SS <changed> → generated a, b; rendered c · 0.1s · $0.0000 this session``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

from .projects import make_image, make_mask, make_project, write

SITE = """\
mood = "sunny"

[[asset]]
name = "hero"
template = "hero.j2"
size = "320x192"
variants = [{ width = 64, format = "webp" }]

[[asset]]
name = "sky"
prompt = "a {{ mood }} sky over the hills"
size = "320x192"

[[asset]]
name = "mascot"
prompt = "the mascot waving"
image = "art/base.png"
mask = "art/mask.png"

[[asset]]
name = "logo"
prompt = "a plain logo"
size = "320x192"
variants = [{ width = 32, format = "png" }]
"""

ALL = {"hero", "sky", "mascot", "logo"}


def site(root: Path) -> Path:
    make_image(root / "art/base.png", (128, 128), (20, 120, 120))
    make_mask(root / "art/mask.png", (128, 128), (64, 0, 128, 64))
    write(root / "prompts/hero.j2", "{{ brand }} hero, calm morning\n")
    make_project(root, SITE)
    return root


class WatchProcess:
    """``assetgen watch`` in a subprocess; its output lines arrive on a queue."""

    def __init__(self, root: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "assetgen", "-C", str(root), "watch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def line(self, timeout: float = 15.0) -> str:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output in {timeout}s; so far: {self.seen}") from None
        if line is None:
            raise AssertionError(f"the watcher exited ({self.proc.wait()}): {self.seen}")
        self.seen.append(line)
        return line

    def until(self, text: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.line(max(deadline - time.monotonic(), 0.01))
            if text in line:
                return line

    def rebuild(self, timeout: float = 15.0) -> dict[str, set[str]]:
        """The next rebuild line, as ``{kind: names}`` (``{"error": …}`` for an error)."""
        return parse(self.until(" → ", timeout))

    def started(self) -> dict[str, set[str]]:
        first = self.rebuild(timeout=30)
        self.until("watching ")
        self.until("gallery: ")
        return first

    def quiet(self, seconds: float) -> list[str]:
        """Lines printed within ``seconds`` (none expected)."""
        found = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            found.append(line)
        return found

    def stop(self) -> int:
        """Ctrl-C, then the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.wait()

    def wait(self) -> int:
        try:
            return self.proc.wait(timeout=20)
        finally:
            self.reader.join(timeout=5)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def parse(line: str) -> dict[str, set[str]]:
    """``… → generated a, b; reused c · …`` → ``{"generated": {"a", "b"}, "reused": {"c"}}``."""
    outcome = line.split(" → ", 1)[1].split(" · ")[0]
    if outcome.startswith("error"):
        return {"error": set()}
    if outcome == "up to date":
        return {}
    groups = {}
    for part in outcome.split("; "):
        kind, _, names = part.partition(" ")
        groups[kind] = set(names.split(", "))
    return groups


@pytest.fixture
def watcher() -> Iterator[list[WatchProcess]]:
    """Start watchers with ``watcher.append(WatchProcess(...))``; all are killed after."""
    started: list[WatchProcess] = []
    yield started
    for process in started:
        process.close()


def start(watchers: list[WatchProcess], root: Path, *args: str, **kw: object) -> WatchProcess:
    process = WatchProcess(root, *args, **kw)  # type: ignore[arg-type]
    watchers.append(process)
    return process


def save(path: Path, text: str) -> None:
    """Save like an editor that writes a temporary file and renames it over the old one."""
    temporary = path.with_name(f".{path.name}.tmp~")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def lock_names(root: Path, lock: str = "assetgen.lock") -> set[str]:
    return set(tomllib.loads((root / lock).read_text(encoding="utf-8"))["assets"])


def test_each_rebuild_touches_exactly_the_affected_assets(
    tmp_path: Path, watcher: list[WatchProcess]
) -> None:
    root = site(tmp_path / "site")
    spec = root / "assetgen.toml"
    w = start(watcher, root)
    assert w.started() == {"generated": ALL}

    save(root / "prompts/hero.j2", "{{ brand }} hero, stormy night\n")
    assert w.rebuild() == {"generated": {"hero"}}

    save(spec, spec.read_text().replace('mood = "sunny"', 'mood = "rainy"'))
    assert w.rebuild() == {"generated": {"sky"}}

    make_mask(root / "art/mask.png", (128, 128), (0, 0, 64, 64))
    assert w.rebuild() == {"generated": {"mascot"}}

    # Back to the first template: known key, nothing paid, the old original comes back.
    save(root / "prompts/hero.j2", "{{ brand }} hero, calm morning\n")
    assert w.rebuild() == {"reused": {"hero"}}

    assert w.stop() == 0
    assert lock_names(root) == ALL
    assert not (root / ".assetgen/journal.jsonl").exists()


def test_a_broken_spec_keeps_it_alive_and_the_next_good_save_recovers(
    tmp_path: Path, watcher: list[WatchProcess]
) -> None:
    root = site(tmp_path / "site")
    spec = root / "assetgen.toml"
    good = spec.read_text()
    w = start(watcher, root)
    w.started()

    save(spec, good + "\n[[asset]\nname = 'broken'\n")
    assert w.rebuild() == {"error": set()}
    assert "not valid TOML" in w.line()
    save(root / "prompts/hero.j2", "{% if %}\n")
    assert w.rebuild() == {"error": set()}
    assert w.proc.poll() is None

    save(root / "prompts/hero.j2", "{{ brand }} hero at dusk\n")
    assert w.rebuild() == {"error": set()}  # the spec is still broken
    save(spec, good.replace('mood = "sunny"', 'mood = "misty"'))
    assert w.rebuild() == {"generated": {"hero", "sky"}}
    assert w.stop() == 0


def test_a_burst_of_saves_gives_one_build(tmp_path: Path, watcher: list[WatchProcess]) -> None:
    root = site(tmp_path / "site")
    w = start(watcher, root)
    w.started()
    for n in range(6):
        save(root / "prompts/hero.j2", f"{{{{ brand }}}} hero, take {n}\n")
        time.sleep(0.03)
    assert w.rebuild() == {"generated": {"hero"}}
    assert [line for line in w.quiet(1.0) if " → " in line] == []
    assert w.stop() == 0


def test_outputs_and_editor_files_do_not_trigger_builds(
    tmp_path: Path, watcher: list[WatchProcess]
) -> None:
    root = site(tmp_path / "site")
    w = start(watcher, root)
    w.started()
    (root / "public/img/extra.webp").write_bytes(b"an output folder file")
    (root / "notes.txt").write_text("not an input")
    (root / "prompts/.hero.j2.swp").write_text("vim swap")
    assert w.quiet(1.0) == []
    # A new input the spec names is watched from the next build on.
    make_image(root / "art/style.png", (64, 64), (240, 110, 90))
    spec = root / "assetgen.toml"
    badge = '[[asset]]\nname = "badge"\nprompt = "a badge"\nimage = "art/style.png"\n'
    save(spec, spec.read_text() + badge)
    assert w.rebuild() == {"generated": {"badge"}}
    make_image(root / "art/style.png", (64, 64), (10, 10, 10))
    assert w.rebuild() == {"generated": {"badge"}}
    assert w.stop() == 0


def test_draft_builds_stay_out_of_the_lock_and_the_site(
    tmp_path: Path, watcher: list[WatchProcess]
) -> None:
    root = site(tmp_path / "site")
    w = start(watcher, root, "--draft")
    assert w.started() == {"generated": ALL}
    assert w.stop() == 0
    assert not (root / "assetgen.lock").exists()
    assert not (root / "public").exists() and not (root / "assets").exists()
    assert lock_names(root, ".assetgen/draft/assetgen.lock") == ALL
    assert (root / ".assetgen/gallery/draft.html").is_file()


def test_an_edit_upstream_rebuilds_what_is_made_from_it(
    tmp_path: Path, watcher: list[WatchProcess]
) -> None:
    root = tmp_path / "graph"
    make_mask(root / "art/mask.png", (256, 256), (0, 0, 128, 128))
    spec = make_project(root, GRAPH)
    w = start(watcher, root)
    assert w.started() == {"generated": {"mascot", "mascot-wave", "logo"}}
    save(spec, spec.read_text().replace('"the mascot"', '"the mascot, smiling"'))
    assert w.rebuild() == {"generated": {"mascot", "mascot-wave"}}
    assert w.stop() == 0


GRAPH = """
[[asset]]
name = "mascot"
prompt = "the mascot"

[[asset]]
name = "mascot-wave"
prompt = "the mascot waving"
image = "@mascot"
mask = "art/mask.png"

[[asset]]
name = "logo"
prompt = "a logo"
"""


# -- a paid provider: nothing in flight is cancelled or paid twice -----------------------

OPENAI = """\
[build]
out_dir = "public/img"

[provider]
name = "openai"
base_url = "{base_url}"
concurrency = 1
max_retries = 0

[defaults]
size = "1024x1024"
quality = "low"

[[asset]]
name = "one"
prompt = "the first picture"

[[asset]]
name = "two"
prompt = "the second picture"
"""


def paid_site(root: Path, fake: FakeImagesAPI) -> Path:
    root.mkdir(parents=True)
    write(root / "assetgen.toml", OPENAI.format(base_url=fake.base_url))
    return root


def wait_for_requests(fake: FakeImagesAPI, count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(fake.requests) < count:
        assert time.monotonic() < deadline, f"{len(fake.requests)} requests, expected {count}"
        time.sleep(0.02)


OPENAI_ENV = {"OPENAI_API_KEY": FAKE_API_KEY}


def test_changes_during_a_generation_wait_for_the_next_build(
    tmp_path: Path, watcher: list[WatchProcess], fake_api: FakeImagesAPI
) -> None:
    root = paid_site(tmp_path / "paid", fake_api)
    spec = root / "assetgen.toml"
    w = start(watcher, root, env=OPENAI_ENV)
    assert w.started() == {"generated": {"one", "two"}}
    assert len(fake_api.requests) == 2

    fake_api.latency = 1.5
    save(spec, spec.read_text().replace("first picture", "first picture, redone"))
    wait_for_requests(fake_api, 3)
    save(spec, spec.read_text().replace("second picture", "second picture, redone"))
    assert w.rebuild() == {"generated": {"one"}}
    assert w.rebuild() == {"generated": {"two"}}
    assert len(fake_api.requests) == 4
    assert w.stop() == 0


def test_a_refused_generation_is_reported_and_retried_on_the_next_save(
    tmp_path: Path, watcher: list[WatchProcess], fake_api: FakeImagesAPI
) -> None:
    root = paid_site(tmp_path / "paid", fake_api)
    spec = root / "assetgen.toml"
    w = start(watcher, root, env=OPENAI_ENV)
    w.started()
    fake_api.script(Reply.moderation())
    save(spec, spec.read_text().replace("first picture", "first picture, grim"))
    assert w.rebuild() == {"failed": {"one"}}
    assert "rejected by the safety system" in w.line()
    save(spec, spec.read_text().replace("first picture, grim", "first picture, bright"))
    assert w.rebuild() == {"generated": {"one"}}
    assert w.stop() == 0
    assert sum("rejected by the safety system" in line for line in w.seen) == 1


def test_ctrl_c_lets_the_generation_in_flight_finish(
    tmp_path: Path, watcher: list[WatchProcess], fake_api: FakeImagesAPI
) -> None:
    root = paid_site(tmp_path / "paid", fake_api)
    spec = root / "assetgen.toml"
    w = start(watcher, root, env=OPENAI_ENV)
    w.started()

    fake_api.latency = 1.0
    save(spec, spec.read_text().replace("first picture", "first picture, at night"))
    wait_for_requests(fake_api, 3)
    w.proc.send_signal(signal.SIGINT)
    w.until("stopping after the build in flight")
    assert w.rebuild() == {"generated": {"one"}}
    assert w.wait() == 0
    lock = tomllib.loads(spec.with_name("assetgen.lock").read_text(encoding="utf-8"))
    assert lock["assets"]["one"]["prompt"] == "the first picture, at night"
    assert len(fake_api.requests) == 3
