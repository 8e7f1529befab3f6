"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator
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
