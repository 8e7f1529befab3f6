"""Watch mode ignores the files editors write while saving (issue 10, item 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assetgen.editor_temps import is_editor_temp
from assetgen.watch import WatchSet


@pytest.mark.parametrize(
    "name",
    [
        "sed0T5WZi",
        "4913",
        ".hero.j2.swp",
        "hero.j2~",
        "#hero.j2#",
        ".#hero.j2",
        "hero.j2___jb_tmp___",
        ".goutputstream-ABC123",
        ".~lock.hero.j2#",
        "hero.j2.tmp",
    ],
)
def test_editor_temporaries_are_recognised(name: str) -> None:
    assert is_editor_temp(name)


@pytest.mark.parametrize("name", ["hero.j2", "sed.j2", "seasons.j2", "4913.j2", "temp.j2"])
def test_real_templates_are_not(name: str) -> None:
    assert not is_editor_temp(name)


def test_a_watch_set_ignores_temporaries_in_the_template_folder(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    spec = tmp_path / "assetgen.toml"
    watched = WatchSet(spec=spec, files=frozenset({spec}), templates=prompts)
    assert watched.accepts(prompts / "hero.j2")
    assert not watched.accepts(prompts / "sed0T5WZi")
    assert not watched.accepts(prompts / ".hero.j2.swp")
    named = WatchSet(spec=spec, files=frozenset({spec, prompts / "odd~"}), templates=prompts)
    assert named.accepts(prompts / "odd~")  # a file the spec names is always watched
