"""The plan: for every asset, what a build will do and why.

Pure: concrete assets + lock + store in, a :class:`Plan` out. Nothing is
written. Staleness is cheap first: the stat cache answers "is this output
still what we wrote?" without reading files that did not change.

Actions, in the order a build prefers them:

``fresh``     key, original and every variant match the lock: nothing to do
``render``    original known; some variants must be (re)written
``reuse``     key known (lock, store or local cache): no API call, new outputs
``generate``  key never seen: the provider is called (this costs money)
``remove``    outputs of assets no longer in the spec
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import Any, Literal

from .dependencies import Original, resolve, topological, with_upstreams
from .errors import LockfileError, UsageError
from .graph import Asset, key_params
from .hashing import HashCache
from .key_memo import KeyMemo
from .keyrecords import KeyRecord, LockOriginal
from .lockfile import (
    LockEntry,
    Lockfile,
    LockFolders,
    LockVariant,
    original_path_problem,
)
from .reasons import REMOTE_ORIGINAL, UP_TO_DATE, Reason
from .spec_types import Spec, VariantSpec
from .store import OriginalState, Store
from .validation import did_you_mean
from .wording import parameter_change

Action = Literal["generate", "reuse", "render", "fresh"]
VariantState = Literal["new", "kept", "missing", "altered", "changed"]
PENDING_KEY = ""
ACTIONS: tuple[Action, ...] = ("generate", "reuse", "render", "fresh")


@dataclass(frozen=True)
class VariantStep:
    """One variant of an asset: its key (once the original is known) and state."""

    spec: VariantSpec
    recipe: dict[str, Any]
    key: str | None
    """``None`` while the original is still to be generated."""
    kept: LockVariant | None
    """The recorded output, when it is up to date."""
    state: VariantState = "new"
    record: LockVariant | None = None
    """The lock's record of this variant (same key), if any."""

    @property
    def why(self) -> Reason:
        """The variant's state, for plans and ``--locked`` reports."""
        path = self.record.path if self.record is not None else ""
        match self.state:
            case "new":
                return Reason("variants-missing", "variants missing")
            case "kept":
                return UP_TO_DATE
            case "missing":
                return Reason("output-missing", f"output missing: {path}")
            case "altered":
                return Reason("output-altered", f"output altered: {path}")
            case "changed":
                return Reason("variant-changed", "variant settings changed")


@dataclass(frozen=True)
class AssetStep:
    """What happens to one asset, and why."""

    asset: Asset
    key: str
    action: Action
    reason: Reason
    entry: LockEntry | None
    """The asset's current lock entry, if any."""
    known: KeyRecord | None
    """The originals already paid for under ``key`` (all but ``generate``)."""
    selected: int = 0
    variants: tuple[VariantStep, ...] = ()
    estimated_cost: float | None = 0.0
    saves_usd: float | None = 0.0
    """What reusing the remote cache's original saves (its estimated cost)."""

    @property
    def name(self) -> str:
        return self.asset.name

    @property
    def from_remote(self) -> bool:
        """Reused from the remote cache (an original another machine paid for)."""
        return self.reason.code == "remote-cache"

    @property
    def pending(self) -> bool:
        """Made from an asset that is generated first: key known only then."""
        return self.key == PENDING_KEY


@dataclass(frozen=True)
class PlanOptions:
    """Requests that override the incremental rules."""

    refresh: frozenset[str] = frozenset()
    """Assets to generate anew although their key is known (``--refresh``)."""
    rerender: bool = False
    """Re-encode every variant although it is up to date (``--rerender``)."""


@dataclass(frozen=True)
class Removal:
    """An asset in the lock that the spec no longer has."""

    name: str
    entry: LockEntry


@dataclass
class Plan:
    steps: list[AssetStep] = field(default_factory=list)
    removals: list[Removal] = field(default_factory=list)
    planner: Planner | None = field(default=None, repr=False, compare=False)
    """Re-plans steps whose ``@inputs`` are generated during the build."""
    notes: list[str] = field(default_factory=list)
    """Said once by ``plan`` and ``build`` (e.g. variants that collapse into one file)."""

    def names(self, action: Action) -> list[str]:
        return [step.name for step in self.steps if step.action == action]

    @property
    def api_calls(self) -> int:
        return sum(1 for step in self.steps if step.action == "generate")

    @property
    def estimated_cost(self) -> float | None:
        costs = [step.estimated_cost for step in self.steps if step.action == "generate"]
        if any(cost is None for cost in costs):
            return None
        return round(sum(cost for cost in costs if cost is not None), 6)

    @property
    def remote_reuses(self) -> list[AssetStep]:
        return [step for step in self.steps if step.from_remote]

    @property
    def remote_saves(self) -> float | None:
        """The estimated cost the remote cache saves (None: some price unknown)."""
        saves = [step.saves_usd for step in self.remote_reuses]
        if any(cost is None for cost in saves):
            return None
        return round(sum(cost for cost in saves if cost is not None), 6)

    @property
    def is_noop(self) -> bool:
        return not self.removals and all(step.action == "fresh" for step in self.steps)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {action: self.names(action) for action in ACTIONS}
        data["remove"] = [removal.name for removal in self.removals]
        data["api_calls"] = self.api_calls
        data["estimated_cost_usd"] = self.estimated_cost
        data["remote_reuses"] = len(self.remote_reuses)
        data["remote_saves_usd"] = self.remote_saves
        data["assets"] = [
            {
                "name": step.name,
                "action": step.action,
                **step.reason.to_json(),
                "key": step.key or None,
                "inputs": [f"@{name}" for name in step.asset.upstreams],
                "estimated_cost_usd": step.estimated_cost if step.action == "generate" else 0.0,
            }
            for step in self.steps
        ]
        return data


def variant_recipe(spec: Spec, asset: Asset, variant: VariantSpec) -> dict[str, Any]:
    """Everything that shapes a variant's bytes and path, for its key."""
    recipe = variant.recipe()
    recipe["background"] = variant.background or spec.build.flatten_background
    recipe["out_dir"] = spec.build.out_dir
    recipe["name"] = asset.name
    if spec.build.provenance:
        recipe["provenance"] = {"model": asset.model, "prompt": asset.prompt}
    if spec.provenance.signs:
        recipe["c2pa"] = "sign"  # turning signing on re-renders, without any API call
    return recipe


def effective_recipe(recipe: dict[str, Any], original: tuple[int, int]) -> dict[str, Any]:
    """``recipe`` with a width or height past the original's clamped to it.

    Variants never upscale unless asked, so ``widths = [1600, 2000]`` on a
    1536-wide original both make the 1536-wide file: clamped, they get one
    key, are written once and listed once. A recipe that needs no clamping is
    returned unchanged, so existing keys stay valid.
    """
    if recipe.get("upscale"):
        return recipe
    width, height = recipe.get("width"), recipe.get("height")
    if width is not None and height is None and width > original[0]:
        return {**recipe, "width": original[0]}
    if height is not None and width is None and height > original[1]:
        return {**recipe, "height": original[1]}
    return recipe


def duplicate_note(asset: str, first: VariantSpec, second: VariantSpec, size: Any) -> str:
    """One line for the plan: two variant entries that make the same file."""

    def asked(spec: VariantSpec) -> str:
        return f"width {spec.width}" if spec.width is not None else f"height {spec.height}"

    return (
        f"{asset}: {asked(first)} and {asked(second)} both give {size} px "
        f"({first.format}; the original is no larger and variants never upscale): written once"
    )


def why_generate(asset: Asset, entry: LockEntry | None, provider: str) -> Reason:
    """The first difference between the asset and its lock entry."""
    if entry is None:
        return Reason("new-asset", "new asset")
    if entry.provider != provider:
        return Reason("provider-changed", f"provider changed ({entry.provider} → {provider})")
    if entry.model != asset.model:
        return Reason("model-changed", f"model changed ({entry.model} → {asset.model})")
    if entry.prompt != asset.prompt:
        return Reason("prompt-changed", "prompt changed")
    old_inputs = {(i.role, i.path): i.sha256 for i in entry.inputs}
    new_inputs = {(i.role, i.source): i.sha256 for i in asset.inputs}
    for (role, path), digest in new_inputs.items():
        if old_inputs.get((role, path)) != digest:
            text = (
                f"input {path} changes" if path.startswith("@") else f"input image changed ({path})"
            )
            return Reason("input-changed", text)
    if set(old_inputs) != set(new_inputs):
        return Reason("inputs-changed", "input images changed")
    params = key_params(asset)
    for name in sorted(set(params) | set(entry.params)):
        if params.get(name) != entry.params.get(name):
            change = parameter_change(name, entry.params.get(name), params.get(name))
            return Reason("parameter-changed", change)
    if asset.spec.take:
        return Reason("take-changed", "take changed")
    return Reason("original-missing", "original missing from store and cache")


class Planner:
    def __init__(
        self,
        spec: Spec,
        lock: Lockfile,
        store: Store,
        hashes: HashCache,
        estimate: Callable[[Asset], float | None],
        options: PlanOptions | None = None,
        remote: Mapping[str, KeyRecord] | None = None,
        keys: KeyMemo | None = None,
    ) -> None:
        self.options = options or PlanOptions()
        self.keys = keys or KeyMemo()
        """Keys an earlier plan of the same expansion computed (:mod:`assetgen.key_memo`)."""
        self.remote: dict[str, KeyRecord] = dict(remote or {})
        """The remote cache's answers for keys the local tiers did not know (looked up
        before planning, in one batch: the planner itself does no I/O beyond stat)."""
        self.spec = spec
        self.lock = lock
        self.store = store
        self.hashes = hashes
        self.estimate = estimate
        self.provider = spec.provider.name
        self.root = os.fspath(spec.root)
        self.by_key = {entry.key: entry for entry in lock.assets.values()}
        self.notes: list[str] = []
        """Things the user should hear once (variants written once for several entries)."""
        self._states: dict[tuple[str, str], OriginalState] = {}

    def plan(self, assets: list[Asset]) -> Plan:
        planned: dict[str, AssetStep] = {}
        for asset in topological(assets):
            planned[asset.name] = self.planned_step(asset, planned)
        steps = [planned[asset.name] for asset in assets]
        names = {asset.name for asset in assets}
        removals = [
            Removal(name, entry)
            for name, entry in sorted(self.lock.assets.items())
            if name not in names
        ]
        return Plan(steps=steps, removals=removals, planner=self, notes=self.notes)

    def planned_step(self, asset: Asset, planned: dict[str, AssetStep]) -> AssetStep:
        """The step of an asset whose ``@inputs`` are planned already (topological order)."""
        originals = {}
        for upstream in asset.upstreams:
            step = planned[upstream]
            if step.known is None:
                return self.pending(asset, upstream)
            originals[upstream] = step.known.candidates[step.selected]
        return self.step(resolve(asset, originals, self.spec.root))

    def pending(self, asset: Asset, upstream: str) -> AssetStep:
        """An asset made from one that will be generated: its key is known only then.

        Planned (and estimated) as a generation; the build re-plans it once the
        input exists, and reuses a known result if the new input leads to one.
        """
        variants = tuple(
            self.variant_step(asset, i, None, None) for i in range(len(asset.variants))
        )
        return AssetStep(
            asset, PENDING_KEY, "generate", Reason("input-changed", f"input @{upstream} changes"),
            self.lock.assets.get(asset.name), None,
            variants=variants, estimated_cost=self.estimate(asset),
        )  # fmt: skip

    def replan(self, step: AssetStep, originals: Mapping[str, Original]) -> AssetStep:
        """A pending step again, now that the originals it is made from exist."""
        self._states.clear()  # the build has written to the store since
        return self.step(resolve(step.asset, originals, self.spec.root))

    def known_originals(self, key: str, entry: LockEntry | None) -> KeyRecord | None:
        """Originals already paid for under ``key``: lock first, then the cache."""
        if entry is not None and entry.key == key:
            record = entry.generation
        elif key in self.by_key:
            record = self.by_key[key].generation
        else:
            return self.recall(key) or self.remote_record(key)
        if all(self.state_of(c) == "present" or self.store.in_cache(c) for c in record.candidates):
            return record
        return self.recall(key) or self.remote_record(key)

    def remote_record(self, key: str) -> KeyRecord | None:
        """The remote cache's record of ``key``, placed in this store (``plan`` fetches nothing)."""
        record = self.remote.get(key)
        return None if record is None else self.placed(key, record)

    def state_of(self, original: LockOriginal) -> OriginalState:
        """The store's state of an original, looked at once per plan (it is asked twice)."""
        known = (original.path, original.sha256)
        state = self._states.get(known)
        if state is None:
            state = self._states[known] = self.store.state(original)
        return state

    def recall(self, key: str) -> KeyRecord | None:
        """The key cache's record of ``key``, its originals named where this store keeps them.

        The cache is shared by every store (drafts, a moved ``store_dir``), so a
        recorded path is never used as it is: content hash and extension place
        an original, and a record whose hash or extension is not one the store
        writes is refused (it would make a build write where it should not).
        """
        record = self.store.recall(key)
        return None if record is None else self.placed(key, record)

    def placed(self, key: str, record: KeyRecord) -> KeyRecord:
        """``record`` with its candidates at their canonical paths in this store."""
        folders = LockFolders(self.spec.root, self.spec.build.store_dir, self.spec.build.out_dir)
        candidates = []
        for index, original in enumerate(record.candidates):
            ext = PurePosixPath(original.path).suffix.removeprefix(".")
            path = f"{self.spec.build.store_dir}/{original.sha256[:2]}/{original.sha256}.{ext}"
            problem = original_path_problem(path, original.sha256, folders)
            if problem:
                raise LockfileError(
                    f"the local key cache's record of {key} is damaged: {problem}",
                    file=self.store.cache_dir.relative_to(self.spec.root).as_posix()
                    if self.store.cache_dir.is_relative_to(self.spec.root)
                    else str(self.store.cache_dir),
                    field=f"candidates[{index}].path",
                    hint="delete the cache folder's keys/ record for this key (or the whole "
                    "cache folder: it only saves API calls)",
                )
            candidates.append(replace(original, path=path))
        return replace(record, candidates=tuple(candidates))

    def step(self, asset: Asset) -> AssetStep:
        key = self.keys.generation(self.provider, asset)
        entry = self.lock.assets.get(asset.name)
        known = self.known_originals(key, entry)
        if known is None or asset.name in self.options.refresh:
            variants = tuple(
                self.variant_step(asset, i, None, None) for i in range(len(asset.variants))
            )
            why = (
                Reason("refresh-requested", "refresh requested")
                if known
                else why_generate(asset, entry, self.provider)
            )
            return AssetStep(
                asset, key, "generate", why, entry, None,
                variants=variants, estimated_cost=self.estimate(asset),
            )  # fmt: skip
        selected = entry.selected if entry is not None and entry.key == key else known.selected
        selected = min(selected, len(known.candidates) - 1)
        original = known.candidates[selected]
        same_key = entry is not None and entry.key == key
        recorded = entry.variants if same_key and entry is not None else ()
        variants = self.unique(
            asset.name,
            tuple(
                self.variant_step(asset, i, original, recorded) for i in range(len(asset.variants))
            ),
        )
        if not same_key:
            reason = replace(why_generate(asset, entry, self.provider), known_original=True)
            return self.reused(asset, key, reason, entry, known, selected, variants)
        state = self.state_of(original)
        if state != "present":
            text = f"original {state} in the store, restored from the local cache"
            reason = Reason("original-altered" if state == "altered" else "original-restored", text)
            return self.reused(asset, key, reason, entry, known, selected, variants)
        stale = self.render_reason(variants, recorded)
        if self.options.rerender and not stale:
            variants = tuple(replace(v, kept=None) for v in variants)
            stale = Reason("rerender-requested", "re-encode requested (--rerender)")
        action: Action = "render" if stale else "fresh"
        return AssetStep(asset, key, action, stale or UP_TO_DATE, entry, known, selected, variants)

    def reused(
        self,
        asset: Asset,
        key: str,
        reason: Reason,
        entry: LockEntry | None,
        known: KeyRecord,
        selected: int,
        variants: tuple[VariantStep, ...],
    ) -> AssetStep:
        """A ``reuse`` step; one whose original comes from the remote cache says so."""
        if key not in self.remote:
            return AssetStep(asset, key, "reuse", reason, entry, known, selected, variants)
        text = reason.text.replace("restored from the local cache", REMOTE_ORIGINAL)
        if text == reason.text:
            text = f"{text}; {REMOTE_ORIGINAL}"
        remote = Reason("remote-cache", text)
        return AssetStep(
            asset, key, "reuse", remote, entry, known, selected, variants,
            saves_usd=self.estimate(asset),
        )  # fmt: skip

    def unplanned_variants(self, asset: Asset) -> tuple[VariantStep, ...]:
        """The variants of an asset whose original is not known yet (no keys)."""
        return tuple(self.variant_step(asset, i, None, None) for i in range(len(asset.variants)))

    def variant_step(
        self,
        asset: Asset,
        position: int,
        original: LockOriginal | None,
        recorded: tuple[LockVariant, ...] | None,
    ) -> VariantStep:
        variant = asset.variants[position]
        recipe = variant_recipe(self.spec, asset, variant)
        if original is None:
            return VariantStep(variant, recipe, None, None)
        recipe = effective_recipe(recipe, (original.width, original.height))
        made_from = (original.sha256, original.width, original.height)
        key = self.keys.variant(asset, position, made_from, recipe)
        match = next((r for r in recorded or () if r.key == key), None)
        if match is None:
            return VariantStep(variant, recipe, key, None, "changed" if recorded else "new")
        if self.output_intact(match):
            return VariantStep(variant, recipe, key, match, "kept", match)
        state: VariantState = "altered" if (self.spec.root / match.path).exists() else "missing"
        return VariantStep(variant, recipe, key, None, state, match)

    def unique(self, asset: str, variants: tuple[VariantStep, ...]) -> tuple[VariantStep, ...]:
        """The variants with those that come out identical to an earlier one dropped."""
        seen: dict[str | None, VariantStep] = {}
        for variant in variants:
            first = seen.setdefault(variant.key, variant)
            if first is not variant:
                size = first.recipe.get("width") or first.recipe.get("height")
                self.notes.append(duplicate_note(asset, first.spec, variant.spec, size))
        return tuple(seen.values()) if len(seen) < len(variants) else variants

    def output_intact(self, variant: LockVariant) -> bool:
        path = f"{self.root}{os.sep}{variant.path}"  # a str: thousands per plan
        return self.hashes.sha256_or_none(path) == variant.sha256

    def render_reason(
        self, variants: tuple[VariantStep, ...], recorded: tuple[LockVariant, ...]
    ) -> Reason | None:
        stale = next((step for step in variants if step.state != "kept"), None)
        if stale is not None:
            return stale.why
        if len(recorded) != len(variants):
            return Reason("variant-removed", "variant removed from the spec")
        return None


def make_plan(
    spec: Spec,
    assets: list[Asset],
    lock: Lockfile,
    store: Store,
    hashes: HashCache,
    estimate: Callable[[Asset], float | None],
    options: PlanOptions | None = None,
    remote: Mapping[str, KeyRecord] | None = None,
    keys: KeyMemo | None = None,
) -> Plan:
    return Planner(spec, lock, store, hashes, estimate, options, remote, keys).plan(assets)


def remote_wanted(plan: Plan) -> list[str]:
    """Keys worth asking the remote cache about: every generation whose key is known."""
    return [step.key for step in plan.steps if step.action == "generate" and not step.pending]


def matching(names: list[str], patterns: list[str], *, option: str) -> set[str]:
    """Names matching any glob pattern; a pattern matching nothing is a usage error."""
    found: set[str] = set()
    for pattern in patterns:
        hits = fnmatch.filter(names, pattern)
        if not hits:
            raise UsageError(
                f"{option}{pattern!r} matches no asset",
                hint=did_you_mean(pattern, names) or "see `assetgen plan` for the names",
            )
        found.update(hits)
    return found


def select(plan: Plan, patterns: list[str]) -> Plan:
    """The plan for the assets matching ``patterns`` and what they are made from."""
    chosen = matching([step.name for step in plan.steps], patterns, option="")
    chosen = with_upstreams([step.asset for step in plan.steps], chosen)
    steps = [step for step in plan.steps if step.name in chosen]
    return Plan(steps=steps, removals=[], planner=plan.planner, notes=plan.notes)
