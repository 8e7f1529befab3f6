"""Shared pytest fixtures."""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.fakeapi import FakeImagesAPI

# --- fake Images API (tests/fakeapi.py) -------------------------------------------------
# One real HTTP server on 127.0.0.1 for the whole session; every test that uses it
# starts from a clean slate (no recorded requests, no scripted replies, default key).

FAKE_API_KEY = "sk-assetgen-fake-7f3a9c2e41d8b605"
"""The key the fake accepts; distinctive, so tests can prove it never leaks."""


@pytest.fixture(scope="session")
def fake_api() -> Iterator[FakeImagesAPI]:
    """The fake Images API; ``fake_api.base_url`` ends in ``/v1``."""
    from tests.fakeapi import FakeImagesAPI

    fake = FakeImagesAPI(key=FAKE_API_KEY).start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(autouse=True)
def _reset_fake_api(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reset the fake before each test that uses it (and only those)."""
    if "fake_api" in request.fixturenames:
        request.getfixturevalue("fake_api").reset()
    yield


# --- end of fake Images API ----------------------------------------------------------------


# --- an installed third-party provider (tests/example_provider) ----------------------------

EXAMPLE_PROVIDER = Path(__file__).parent / "example_provider"


@pytest.fixture
def solid_provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``assetgen-solid`` installed for this test: its entry point is registered, by name.

    Writes the ``*.dist-info`` pip would write, with the entry points of the example's
    own ``pyproject.toml``, into a folder put on ``sys.path``; all of it undone after.
    """
    from assetgen import provider_registry

    project = tomllib.loads((EXAMPLE_PROVIDER / "pyproject.toml").read_text())["project"]
    site = tmp_path_factory.mktemp("site-packages")
    info = site / f"assetgen_solid-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
    )
    lines = ["[assetgen.providers]"]
    lines += [f"{k} = {v}" for k, v in project["entry-points"]["assetgen.providers"].items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    added = [str(site), str(EXAMPLE_PROVIDER)]
    sys.path[:0] = added
    importlib.invalidate_caches()
    provider_registry.forget()
    try:
        yield "solid"
    finally:
        for entry in added:
            sys.path.remove(entry)
        provider_registry.forget()
