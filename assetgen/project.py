"""A project on disk: its spec, state files, store and lock, opened together.

The CLI, watch mode and tests all start here: :func:`open_project` loads and
validates the spec; :meth:`Project.assets` expands it; :meth:`Project.plan`
compares it with the lock and store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .graph import Asset, expand
from .hashing import HashCache
from .lockfile import Lockfile, LockStore
from .plan import Plan, make_plan
from .providers.base import ImageRequest, InputImage
from .spec import load_spec, with_provider
from .spec_types import Spec
from .store import Store


@dataclass
class Project:
    spec: Spec
    hashes: HashCache
    store: Store
    locks: LockStore

    @property
    def root(self) -> Path:
        return self.spec.root

    def assets(self) -> list[Asset]:
        return expand(self.spec, self.hashes)

    def lock(self) -> Lockfile:
        """The lock, with the journal of an interrupted build folded in."""
        return self.locks.recover()

    def plan(self, estimate: Callable[[Asset], float | None] | None = None) -> Plan:
        assets = self.assets()
        return make_plan(
            self.spec, assets, self.lock(), self.store, self.hashes, estimate or (lambda _: 0.0)
        )


def open_project(spec_path: Path, *, provider: str | None = None) -> Project:
    spec = with_provider(load_spec(spec_path), provider)
    state = spec.state_dir
    hashes = HashCache(state / "hashes.json")
    return Project(
        spec=spec,
        hashes=hashes,
        store=Store(spec.root, spec.build.store_dir, state, hashes),
        locks=LockStore(spec.project_path(spec.build.lockfile), state / "journal.jsonl"),
    )


def to_request(asset: Asset, key: str) -> ImageRequest:
    """The provider request for an asset (files by absolute path)."""

    def image(role: str) -> InputImage | None:
        ref = asset.input(role)  # type: ignore[arg-type]
        return None if ref is None else InputImage(ref.role, ref.path, ref.sha256)

    params = asset.params
    return ImageRequest(
        asset=asset.name,
        key=key,
        prompt=asset.prompt,
        model=asset.model,
        size=params["size"],
        quality=params["quality"],
        background=params["background"],
        n=asset.spec.candidates,
        output_format=params.get("output_format", "png"),
        output_compression=params.get("output_compression"),
        moderation=params.get("moderation"),
        input_fidelity=params.get("input_fidelity"),
        image=image("image"),
        mask=image("mask"),
        references=tuple(InputImage(r.role, r.path, r.sha256) for r in asset.references),
        keep_unmasked=asset.spec.keep_unmasked,
    )
