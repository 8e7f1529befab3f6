"""Edit masks: one convention for every provider.

People draw masks in two ways, and both work:

* **black and white** (or greyscale, no alpha): **white marks the region to
  edit**, black is kept. Grey levels blend.
* **PNG with alpha** (the Images API's own form): **transparent pixels
  (alpha 0) mark the region to edit**, opaque pixels are kept.

:func:`edit_region` reads either form into an ``L`` image where 255 means
"edit here"; :func:`api_mask_png` writes the API's form; :func:`keep_unmasked`
puts the base image back outside the region, byte for byte.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import InputImageError
from .hashing import open_regular
from .limits import MAX_INPUT_PIXELS

if TYPE_CHECKING:
    from PIL import Image as PILImage


def unreadable() -> tuple[type[BaseException], ...]:
    """What Pillow raises for a file it cannot read as an image, bombs included.

    One list for every reader of images (inputs, originals), so a damaged or
    hostile file is always a located error and never an internal one.
    """
    from PIL import Image, UnidentifiedImageError

    return (
        OSError,
        UnidentifiedImageError,
        SyntaxError,
        ValueError,
        EOFError,
        MemoryError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    )


def check_pixels(image: PILImage.Image, name: str, *, asset: str | None, field: str) -> None:
    """Refuse an opened (not yet decoded) image over :data:`~assetgen.limits.MAX_INPUT_PIXELS`."""
    width, height = image.size
    if width * height > MAX_INPUT_PIXELS:
        raise InputImageError(
            f"{name} is {width}x{height} pixels; input images may have at most "
            f"{MAX_INPUT_PIXELS:,} pixels (8192x8192)",
            asset=asset,
            field=field,
        )


def check_header(path: Path, *, asset: str | None, field: str) -> None:
    """Check that ``path`` is a regular image file within the pixel limit, decoding nothing."""
    from PIL import Image

    try:
        with os.fdopen(open_regular(path), "rb") as handle, Image.open(handle) as image:
            check_pixels(image, path.name, asset=asset, field=field)
    except InputImageError:
        raise
    except (Exception, Image.DecompressionBombWarning) as exc:
        raise InputImageError(
            f"cannot read image {path.name}: {exc or type(exc).__name__}", asset=asset, field=field
        ) from exc


def open_image(path: Path, *, asset: str | None, field: str) -> PILImage.Image:
    """Read an input image fully, or raise InputImageError naming asset, field and file.

    Only regular files are read (a FIFO or device would hang), and the pixel
    count in the header is checked before a single pixel is decoded.
    """
    from PIL import Image

    try:
        with os.fdopen(open_regular(path), "rb") as handle, Image.open(handle) as image:
            check_pixels(image, path.name, asset=asset, field=field)
            image.load()
            return image
    except unreadable() as exc:
        raise InputImageError(
            f"cannot read image {path.name}: {exc or type(exc).__name__}", asset=asset, field=field
        ) from exc


def has_alpha(image: PILImage.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


def edit_region(path: Path, size: tuple[int, int], *, asset: str | None = None) -> PILImage.Image:
    """The mask at ``path`` as an ``L`` image, 255 where the image is to be edited.

    Raises :class:`InputImageError` when the mask's dimensions differ from
    ``size`` (the base image's): the API refuses such masks, and a silent
    resize would edit the wrong pixels.
    """
    mask = open_image(path, asset=asset, field="mask")
    if mask.size != size:
        raise InputImageError(
            f"mask {path.name} is {mask.size[0]}x{mask.size[1]} but the base image is "
            f"{size[0]}x{size[1]}; a mask must have the base image's dimensions",
            asset=asset,
            field="mask",
        )
    if has_alpha(mask):
        alpha = mask.convert("RGBA").getchannel("A")
        return alpha.point(lambda value: 255 - value)
    return mask.convert("L")


def api_mask_png(region: PILImage.Image) -> bytes:
    """Encode an edit region as the PNG-with-alpha mask the Images API wants."""
    from PIL import Image

    rgba = Image.new("RGBA", region.size, (0, 0, 0, 255))
    rgba.putalpha(region.point(lambda value: 255 - value))
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def keep_unmasked(
    base: PILImage.Image, result: PILImage.Image, region: PILImage.Image
) -> PILImage.Image:
    """``result`` inside the edit region, ``base`` everywhere else.

    Pixels where the region is 0 come from ``base`` unchanged; the result is
    resized to the base's size first when the model answered another size.
    """
    from PIL import Image

    mode = "RGBA" if has_alpha(base) or has_alpha(result) else "RGB"
    base = base.convert(mode)
    result = result.convert(mode)
    if result.size != base.size:
        result = result.resize(base.size, Image.Resampling.LANCZOS)
    return Image.composite(result, base, region)
