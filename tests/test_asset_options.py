"""Per-asset provider options: ``[asset.<provider>]`` over ``[defaults.<provider>]``.

Read into the provider's ``asset_options_class`` in the spec pass (every
problem at once, with file, asset and field), carried in
:class:`~assetgen.params.GenerationParams`, in the key and the lock only when
away from their defaults, and handed to the provider in its request. Shown
with the example package ``assetgen-solid`` (tests/example_provider), whose
``[asset.solid] tint`` changes the colour it draws.
"""

from __future__ import annotations

import io
import json
import tomllib
from pathlib import Path

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from assetgen import provider_registry
from assetgen.cli import main
from assetgen.errors import SpecError, SpecErrors
from assetgen.graph import Asset, expand, generation_key
from assetgen.hashing import HashCache
from assetgen.params import GenerationParams, ProviderOptions
from assetgen.project import to_request
from assetgen.spec import load_spec

from .conftest import write_dist_info
from .projects import make_project

SOLID = '[provider]\nname = "solid"\nmodel = "solid-1"\n\n'
FOX = '[[asset]]\nname = "fox"\nprompt = "A teal fox"\nsize = "64x64"\n'


def spec_file(root: Path, text: str, provider: str = SOLID) -> Path:
    return make_project(root, f'[build]\nout_dir = "public/img"\n\n{provider}{text}', base="")


def assets(path: Path, provider: str | None = None) -> dict[str, Asset]:
    spec = load_spec(path, provider=provider)
    return {asset.name: asset for asset in expand(spec, HashCache())}


def key(path: Path, provider: str | None = None, name: str = "fox") -> str:
    spec = load_spec(path, provider=provider)
    found = {asset.name: asset for asset in expand(spec, HashCache())}
    return generation_key(spec.provider.name, found[name])


def problems(path: Path) -> list[str]:
    try:
        load_spec(path)
    except SpecErrors as exc:
        return [str(error) for error in exc.errors]
    except SpecError as exc:
        return [str(exc)]
    raise AssertionError("the spec loaded without a problem")


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


# -- the model, resolved once ---------------------------------------------------------------


def test_the_model_is_resolved_once_in_the_spec_pass(tmp_path: Path) -> None:
    text = (
        '[defaults]\nmodel = "gpt-image-1"\n\n'
        '[[asset]]\nname = "a"\nprompt = "x"\n\n'
        '[[asset]]\nname = "b"\nprompt = "x"\nmodel = "gpt-image-2"\n'
    )
    spec = load_spec(spec_file(tmp_path / "d", text, '[provider]\nname = "offline"\n\n'))
    assert [a.params.model for a in spec.assets] == ["gpt-image-1", "gpt-image-2"]
    spec = load_spec(spec_file(tmp_path / "p", FOX, '[provider]\nmodel = "gpt-image-1.5"\n\n'))
    assert spec.assets[0].params.model == "gpt-image-1.5"
    assert "model" not in spec.assets[0].params.fields()


# -- reading the tables -----------------------------------------------------------------


def test_asset_options_go_over_the_defaults_and_reach_the_provider(
    solid_provider: str, tmp_path: Path
) -> None:
    text = (
        '[defaults.solid]\ntint = "#000000"\n\n'
        f"{FOX}\n"
        '[[asset]]\nname = "owl"\nprompt = "An owl"\nsize = "64x64"\n'
        'solid = { tint = "#ffffff" }\n\n'
        '[[asset]]\nname = "elk"\nprompt = "An elk"\nsize = "64x64"\n\n[asset.solid]\n'
    )
    found = assets(spec_file(tmp_path, text))
    options = provider_registry.load("solid").asset_options_class
    assert found["fox"].params.provider_options == ProviderOptions("solid", options("#000000"))
    assert found["owl"].params.provider_options == ProviderOptions("solid", options("#ffffff"))
    assert found["elk"].params.provider_options == ProviderOptions("solid", options("#000000"))
    request = to_request(found["owl"], "sha256:" + "0" * 64)
    assert request.asset_options == options("#ffffff")


def test_a_provider_without_tables_gets_its_options_at_their_defaults(
    solid_provider: str, tmp_path: Path
) -> None:
    (fox,) = assets(spec_file(tmp_path, FOX)).values()
    options = fox.params.provider_options
    assert options is not None and options.values.tint is None and options.fields() == {}
    (offline,) = assets(spec_file(tmp_path / "o", FOX, "")).values()
    assert offline.params.provider_options is None  # a built-in declares none


def test_bad_options_are_reported_at_once_with_file_asset_and_field(
    solid_provider: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (
        "[defaults.solid]\ntint = 3\n\n"
        f'{FOX}\n[asset.solid]\ntint = "teal"\n\n'
        '[[asset]]\nname = "owl"\nprompt = "An owl"\n\n[asset.solid]\ntnit = "#ffffff"\n\n'
        '[[asset]]\nname = "elk"\nprompt = "An elk"\nsolid = "#ffffff"\n\n[asset.sold]\n'
    )
    spec_file(tmp_path, text)
    found = problems(tmp_path / "assetgen.toml")
    assert found == [
        "assetgen.toml: field 'defaults.solid.tint': expected a string, got int 3",
        "assetgen.toml: asset 'fox': field 'solid': tint must be a colour like '#ff8800', "
        "got 'teal'",
        "assetgen.toml: asset 'owl': field 'solid.tnit': unknown key (did you mean 'tint'?)",
        "assetgen.toml: asset 'elk': field 'sold': unknown key: not a field, nor a registered "
        "provider's table (did you mean 'solid'?)",
        "assetgen.toml: asset 'elk': field 'solid': expected a table of provider 'solid''s "
        "per-asset options, got str",
    ]
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert err.count("assetgen.toml: ") == 5 and "Traceback" not in err
    assert "asset 'fox': field 'solid': tint must be a colour" in err


def test_a_provider_that_takes_no_per_asset_options_says_so(tmp_path: Path) -> None:
    spec_file(tmp_path, f"{FOX}\n[asset.offline]\nseed = 1\n", '[provider]\nname = "offline"\n\n')
    assert problems(tmp_path / "assetgen.toml") == [
        "assetgen.toml: asset 'fox': field 'offline': provider 'offline' takes no per-asset options"
    ]


def test_an_unknown_table_names_the_registered_providers(tmp_path: Path) -> None:
    spec_file(tmp_path, '[defaults.acme]\ntint = "#000000"\n\n' + FOX, "")
    (line,) = problems(tmp_path / "assetgen.toml")
    assert "field 'defaults.acme': unknown key: not a field, nor a registered provider's" in line
    assert "registered providers: offline, openai" in line


# -- keys and the lock ------------------------------------------------------------------


def test_the_key_changes_with_an_option_and_not_without_one(
    solid_provider: str, tmp_path: Path
) -> None:
    plain = key(spec_file(tmp_path / "plain", FOX))
    empty = key(spec_file(tmp_path / "empty", f"{FOX}\n[asset.solid]\n"))
    red = key(spec_file(tmp_path / "red", f'{FOX}\n[asset.solid]\ntint = "#ff0000"\n'))
    blue = key(spec_file(tmp_path / "blue", f'{FOX}\n[asset.solid]\ntint = "#0000ff"\n'))
    assert plain == empty  # options at their defaults are not in the key
    assert len({plain, red, blue}) == 3


def test_options_of_another_provider_are_ignored(solid_provider: str, tmp_path: Path) -> None:
    offline = '[provider]\nname = "offline"\nmodel = "sketch"\n\n'
    plain = key(spec_file(tmp_path / "plain", FOX, offline))
    tinted = spec_file(tmp_path / "tinted", f'{FOX}\n[asset.solid]\ntint = "#ff0000"\n', offline)
    assert key(tinted) == plain
    assert assets(tinted)["fox"].params.provider_options is None
    # still checked, though: a typo waits for the day the spec switches
    spec_file(tmp_path / "bad", f'{FOX}\n[asset.solid]\ntint = "red"\n', offline)
    assert "asset 'fox': field 'solid': tint must be" in problems(tmp_path / "bad/assetgen.toml")[0]


def test_the_options_of_a_provider_not_installed_wait_unchecked(tmp_path: Path) -> None:
    """Like ``[provider.solid]``: ``--provider offline`` builds a spec written for solid."""
    path = spec_file(tmp_path, f'{FOX}\n[asset.solid]\ntint = "#ff0000"\n')
    plain = spec_file(tmp_path / "plain", FOX)
    assert key(path, provider="offline") == key(plain, provider="offline")


def test_the_keys_of_specs_without_options_are_unchanged(
    solid_provider: str, tmp_path: Path
) -> None:
    """The keys the code before per-asset options computed (offline, openai and solid)."""
    path = spec_file(tmp_path, FOX.replace("64x64", "1536x1024"), '[provider]\nname = "offline"\n')
    assert key(path) == "sha256:a1251ccc03bea1f520935e21044aee6887ee536f65022f3f8fa6809cbfc09973"
    assert key(path, provider="openai") == (
        "sha256:1378f8760b58adb68eb66df3aafa42ab38494653150d7345a151d97241eee288"
    )
    assert key(spec_file(tmp_path / "s", FOX)) == (
        "sha256:467db4307933c23308783c4f65d62eec3dc33827c18ce7d64208c98568f92485"
    )


def test_the_lock_records_options_and_the_provider_draws_them(
    solid_provider: str, tmp_path: Path
) -> None:
    text = (
        f'{FOX}\n[asset.solid]\ntint = "#ffffff"\n\n'
        '[[asset]]\nname = "owl"\nprompt = "An owl"\nsize = "64x64"\n'
    )
    spec_file(tmp_path, text)
    assert run(tmp_path, "build") == 0
    lock_text = (tmp_path / "assetgen.lock").read_text()
    lock = tomllib.loads(lock_text)["assets"]
    assert lock["fox"]["params"]["solid.tint"] == "#ffffff"
    assert not any(name.startswith("solid.") for name in lock["owl"]["params"])
    assert run(tmp_path, "check") == 0  # the lock reads back, and is up to date
    with Image.open(tmp_path / lock["fox"]["original"]["path"]) as image:
        corner = image.convert("RGB").getpixel((0, 0))
    assert isinstance(corner, tuple) and min(corner) >= 127  # mixed with white


def test_a_changed_option_is_a_named_plan_reason(
    solid_provider: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = spec_file(tmp_path, f'{FOX}\n[asset.solid]\ntint = "#ffffff"\n')
    assert run(tmp_path, "build") == 0
    path.write_text(path.read_text().replace("#ffffff", "#000000"))
    capsys.readouterr()
    assert run(tmp_path, "plan", "--json") == 0
    (step,) = json.loads(capsys.readouterr().out)["assets"]
    assert step["reason"] == "parameter changed (solid.tint: #ffffff → #000000)"


# -- what a provider class may declare ----------------------------------------------------


def test_a_bad_asset_options_class_is_refused_when_it_loads(
    site_packages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (site_packages / "assetgen_bad.py").write_text(
        "from dataclasses import dataclass\n"
        "from assetgen_solid import SolidProvider\n\n"
        "@dataclass(frozen=True)\n"
        "class Needs:\n    colour: str\n\n"
        "@dataclass(frozen=True)\n"
        "class Many:\n    colours: tuple[str, ...] = ()\n\n"
        "class NeedsProvider(SolidProvider):\n"
        "    name = 'needs'\n    asset_options_class = Needs\n\n"
        "class ManyProvider(SolidProvider):\n"
        "    name = 'many'\n    asset_options_class = Many\n"
    )
    write_dist_info(
        site_packages,
        "bad",
        "1.0",
        {
            "needs": "assetgen_bad:NeedsProvider",
            "many": "assetgen_bad:ManyProvider",
            "image": "assetgen_bad:NeedsProvider",
        },
    )
    spec_file(tmp_path, FOX, '[provider]\nname = "needs"\n\n')
    assert run(tmp_path, "plan") == 2
    assert "asset_options_class: field 'colour' needs a default" in capsys.readouterr().err
    spec_file(tmp_path, FOX, '[provider]\nname = "many"\n\n')
    assert run(tmp_path, "plan") == 2
    assert "field 'colours' is an array" in capsys.readouterr().err
    message, _ = provider_registry.unknown("image")
    assert "[asset.image] would collide with the asset field 'image'" in message


def test_every_asset_field_is_a_name_no_provider_may_take() -> None:
    from assetgen.spec import ASSET_KEYS

    assert set(ASSET_KEYS) <= provider_registry.ASSET_RESERVED


def test_generation_params_without_options_have_the_fields_they_had() -> None:
    params = GenerationParams(size="64x64", model="m", candidates=2)
    assert params.fields() == {"size": "64x64", "quality": "auto", "background": "auto"}
    assert "model" not in params.key_fields(edit=False, masked=False, key_colour=None)


def test_a_spec_with_options_builds_twice_from_the_parsed_state(
    solid_provider: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The example's options class is not on the cache's allowlist: a miss, read afresh."""
    spec_file(tmp_path, f'{FOX}\n[asset.solid]\ntint = "#ffffff"\n')
    assert run(tmp_path, "build") == 0
    capsys.readouterr()
    assert run(tmp_path, "build", "--json") == 0
    out = capsys.readouterr().out
    report = json.load(io.StringIO(out))
    assert report["generated"] == 0


option_values = st.one_of(
    st.sampled_from(["#00ff88", "#FFFFFF", "teal", "", "#12345"]),
    st.text(max_size=10),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
option_tables = st.dictionaries(st.sampled_from(["tint", "tnit", "shape", ""]), option_values)


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(defaults=st.none() | option_tables, own=st.none() | option_tables | option_values)
def test_any_options_table_loads_or_is_a_spec_error(
    solid_provider: str, tmp_path: Path, defaults: dict[str, object] | None, own: object
) -> None:
    """Whatever the tables hold: a spec, or spec errors, each naming the table's field."""
    data: dict[str, object] = {"provider": {"name": "solid", "model": "solid-1"}}
    if defaults is not None:
        data["defaults"] = {"solid": defaults}
    fox: dict[str, object] = {"name": "fox", "prompt": "A fox"}
    if own is not None:
        fox["solid"] = own
    data["asset"] = [fox]
    path = tmp_path / "fuzz" / "assetgen.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(tomli_w.dumps(data))
    try:
        spec = load_spec(path)
    except (SpecError, SpecErrors) as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        assert all(str(e.field).startswith(("solid", "defaults.solid")) for e in errors)
        return
    options = spec.assets[0].params.provider_options
    assert options is not None and options.provider == "solid"
    tint = options.values.tint
    assert tint is None or (len(tint) == 7 and tint.startswith("#"))
