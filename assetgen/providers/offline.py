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

Edits come back at the base image's size (``size`` only applies to
generations) so that keeping the unmasked pixels is exact. Shapes are drawn
small and upscaled (fast, soft edges); the caption is drawn at full size.
"""

from __future__ import annotations

import asyncio
import colorsys
import hashlib
import io
import random
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageChops, ImageDraw, ImageFont

from ..errors import SpecError
from ..events import Emit, Event, ignore
from ..masks import check_header, edit_region, has_alpha, open_image
from ..spec_types import DEFAULT_BASE_URL
from .base import ImageRequest, ImageResult, NoOptions, Provider
from .lifecycle import lifecycle_note
from .models import ModelProfile, profile_for
from .profile_check import profile_problems, raise_problems

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


def render_all(request: ImageRequest) -> tuple[bytes, ...]:
    """Every candidate of ``request``, encoded (blocking: run it in a thread)."""
    tints = [_average_colour(ref.path, request.asset) for ref in request.references]
    indexes = range(max(1, request.n))
    if request.image is None:
        size = parse_size(request.size)
        images = [_render(size, request, index, tints) for index in indexes]
    else:
        base = open_image(request.image.path, asset=request.asset, field="image")
        mask = request.mask
        region = edit_region(mask.path, base.size, asset=request.asset) if mask else None
        images = [_render_edit(base, region, request, index, tints) for index in indexes]
    return tuple(
        _encode(image, request.output_format, request.output_compression) for image in images
    )


def _render(size: Size, request: ImageRequest, index: int, tints: list[Color]) -> Image.Image:
    """One candidate: RGB, or RGBA with a rounded tile on alpha 0 when transparent."""
    rng = _rng(request.key, index)
    palette = _palette(rng, tints)
    if request.background != "transparent":
        return _picture(size, rng, palette, request.prompt, 0)
    margin = round(min(size) * TILE_MARGIN)
    inner = (max(1, size[0] - 2 * margin), max(1, size[1] - 2 * margin))
    radius = round(min(inner) * TILE_RADIUS)
    canvas = Image.new("RGBA", size, (0, 0, 0, 0))
    tile = Image.new("L", inner, 0)
    ImageDraw.Draw(tile).rounded_rectangle((0, 0, inner[0] - 1, inner[1] - 1), radius, fill=255)
    canvas.paste(_picture(inner, rng, palette, request.prompt, radius), (margin, margin), tile)
    return canvas


def _picture(
    size: Size, rng: random.Random, palette: list[Color], prompt: str, inset: int
) -> Image.Image:
    image = _pattern(size, rng, palette)
    if min(size) >= MIN_CAPTION_SIDE:
        _caption(image, caption_text(prompt), inset, palette[0])
    return image


def _render_edit(
    base: Image.Image,
    region: Image.Image | None,
    request: ImageRequest,
    index: int,
    tints: list[Color],
) -> Image.Image:
    mode = "RGBA" if has_alpha(base) or request.background == "transparent" else "RGB"
    base = base.convert(mode)
    if region is None:
        return Image.blend(base, _render(base.size, request, index, tints).convert(mode), 0.5)
    box = region.getbbox()
    if box is None:
        return base
    patch = _render((box[2] - box[0], box[3] - box[1]), request, index, tints)
    painted = base.copy()
    painted.paste(patch.convert(mode), box[:2])
    return Image.composite(painted, base, region)


def _rng(key: str, index: int) -> random.Random:
    digest = hashlib.sha256(f"{key}#{index}".encode()).hexdigest()
    return random.Random(int(digest, 16))


def _palette(rng: random.Random, tints: list[Color]) -> list[Color]:
    """Five harmonious colours: two gradient ends, then three for shapes."""
    hue, spread = rng.random(), rng.uniform(0.06, 0.18)
    colours = [
        _hsv(hue + step * spread, rng.uniform(0.35, 0.8), rng.uniform(0.55, 0.95))
        for step in range(5)
    ]
    for tint in tints:
        colours = [_mix(colour, tint, 0.45) for colour in colours]
    return colours


def _hsv(hue: float, saturation: float, value: float) -> Color:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _mix(a: Color, b: Color, weight: float) -> Color:
    red, green, blue = (round(x + (y - x) * weight) for x, y in zip(a, b, strict=True))
    return red, green, blue


def _pattern(size: Size, rng: random.Random, palette: list[Color]) -> Image.Image:
    """Gradient and translucent shapes, drawn small and upscaled to ``size`` (RGB).

    Drawn at twice the draft size and halved, so the shapes' edges are
    anti-aliased before the upscale softens them.
    """
    scale = min(1.0, DRAFT_SIDE / max(size))
    draft = (2 * max(1, round(size[0] * scale)), 2 * max(1, round(size[1] * scale)))
    canvas = _gradient(draft, palette[0], palette[1])
    draw = ImageDraw.Draw(canvas, "RGBA")  # RGBA ink blends into the RGB canvas
    for _ in range(4 + int(rng.random() * 4)):
        colour = palette[2 + int(rng.random() * 3)]
        _shape(draw, draft, rng, (*colour, 130 + int(rng.random() * 110)))
    return canvas.reduce(2).resize(size, Image.Resampling.BILINEAR)


def _gradient(size: Size, start: Color, end: Color) -> Image.Image:
    ramp = Image.linear_gradient("L")
    diagonal = ImageChops.add(ramp.resize(size), ramp.rotate(90).resize(size), scale=2.0)
    return Image.composite(Image.new("RGB", size, start), Image.new("RGB", size, end), diagonal)


def _shape(
    draw: ImageDraw.ImageDraw, size: Size, rng: random.Random, fill: tuple[int, ...]
) -> None:
    """One circle, rounded rectangle or slanted band."""
    width, height = size
    x, y = rng.random() * width, rng.random() * height
    extent = rng.uniform(0.1, 0.35) * min(size)
    kind = rng.random()
    if kind < 0.4:
        draw.ellipse((x - extent, y - extent, x + extent, y + extent), fill=fill)
    elif kind < 0.75:
        box = (x - extent, y - extent * 0.6, x + extent, y + extent * 0.6)
        draw.rounded_rectangle(box, radius=extent * 0.3, fill=fill)
    else:
        slant, thickness = rng.uniform(-0.5, 0.5) * height, extent * 0.5
        points = [(0, y), (width, y + slant), (width, y + slant + thickness), (0, y + thickness)]
        draw.polygon(points, fill=fill)


def _caption(image: Image.Image, text: str, inset: int, tone: Color) -> None:
    """Darken a band near the bottom and write ``text`` on it, centred.

    ``inset`` lifts the band above a tile's rounded corners.
    """
    width, height = image.size
    band_height = max(14, round(height * 0.11))
    bottom = height - max(inset, round(height * 0.04))
    band = (0, bottom - band_height, width, bottom)
    region = image.crop(band)
    dark = Image.new("RGB", region.size, _mix(tone, (0, 0, 0), 0.8))
    image.paste(Image.blend(region, dark, 0.65), band[:2])
    font = _fitting_font(text, round(band_height * 0.55), width * 0.9)
    centre = (width / 2, bottom - band_height / 2)
    ImageDraw.Draw(image).text(centre, text, font=font, fill=(250, 248, 240), anchor="mm")


def _fitting_font(text: str, size: int, max_width: float) -> ImageFont.FreeTypeFont:
    font = _font(size)
    width = font.getlength(text)
    if width > max_width:
        font = _font(max(6, int(size * max_width / width)))
    return font


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


def _average_colour(path: Path, asset: str) -> Color:
    image = open_image(path, asset=asset, field="references").convert("RGB")
    return image.resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))  # type: ignore[return-value]


def _encode(image: Image.Image, fmt: str, compression: int | None) -> bytes:
    buffer = io.BytesIO()
    quality = DEFAULT_QUALITY if compression is None else compression
    if fmt == "png":
        image.save(buffer, format="PNG", optimize=False, compress_level=PNG_LEVEL)
    elif fmt == "webp":
        image.save(buffer, format="WEBP", quality=quality, method=WEBP_METHOD)
    else:
        if image.mode == "RGBA":
            flat = Image.new("RGB", image.size, (255, 255, 255))
            flat.paste(image, mask=image.getchannel("A"))
            image = flat
        image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
