"""``build --shard K/N``: a deterministic split of a project's generations across N CI jobs.

Assets made from one another (``@name`` inputs) stay together: the assets are
grouped into the connected components of the input graph, and each component
goes to shard ``sha256(sorted names) mod N``. The hash is of the names only, so
every job computes the same partition from the same spec on any machine and
Python (never ``hash()``, which is salted per process); adding an asset moves
only its own component.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from .errors import UsageError
from .graph import Asset
from .plan import Plan

MAX_SHARDS = 256
"""The most jobs one build may be split into."""

_SHARD = re.compile(r"\s*(\d{1,4})\s*/\s*(\d{1,4})\s*")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (both from 1)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"K/N"`` with 1 ≤ K ≤ N ≤ 256; anything else is a usage error naming ``--shard``."""
    found = _SHARD.fullmatch(text)
    if found:
        index, count = int(found[1]), int(found[2])
        if 1 <= index <= count <= MAX_SHARDS:
            return Shard(index, count)
    raise UsageError(
        f"--shard {text!r}: expected K/N with 1 ≤ K ≤ N ≤ {MAX_SHARDS}, e.g. --shard 2/4"
    )


def components(assets: list[Asset]) -> list[list[str]]:
    """The connected components of the ``@name`` input graph, each as sorted names."""
    parent = {asset.name: asset.name for asset in assets}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    for asset in assets:
        for upstream in asset.upstreams:
            if upstream in parent:
                parent[root(asset.name)] = root(upstream)
    groups: dict[str, list[str]] = {}
    for name in parent:
        groups.setdefault(root(name), []).append(name)
    return sorted(sorted(group) for group in groups.values())


def shard_of(names: list[str], count: int) -> int:
    """The shard (from 1) a component of these asset names belongs to."""
    digest = hashlib.sha256("\n".join(sorted(names)).encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard_names(assets: list[Asset], shard: Shard) -> set[str]:
    """The names of the assets shard ``shard`` builds."""
    return {
        name
        for group in components(assets)
        if shard_of(group, shard.count) == shard.index
        for name in group
    }


def shard_plan(plan: Plan, shard: Shard) -> Plan:
    """Only the steps of ``shard``'s assets (removals are left to the assemble build)."""
    chosen = shard_names([step.asset for step in plan.steps], shard)
    steps = [step for step in plan.steps if step.name in chosen]
    return Plan(steps=steps, removals=[], planner=plan.planner, notes=plan.notes)
