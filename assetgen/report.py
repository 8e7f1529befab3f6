"""What a build did: per-asset outcomes and the summary (text and JSON).

``BuildReport.to_json()`` is the documented ``build --json`` format and the
``.assetgen/last-build.json`` the gallery reads; keys are only ever added.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .reasons import Reason


@dataclass
class AssetOutcome:
    name: str
    action: str
    status: str
    """``generated``, ``reused``, ``rendered``, ``fresh``, ``failed``, ``skipped`` or
    ``pending`` (its result waits in a batch still running)."""
    error: str | None = None
    cost_usd: float = 0.0
    seconds: float = 0.0
    reason: Reason | None = None
    """Why the plan chose the action (see :mod:`assetgen.reasons`)."""


@dataclass
class BuildReport:
    outcomes: list[AssetOutcome] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    batches: list[dict[str, Any]] = field(default_factory=list)
    """The Batch API batches the build followed: id, status, counts, assets."""

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failed(self) -> list[AssetOutcome]:
        return [o for o in self.outcomes if o.status in ("failed", "skipped")]

    def causes(self) -> dict[str, list[str]]:
        """Each distinct cause of a failed or skipped asset → those assets, in order."""
        from .wording import without_asset

        grouped: dict[str, list[str]] = {}
        for outcome in self.failed:
            cause = without_asset(outcome.error or outcome.status, outcome.name)
            grouped.setdefault(cause, []).append(outcome.name)
        return grouped

    @property
    def remote_reused(self) -> int:
        """Assets whose original came from the remote cache ([cache] remote)."""
        return sum(
            1
            for o in self.outcomes
            if o.status == "reused" and o.reason is not None and o.reason.code == "remote-cache"
        )

    @property
    def cost_usd(self) -> float:
        return round(sum(o.cost_usd for o in self.outcomes), 6)

    def summary(self) -> str:
        return (
            f"{self.count('generated')} generated, {self.count('reused')} reused, "
            f"{self.count('rendered')} rendered, {self.count('fresh')} up to date, "
            f"{len(self.removed)} removed, {self.count('failed')} failed"
            + (f", {self.count('skipped')} skipped" if self.count("skipped") else "")
            + (f", {self.count('pending')} waiting in a batch" if self.count("pending") else "")
            + (f" ({self.remote_reused} from the remote cache)" if self.remote_reused else "")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "generated": self.count("generated"),
            "reused": self.count("reused"),
            "remote_reused": self.remote_reused,
            "rendered": self.count("rendered"),
            "fresh": self.count("fresh"),
            "removed": sorted(self.removed),
            "failed": self.count("failed"),
            "skipped": self.count("skipped"),
            "pending": self.count("pending"),
            "batches": self.batches,
            "cost_usd": self.cost_usd,
            "seconds": round(self.seconds, 3),
            "assets": [
                {
                    "name": o.name,
                    "action": o.action,
                    "status": o.status,
                    "reason": str(o.reason or ""),
                    "reason_code": o.reason.code if o.reason else None,
                    "error": o.error,
                    "cost_usd": o.cost_usd,
                    "seconds": round(o.seconds, 3),
                }
                for o in sorted(self.outcomes, key=lambda o: o.name)
            ],
        }


def timestamp() -> str:
    """UTC now, or ``SOURCE_DATE_EPOCH`` for reproducible builds."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
