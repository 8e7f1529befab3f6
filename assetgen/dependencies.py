"""Assets made from other assets: ``@name`` inputs, their order and their cycles.

An input written ``"@mascot"`` (``image``, ``mask`` or a ``references``
item) is the *selected original* of the asset named ``mascot``. Here:
ordering assets so each comes after what it is made from, selecting with
upstreams, drawing the graph, and resolving an asset's references once the
originals they name are known. That every reference names an asset and that
there are no cycles is checked by :mod:`assetgen.graph` while expanding.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from .graph import Asset, InputRef


class Original(Protocol):
    """What resolving needs of an original (a ``LockOriginal`` has it)."""

    @property
    def path(self) -> str: ...

    @property
    def sha256(self) -> str: ...


def topological(assets: list[Asset]) -> list[Asset]:
    """Assets ordered so each follows what it is made from (spec order otherwise)."""
    by_name = {asset.name: asset for asset in assets}
    ordered: list[Asset] = []
    placed: set[str] = set()

    def place(asset: Asset) -> None:
        if asset.name in placed:
            return
        placed.add(asset.name)
        for upstream in asset.upstreams:
            if upstream in by_name:
                place(by_name[upstream])
        ordered.append(asset)

    for asset in assets:
        place(asset)
    return ordered


def dependents(assets: list[Asset]) -> dict[str, list[str]]:
    """For every asset, the assets made directly from it."""
    below: dict[str, list[str]] = {asset.name: [] for asset in assets}
    for asset in assets:
        for upstream in asset.upstreams:
            below.setdefault(upstream, []).append(asset.name)
    return below


def with_upstreams(assets: list[Asset], chosen: set[str]) -> set[str]:
    """``chosen`` plus everything they are made from, transitively."""
    by_name = {asset.name: asset for asset in assets}
    found: set[str] = set()
    pending = list(chosen)
    while pending:
        name = pending.pop()
        if name in found or name not in by_name:
            continue
        found.add(name)
        pending.extend(by_name[name].upstreams)
    return found


def resolve(asset: Asset, originals: Mapping[str, Original], root: Path) -> Asset:
    """The asset with its ``@name`` inputs pointing at those assets' originals."""
    if asset.resolved:
        return asset

    def concrete(ref: InputRef) -> InputRef:
        if ref.upstream is None:
            return ref
        original = originals[ref.upstream]
        return replace(ref, path=root / original.path, sha256=original.sha256)

    return replace(asset, inputs=tuple(concrete(ref) for ref in asset.inputs))


def tree_lines(assets: list[Asset], label: Callable[[str], str]) -> list[str]:
    """The dependency forest as text: each asset under what it is made from."""
    below = dependents(assets)
    lines: list[str] = []

    def walk(name: str, prefix: str, connector: str, child_prefix: str) -> None:
        lines.append(f"{prefix}{connector}{label(name)}")
        children = below.get(name, [])
        for index, child in enumerate(children):
            last = index == len(children) - 1
            walk(
                child,
                prefix + child_prefix,
                "└── " if last else "├── ",
                "    " if last else "│   ",
            )

    for asset in assets:
        if not asset.upstreams:
            walk(asset.name, "", "", "")
    return lines


DOT_COLOURS = {"generate": "#ffd6a5", "reuse": "#caffbf", "render": "#bde0fe", "fresh": "#eeeeee"}


def dot(assets: list[Asset], actions: Mapping[str, str]) -> str:
    """Graphviz DOT of the dependency graph, nodes coloured by planned action."""
    lines = [
        "digraph assetgen {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
    ]
    for asset in assets:
        action = actions.get(asset.name, "fresh")
        colour = DOT_COLOURS.get(action, "#ffffff")
        lines.append(f'  "{asset.name}" [label="{asset.name}\\n{action}", fillcolor="{colour}"];')
    for asset in assets:
        for ref in asset.inputs:
            if ref.upstream:
                lines.append(f'  "{ref.upstream}" -> "{asset.name}" [label="{ref.role}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"
