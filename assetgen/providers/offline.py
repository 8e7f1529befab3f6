"""The built-in offline provider: deterministic abstract images, no network.

An image is a pure function of the request (seeded from the generation key's
SHA-256 hex, never ``hash()``): the same key gives byte-identical files in
every process, for a given Pillow build (its zlib, WebP and FreeType).

* **generate**: a diagonal gradient between two key-derived colours, soft
  shapes (circles, rounded rectangles, bands) and the prompt's opening words
  on a dark band. ``background = "transparent"`` cuts it to a rounded tile on
  an alpha-0 backdrop. References tint the palette towards their average colour.
* **masked edit**: the base is kept byte for byte outside the mask (white or
  alpha 0 = edit, see :mod:`assetgen.masks`), whatever ``keep_unmasked``
  says; the pattern, sized to the region's bounding box, is painted inside it.
* **edit without a mask**: a "restyle": the base blended 50% with a pattern.
* **provenance**: with ``[provenance] c2pa`` on (``request.c2pa``, part of the
  key), each image carries a C2PA manifest as an image model's would
  (``c2pa.created``, ``trainedAlgorithmicMedia``), signed by a throwaway
  placeholder identity nobody trusts (:func:`assetgen.provenance.placeholder_material`),
  so the whole provenance path runs offline. Signed bytes differ on every run.

Edits come back at the base image's size (``size`` only applies to
generations) so that keeping the unmasked pixels is exact. Shapes are drawn
small and upscaled (fast, soft edges); the caption is drawn at full size.
The drawing lives in :mod:`assetgen.providers.offline_render`, imported only
when an image is made.
"""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from ..errors import SpecError
from ..events import Emit, Event, ignore
from ..masks import check_header
from ..spec_types import DEFAULT_BASE_URL
from .base import ImageRequest, ImageResult, NoOptions, Provider
from .openai.lifecycle import lifecycle_note
from .openai.models import ModelProfile, profile_for
from .openai.profile_check import profile_problems, raise_problems

if TYPE_CHECKING:
    from ..spec_types import ProviderConfig

Color = tuple[int, int, int]
Size = tuple[int, int]

RENDERER_VERSION = 1
"""The offline key revision: bump it when the renderer draws differently."""
AUTO_SIZE: Size = (1024, 1024)
MIN_SIDE, MAX_SIDE = 16, 4096
FORMATS = ("png", "jpeg", "webp")
DRAFT_SIDE = 320  # longest side of the pattern before upscaling
CAPTION_WORDS = 6
TILE_MARGIN, TILE_RADIUS = 0.06, 0.16  # transparent tile, fractions of the short side
MIN_CAPTION_SIDE = 48  # smaller images (or edit regions) get no caption
DEFAULT_QUALITY = 90
PNG_LEVEL = 3  # ~2x faster than zlib's default 6, for ~30% larger files
WEBP_METHOD = 2  # ~3x faster than the default 4, for ~5% larger files
_SIZE = re.compile(r"(\d+)x(\d+)", re.ASCII)


class OfflineProvider(Provider):
    """Renders placeholder art locally: free, instant and reproducible."""

    name = "offline"
    key_revision = RENDERER_VERSION

    def __init__(
        self, config: ProviderConfig, *, options: NoOptions | None = None, emit: Emit = ignore
    ) -> None:
        super().__init__(emit)
        self.config = config
        self._noted: set[str] = set()

    def check(self, request: ImageRequest) -> None:
        """What the configured model would refuse, then what this renderer cannot draw."""
        profile = profile_for(request.model)
        self._note_model(profile)
        raise_problems(profile_problems(profile, request), request)
        parse_size(request.size, asset=request.asset)
        named = [(request.image, "image"), (request.mask, "mask")]
        named += [(ref, f"references[{i}]") for i, ref in enumerate(request.references)]
        for item, field in named:
            if item is not None:
                check_header(item.path, asset=request.asset, field=field)

    def _note_model(self, profile: ModelProfile) -> None:
        """Once per model: the real API would refuse (or soon refuse) a retired model."""
        if profile.id in self._noted:
            return
        self._noted.add(profile.id)
        note = lifecycle_note(profile, date.today(), DEFAULT_BASE_URL, notice_days=0)
        if note is not None:
            level, message = note
            kind = "warning" if level == "error" else level
            self.emit(Event(kind, f"offline build; on OpenAI's API: {message}"))

    def estimate_cost(self, request: ImageRequest) -> float | None:
        return 0.0

    async def generate(self, request: ImageRequest) -> ImageResult:
        self.check(request)
        import asyncio

        from .offline_render import render_all  # Pillow: only once an image is made

        images = await asyncio.to_thread(render_all, request)
        return ImageResult(images, request.output_format, cost_usd=0.0, model=request.model)


def parse_size(size: str, *, asset: str | None = None) -> Size:
    """``WIDTHxHEIGHT`` (each side 16 to 4096) or ``auto`` as a pair of ints."""
    if size == "auto":
        return AUTO_SIZE
    match = _SIZE.fullmatch(size)
    if match and all(MIN_SIDE <= int(side) <= MAX_SIDE for side in match.groups()):
        return int(match[1]), int(match[2])
    raise SpecError(
        f"size {size!r} must be 'auto' or WIDTHxHEIGHT with each side "
        f"between {MIN_SIDE} and {MAX_SIDE}",
        asset=asset,
        field="size",
    )


def caption_text(prompt: str) -> str:
    """The prompt's first few words, with an ellipsis when there are more."""
    words = prompt.split()
    text = " ".join(words[:CAPTION_WORDS])
    return text + "…" if len(words) > CAPTION_WORDS else text
