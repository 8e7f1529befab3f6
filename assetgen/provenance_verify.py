"""``assetgen verify``: does every output carry provenance chained to its original?

Where :mod:`assetgen.verify` asks "is what is committed what the spec asks
for?" (keys and hashes), this asks what a reader of the site would: reading
each variant's C2PA manifest with c2pa-python. It needs no key and no
provider; it reads the lock (every path checked like any other read of it),
the store and the outputs, and writes nothing.

A variant is

``chained``    its manifest is intact and names this asset's original as its parent
               (the ``org.assetgen.variant`` assertion holds the original's hash, and
               the parent ingredient is the original's own manifest when it has one)
``altered``    its bytes are not the ones the build wrote (the lock's hash), whatever
               the manifest says; c2pa's codes tell what broke
``invalid``    the bytes are the build's but the manifest does not validate
``unchained``  an intact manifest that is not derived from this asset's original
``none``       no manifest at all
``missing``    the file is gone

Problems (exit 3): ``altered``, ``invalid``, ``unchained``, ``missing``; ``none``
where the lock says the variant was signed or the spec says ``c2pa = "sign"``;
and, when trust anchors are configured, a signer outside them. Without trust
anchors a self-made signer is reported (``signer not a trust anchor``), never
a problem. An original is read for information (who made it, AI-generated or
not); one missing or altered in the store is a problem.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .hashing import open_regular
from .lockfile import LockEntry, Lockfile, LockVariant
from .plan import matching
from .project import Project
from .provenance import Manifest, read_manifest, require
from .provenance_keys import load_trust_anchors

MAX_READ_BYTES = 512 * 1024 * 1024
"""Largest output or original read (a 16,384-pixel PNG variant stays below)."""
SEVERITY = ("missing", "altered", "invalid", "unchained", "none", "chained")
"""Variant states, worst first: an asset shows its worst variant's."""


@dataclass(frozen=True)
class VariantCheck:
    """What one variant's manifest says."""

    path: str
    state: str
    """One of :data:`SEVERITY`."""
    detail: str = ""
    manifest: Manifest | None = None
    trusted: bool | None = None
    """Whether the signer is a trust anchor; ``None`` when none are configured or unsigned."""
    problem: str = ""
    """Why this is a problem (empty: it is not)."""

    def to_json(self) -> dict[str, Any]:
        manifest = self.manifest
        return {
            "path": self.path,
            "state": self.state,
            "detail": self.detail,
            "trusted": self.trusted,
            "signer": manifest.signer if manifest else None,
            "validation_state": manifest.state if manifest else None,
            "codes": list(manifest.codes) if manifest else [],
            "problem": self.problem or None,
        }


@dataclass(frozen=True)
class AssetCheck:
    """One asset: its original's provenance and each variant's."""

    name: str
    original: Manifest | None
    """The stored original's manifest (``None``: the original is missing or altered)."""
    variants: tuple[VariantCheck, ...]
    original_problem: str = ""

    @property
    def state(self) -> str:
        """The worst variant state (``none`` for an asset without variants)."""
        states = [v.state for v in self.variants] or ["none"]
        return min(states, key=SEVERITY.index)

    @property
    def problems(self) -> list[str]:
        found = [self.original_problem] if self.original_problem else []
        return found + [f"{self.name}: {v.problem}" for v in self.variants if v.problem]

    def to_json(self) -> dict[str, Any]:
        original = self.original
        return {
            "name": self.name,
            "state": self.state,
            "original": None
            if original is None
            else {
                "validation_state": original.state,
                "claim_generator": original.claim_generator,
                "signer": original.signer,
                "actions": list(original.actions),
                "ai_generated": original.ai_generated,
                "codes": list(original.codes),
            },
            "variants": [variant.to_json() for variant in self.variants],
            "problems": self.problems,
        }


@dataclass
class ProvenanceReport:
    """Every checked asset, in name order."""

    mode: str
    """``[provenance] c2pa``."""
    trust_anchors: bool
    assets: list[AssetCheck] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [problem for asset in self.assets for problem in asset.problems]

    def counts(self) -> dict[str, int]:
        return {state: sum(a.state == state for a in self.assets) for state in SEVERITY}

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "c2pa": self.mode,
            "trust_anchors": self.trust_anchors,
            "counts": self.counts(),
            "problems": self.problems,
            "assets": [asset.to_json() for asset in self.assets],
        }


def verify_provenance(project: Project, names: list[str] | None = None) -> ProvenanceReport:
    """Check the outputs of the lock's assets (or those matching ``names``)."""
    lock = project.locks.load()  # read-only: a running build's journal is not folded
    chosen = sorted(lock.assets)
    if names:
        chosen = sorted(matching(chosen, names, option=""))
    checker = Checker.for_project(project)
    report = ProvenanceReport(project.spec.provenance.c2pa, checker.anchors is not None)
    report.assets = [checker.asset(name, lock.assets[name]) for name in chosen]
    return report


def check_lock(project: Project, lock: Lockfile) -> dict[str, AssetCheck]:
    """Every locked asset's check, by name; ``{}`` with ``[provenance] c2pa = "off"``."""
    if not project.spec.provenance.enabled:
        return {}
    checker = Checker.for_project(project)
    return {name: checker.asset(name, entry) for name, entry in lock.assets.items()}


class Checker:
    """Reads manifests with one set of trust anchors."""

    def __init__(self, root: Path, expect_signed: bool, anchors: str | None) -> None:
        self.root = root
        self.expect_signed = expect_signed
        self.anchors = anchors

    @classmethod
    def for_project(cls, project: Project) -> Checker:
        spec = project.spec
        require(spec.display_path)
        anchors = load_trust_anchors(spec.provenance, spec.root, file=spec.display_path)
        return cls(project.root, spec.provenance.signs, anchors)

    def read(self, relative: str) -> bytes | None:
        """The file's bytes, or ``None`` when it is missing (bounded; never a FIFO)."""
        try:
            with os.fdopen(open_regular(self.root / relative), "rb") as handle:
                return handle.read(MAX_READ_BYTES)
        except OSError:  # gone, or not a regular file: either way not the build's output
            return None

    def asset(self, name: str, entry: LockEntry) -> AssetCheck:
        original, problem = self.original(name, entry)
        parent = original.label if original is not None else ""
        variants = tuple(self.variant(entry, name, v, parent) for v in entry.variants)
        return AssetCheck(name, original, variants, problem)

    def original(self, name: str, entry: LockEntry) -> tuple[Manifest | None, str]:
        path = entry.original.path
        data = self.read(path)
        if data is None:
            return None, f"{name}: original missing: {path}"
        if hashlib.sha256(data).hexdigest() != entry.original.sha256:
            return None, f"{name}: original altered: {path}"
        return read_manifest(data, Path(path).suffix, self.anchors), ""

    def variant(
        self, entry: LockEntry, name: str, variant: LockVariant, parent: str
    ) -> VariantCheck:
        data = self.read(variant.path)
        if data is None:
            return VariantCheck(variant.path, "missing", problem=f"missing: {variant.path}")
        manifest = read_manifest(data, variant.format, self.anchors)
        codes = f" (C2PA: {', '.join(manifest.codes)})" if manifest.state == "invalid" else ""
        if hashlib.sha256(data).hexdigest() != variant.sha256:
            detail = f"bytes differ from the lock{codes}"
            problem = f"altered after the build: {variant.path}: {detail}"
            return VariantCheck(variant.path, "altered", detail, manifest, problem=problem)
        if manifest.state == "none":
            return self.unsigned(variant, manifest)
        if manifest.state == "invalid":
            detail = f"its manifest does not validate{codes}"
            problem = f"invalid provenance: {variant.path}: {detail}"
            return VariantCheck(variant.path, "invalid", detail, manifest, problem=problem)
        why_not = unchained(manifest, entry.original.sha256, name, parent)
        if why_not:
            problem = f"not derived from its original: {variant.path}: {why_not}"
            return VariantCheck(variant.path, "unchained", why_not, manifest, problem=problem)
        return self.chained(variant, manifest)

    def unsigned(self, variant: LockVariant, manifest: Manifest) -> VariantCheck:
        expected = variant.c2pa or self.expect_signed
        problem = f"no C2PA manifest: {variant.path}" if expected else ""
        if problem and not variant.c2pa:
            problem += ' ([provenance] c2pa = "sign": run `assetgen build` to sign it)'
        return VariantCheck(variant.path, "none", "no C2PA manifest", manifest, problem=problem)

    def chained(self, variant: LockVariant, manifest: Manifest) -> VariantCheck:
        trusted = None if self.anchors is None else manifest.state == "trusted"
        signer = manifest.signer or "an unnamed signer"
        if trusted is False:
            detail = f"signed by {signer}, not in the trust anchors"
            problem = f"untrusted signer: {variant.path}: {detail}"
            return VariantCheck(variant.path, "chained", detail, manifest, False, problem)
        note = "trusted" if trusted else "signer not a trust anchor"
        return VariantCheck(
            variant.path, "chained", f"signed by {signer} ({note})", manifest, trusted
        )


def unchained(manifest: Manifest, original_sha256: str, name: str, parent: str) -> str:
    """Why an intact manifest is not derived from this asset's original ("" if it is).

    ``parent`` is the label of the stored original's own manifest ("" if it has none).
    """
    claim = manifest.variant
    if not claim:
        return "its manifest was not made by assetgen"
    if claim.get("original") != original_sha256 or claim.get("asset") != name:
        return f"its manifest names another original ({str(claim.get('asset'))[:60]})"
    if not manifest.parents:
        return "its manifest names no parent ingredient"
    if parent and parent not in manifest.parents:
        return "its parent ingredient is not the original's manifest"
    return ""


STATE_WORDS = {
    "chained": "chained to the original",
    "none": "without provenance",
    "altered": "altered after the build",
    "invalid": "with an invalid manifest",
    "unchained": "not derived from the original",
    "missing": "missing",
}
TRUST_WORDS = {
    "trusted": "trusted",
    "valid": "signer not a trust anchor",
    "invalid": "manifest invalid",
}


def original_words(manifest: Manifest | None) -> str:
    """``original: AI-generated, made by …, signed by … (trusted)``."""
    if manifest is None:
        return "original: missing or altered in the store"
    if manifest.state == "none":
        return "original: no C2PA manifest"
    ai = "AI-generated, " if manifest.ai_generated else ""
    made = manifest.claim_generator or "an unnamed tool"
    signer = manifest.signer or "an unnamed signer"
    return f"original: {ai}made by {made}, signed by {signer} ({TRUST_WORDS[manifest.state]})"


def asset_words(asset: AssetCheck) -> str:
    """How many variants are in which state, and what the original carries."""
    states = [v.state for v in asset.variants]
    parts = [f"{states.count(state)} {STATE_WORDS[state]}" for state in SEVERITY if state in states]
    variants = ", ".join(parts) if parts else "no variants"
    return f"{variants} · {original_words(asset.original)}"


def report_lines(report: ProvenanceReport, *, verbose: bool = False) -> list[str]:
    """``verify``'s text: a line per asset (each variant with ``verbose``), then totals."""
    lines = []
    for asset in report.assets:
        lines.append(f"{asset.name}: {asset_words(asset)}")
        if verbose:
            lines.extend(f"  {v.path}: {v.state}: {v.detail}" for v in asset.variants)
    counts = report.counts()
    totals = ", ".join(f"{counts[s]} {STATE_WORDS[s]}" for s in SEVERITY if counts[s])
    noun = "asset" if len(report.assets) == 1 else "assets"
    problems = len(report.problems)
    found = f" ({problems} problem{'s' if problems != 1 else ''}, below)" if problems else ""
    lines.append(f"{len(report.assets)} {noun}: {totals or 'nothing to verify'}{found}")
    return lines
