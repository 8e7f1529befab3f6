"""The manifest: every asset's variants as stable JSON, for frameworks.

A static site generator or an app reads it to write ``srcset`` and
``<picture>`` without knowing assetgen's naming rules::

    {"version": 1, "url_prefix": "/img/", "assets": {"hero-spring": {
        "width": 1536, "height": 1024,
        "variants": [{"path": "hero-spring-480w.webp", "url": "/img/hero-spring-480w.webp",
                      "width": 480, "height": 320, "format": "webp",
                      "bytes": 18422, "sha256": "c3e1…"}, …]}}}

``path`` is relative to ``out_dir``; ``url`` is ``url_prefix`` + ``path``.
With ``[provenance] c2pa`` on, an asset also has ``c2pa`` (its original's
manifest in short: ``ai_generated``, ``claim_generator``, ``signer``,
``validation_state``, so a page can label AI-generated images) and a signed
variant ``"c2pa": true``; without it the file is as before.
Assets and variants are sorted, so the file only changes when outputs do.
"""

from __future__ import annotations

import hashlib
import json
import marshal
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from .fsutil import atomic_write_text
from .hashing import text_sha256
from .lockfile import LockEntry, Lockfile, LockVariant
from .spec_types import Spec

MANIFEST_VERSION = 1


def url_for(prefix: str, path: str) -> str:
    return prefix + path if prefix.endswith("/") else f"{prefix}/{path}"


def variant_record(spec: Spec, variant: LockVariant) -> dict[str, Any]:
    full = PurePosixPath(variant.path)
    try:
        relative = full.relative_to(spec.build.out_dir).as_posix()
    except ValueError:
        relative = full.as_posix()
    return {
        "path": relative,
        "url": url_for(spec.build.url_prefix, relative),
        "width": variant.width,
        "height": variant.height,
        "format": variant.format,
        "bytes": variant.bytes,
        "sha256": variant.sha256,
        **({"c2pa": True} if variant.c2pa else {}),
    }


def provenance_record(entry: LockEntry) -> dict[str, Any]:
    record = entry.original_c2pa
    if record is None:
        return {}
    return {
        "c2pa": {
            "ai_generated": record.ai_generated,
            "claim_generator": record.claim_generator,
            "signer": record.signer,
            "validation_state": record.validation_state,
        }
    }


def manifest_data(spec: Spec, lock: Lockfile) -> dict[str, Any]:
    assets = {}
    for name in sorted(lock.assets):
        entry = lock.assets[name]
        variants = sorted(entry.variants, key=lambda v: (v.format, v.width, v.height, v.path))
        assets[name] = {
            "width": entry.original.width,
            "height": entry.original.height,
            "variants": [variant_record(spec, v) for v in variants],
            **provenance_record(entry),
        }
    return {"version": MANIFEST_VERSION, "url_prefix": spec.build.url_prefix, "assets": assets}


def manifest_text(spec: Spec, lock: Lockfile) -> str:
    return json.dumps(manifest_data(spec, lock), indent=2, ensure_ascii=False) + "\n"


class ManifestMemo(Protocol):
    """Remembers which manifest text each state gives (:mod:`assetgen.state_cache`)."""

    def manifest_digest(self, path: Path, fingerprint: str) -> str | None:
        """The SHA-256 of the text written to ``path`` for ``fingerprint``, if known."""

    def remember_manifest(self, path: Path, fingerprint: str, digest: str) -> None:
        """Keep the SHA-256 of the text for ``fingerprint``."""


def manifest_fingerprint(spec: Spec, lock: Lockfile, lock_digest: str | None = None) -> str:
    """A digest of everything :func:`manifest_data` reads: equal fingerprints, equal texts.

    Building the text of a large manifest costs far more than this; with the
    digest of the lock's bytes (``lock`` parsed from them, unchanged) even less.
    """
    settings = (MANIFEST_VERSION, spec.build.url_prefix, spec.build.out_dir, spec.build.store_dir)
    if lock_digest is not None:
        return text_sha256(repr(("lock", lock_digest, *settings)))
    rows: list[Any] = list(settings)
    for name in sorted(lock.assets):
        entry = lock.assets[name]
        variants = [
            (v.path, v.width, v.height, v.format, v.bytes, v.sha256) for v in entry.variants
        ]
        rows.append((name, entry.original.width, entry.original.height, variants))
    return hashlib.sha256(marshal.dumps(rows, 2)).hexdigest()  # version 2: no references


def manifest_current(
    spec: Spec, lock: Lockfile, memo: ManifestMemo | None = None, lock_digest: str | None = None
) -> bool:
    """Whether the manifest on disk (if one is configured) matches the lock.

    With ``memo``, the text is built only for a state not seen before
    (``lock_digest``: see :func:`manifest_fingerprint`).
    """
    if spec.build.manifest is None:
        return True
    path = spec.project_path(spec.build.manifest)
    try:
        written = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    if memo is None:
        return written == manifest_text(spec, lock)
    fingerprint = manifest_fingerprint(spec, lock, lock_digest)
    known = memo.manifest_digest(path, fingerprint)
    if known is None:
        known = text_sha256(manifest_text(spec, lock))
        memo.remember_manifest(path, fingerprint, known)
    return text_sha256(written) == known


def write_manifest(
    spec: Spec, lock: Lockfile, memo: ManifestMemo | None = None, lock_digest: str | None = None
) -> bool:
    """Write the manifest if configured and changed; return whether it was written."""
    if spec.build.manifest is None or manifest_current(spec, lock, memo, lock_digest):
        return False
    text = manifest_text(spec, lock)
    atomic_write_text(spec.project_path(spec.build.manifest), text)
    if memo is not None:
        memo.remember_manifest(
            spec.project_path(spec.build.manifest),
            manifest_fingerprint(spec, lock),
            text_sha256(text),
        )
    return True
