"""assetgen-solid: flat-colour placeholder images, a third-party assetgen provider.

The example of ``docs/extending.md``: one module, one entry point
(``pyproject.toml``), an options dataclass for ``[provider.solid]``, one for
each asset's ``[asset.solid]`` and a green run of
:mod:`assetgen.providers.contract`. Each image is one colour from the
generation key with a shape in the middle; a masked edit paints the colour
inside the mask only.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw

from assetgen.errors import SpecError
from assetgen.events import Emit, ignore
from assetgen.masks import edit_region
from assetgen.providers.base import ImageRequest, ImageResult, Provider
from assetgen.spec_types import ProviderConfig

SIZE = re.compile(r"([1-9][0-9]*)x([1-9][0-9]*)")
COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
AUTO_SIDE = 256


def check_tint(tint: str | None) -> None:
    if tint is not None and not COLOUR.fullmatch(tint):
        raise ValueError(f"tint must be a colour like '#ff8800', got {tint!r}")


@dataclass(frozen=True)
class SolidOptions:
    """``[provider.solid]``: what this provider lets a spec set."""

    max_side: int = 2048
    """Largest width or height drawn; a larger ``size`` is refused before anything runs."""
    shape: Literal["square", "circle"] = "square"
    """What is drawn in the middle of each image."""
    tint: str | None = None
    """A ``#rrggbb`` colour mixed into every image."""

    def __post_init__(self) -> None:
        if self.max_side < 16:
            raise ValueError(f"max_side must be at least 16, got {self.max_side}")
        check_tint(self.tint)


@dataclass(frozen=True)
class SolidAssetOptions:
    """``[asset.solid]`` (over ``[defaults.solid]``): what one asset may set."""

    tint: str | None = None
    """A ``#rrggbb`` colour mixed into this asset's images, instead of ``[provider.solid]``'s."""

    def __post_init__(self) -> None:
        check_tint(self.tint)


class SolidProvider(Provider):
    """Flat colour from the key, a shape in the middle; PNG only, no reference images."""

    name = "solid"
    key_revision = 1
    options_class = SolidOptions
    asset_options_class = SolidAssetOptions

    def __init__(
        self, config: ProviderConfig, *, options: SolidOptions, emit: Emit = ignore
    ) -> None:
        super().__init__(emit)
        self.options = options

    def check(self, request: ImageRequest) -> None:
        """Refuse, before anything runs, what this provider cannot draw."""
        width, height = self.dimensions(request)
        if max(width, height) > self.options.max_side:
            raise SpecError(
                f"{request.size} is larger than [provider.solid] max_side = "
                f"{self.options.max_side}",
                asset=request.asset,
                field="size",
            )
        if request.output_format != "png":
            raise SpecError("solid makes png only", asset=request.asset, field="output_format")
        if request.references:
            raise SpecError("solid takes no references", asset=request.asset, field="references")

    def dimensions(self, request: ImageRequest) -> tuple[int, int]:
        if request.size == "auto":
            return AUTO_SIDE, AUTO_SIDE
        match = SIZE.fullmatch(request.size)
        if match is None:
            raise SpecError(f"cannot read size {request.size!r}", asset=request.asset, field="size")
        return int(match[1]), int(match[2])

    async def generate(self, request: ImageRequest) -> ImageResult:
        images = tuple(self.draw(request, index) for index in range(request.n))
        return ImageResult(images, format="png", cost_usd=0.0, model=request.model)

    def draw(self, request: ImageRequest, index: int) -> bytes:
        colour = self.colour(f"{request.key}#{index}", self.tint(request))
        if request.image is not None:
            image = self.edit(request, colour)
        else:
            image = self.tile(self.dimensions(request), colour, request.background)
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    def tint(self, request: ImageRequest) -> str | None:
        """The asset's own tint (``[asset.solid]``), else the provider's."""
        own: SolidAssetOptions = request.asset_options or SolidAssetOptions()
        return own.tint if own.tint is not None else self.options.tint

    def colour(self, seed: str, tint_colour: str | None) -> tuple[int, int, int]:
        red, green, blue = hashlib.sha256(seed.encode()).digest()[:3]
        if tint_colour is not None:
            tint = bytes.fromhex(tint_colour[1:])
            red, green, blue = ((a + b) // 2 for a, b in zip((red, green, blue), tint, strict=True))
        return red, green, blue

    def tile(
        self, size: tuple[int, int], colour: tuple[int, int, int], background: str
    ) -> Image.Image:
        transparent = background == "transparent"
        image = Image.new(
            "RGBA" if transparent else "RGB", size, (0, 0, 0, 0) if transparent else colour
        )
        box = (size[0] // 4, size[1] // 4, 3 * size[0] // 4, 3 * size[1] // 4)
        fill = (255 - colour[0], 255 - colour[1], 255 - colour[2], 255)
        draw = ImageDraw.Draw(image)
        (draw.ellipse if self.options.shape == "circle" else draw.rectangle)(box, fill=fill)
        return image

    def edit(self, request: ImageRequest, colour: tuple[int, int, int]) -> Image.Image:
        """The base image with ``colour`` painted where the mask says (all of it, unmasked)."""
        assert request.image is not None
        with Image.open(request.image.path) as opened:
            base = opened.convert("RGB")
        if request.mask is None:
            return Image.new("RGB", base.size, colour)
        region = edit_region(request.mask.path, base.size, asset=request.asset)
        return Image.composite(Image.new("RGB", base.size, colour), base, region)
