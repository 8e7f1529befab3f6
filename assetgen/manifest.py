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

import json
from pathlib import PurePosixPath
from typing import Any

from .fsutil import atomic_write_text
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


def manifest_current(spec: Spec, lock: Lockfile) -> bool:
    """Whether the manifest on disk (if one is configured) matches the lock."""
    if spec.build.manifest is None:
        return True
    path = spec.project_path(spec.build.manifest)
    try:
        return path.read_text(encoding="utf-8") == manifest_text(spec, lock)
    except FileNotFoundError:
        return False


def write_manifest(spec: Spec, lock: Lockfile) -> bool:
    """Write the manifest if configured and changed; return whether it was written."""
    if spec.build.manifest is None or manifest_current(spec, lock):
        return False
    atomic_write_text(spec.project_path(spec.build.manifest), manifest_text(spec, lock))
    return True
