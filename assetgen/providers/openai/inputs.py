"""Input images of an edit, checked and prepared locally before any money is spent.

:func:`inspect_inputs` reads only file sizes and image headers (cheap, for
``Provider.check``); :func:`prepare_inputs` also reads the bytes and turns a
black-and-white mask into the PNG-with-alpha form the API wants. Both raise
:class:`~assetgen.errors.InputImageError` naming the asset, the field and the
file. :func:`encode_kept` puts the base image back outside the mask.
"""

from __future__ import annotations

import io
import stat
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ... import masks
from ...errors import InputImageError
from ..base import ImageRequest, InputImage
from .models import ModelProfile

# Pillow opens some camera JPEGs as MPO (JPEG with extra frames); the API reads them as JPEG.
MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "MPO": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "MPO": ".jpg", "WEBP": ".webp"}


@dataclass(frozen=True)
class FilePart:
    """One file of a multipart body."""

    field: str
    """``image``, ``image[]`` or ``mask``."""
    filename: str
    data: bytes
    mime: str


@dataclass(frozen=True)
class PreparedInputs:
    """The file parts of an edit and, for a masked edit, what keep_unmasked needs."""

    files: tuple[FilePart, ...]
    base: bytes | None = None
    """The base image's bytes (masked edits only)."""
    region: Image.Image | None = None
    """``L`` image, 255 where the model may edit (masked edits only)."""


def _labelled(request: ImageRequest) -> list[tuple[InputImage, str]]:
    """Each input image with the spec field that named it, base image first."""
    first = [(request.image, "image")] if request.image is not None else []
    return first + [(ref, f"references[{i}]") for i, ref in enumerate(request.references)]


def _fail(message: str, request: ImageRequest, field: str) -> InputImageError:
    return InputImageError(message, asset=request.asset, field=field)


def _inspect(item: InputImage, field: str, limit: int, request: ImageRequest) -> Image.Image:
    """The opened (not decoded) image, after its byte size and format are checked."""
    try:
        info = item.path.stat()
    except OSError as exc:
        raise _fail(f"cannot read {item.path.name}: {exc.strerror}", request, field) from exc
    if not stat.S_ISREG(info.st_mode):
        raise _fail(f"{item.path.name} is not a regular file", request, field)
    size = info.st_size
    if size > limit:
        raise _fail(
            f"{item.path.name} is {size / 2**20:.1f} MB; the API takes at most "
            f"{limit // 2**20} MB per file",
            request,
            field,
        )
    try:
        image = Image.open(item.path)
    except masks.unreadable() as exc:
        reason = exc or type(exc).__name__  # a bomb's reason names its pixel count
        raise _fail(
            f"{item.path.name} is not an image Pillow can read: {reason}", request, field
        ) from exc
    try:
        masks.check_pixels(image, item.path.name, asset=request.asset, field=field)
    except InputImageError:
        image.close()
        raise
    if image.format not in MIME_TYPES and field != "mask":
        image.close()
        raise _fail(
            f"{item.path.name} is {image.format}; the API takes PNG, JPEG or WebP", request, field
        )
    return image


def inspect_inputs(request: ImageRequest, profile: ModelProfile) -> tuple[int, int] | None:
    """Check count, file size, format and mask dimensions; the first image's size."""
    inputs = request.inputs
    if len(inputs) > profile.max_inputs:
        raise _fail(
            f"{len(inputs)} input images (base and references); the API takes at most "
            f"{profile.max_inputs}",
            request,
            "references",
        )
    if request.mask is not None and request.image is None:
        raise _fail("a mask needs a base image to apply to", request, "mask")
    first: tuple[int, int] | None = None
    for item, field in _labelled(request):
        with _inspect(item, field, profile.max_input_bytes, request) as image:
            first = first or image.size
    if request.mask is not None and first is not None:
        with _inspect(request.mask, "mask", profile.max_input_bytes, request) as mask:
            _check_mask_size(mask.size, first, request)
    return first


def _check_mask_size(size: tuple[int, int], base: tuple[int, int], request: ImageRequest) -> None:
    assert request.mask is not None and request.image is not None
    if size != base:
        raise _fail(
            f"mask {request.mask.path.name} is {size[0]}x{size[1]} but the base image "
            f"{request.image.path.name} is {base[0]}x{base[1]}; a mask must have the base "
            "image's dimensions",
            request,
            "mask",
        )


def _part(item: InputImage, field: str) -> FilePart:
    data = item.path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        kind = image.format or "PNG"
    return FilePart(field, item.path.stem + EXTENSIONS[kind], data, MIME_TYPES[kind])


def prepare_inputs(
    request: ImageRequest, profile: ModelProfile, image_field: str = "auto"
) -> PreparedInputs:
    """Checked file parts: the images first (``image[]`` when several), then the mask.

    ``image_field`` other than ``auto`` names every image part so (relays).
    """
    size = inspect_inputs(request, profile)
    inputs = request.inputs
    name = image_field
    if image_field == "auto":
        name = "image" if len(inputs) == 1 else "image[]"
    files = [_part(item, name) for item in inputs]
    if request.mask is None or request.image is None or size is None:
        return PreparedInputs(tuple(files))
    region = masks.edit_region(request.mask.path, size, asset=request.asset)
    mask = _mask_part(request.mask, region, profile, request)
    return PreparedInputs((*files, mask), base=files[0].data, region=region)


def _mask_part(
    mask: InputImage, region: Image.Image, profile: ModelProfile, request: ImageRequest
) -> FilePart:
    data = mask.path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        ready = image.format == "PNG" and masks.has_alpha(image)
    if not ready:
        data = masks.api_mask_png(region)
    if len(data) > profile.max_mask_bytes:
        raise _fail(
            f"mask {mask.path.name} is {len(data) / 2**20:.1f} MB as a PNG; the API takes "
            f"at most {profile.max_mask_bytes // 2**20} MB",
            request,
            "mask",
        )
    return FilePart("mask", Path(mask.path.name).stem + ".png", data, "image/png")


def encode_kept(
    base: bytes, result: bytes, region: Image.Image, output_format: str, compression: int | None
) -> bytes:
    """``result`` inside the region and ``base`` outside, encoded as ``output_format``.

    PNG, and WebP without a compression below 100, are lossless: every pixel
    outside the mask is exactly the base image's.
    """
    with Image.open(io.BytesIO(base)) as base_image, Image.open(io.BytesIO(result)) as new:
        merged = masks.keep_unmasked(base_image, new, region)
    level = 100 if compression is None else compression
    buffer = io.BytesIO()
    if output_format == "jpeg":
        merged.convert("RGB").save(buffer, format="JPEG", quality=level)
    elif output_format == "webp":
        merged.save(buffer, format="WEBP", lossless=level == 100, quality=level)
    else:
        merged.save(buffer, format="PNG")
    return buffer.getvalue()


def sniff_format(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``webp`` from the file's magic bytes."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def input_sizes(request: ImageRequest) -> list[tuple[int, int] | None]:
    """Each input image's dimensions from its header (for estimates); ``None`` if unreadable."""
    sizes: list[tuple[int, int] | None] = []
    for item in request.inputs:
        if item.pending:  # an @asset input not made yet
            sizes.append(None)
            continue
        try:
            with Image.open(item.path) as image:
                sizes.append(image.size)
        except (OSError, UnidentifiedImageError, Image.DecompressionBombError):
            sizes.append(None)
    return sizes
