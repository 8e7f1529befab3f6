"""A project on disk: its spec, state files, store and lock, opened together.

The CLI, watch mode and tests all start here: :func:`open_project` loads and
validates the spec; :meth:`Project.assets` expands it; :meth:`Project.plan`
compares it with the lock and store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import UsageError
from .fsutil import is_within, leftover_temps, remove_files
from .graph import Asset, expand
from .hashing import HashCache
from .lockfile import LockEntry, Lockfile, LockFolders, LockStore
from .manifest import manifest_current, write_manifest
from .outputs import check_outputs
from .plan import Plan, PlanOptions, make_plan, matching, remote_wanted
from .spec_types import DEFAULT_STATE_DIR, Spec
from .state_cache import StateCache
from .store import Store

if TYPE_CHECKING:
    from .cache_tiers import RemoteCache
    from .keyrecords import KeyRecord
    from .providers.base import ImageRequest, InputImage


@dataclass
class Project:
    spec: Spec
    hashes: HashCache
    store: Store
    locks: LockStore
    draft: bool = False
    frozen: bool = False
    """Read-only even under the project lock: a leftover journal is never folded."""
    state: StateCache | None = None
    """Parsed state kept between commands (``.assetgen/parsed/``); None: always expand."""
    state_key: str = ""
    """What the expansion depends on besides templates and inputs: the spec's bytes
    and the options that change it (draft, ``--provider``)."""
    state_slot: str = ""
    """Those options alone: which of the spec's state files is this one (one per slot,
    so each edit of the spec replaces its file rather than adding one)."""
    remote: RemoteCache | None = None
    """The remote cache tier (``[cache] remote``), when the command uses one."""
    _holding: bool = field(default=False, init=False, repr=False)

    def describe(self, name: str, plan: Plan | None = None) -> dict[str, Any]:
        """One asset as ``assetgen show`` prints it: prompt, inputs, key, plan, lock."""
        from .graph import key_params
        from .validation import did_you_mean

        steps = {step.name: step for step in (plan or self.plan()).steps}
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
            **step.reason.to_json(),
            "locked": entry is not None and entry.key == step.key,
            "lock": entry.to_toml() if entry is not None else None,
        }

    @contextmanager
    def exclusive(
        self, *, wait: float = 0.0, purpose: str = "build", clean: bool = True
    ) -> Iterator[None]:
        """Hold the project lock: two builds (or a build and a gc) at once would race.

        A busy lock is refused at once, or after ``wait`` seconds; a build waits
        up to :data:`LOCK_WAIT_SECONDS` for a ``gc``, which never runs long.
        On taking the lock, ``clean`` removes the temp files that killed
        processes left in the folders assetgen writes.
        """
        if self._holding:  # re-entrant: flock would refuse a second descriptor of ours
            yield
            return
        with self._build_lock(wait, purpose) as holder:
            if holder is not None:
                patience = _patience(wait, holder)
                waited = f" (waited {patience:g} s)" if patience else ""
                raise UsageError(
                    f"another assetgen {holder} is running in this project{waited}",
                    file=self.spec.display_path,
                    hint=f"wait for it to finish (or stop `assetgen watch`), then run {purpose}",
                )
            if clean:
                self.remove_leftovers()
            yield

    @contextmanager
    def _build_lock(self, wait: float, purpose: str) -> Iterator[str | None]:
        """Take the advisory ``flock`` on ``.assetgen/build.lock``, waiting up to ``wait`` s.

        Yields None once it is ours, else what holds it ("build", "gc"). The OS
        releases it even if the process dies. Where ``fcntl`` is missing (not
        POSIX), every caller owns it.
        """
        path = self.spec.state_dir / "build.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+") as handle:
            try:
                import fcntl
            except ImportError:  # pragma: no cover - not POSIX
                yield None
                return
            holder = _wait_for_flock(handle, path, wait)
            if holder is not None:
                yield holder
                return
            _note_holder(handle, purpose)
            self._holding = True
            try:
                yield None
            finally:
                self._holding = False
                handle.truncate(0)
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def owned_folders(self) -> tuple[list[Path], list[Path]]:
        """Where assetgen writes: (trees searched recursively, folders searched at the top)."""
        build = self.spec.build
        trees = [self.root / build.out_dir, self.store.folder, self.spec.state_dir]
        folders = [self.root, self.spec.project_path(build.lockfile).parent]
        if build.manifest:
            folders.append(self.spec.project_path(build.manifest).parent)
        if build.templates:
            folders.append(self.root / build.templates)
        return self._inside(trees), self._inside(folders)

    def _inside(self, folders: list[Path]) -> list[Path]:
        """The folders that resolve inside the project (a symlink out is never searched)."""
        return [folder for folder in folders if is_within(folder, self.root)]

    def leftovers(self) -> list[Path]:
        """Temp files that killed assetgen processes left in the folders assetgen writes.

        Folders unchanged since a scan found them clean are not listed again
        (the listing is kept in the parsed-state cache).
        """
        trees, folders = self.owned_folders()
        if self.state is None:
            return leftover_temps(trees, folders)
        listing = self.state.clean_folders(self.root)
        before = dict(listing)
        found = leftover_temps(trees, folders, listing)
        if listing != before:
            self.state.remember_clean_folders(self.root, listing)
        return found

    def remove_leftovers(self) -> list[Path]:
        """Delete :meth:`leftovers` (call it holding the project lock); returns them."""
        return remove_files(self.leftovers())

    @property
    def report_path(self) -> Path:
        """The last build's report (JSON), read by the gallery."""
        name = "last-build-draft.json" if self.draft else "last-build.json"
        return self.spec.state_dir / name

    @property
    def root(self) -> Path:
        return self.spec.root

    def assets(self) -> list[Asset]:
        if self.state is None:
            return expand(self.spec, self.hashes)
        return self.state.assets(self.spec, self.hashes, key=self.state_key, slot=self.state_slot)

    def manifest_current(self, lock: Lockfile) -> bool:
        """Whether the manifest (if one is configured) is what ``lock`` gives."""
        return manifest_current(self.spec, lock, self.state, self.locks.digest(lock))

    def write_manifest(self, lock: Lockfile) -> bool:
        """Bring the manifest (if one is configured) in line with ``lock``."""
        return write_manifest(self.spec, lock, self.state, self.locks.digest(lock))

    def select_candidate(self, name: str, entry: LockEntry, index: int) -> None:
        """Make candidate ``index`` the asset's selection, durably (needs :meth:`exclusive`).

        The choice goes into the lock (journal) and into the key cache's record
        of the generation, so a later build that comes back to this key (a
        reverted prompt, a renamed asset) restores it instead of candidate 0.
        """
        from dataclasses import replace

        self.locks.record(name, entry.with_selected(index))
        self.locks.close()
        record = self.store.recall(entry.key) or entry.generation
        self.store.remember(replace(record, selected=index))

    def lock(self) -> Lockfile:
        """The lock, with the journal of an interrupted build applied.

        Only the holder of the project lock (a build, see :meth:`exclusive`)
        folds a leftover journal into the lock file, and not when frozen;
        every other caller (plan, show, check, gallery) only reads it.
        """
        if self._holding and not self.frozen:
            return self.locks.recover()
        return self.locks.load()

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
        lock, estimate = self.lock(), estimate or (lambda _: 0.0)
        state = self.state
        keys = None
        if state is not None:
            keys = state.key_memo(self.spec, key=self.state_key, slot=self.state_slot)
        plan = make_plan(
            self.spec, assets, lock, self.store, self.hashes, estimate, options, keys=keys
        )
        found: dict[str, KeyRecord] = {}
        asked: set[str] = set(plan_refreshed(plan, forced))
        # One bounded batch per depth of the @input graph: a remote original upstream
        # makes the keys of what is made from it known, and those are asked next.
        while self.remote is not None:
            wanted = [key for key in remote_wanted(plan) if key not in asked]
            asked.update(wanted)
            answers = self.remote.lookup(wanted, fetch=self.remote.fetches) if wanted else {}
            if not answers:
                break
            found.update(answers)
            plan = make_plan(
                self.spec, assets, lock, self.store, self.hashes, estimate, options, found, keys
            )
        if state is not None and keys is not None:
            state.remember_keys(self.spec, keys, key=self.state_key, slot=self.state_slot)
        plan.notes.extend(
            check_outputs(plan.steps, self.spec.build.out_dir, file=self.spec.display_path)
        )
        return plan


DRAFT_DIR = f"{DEFAULT_STATE_DIR}/draft"
LOCK_WAIT_SECONDS = 30.0
"""How long ``gc`` waits for a running build (and a build for a ``gc``)."""
LOCK_POLL_SECONDS = 0.05
UNKNOWN_HOLDER_SECONDS = 1.0
"""How long to wait for a new holder of the lock to say what it is."""


def _wait_for_flock(handle: IO[str], path: Path, wait: float) -> str | None:
    """Poll for the flock until ``wait`` s have passed; None once it is ours, else its holder."""
    import fcntl

    started = time.monotonic()
    while True:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            holder = _holder(path)
        if time.monotonic() - started >= _patience(wait, holder):
            return holder or "build"
        time.sleep(LOCK_POLL_SECONDS)


def _patience(wait: float, holder: str) -> float:
    """Seconds to wait for ``holder``: a gc is always waited for (it is short)."""
    if holder == "gc":
        return max(wait, LOCK_WAIT_SECONDS)
    return wait if holder == "build" else max(wait, UNKNOWN_HOLDER_SECONDS)


def _holder(path: Path) -> str:
    """What the lock file says holds it: "build", "gc", or "" (not written yet)."""
    try:
        words = path.read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        words = []
    return words[0] if words and words[0] in ("build", "gc") else ""


def _note_holder(handle: IO[str], purpose: str) -> None:
    """Say in the lock file what holds it, for the message of whoever waits."""
    handle.seek(0)
    handle.truncate()
    handle.write(f"{purpose} {os.getpid()}\n")
    handle.flush()


def plan_refreshed(plan: Plan, forced: set[str]) -> set[str]:
    """Keys of the assets ``--refresh`` generates anew (the remote is not asked for them)."""
    return {step.key for step in plan.steps if step.name in forced}


def draft_spec(spec: Spec) -> Spec:
    """The spec for cheap previews: lowest quality, and every output kept local.

    Drafts write their lock, originals and variants under ``.assetgen/draft/``
    (git-ignored), so they never touch the committed lock, store or site; they are
    never C2PA-signed (no key is needed for a preview), only read.
    """
    build = replace(
        spec.build,
        lockfile=f"{DRAFT_DIR}/assetgen.lock",
        store_dir=f"{DRAFT_DIR}/store",
        out_dir=f"{DRAFT_DIR}/out",
        manifest=None,
    )
    assets = tuple(replace(a, params=replace(a.params, quality="low")) for a in spec.assets)
    provenance = spec.provenance
    if provenance.signs:
        provenance = replace(provenance, c2pa="keep-original")
    return replace(spec, build=build, assets=assets, provenance=provenance)


def open_project(spec_path: Path, *, provider: str | None = None, draft: bool = False) -> Project:
    """Load and validate the spec at ``spec_path`` and open the project's state.

    What was parsed before from the same files comes from the parsed-state
    cache (:mod:`assetgen.state_cache`), checked against them.
    """
    parsed = StateCache(spec_path.resolve().parent / DEFAULT_STATE_DIR)
    spec, digest = parsed.spec(spec_path, provider=provider)
    if draft:
        spec = draft_spec(spec)
    state = spec.state_dir
    hashes = HashCache(state / "hashes.json")
    journal = state / ("draft-journal.jsonl" if draft else "journal.jsonl")
    slot = f"{spec.provider.name}:{'draft' if draft else 'build'}"
    return Project(
        spec=spec,
        hashes=hashes,
        store=Store(spec.root, spec.build.store_dir, state, hashes),
        locks=LockStore(
            spec.project_path(spec.build.lockfile),
            journal,
            LockFolders(spec.root, spec.build.store_dir, spec.build.out_dir),
            parsed,
        ),
        draft=draft,
        state=parsed,
        state_key=f"{digest}:{slot}",
        state_slot=slot,
    )


def to_request(asset: Asset, key: str) -> ImageRequest:
    """The provider request for an asset (files by absolute path)."""
    from .providers.base import ImageRequest, InputImage  # only when something is asked

    def image(role: str) -> InputImage | None:
        ref = asset.input(role)  # type: ignore[arg-type]
        return (
            None if ref is None else InputImage(ref.role, ref.path or Path(ref.source), ref.sha256)
        )

    from .graph import keyed

    params = asset.params
    prompt, background, key_colour = asset.prompt, params.background, None
    if keyed(asset):
        from .chroma import choose_key, key_prompt

        chosen = choose_key(asset.prompt)
        prompt, background, key_colour = key_prompt(asset.prompt, chosen), "opaque", chosen.name
    return ImageRequest(
        asset=asset.name,
        key=key,
        prompt=prompt,
        model=params.model,
        size=params.size,
        quality=params.quality,
        background=background,
        key_colour=key_colour,
        n=asset.spec.candidates,
        output_format=params.output_format or "png",
        output_compression=params.output_compression,
        moderation=params.moderation,
        input_fidelity=params.input_fidelity,
        complexity=params.complexity,
        image=image("image"),
        mask=image("mask"),
        references=tuple(
            InputImage(r.role, r.path or Path(r.source), r.sha256) for r in asset.references
        ),
        keep_unmasked=asset.spec.keep_unmasked,
        c2pa=asset.c2pa,
        asset_options=None if params.provider_options is None else params.provider_options.values,
    )
