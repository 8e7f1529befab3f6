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


def write_dist_info(site: Path, name: str, version: str, points: dict[str, str]) -> None:
    """What pip writes for an installed package with ``assetgen.providers`` entry points."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = ["[assetgen.providers]", *(f"{key} = {value}" for key, value in points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site_packages(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder on ``sys.path`` to "install" packages into (``write_dist_info``), for one test.

    The provider registry forgets what it read, before and after.
    """
    from assetgen import provider_registry

    site = tmp_path_factory.mktemp("site-packages")
    added = [str(site), str(EXAMPLE_PROVIDER)]
    sys.path[:0] = added
    importlib.invalidate_caches()
    provider_registry.forget()
    try:
        yield site
    finally:
        for entry in added:
            sys.path.remove(entry)
        provider_registry.forget()


@pytest.fixture
def solid_provider(site_packages: Path) -> str:
    """``assetgen-solid`` (tests/example_provider) installed, with the entry points of its
    own ``pyproject.toml``; its name."""
    project = tomllib.loads((EXAMPLE_PROVIDER / "pyproject.toml").read_text())["project"]
    points = project["entry-points"]["assetgen.providers"]
    write_dist_info(site_packages, project["name"], project["version"], points)
    return "solid"


# --- an S3 API server on 127.0.0.1 (moto's standalone server) -----------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto's S3 server on a free port of 127.0.0.1; yields its endpoint URL."""
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing-key-id",
    "AWS_SECRET_ACCESS_KEY": "testing-secret-5b1e",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture
def s3_bucket(
    moto_server: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    """A fresh bucket on the moto server (dummy credentials in the environment); its name."""
    import re

    import s3fs

    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    bucket = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-") + "-b"
    s3fs.S3FileSystem(endpoint_url=moto_server, skip_instance_cache=True).mkdir(bucket)
    return bucket
