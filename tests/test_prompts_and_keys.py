"""Templates, matrix expansion and key stability."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assetgen.graph import expand, generation_key, variant_key
from assetgen.hashing import HashCache
from assetgen.prompts import normalise
from assetgen.spec import load_spec

from .projects import make_image, make_mask, make_project, write


def keys_of(spec_path: Path) -> dict[str, str]:
    spec = load_spec(spec_path)
    return {a.name: generation_key(spec.provider.name, a) for a in expand(spec, HashCache())}


def test_normalise_collapses_whitespace() -> None:
    assert normalise("  a\n\n  cat\t on   a mat \n") == "a cat on a mat"


def test_matrix_is_a_cartesian_product_in_spec_order(tmp_path: Path) -> None:
    path = make_project(
        tmp_path,
        """
        [[asset]]
        name = "hero-{{ season }}-{{ size_name }}"
        prompt = "{{ brand }} in {{ season }}"
        matrix = { season = ["spring", "autumn"], size_name = ["s", "l"] }
        """,
    )
    assets = expand(load_spec(path), HashCache())
    assert [a.name for a in assets] == [
        "hero-spring-s",
        "hero-spring-l",
        "hero-autumn-s",
        "hero-autumn-l",
    ]
    assert assets[2].prompt == "Acme in autumn"


def test_variables_resolve_innermost_first(tmp_path: Path) -> None:
    path = make_project(
        tmp_path,
        """
        [[asset]]
        name = "a"
        prompt = "{{ brand }} {{ tone }}"
        vars = { brand = "Asset-level", tone = "warm" }
        [[asset]]
        name = "b-{{ brand }}"
        prompt = "{{ brand }}"
        vars = { brand = "Asset-level" }
        matrix = { brand = ["Matrix"] }
        """,
    )
    assets = expand(load_spec(path), HashCache())
    assert assets[0].prompt == "Asset-level warm"
    assert (assets[1].name, assets[1].prompt) == ("b-Matrix", "Matrix")


def test_template_files_extends_include_macros_and_stock(tmp_path: Path) -> None:
    write(
        tmp_path / "prompts/base.j2",
        "{% import 'macros.j2' as m %}{% block body %}{% endblock %} {{ m.style(palette) }}",
    )
    write(tmp_path / "prompts/macros.j2", "{% macro style(p) %}in {{ p }} colours{% endmacro %}")
    write(
        tmp_path / "prompts/hero.j2",
        "{% extends 'base.j2' %}{% block body %}{% include 'subject.j2' %}{% endblock %}",
    )
    write(tmp_path / "prompts/subject.j2", "A {{ thing }}\n\n   for {{ brand }}")
    path = make_project(
        tmp_path,
        """
        [[asset]]
        name = "hero"
        template = "hero.j2"
        vars = { thing = "rocket", palette = "teal" }
        """,
    )
    (asset,) = expand(load_spec(path), HashCache())
    assert asset.prompt == "A rocket for Acme in teal colours"


def test_stock_templates_are_importable(tmp_path: Path) -> None:
    stock = sorted(p.name for p in (Path(__file__).parents[1] / "templates").glob("*.j2"))
    assert "flat-icon.j2" in stock
    path = make_project(
        tmp_path,
        """
        [[asset]]
        name = "icon"
        template = "stock/flat-icon.j2"
        vars = { subject = "a paper plane", palette = "teal and coral" }
        """,
    )
    (asset,) = expand(load_spec(path), HashCache())
    assert "paper plane" in asset.prompt
    assert "{" not in asset.prompt


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path) -> None:
    path = make_project(
        tmp_path,
        '[[asset]]\nname = "a"\nprompt = "{{ brand.__class__.__mro__ }}"\n',
    )
    from assetgen.errors import SpecError

    try:
        expand(load_spec(path), HashCache())
    except SpecError as exc:
        assert exc.asset == "a"
    else:
        raise AssertionError("the sandbox let a dunder attribute through")


def test_whitespace_only_prompt_edit_keeps_the_key(tmp_path: Path) -> None:
    path = make_project(tmp_path / "a", '[[asset]]\nname = "x"\nprompt = "a red   fox"\n')
    other = make_project(tmp_path / "b", '[[asset]]\nname = "x"\nprompt = """a red\n  fox\n"""\n')
    assert keys_of(path) == keys_of(other)


def test_key_is_stable_across_processes(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[[asset]]\nname = "x"\nprompt = "a red fox"\n')
    code = (
        "import sys; from pathlib import Path; from tests.test_prompts_and_keys import keys_of; "
        "print(keys_of(Path(sys.argv[1]))['x'])"
    )
    root = Path(__file__).parents[1]
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        cwd=root,
        check=True,
    )
    assert out.stdout.strip() == keys_of(path)["x"]


def test_every_input_changes_the_key(tmp_path: Path) -> None:
    make_image(tmp_path / "base.png", (64, 64))
    make_mask(tmp_path / "mask.png", (64, 64), (0, 0, 32, 32))
    body = """
        [[asset]]
        name = "x"
        prompt = "a red fox"
        image = "base.png"
        mask = "mask.png"
        """
    path = make_project(tmp_path, body)
    original = keys_of(path)["x"]
    variations = [
        body.replace("a red fox", "a blue fox"),
        body + 'quality = "high"\n',
        body + 'model = "gpt-image-1.5"\n',
        body + "take = 1\n",
        body + "candidates = 2\n",
        body + "keep_unmasked = false\n",
    ]
    seen = {original}
    for text in variations:
        make_project(tmp_path, text)
        key = keys_of(path)["x"]
        assert key not in seen, text
        seen.add(key)
    make_project(tmp_path, body)
    assert keys_of(path)["x"] == original
    make_mask(tmp_path / "mask.png", (64, 64), (0, 0, 32, 33))  # one more row of pixels
    assert keys_of(path)["x"] not in seen


def test_provider_is_part_of_the_key(tmp_path: Path) -> None:
    path = make_project(tmp_path, '[[asset]]\nname = "x"\nprompt = "fox"\n')
    spec = load_spec(path)
    (asset,) = expand(spec, HashCache())
    assert generation_key("offline", asset) != generation_key("openai", asset)


def test_variant_key_ignores_nothing_in_the_recipe() -> None:
    recipe = {"width": 480, "format": "webp", "quality": 80}
    assert variant_key("ab", recipe) == variant_key("ab", dict(recipe))
    assert variant_key("ab", recipe) != variant_key("ac", recipe)
    assert variant_key("ab", recipe) != variant_key("ab", {**recipe, "quality": 81})


def test_offline_renderer_revision_is_in_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys take the built-ins' revisions from the registry's table (which equals the
    class attributes: tests/test_provider_registry.py), so bumping it changes the key."""
    from assetgen import provider_registry
    from assetgen.providers import offline

    path = make_project(tmp_path, '[[asset]]\nname = "x"\nprompt = "fox"\n')
    (asset,) = expand(load_spec(path), HashCache())
    before = generation_key("offline", asset)
    assert offline.OfflineProvider.key_revision == offline.RENDERER_VERSION
    revisions = provider_registry.BUILTIN_KEY_REVISIONS
    monkeypatch.setitem(revisions, "offline", offline.RENDERER_VERSION + 1)
    assert generation_key("offline", asset) != before
