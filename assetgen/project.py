"""A project on disk: its spec, state files, store and lock, opened together.

The CLI, watch mode and tests all start here: :func:`open_project` loads and
validates the spec; :meth:`Project.assets` expands it; :meth:`Project.plan`
compares it with the lock and store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import UsageError
from .graph import Asset, expand
from .hashing import HashCache
from .lockfile import Lockfile, LockStore
from .plan import Plan, PlanOptions, make_plan, matching
from .providers.base import ImageRequest, InputImage
from .spec import load_spec, with_provider
from .spec_types import DEFAULT_STATE_DIR, Spec
from .store import Store


@dataclass
class Project:
    spec: Spec
    hashes: HashCache
    store: Store
    locks: LockStore
    draft: bool = False
    frozen: bool = False
    """Read-only: a leftover journal is read but not folded into the lock file."""
    _holding: bool = field(default=False, init=False, repr=False)

    def describe(self, name: str) -> dict[str, Any]:
        """One asset as ``assetgen show`` prints it: prompt, inputs, key, plan, lock."""
        from .graph import key_params
        from .validation import did_you_mean

        steps = {step.name: step for step in self.plan().steps}
        step = steps.get(name)
        if step is None:
            raise UsageError(f"no asset named {name!r}", hint=did_you_mean(name, list(steps)))
        asset, entry = step.asset, step.entry
        variables = {k: v for k, v in asset.variables.items() if isinstance(v, str | int | float)}
        return {
            "name": asset.name,
            "prompt": asset.prompt,
            "model": asset.model,
            "operation": asset.operation,
            "params": key_params(asset),
            "inputs": [
                {"role": i.role, "path": i.source, "sha256": i.sha256 or None} for i in asset.inputs
            ],
            "variables": variables,
            "key": step.key or None,
            "action": step.action,
            "reason": step.reason,
            "locked": entry is not None and entry.key == step.key,
            "lock": entry.to_toml() if entry is not None else None,
        }

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the project's build lock: two builds at once would race on the lock file."""
        with self._build_lock() as owned:
            if not owned:
                raise UsageError(
                    "another assetgen build is running in this project",
                    file=self.spec.display_path,
                    hint="wait for it to finish (or stop `assetgen watch`)",
                )
            yield

    @contextmanager
    def _build_lock(self) -> Iterator[bool]:
        """Try the advisory ``flock`` on ``.assetgen/build.lock``; yield whether it is ours.

        The OS releases it even if the process dies. Where ``fcntl`` is
        missing (not POSIX), every caller owns it.
        """
        if self._holding:  # re-entrant: flock would refuse a second descriptor of ours
            yield True
            return
        path = self.spec.state_dir / "build.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as handle:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not POSIX
                yield True
                return
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            self._holding = True
            try:
                yield True
            finally:
                self._holding = False
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    @property
    def report_path(self) -> Path:
        """The last build's report (JSON), read by the gallery."""
        name = "last-build-draft.json" if self.draft else "last-build.json"
        return self.spec.state_dir / name

    @property
    def root(self) -> Path:
        return self.spec.root

    def assets(self) -> list[Asset]:
        return expand(self.spec, self.hashes)

    def lock(self) -> Lockfile:
        """The lock, with the journal of an interrupted build applied.

        The journal is folded into the lock file only when no build is running
        (its journal is live) and the project is not frozen; otherwise it is
        only read.
        """
        if self.frozen:
            return self.locks.load()
        with self._build_lock() as owned:
            return self.locks.recover() if owned else self.locks.load()

    def plan(
        self,
        estimate: Callable[[Asset], float | None] | None = None,
        *,
        refresh: list[str] | None = None,
        rerender: bool = False,
    ) -> Plan:
        """Compare spec, lock and store; ``refresh`` globs force new generations,
        ``rerender`` re-encodes every variant."""
        assets = self.assets()
        forced = matching([a.name for a in assets], refresh or [], option="--refresh ")
        options = PlanOptions(refresh=frozenset(forced), rerender=rerender)
        return make_plan(
            self.spec,
            assets,
            self.lock(),
            self.store,
            self.hashes,
            estimate or (lambda _: 0.0),
            options,
        )


DRAFT_DIR = f"{DEFAULT_STATE_DIR}/draft"


def draft_spec(spec: Spec) -> Spec:
    """The spec for cheap previews: lowest quality, and every output kept local.

    Drafts write their lock, originals and variants under ``.assetgen/draft/``
    (git-ignored), so they never touch the committed lock, store or site.
    """
    build = replace(
        spec.build,
        lockfile=f"{DRAFT_DIR}/assetgen.lock",
        store_dir=f"{DRAFT_DIR}/store",
        out_dir=f"{DRAFT_DIR}/out",
        manifest=None,
    )
    assets = tuple(replace(a, params={**a.params, "quality": "low"}) for a in spec.assets)
    return replace(spec, build=build, assets=assets)


def open_project(spec_path: Path, *, provider: str | None = None, draft: bool = False) -> Project:
    """Load and validate the spec at ``spec_path`` and open the project's state."""
    spec = with_provider(load_spec(spec_path), provider)
    if draft:
        spec = draft_spec(spec)
    state = spec.state_dir
    hashes = HashCache(state / "hashes.json")
    journal = state / ("draft-journal.jsonl" if draft else "journal.jsonl")
    return Project(
        spec=spec,
        hashes=hashes,
        store=Store(spec.root, spec.build.store_dir, state, hashes),
        locks=LockStore(spec.project_path(spec.build.lockfile), journal),
        draft=draft,
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
        complexity=params.get("complexity"),
        image=image("image"),
        mask=image("mask"),
        references=tuple(InputImage(r.role, r.path, r.sha256) for r in asset.references),
        keep_unmasked=asset.spec.keep_unmasked,
    )
