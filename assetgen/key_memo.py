"""Keys an earlier plan of the same expansion computed, so a no-op hashes nothing again.

A key is canonical JSON plus SHA-256 of what shapes an image: three per asset
(its generation and two variants, typically), about a fifth of a 5,000-asset
no-op build. Each is a pure function of the expanded asset and of what the
planner learns only while planning:

* a generation key: the provider's name and key revision, and the content hash
  of each input (``@asset`` inputs are resolved to their original's hash then);
* a variant key: the variant's position in the asset, and the original's hash
  and size (a width past the original's is clamped to it).

The memo maps exactly those, with the asset's name and the *token* of the
expansion of its ``[[asset]]`` table, to the key. The state cache draws a new
random token every time it renders a table again
(:meth:`~assetgen.state_cache.StateCache.assets`), so a key is never taken
for assets other than those it was computed from (prompts, parameters and
recipes are all inside them), while the keys of tables an edit did not touch
stay known; assetgen's code fingerprint retires the memo with any change to
how keys are made. Everything else about the memo's file is
the state cache's: authenticated, bounded, and a miss whenever in doubt.

Each index is one string (the parts joined by NUL, which no name, hash or
provider name contains): a dict of strings unpickles several times faster
than one of tuples, and the memo is read by every no-op.

What is kept is what the last plan used, so the memo stays as large as the
project (a key no longer looked up is dropped at the next write).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .graph import Asset, generation_key, variant_key
from .provider_registry import key_revision


class KeyMemo:
    """Known keys by what they were computed from; counts what a plan added or dropped."""

    def __init__(
        self, known: dict[str, str] | None = None, *, tokens: Mapping[int, str] | None = None
    ) -> None:
        self.known: dict[str, str] = known or {}
        self.tokens: Mapping[int, str] = tokens or {}
        """The token of each ``[[asset]]`` table's expansion, by table index: a key is
        known only for the very expansion it was computed from."""
        self.used: dict[str, str] = {}
        self.added = 0
        self._revisions: dict[str, int] = {}

    def generation(self, provider: str, asset: Asset) -> str:
        token = self.tokens.get(asset.spec.index)
        if token is None:  # no expansion token: nothing to remember the key by
            return generation_key(provider, asset)
        revision = self._revisions.get(provider)
        if revision is None:
            revision = self._revisions[provider] = key_revision(provider)
        inputs = ",".join(ref.sha256 or "" for ref in asset.inputs)
        index = f"g\0{token}\0{asset.name}\0{provider}\0{revision}\0{inputs}"
        return self._lookup(index, lambda: generation_key(provider, asset))

    def variant(
        self, asset: Asset, position: int, original: tuple[str, int, int], recipe: dict[str, Any]
    ) -> str:
        """The key of variant ``position`` of ``asset`` made from ``original`` (sha256,
        width, height), whose effective recipe is ``recipe``."""
        token = self.tokens.get(asset.spec.index)
        if token is None:
            return variant_key(original[0], recipe)
        sha256, width, height = original
        index = f"v\0{token}\0{asset.name}\0{position}\0{sha256}\0{width}\0{height}"
        return self._lookup(index, lambda: variant_key(sha256, recipe))

    def _lookup(self, index: str, compute: Callable[[], str]) -> str:
        key = self.known.get(index)
        if key is None:
            key = self.known[index] = compute()
            self.added += 1
        self.used[index] = key
        return key

    @property
    def changed(self) -> bool:
        """Whether what a plan used differs from what was known (worth writing)."""
        return self.added > 0 or len(self.used) < len(self.known)
