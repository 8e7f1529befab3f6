"""Which providers exist, how a spec names and configures them, and what is refused.

The registry (built-ins plus ``assetgen.providers`` entry points), ``--provider``
and ``[provider] name`` errors, ``[provider] prices`` and ``[provider.<name>]``
options checked in the spec pass, and keys that stay what they were.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from assetgen import provider_registry
from assetgen.cli import main
from assetgen.errors import SpecError, SpecErrors
from assetgen.graph import expand, generation_key
from assetgen.hashing import HashCache
from assetgen.spec import load_spec

from .conftest import write_dist_info
from .projects import make_project

ASSET = '[[asset]]\nname = "fox"\nprompt = "A teal fox"\nsize = "64x64"\n'


def spec_with(root: Path, provider: str, assets: str = ASSET) -> Path:
    text = f'[build]\nout_dir = "public/img"\n\n[provider]\n{provider}\n\n{assets}'
    return make_project(root, text, base="")


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


def problems(path: Path, provider: str | None = None) -> list[str]:
    """Every spec problem, one line each, as the CLI prints them."""
    try:
        load_spec(path, provider=provider)
    except SpecErrors as exc:
        return [str(error) for error in exc.errors]
    except SpecError as exc:
        return [str(exc)]
    raise AssertionError("the spec loaded without a problem")


# -- names ------------------------------------------------------------------------------


def test_an_unknown_provider_option_is_blamed_on_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_with(tmp_path, 'name = "offline"')
    assert run(tmp_path, "plan", "--provider", "ofline") == 2
    err = capsys.readouterr().err
    assert "--provider ofline: unknown provider 'ofline'" in err
    assert "registered providers: offline, openai" in err and "did you mean 'offline'?" in err
    assert "provider.name" not in err and "Traceback" not in err


def test_an_unknown_provider_name_is_blamed_on_the_spec_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_with(tmp_path, 'name = "opnai"')
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "assetgen.toml: field 'provider.name': unknown provider 'opnai'" in err
    assert "registered providers: offline, openai" in err and "did you mean 'openai'?" in err


def test_a_package_provider_is_listed_and_builds(
    solid_provider: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_with(tmp_path, 'name = "solid"\nmodel = "solid-1"\n[provider.solid]\nshape = "circle"')
    assert run(tmp_path, "build") == 0
    lock = tomllib.loads((tmp_path / "assetgen.lock").read_text())
    assert lock["assets"]["fox"]["provider"] == "solid"
    assert run(tmp_path, "check") == 0
    spec_with(tmp_path / "other", 'name = "sold"')
    assert run(tmp_path / "other", "plan") == 2
    err = capsys.readouterr().err
    assert "registered providers: offline, openai, solid" in err and "'solid'?" in err


def test_the_key_revision_of_a_package_provider_is_in_its_keys(
    solid_provider: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = load_spec(spec_with(tmp_path, 'name = "solid"'))
    (asset,) = expand(spec, HashCache())
    before = generation_key("solid", asset)
    monkeypatch.setattr(provider_registry.load("solid"), "key_revision", 2)
    assert generation_key("solid", asset) != before


def test_keys_of_the_built_ins_are_unchanged(tmp_path: Path) -> None:
    """Locks written before the registry stay up to date (keys computed by the old code)."""
    spec = load_spec(spec_with(tmp_path, 'name = "offline"', ASSET.replace("64x64", "1536x1024")))
    (asset,) = expand(spec, HashCache())
    assert generation_key("offline", asset) == (
        "sha256:a1251ccc03bea1f520935e21044aee6887ee536f65022f3f8fa6809cbfc09973"
    )
    assert generation_key("openai", asset) == (
        "sha256:1378f8760b58adb68eb66df3aafa42ab38494653150d7345a151d97241eee288"
    )


@pytest.mark.parametrize("name", sorted(provider_registry.BUILTIN_KEY_REVISIONS))
def test_a_built_ins_key_revision_is_known_without_importing_it(name: str) -> None:
    """Keys use the registry's table (no provider import): it must say what the class says."""
    assert set(provider_registry.BUILTIN_KEY_REVISIONS) == set(provider_registry.BUILTINS)
    cls = provider_registry.load(name)
    assert provider_registry.key_revision(name) == cls.key_revision


# -- [provider] prices: in the spec pass, for every provider --------------------------------


def test_prices_are_checked_with_the_offline_provider_too_and_all_at_once(
    tmp_path: Path,
) -> None:
    prices = (
        '[provider.prices."gpt-image-2"]\noutput = -5\ninput = 2.0\n'
        '[provider.prices."gpt-image-1.5"]\nper_image = { low = { "1024x1024" = "cheap" } }'
    )
    path = spec_with(tmp_path, f'name = "offline"\nconcurrency = 0\n{prices}')
    found = problems(path)
    assert found == [
        "assetgen.toml: field 'provider.concurrency': expected an integer >= 1, got int 0",
        "assetgen.toml: field 'provider.prices.gpt-image-2.output': expected USD per 1M tokens "
        "(a number from 0 to 10000), got -5",
        "assetgen.toml: field 'provider.prices.gpt-image-2.input': unknown price 'input'; "
        "expected one of text_input, image_input, output, per_image, cached_text_input, "
        "cached_image_input",
        "assetgen.toml: field 'provider.prices.gpt-image-1.5.per_image.low.1024x1024': expected "
        "USD per image (a number from 0 to 1000), got 'cheap'",
    ]


# -- [provider.<name>]: a provider's own options ---------------------------------------------


def test_options_problems_are_reported_at_once_with_file_and_field(
    solid_provider: str, tmp_path: Path
) -> None:
    options = '[provider.solid]\nmax_sid = 64\nshape = "star"\ntint = 7'
    found = problems(spec_with(tmp_path, f'name = "solid"\n{options}'))
    assert found == [
        "assetgen.toml: field 'provider.solid.max_sid': unknown key (did you mean 'max_side'?)",
        "assetgen.toml: field 'provider.solid.shape': expected one of: square, circle, "
        "got str 'star'",
        "assetgen.toml: field 'provider.solid.tint': expected a string, got int 7",
    ]


def test_an_options_class_check_is_reported_against_the_table(
    solid_provider: str, tmp_path: Path
) -> None:
    path = spec_with(tmp_path, 'name = "solid"\n[provider.solid]\nmax_side = 8')
    assert problems(path) == [
        "assetgen.toml: field 'provider.solid': max_side must be at least 16, got 8"
    ]


def test_validated_options_reach_the_provider(
    solid_provider: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec_with(tmp_path, 'name = "solid"\n[provider.solid]\nmax_side = 32')
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "asset 'fox': field 'size': 64x64 is larger than [provider.solid] max_side = 32" in err


def test_built_in_providers_take_no_options_table_entries(tmp_path: Path) -> None:
    path = spec_with(tmp_path, 'name = "offline"\n[provider.offline]\nspeed = 2')
    assert problems(path) == [
        "assetgen.toml: field 'provider.offline.speed': unknown key (expected one of: -)"
    ]


def test_a_misspelt_options_table_is_an_unknown_key(tmp_path: Path) -> None:
    path = spec_with(tmp_path, 'name = "offline"\n[provider.ofline]\nspeed = 2')
    [problem] = problems(path)
    assert "field 'provider.ofline': unknown key" in problem and "'offline'?" in problem


def test_another_providers_table_waits_when_it_is_not_installed(tmp_path: Path) -> None:
    """A spec for a package provider still builds with ``--provider offline`` without it."""
    path = spec_with(tmp_path, 'name = "solid"\n[provider.solid]\nshape = "circle"')
    spec = load_spec(path, provider="offline")
    assert spec.provider.name == "offline"
    assert problems(path)[0].startswith(
        "assetgen.toml: field 'provider.name': unknown provider 'solid'"
    )


# -- what the registry refuses --------------------------------------------------------------


def test_entry_points_that_would_collide_are_refused(site_packages: Path) -> None:
    write_dist_info(site_packages, "evil", "1.0", {"openai": "evil:Provider", "model": "evil:M"})
    write_dist_info(site_packages, "one", "1.0", {"twin": "one:Provider"})
    write_dist_info(site_packages, "two", "2.0", {"twin": "two:Provider"})
    assert provider_registry.names() == ("offline", "openai")
    assert provider_registry.load("openai").__module__ == "assetgen.providers.openai.provider"
    message, _ = provider_registry.unknown("model")
    assert "provider 'model' (evil 1.0) is refused" in message
    assert "collide with the [provider] field 'model'" in message
    message, _ = provider_registry.unknown("twin")
    assert "registered by several packages (one 1.0, two 2.0)" in message


def test_a_provider_that_cannot_load_is_a_spec_error(
    site_packages: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_dist_info(site_packages, "gone", "0.3", {"gone": "assetgen_gone:GoneProvider"})
    write_dist_info(site_packages, "odd", "0.1", {"odd": "assetgen_solid:SolidProvider"})
    spec_with(tmp_path, 'name = "gone"')
    assert run(tmp_path, "plan") == 2
    err = capsys.readouterr().err
    assert "field 'provider.name': provider 'gone' (gone 0.3, assetgen_gone:GoneProvider)" in err
    assert "cannot be loaded: ModuleNotFoundError" in err and "Traceback" not in err
    spec_with(tmp_path, 'name = "odd"')
    assert run(tmp_path, "plan") == 2
    assert "its class declares name = 'solid', not 'odd'" in capsys.readouterr().err
