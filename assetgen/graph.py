"""Concrete assets: matrix expansion, rendered prompts, hashed inputs, keys.

:func:`expand` turns the spec's ``[[asset]]`` tables into :class:`Asset`
values, one per matrix combination, each with its rendered name and prompt,
resolved parameters and hashed input files. Problems found here (duplicate
names, unsafe names, missing files, template errors) are collected across
all assets and raised together, like the spec loader's.

Keys are hashes of canonical JSON (sorted keys, no whitespace), versioned by
``KEY_SCHEMA`` so a change in what keys cover can be rolled out on purpose.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .errors import SpecError, SpecErrors
from .hashing import HashCache
from .layout import build_layout, check_input
from .params import GenerationParams
from .provider_registry import key_revision
from .spec_types import (
    PLACEHOLDER_PROVENANCE_PROVIDERS,
    AssetSpec,
    Spec,
    VariantSpec,
)
from .validation import SHOWN_CHARS, did_you_mean, shown

if TYPE_CHECKING:
    from .prompts import TemplateRead

KEY_SCHEMA = 1
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

InputRole = Literal["image", "mask", "reference"]
ASSET_REF = "@"


@dataclass(frozen=True)
class InputRef:
    """One input image of an asset, as named in the spec and as found on disk."""

    role: InputRole
    source: str
    """The value as rendered from the spec: a project-relative path or ``@asset``."""
    path: Path | None
    """The file to send; ``None`` for an ``@asset`` input not resolved yet."""
    sha256: str
    """Content hash; empty for an ``@asset`` input not resolved yet."""

    @property
    def upstream(self) -> str | None:
        """The asset whose selected original this input is (``@name``), if any."""
        return self.source[1:] if self.source.startswith(ASSET_REF) else None


@dataclass(frozen=True)
class Asset:
    """One concrete asset: what to ask the provider for, and what to derive."""

    name: str
    spec: AssetSpec
    prompt: str
    params: GenerationParams
    inputs: tuple[InputRef, ...]
    variants: tuple[VariantSpec, ...]
    variables: dict[str, Any] = field(default_factory=dict)
    c2pa: bool = False
    """``[provenance] c2pa`` is on: originals are read for (or, offline, given) a manifest."""

    @property
    def model(self) -> str:
        """The model, as resolved once in the spec pass (:attr:`GenerationParams.model`)."""
        return self.params.model

    @property
    def operation(self) -> Literal["generate", "edit"]:
        return "edit" if self.inputs else "generate"

    def input(self, role: InputRole) -> InputRef | None:
        return next((ref for ref in self.inputs if ref.role == role), None)

    @property
    def references(self) -> tuple[InputRef, ...]:
        return tuple(ref for ref in self.inputs if ref.role == "reference")

    @property
    def masked(self) -> bool:
        return self.input("mask") is not None

    @property
    def upstreams(self) -> tuple[str, ...]:
        """Assets this one is made from (``@name`` inputs), in input order, once each."""
        names = (ref.upstream for ref in self.inputs if ref.upstream)
        return tuple(dict.fromkeys(name for name in names if name))

    @property
    def resolved(self) -> bool:
        return all(ref.sha256 for ref in self.inputs)


_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
)
"""What ``json.dumps(value, sort_keys=True, ...)`` makes, without a new encoder per key."""


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def hash_key(payload: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()


def key_params(asset: Asset) -> dict[str, Any]:
    """The parameters that shape the returned image (part of the key and the lock)."""
    key_colour = None
    if keyed(asset):
        from .chroma import choose_key

        key_colour = choose_key(asset.prompt).name  # how the alpha is made
    edit = asset.operation == "edit"
    return asset.params.key_fields(edit=edit, masked=asset.masked, key_colour=key_colour)


def keyed(asset: Asset) -> bool:
    """Whether the asset's transparency comes from a chroma key (``transparency = "key"``)."""
    return asset.params.keyed_transparency


def generation_key(provider: str, asset: Asset) -> str:
    """What the provider returns depends on exactly these; nothing else goes in.

    ``@asset`` inputs count by their original's content hash, so a dependent's
    key changes exactly when what it is made from changes.
    """
    assert asset.resolved, f"{asset.name}: @asset inputs must be resolved before keying"
    payload = {
        "schema": KEY_SCHEMA,
        "provider": provider,
        "revision": key_revision(provider),
        "model": asset.params.model,
        "operation": asset.operation,
        "prompt": asset.prompt,
        "params": key_params(asset),
        "inputs": [[ref.role, ref.sha256] for ref in asset.inputs],
        "take": asset.spec.take,
    }
    if asset.c2pa and provider in PLACEHOLDER_PROVENANCE_PROVIDERS:
        payload["c2pa"] = True  # the offline provider then signs what it returns
    return hash_key(payload)


def variant_key(original_sha256: str, recipe: dict[str, Any]) -> str:
    """Original content + recipe; deliberately not the encoder's version."""
    return hash_key({"schema": KEY_SCHEMA, "original": original_sha256, "recipe": recipe})


def combinations(matrix: dict[str, tuple[Any, ...]]) -> list[dict[str, Any]]:
    """The cartesian product of the matrix, in the order the spec lists values."""
    keys = list(matrix)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*matrix.values())]


class Expander:
    """Expands a spec into concrete assets, collecting every problem."""

    def __init__(self, spec: Spec, hashes: HashCache) -> None:
        from .prompts import PromptRenderer  # Jinja2: only when something is rendered

        self.spec = spec
        self.hashes = hashes
        self.file = spec.display_path
        self.renderer = PromptRenderer(spec.project_path(spec.build.templates), spec_file=self.file)
        self.problems: list[SpecError] = []
        self.seen: dict[str, AssetSpec] = {}
        self.table_reads: dict[int, dict[str, TemplateRead]] = {}
        """What the templates of each table :meth:`expand` rendered read (by table index)."""
        layout, problems = build_layout(spec.root, spec.path, spec.build)
        SpecErrors.raise_if_any(
            SpecError(text, file=self.file, field=f"build.{field}") for field, text in problems
        )
        assert layout is not None
        self.layout = layout

    def expand(self, kept: Mapping[int, Sequence[Asset]] | None = None) -> list[Asset]:
        """Every concrete asset, in spec order; all problems at once (SpecErrors).

        ``kept``: the assets of some ``[[asset]]`` tables (by index) from an
        earlier expansion that is still current (see :mod:`assetgen.state_cache`):
        they are taken as they are, and only the other tables are rendered.
        :attr:`table_reads` says what each rendered table's templates read.
        """
        assets: list[Asset] = []
        for index, asset_spec in enumerate(self.spec.assets):
            if kept is not None and index in kept:
                for asset in kept[index]:
                    self.seen[asset.name] = asset_spec
                assets.extend(kept[index])
                continue
            self.renderer.loader.begin()
            assets.extend(self.expand_table(asset_spec))
            self.table_reads[index] = self.renderer.reads()
        if not self.problems:
            self.problems.extend(check_references(assets, file=self.file))
        SpecErrors.raise_if_any(self.problems)
        return assets

    def expand_table(self, asset_spec: AssetSpec) -> list[Asset]:
        assets: list[Asset] = []
        repeats: dict[tuple[str | None, str | None, str], list[SpecError]] = {}
        for combo in combinations(asset_spec.matrix):
            try:
                asset = self.concrete(asset_spec, combo)
            except SpecError as exc:
                # One template error, once: not again for every matrix entry.
                same = repeats.setdefault((exc.file, exc.field, exc.message), [])
                if not same:
                    self.problems.append(exc)
                same.append(exc)
                continue
            if asset is not None:
                assets.append(asset)
        for first, *others in repeats.values():
            if others:
                first.message += f" (and in {len(others)} more of its matrix entries)"
        return assets

    def concrete(self, asset_spec: AssetSpec, combo: dict[str, Any]) -> Asset | None:
        variables = {**self.spec.vars, **asset_spec.vars, **combo}
        name = self.name(asset_spec, variables)
        if name is None:
            return None
        prompt = self.renderer.render_prompt(
            asset_spec.prompt, asset_spec.template, variables, asset=name
        )
        inputs = self.inputs(asset_spec, variables, name)
        return Asset(
            name=name,
            spec=asset_spec,
            prompt=prompt,
            params=asset_spec.params,
            inputs=inputs,
            variants=asset_spec.variants,
            variables=variables,
            c2pa=self.spec.provenance.enabled,
        )

    def name(self, asset_spec: AssetSpec, variables: dict[str, Any]) -> str | None:
        name = self.renderer.render_string(
            asset_spec.name, variables, asset=asset_spec.label, field="name"
        ).strip()
        if not SAFE_NAME.match(name):
            self.problem(
                f"{shown(name)} is not a safe file name: use letters, digits, '.', '_' and '-', "
                "starting with a letter or digit (at most 128 characters)",
                asset=asset_spec.label,
                field="name",
            )
            return None
        first = self.seen.get(name)
        if first is not None:
            self.problem(
                f"duplicate asset name {name!r} (also made by asset #{first.index + 1}); "
                "add a matrix variable to the name to tell them apart",
                asset=asset_spec.label,
                field="name",
            )
            return None
        self.seen[name] = asset_spec
        return name

    def inputs(
        self, asset_spec: AssetSpec, variables: dict[str, Any], name: str
    ) -> tuple[InputRef, ...]:
        named: list[tuple[InputRole, str, str]] = []
        if asset_spec.image:
            named.append(("image", "image", asset_spec.image))
        if asset_spec.mask:
            named.append(("mask", "mask", asset_spec.mask))
        named.extend(
            ("reference", f"references[{i}]", ref) for i, ref in enumerate(asset_spec.references)
        )
        refs = []
        for role, field_name, template in named:
            source = self.renderer.render_string(template, variables, asset=name, field=field_name)
            ref = self.input_file(role, source.strip(), name, field_name)
            if ref is not None:
                refs.append(ref)
        return tuple(refs)

    def input_file(
        self, role: InputRole, source: str, asset: str, field_name: str
    ) -> InputRef | None:
        if source.startswith(ASSET_REF):
            return InputRef(role=role, source=source, path=None, sha256="")
        # Resolved and checked before anything opens it: a FIFO or /dev/zero would hang.
        path, reason = check_input(self.layout, source, self.spec.root)
        digest = None if path is None else self.hashes.sha256_or_none(path)
        if path is None or digest is None:
            reason = reason or "file not found"
            if reason == "file not found":
                message = f"file not found: {source[:SHOWN_CHARS]}"
            else:
                message = f"{shown(source)} {reason}"
            self.problem(message, asset=asset, field=field_name)
            return None
        return InputRef(role=role, source=source, path=path, sha256=digest)

    def problem(self, message: str, *, asset: str, field: str) -> None:
        self.problems.append(SpecError(message, file=self.file, asset=asset, field=field))


def check_references(assets: list[Asset], *, file: str) -> list[SpecError]:
    """Unknown ``@names`` (with a "did you mean") and cycles, as spec errors."""
    names = [asset.name for asset in assets]
    problems = []
    for asset in assets:
        for ref in asset.inputs:
            if ref.upstream is not None and ref.upstream not in names:
                problems.append(
                    SpecError(
                        f"no asset named {ref.upstream!r} for input {ref.source}",
                        file=file,
                        asset=asset.name,
                        field=ref.role if ref.role != "reference" else "references",
                        hint=did_you_mean(ref.upstream, names),
                    )
                )
    if not problems:
        problems.extend(cycle_errors(assets, file=file))
    return problems


def cycle_errors(assets: list[Asset], *, file: str) -> list[SpecError]:
    """One error per cycle, naming its whole chain: ``a → b → c → a``."""
    edges = {asset.name: asset.upstreams for asset in assets}
    state: dict[str, str] = {}
    errors: list[SpecError] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = "active"
        for upstream in edges.get(name, ()):
            if state.get(upstream) == "active":
                cycle = [*path[path.index(upstream) :], upstream]
                chain = " → ".join(reversed(cycle))
                errors.append(
                    SpecError(f"assets form a cycle: {chain}", file=file, asset=name, field="image")
                )
            elif upstream not in state:
                visit(upstream, [*path, upstream])
        state[name] = "done"

    for asset in assets:
        if asset.name not in state:
            visit(asset.name, [asset.name])
    return errors


def expand(spec: Spec, hashes: HashCache) -> list[Asset]:
    """Every concrete asset of the spec, in spec order; raises SpecErrors."""
    return Expander(spec, hashes).expand()
