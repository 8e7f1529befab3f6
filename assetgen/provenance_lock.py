"""The originals' C2PA manifests as the lock records them (``[provenance] c2pa`` on).

A summary is read from the bytes the provider returned (before anything,
say a chroma key, re-encodes them) and filed under the content hash of the
stored original. A candidate without one (an entry built while provenance was
off, or a result reused from the key cache) is read from its store file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from .keyrecords import LockOriginal
from .lockfile import LockEntry, LockProvenance
from .provenance import Manifest, read_manifest


def lock_record(manifest: Manifest, sha256: str) -> LockProvenance:
    """The lock's record of ``manifest``, carried by the original ``sha256``."""
    return LockProvenance(
        sha256=sha256,
        validation_state=manifest.state,
        manifest=manifest.label,
        claim_generator=manifest.claim_generator,
        signer=manifest.signer,
        actions=manifest.actions,
        ai_generated=manifest.ai_generated,
        codes=manifest.codes,
    )


def returned(
    images: Iterable[bytes], fmt: str, originals: Iterable[LockOriginal]
) -> dict[str, LockProvenance]:
    """Summaries of the images a provider returned, by the hash they are stored under."""
    return {
        original.sha256: lock_record(read_manifest(data, fmt), original.sha256)
        for data, original in zip(images, originals, strict=True)
    }


def of_candidates(
    root: Path,
    candidates: Iterable[LockOriginal],
    known: Mapping[str, LockProvenance],
    old: LockEntry | None = None,
) -> tuple[LockProvenance, ...]:
    """One summary per candidate: as returned (``known``), as locked, or read from the store."""
    locked = {record.sha256: record for record in old.c2pa} if old is not None else {}
    records = []
    for original in candidates:
        record = known.get(original.sha256) or locked.get(original.sha256)
        if record is None:
            path = root / original.path
            record = lock_record(read_manifest(path.read_bytes(), path.suffix), original.sha256)
        records.append(record)
    return tuple(records)
