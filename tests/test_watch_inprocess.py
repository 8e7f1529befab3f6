"""Watch mode driven in-process by scripted change sets (issue 13, item 6).

No subprocess and no file-system watcher: the test puts change sets on the
watcher's queue itself, so nothing races the wall clock. Every change set is
queued before ``next_changes`` runs; only the final quiet spell is waited for.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from assetgen import watch
from assetgen.events import Event
from assetgen.project import open_project
from assetgen.watch import Watcher, WatchOptions

from .projects import make_project, write

ASSETS = """
[[asset]]
name = "hero-{{ mood }}"
template = "hero.j2"
matrix = { mood = ["calm", "bold"] }
variants = [{ width = 128, format = "png" }]

[[asset]]
name = "badge"
prompt = "a round badge"
variants = [{ width = 64, format = "png" }]
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    make_project(tmp_path, ASSETS)
    write(tmp_path / "prompts/hero.j2", "A {{ mood }} hero for {{ brand }}")
    return tmp_path


def watcher(site: Path, lines: list[str]) -> Watcher:
    events: list[Event] = []
    options = WatchOptions(provider="offline", debounce_ms=20)
    return Watcher(site / "assetgen.toml", options, events.append, lines.append)


def test_an_edit_rebuilds_only_what_it_touches(site: Path) -> None:
    lines: list[str] = []

    async def session() -> None:
        w = watcher(site, lines)
        await w.rebuild(set())
        assert "generated badge, hero-bold, hero-calm" in lines[-1], lines
        template = site / "prompts/hero.j2"
        template.write_text("A {{ mood }} hero for {{ brand }}, at dusk")
        w.queue.put_nowait({template})
        changed = await w.next_changes()
        assert changed == {template}
        await w.rebuild(changed)

    asyncio.run(session())
    assert "generated hero-bold, hero-calm" in lines[-1], lines
    assert "badge" not in lines[-1]


def test_saves_during_the_quiet_spell_make_one_build(site: Path) -> None:
    lines: list[str] = []
    spec, template = site / "assetgen.toml", site / "prompts/hero.j2"

    async def session() -> set[Path] | None:
        w = watcher(site, lines)
        for batch in ({template}, {spec}, {template}):
            w.queue.put_nowait(batch)
        return await w.next_changes()

    assert asyncio.run(session()) == {spec, template}


def test_a_stop_while_collecting_ends_the_loop(site: Path) -> None:
    async def session() -> set[Path] | None:
        w = watcher(site, [])
        w.queue.put_nowait({site / "assetgen.toml"})
        w.queue.put_nowait(None)  # what Ctrl-C puts there
        return await w.next_changes()

    assert asyncio.run(session()) is None


def test_a_busy_project_defers_the_build_until_it_is_free(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "BUSY_RETRY_SECONDS", 0.01)
    lines: list[str] = []
    template = site / "prompts/hero.j2"

    async def session() -> None:
        w = watcher(site, lines)
        await w.rebuild(set())
        template.write_text("A {{ mood }} hero, busy day")
        with open_project(site / "assetgen.toml").exclusive():
            await w.rebuild({template})
        assert w.pending == {template}
        assert "another assetgen is building here" in lines[-1]
        changed = await w.next_changes()  # no new save: the deferred change comes back
        assert changed == {template}
        await w.rebuild(changed)
        assert w.pending is None

    asyncio.run(session())
    assert "generated hero-bold, hero-calm" in lines[-1], lines


def test_a_spec_error_keeps_watching_and_the_fix_builds(site: Path) -> None:
    lines: list[str] = []
    spec = site / "assetgen.toml"
    good = spec.read_text()

    async def session() -> None:
        w = watcher(site, lines)
        await w.rebuild(set())
        spec.write_text(good.replace('size = "256x256"', 'size = "huge"'))
        await w.rebuild({spec})
        assert any("field 'defaults.size'" in line for line in lines), lines
        spec.write_text(good.replace("a round badge", "a square badge"))
        await w.rebuild({spec})

    asyncio.run(session())
    assert "generated badge" in lines[-1], lines
