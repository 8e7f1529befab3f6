"""The provider contract (:mod:`assetgen.providers.contract`) against every registered provider.

offline; openai against the fake Images API (a real local server); and the
third-party example ``assetgen-solid`` (``tests/example_provider``), registered
through a real entry point and configured by its ``[provider.solid]`` table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from assetgen import provider_registry
from assetgen.events import ignore
from assetgen.providers import create_provider
from assetgen.providers.base import Provider
from assetgen.providers.contract import CHECKS, Harness
from assetgen.spec import load_spec
from assetgen.spec_types import ProviderConfig
from tests.fakeapi import FakeImagesAPI

from .projects import write

MODEL = "gpt-image-2.6-flare"
KEY_ENV = "ASSETGEN_TEST_CONTRACT_KEY"
HARNESSES = ("offline", "openai", "solid")
"""One harness per registered provider (the example installed)."""
SOLID_SPEC = """\
[provider]
name = "solid"
model = "solid-1"

[provider.solid]
max_side = 1600
shape = "circle"
"""


def maker(config: ProviderConfig) -> Callable[[], Provider]:
    return lambda: create_provider(config, emit=ignore)


def offline_harness() -> Harness:
    config = ProviderConfig(name="offline", model=MODEL)
    return Harness(make=maker(config), model=MODEL, refused={"size": "1000x1000"})


def openai_harness(fake: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch) -> Harness:
    fake.reset()
    monkeypatch.setenv(KEY_ENV, fake.key)
    config = ProviderConfig(
        name="openai",
        model=MODEL,
        base_url=fake.base_url,
        base_url_set=True,
        api_key_env=KEY_ENV,
        max_retries=0,
    )
    return Harness(
        make=maker(config),
        model=MODEL,
        refused={"size": "1000x1000"},
        sent=lambda: len(fake.requests),
    )


def solid_harness(tmp_path: Path) -> Harness:
    spec = load_spec(write(tmp_path / "solid" / "assetgen.toml", SOLID_SPEC))
    return Harness(make=maker(spec.provider), model="solid-1", refused={"size": "2048x2048"})


@pytest.fixture(params=HARNESSES)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Harness:
    if request.param == "offline":
        return offline_harness()
    if request.param == "openai":
        fake = request.getfixturevalue("fake_api")
        return openai_harness(fake, request.getfixturevalue("monkeypatch"))
    request.getfixturevalue("solid_provider")
    return solid_harness(tmp_path)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_the_provider_keeps_the_contract(
    harness: Harness, check: Callable[[Harness, Path], None], tmp_path: Path
) -> None:
    check(harness, tmp_path)


def test_every_registered_provider_has_a_contract_run(solid_provider: str) -> None:
    assert provider_registry.names() == HARNESSES
