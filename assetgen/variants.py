"""Variants: the output files derived from an original, with Pillow.

The build's CPU hot path. :func:`render_job` runs in a worker (:func:`make_pool`),
decodes one original once and writes all of that asset's variants; jobs and
results are frozen dataclasses, so they pickle. A result is the lock's own
:class:`~assetgen.lockfile.LockVariant` (path relative to the job's ``root``,
the encoder named), so the build stores what a worker returns as it is.

**Fit** follows CSS ``object-fit`` and sharp. One of width/height keeps the
aspect ratio; neither keeps the original size. With both, ``cover`` fills the
box and centre-crops the overflow, ``contain`` fits the whole image and pads
to exactly the box (transparent for PNG/WebP/AVIF unless the variant sets its
own ``background``; the resolved background for JPEG), ``inside`` fits within
the box with no padding.

**No upscaling** unless ``upscale``: the scale factor is capped at 1. For
``inside`` and one-sided sizes the image stays at its original size; for
``cover``/``contain`` the box keeps the asked shape but shrinks by the factor
the image would have grown: from 1536x1024, ``cover`` 2000x2000 gives
1024x1024 and ``contain`` 3000x3000 gives 1536x1536 (padded above and below).

**Filenames** take the output's *actual* size for ``{width}``/``{height}``
(so ``480w`` is true in a srcset). Two targets of a job that land on one path
are written once if their bytes agree, else a :class:`SpecError`.

**Encoders**, measured with ``benchmarks/bench_variants.py --encoders``
(480/960/1536 wide from a 1536x1024 illustration, grainy / flat with alpha).
A variant is encoded once and served many times, so a few percent of bytes is
worth a few hundred milliseconds of one build:

* PNG zlib level 6: 3-5% smaller than level 4 for <= 2.2x its time; level 9
  saves 0.7-5% more for 7-10x.
* JPEG progressive + optimised tables: 5-6% smaller than baseline, +35 ms.
* WebP ``method=4`` (libwebp's default): 3-5% smaller than method 2 for 2-2.5x
  its time. Method 6 gains 3% more but took 15x on an image with alpha.
  Lossless: ``quality`` is libwebp's effort and passes through, as in sharp.
* AVIF ``speed=6`` (Pillow's default; speed 8 is 3-8x faster but 30-45%
  larger) on one thread: libaom's output differs between one and several
  threads, and variants must be byte-identical on every machine. ``lossless``
  means quality 100 with 4:4:4 chroma, as close as Pillow gets.

Resampling is Lanczos with ``reducing_gap=3.0``; targets of one size share a
resize, and a variant at the original size is not resampled.

**Metadata**: EXIF orientation is applied, then everything but an ICC profile
is stripped. With provenance, every format gets an XMP packet (``dc:title`` =
asset, ``dc:description`` = prompt, ``xmp:CreatorTool`` = ``assetgen
(model)``) and PNG also the standard keywords ``Title``, ``Description`` and
``Software`` that viewers show. Nothing depends on time: the same original and
target give the same bytes.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import io
import multiprocessing
import os
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

import PIL
from PIL import Image, ImageColor, ImageOps, PngImagePlugin

from .errors import AssetgenError, SpecError
from .filenames import (
    EXTENSIONS,
    format_supported,
)
from .fsutil import atomic_write_bytes, is_within
from .limits import MAX_INPUT_PIXELS, MAX_VARIANT_SIDE
from .lockfile import LockVariant
from .masks import unreadable
from .spec_types import VariantSpec

if TYPE_CHECKING:
    from .provenance import SigningMaterial

PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}
ENCODER = f"Pillow {PIL.__version__}"
"""Recorded in the lock for information; never part of a variant key."""
RESAMPLE = Image.Resampling.LANCZOS
REDUCING_GAP = 3.0
PNG_COMPRESS_LEVEL = 6
WEBP_METHOD = 4
AVIF_SPEED = 6
TRANSPARENT = (0, 0, 0, 0)
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_XMP_TEMPLATE = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
 <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/"
   xmlns:xmp="http://ns.adobe.com/xap/1.0/">
  <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{0}</rdf:li></rdf:Alt></dc:title>
  <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{1}</rdf:li></rdf:Alt></dc:description>
  <xmp:CreatorTool>{2}</xmp:CreatorTool>
 </rdf:Description>
</rdf:RDF></x:xmpmeta>
<?xpacket end="r"?>"""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class VariantTarget:
    """One variant to render from a job's original."""

    spec: VariantSpec
    key: str
    """The variant key, carried through to the result."""
    background: str
    """Resolved ``#rrggbb``/``#rrggbbaa``: JPEG flattening and ``contain`` padding."""


@dataclass(frozen=True)
class VariantSigning:
    """Sign every variant of a job with C2PA, naming the original as its parent."""

    material: SigningMaterial
    original_sha256: str


@dataclass(frozen=True)
class VariantJob:
    """Every variant of one asset: one decode of the original, in one worker."""

    asset: str
    """Concrete asset name, ``{name}`` in filename patterns."""
    original: Path
    """Absolute path of the original image."""
    out_dir: Path
    """Absolute folder the variants are written into."""
    targets: tuple[VariantTarget, ...]
    root: Path
    """The project root: a result names its file relative to it, as the lock does."""
    provenance: dict[str, str] | None = None
    """``asset``, ``model``, ``prompt`` to embed; ``None`` embeds nothing."""
    signing: VariantSigning | None = None
    """C2PA-sign each variant (``[provenance] c2pa = "sign"``); ``None`` signs nothing."""


@dataclass(frozen=True)
class JobResult:
    """What :func:`render_job` did for one asset."""

    asset: str
    variants: tuple[LockVariant, ...]
    """In the order of ``job.targets``: the lock's records of the files written, as the
    build stores them (no second "rendered" type to convert)."""
    notices: tuple[str, ...]
    """User-facing notes (each at most once per job)."""


@dataclass(frozen=True)
class _Geometry:
    canvas: tuple[int, int]
    """The output's size."""
    size: tuple[int, int]
    """The size the ``box`` of the original is resampled to (pasted centred)."""
    box: Box
    """The region of the original that is used."""


def output_size(original: tuple[int, int], spec: VariantSpec) -> tuple[int, int]:
    """The size of the variant ``spec`` makes from an original of size ``original``."""
    return _geometry(original, spec).canvas


def _geometry(original: tuple[int, int], spec: VariantSpec) -> _Geometry:
    full = (0.0, 0.0, float(original[0]), float(original[1]))
    if spec.width is None or spec.height is None or spec.fit == "inside":
        size = _inside(original, spec)
        return _Geometry(size, size, full)
    box = (spec.width, spec.height)
    if spec.fit == "cover":
        return _cover(original, box, spec.upscale)
    if spec.fit == "contain":
        return _contain(original, box, spec.upscale)
    raise SpecError(f"unknown fit {spec.fit!r} (allowed: cover, contain, inside)", field="fit")


def _inside(original: tuple[int, int], spec: VariantSpec) -> tuple[int, int]:
    asked = zip((spec.width, spec.height), original, strict=True)
    scale = min((want / have for want, have in asked if want), default=1.0)
    return _scaled(original, scale if spec.upscale else min(scale, 1.0))


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _shrunk_box(box: tuple[int, int], scale: float, upscale: bool) -> tuple[int, int]:
    """The asked box, shrunk by ``scale`` when that would enlarge the image."""
    return box if upscale or scale <= 1 else _scaled(box, 1 / scale)


def _cover(original: tuple[int, int], box: tuple[int, int], upscale: bool) -> _Geometry:
    width, height = original
    box = _shrunk_box(box, max(box[0] / width, box[1] / height), upscale)
    box = (min(box[0], width), min(box[1], height)) if not upscale else box
    scale = max(box[0] / width, box[1] / height)
    crop_w, crop_h = box[0] / scale, box[1] / scale
    left, top = (width - crop_w) / 2, (height - crop_h) / 2
    return _Geometry(box, box, (left, top, left + crop_w, top + crop_h))


def _contain(original: tuple[int, int], box: tuple[int, int], upscale: bool) -> _Geometry:
    width, height = original
    scale = min(box[0] / width, box[1] / height)
    box = _shrunk_box(box, scale, upscale)
    box = (max(box[0], width), max(box[1], height)) if not upscale and scale > 1 else box
    size = _scaled(original, scale if upscale else min(scale, 1.0))
    size = (min(size[0], box[0]), min(size[1], box[1]))
    return _Geometry(box, size, (0.0, 0.0, float(width), float(height)))


def make_pool(jobs: int | None) -> concurrent.futures.Executor:
    """An executor for :func:`render_job`: ``jobs`` processes (``None``/0 = one per core).

    One job means one thread: no process start-up for a serial build. On
    POSIX the processes come from a forkserver (forking a process that has
    threads is unsafe) that has already imported this module and Pillow.
    Workers ignore Ctrl-C: a terminal sends it to the whole process group, and
    the build (not each worker) decides how to stop.
    """
    workers = jobs or os.cpu_count() or 1
    if workers == 1:
        return concurrent.futures.ThreadPoolExecutor(max_workers=1)
    return concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=_mp_context(), initializer=_ignore_interrupts
    )


def _ignore_interrupts() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _mp_context() -> Any:
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


@dataclass
class _JobState:
    """One job's decoded original and what its targets have produced so far."""

    job: VariantJob
    image: Image.Image
    icc: bytes | None
    resized: dict[tuple[tuple[int, int], Box], Image.Image] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    written: dict[Path, tuple[str, str, str, int]] = field(default_factory=dict)
    """Per path: the key, the hash before signing, and the file's hash and size."""
    original_bytes: bytes | None = None
    """The original file, read once when a variant is signed (its C2PA ingredient)."""


def render_job(job: VariantJob) -> JobResult:
    """Decode ``job.original`` once and write every target's variant."""
    state = _decode(job)
    variants = tuple(_render(state, target) for target in job.targets)
    return JobResult(job.asset, variants, tuple(dict.fromkeys(state.notices)))


def _decode(job: VariantJob) -> _JobState:
    try:
        with Image.open(job.original) as opened:
            if opened.size[0] * opened.size[1] > MAX_INPUT_PIXELS:
                raise OSError(f"{opened.size[0]}x{opened.size[1]} is over the pixel limit")
            opened.load()
            ImageOps.exif_transpose(opened, in_place=True)
            image = _normalise_mode(opened)
    except unreadable() as exc:
        message = f"cannot read original {job.original.name}: {exc}"
        raise AssetgenError(message, file=str(job.original), asset=job.asset) from exc
    icc = opened.info.get("icc_profile") if opened.mode != "CMYK" else None
    image.info = {}
    return _JobState(job, image, icc or None)


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGBA when some pixel is not opaque, else RGB (whatever the file's mode)."""
    if image.has_transparency_data:
        rgba = image.convert("RGBA") if image.mode != "RGBA" else image
        lowest, _ = rgba.getchannel("A").getextrema()
        if isinstance(lowest, int | float) and lowest < 255:
            return rgba
    return image.convert("RGB") if image.mode != "RGB" else image


def _render(state: _JobState, target: VariantTarget) -> LockVariant:
    spec = target.spec
    _require_format(spec.format)
    geometry = _geometry(state.image.size, spec)
    _check_side(geometry.canvas, state.job.asset)
    image = _finish(state, _resize(state, geometry), geometry, target)
    data = _encode(image, spec, state)
    plain = digest = hashlib.sha256(data).hexdigest()
    signing = state.job.signing
    if signing is not None:
        data = _sign(state, signing, target, data, image.size)
        digest = hashlib.sha256(data).hexdigest()
    path = _output_path(state.job, spec, image.size, digest)
    digest, size = _write(state, path, data, target.key, plain, digest)
    width, height = image.size
    return LockVariant(
        path=path.relative_to(state.job.root).as_posix(),
        key=target.key,
        sha256=digest,
        width=width,
        height=height,
        bytes=size,
        format=spec.format,
        encoder=ENCODER,
        c2pa=signing is not None,
    )


def _sign(
    state: _JobState,
    signing: VariantSigning,
    target: VariantTarget,
    data: bytes,
    size: tuple[int, int],
) -> bytes:
    from .provenance import VariantClaim, sign_variant

    job = state.job
    if state.original_bytes is None:
        state.original_bytes = job.original.read_bytes()
    fmt = target.spec.format
    claim = VariantClaim(
        asset=job.asset,
        key=target.key,
        title=f"{job.asset}-{size[0]}x{size[1]}.{EXTENSIONS[fmt]}",
        original_sha256=signing.original_sha256,
        original_title=job.original.name,
        resized=None if size == state.image.size else {"width": size[0], "height": size[1]},
    )
    original = (state.original_bytes, job.original.suffix)
    try:
        return sign_variant(data, fmt, signing.material, claim, original)
    except AssetgenError as exc:
        raise AssetgenError(exc.message, asset=job.asset) from exc


def _check_side(canvas: tuple[int, int], asset: str) -> None:
    if max(canvas) > MAX_VARIANT_SIDE:
        raise SpecError(
            f"the variant would be {canvas[0]}x{canvas[1]}; each side may be at most "
            f"{MAX_VARIANT_SIDE}",
            asset=asset,
            field="variants",
        )


def _require_format(fmt: str) -> None:
    if fmt not in PIL_FORMATS or not format_supported(fmt):
        hint = "install Pillow >= 11.2 with AVIF support" if fmt == "avif" else None
        raise SpecError(f"this Pillow cannot write {fmt!r} images", field="format", hint=hint)


def _resize(state: _JobState, geometry: _Geometry) -> Image.Image:
    key = (geometry.size, geometry.box)
    if key not in state.resized:
        state.resized[key] = _resample(state.image, geometry.size, geometry.box)
    return state.resized[key]


def _resample(image: Image.Image, size: tuple[int, int], box: Box) -> Image.Image:
    left, top, right, bottom = box
    if (right - left, bottom - top) != size:
        return image.resize(size, RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
    if size == image.size:
        return image
    # Same scale: an exact crop, not a resample that would blur half-pixel offsets.
    return image.crop((int(left), int(top), int(left) + size[0], int(top) + size[1]))


def _finish(
    state: _JobState, image: Image.Image, geometry: _Geometry, target: VariantTarget
) -> Image.Image:
    """Pad ``contain`` results to the box; flatten transparency for JPEG."""
    if target.spec.format == "jpeg":
        if image.mode == "RGBA":
            state.notices.append(
                f"transparent original flattened onto {target.background} for JPEG"
            )
        if image.mode == "RGBA" or image.size != geometry.canvas:
            background = _colour(target.background, opaque=True)
            return _compose(image, geometry.canvas, background, "RGB")
        return image
    if image.size == geometry.canvas:
        return image
    padding = _colour(target.spec.background, opaque=False) if target.spec.background else None
    padding = padding or TRANSPARENT
    mode = "RGB" if padding[3] == 255 and image.mode == "RGB" else "RGBA"
    return _compose(image, geometry.canvas, padding, mode)


def _compose(
    image: Image.Image, canvas: tuple[int, int], colour: tuple[int, ...], mode: str
) -> Image.Image:
    """``image`` centred on a ``canvas``-sized field of ``colour``, in ``mode``."""
    result = Image.new("RGBA", canvas, colour)
    offset = ((canvas[0] - image.width) // 2, (canvas[1] - image.height) // 2)
    result.alpha_composite(image.convert("RGBA"), dest=offset)
    return result if mode == "RGBA" else result.convert(mode)


def _colour(value: str, *, opaque: bool) -> tuple[int, ...]:
    try:
        rgba = ImageColor.getcolor(value, "RGBA")
    except ValueError as exc:
        raise SpecError(f"bad colour {value!r}: {exc}", field="background") from exc
    assert isinstance(rgba, tuple)
    return (*rgba[:3], 255) if opaque else rgba


def _encode(image: Image.Image, spec: VariantSpec, state: _JobState) -> bytes:
    options = {**_encoder_options(spec), **_metadata(spec.format, state)}
    buffer = io.BytesIO()
    try:
        image.save(buffer, PIL_FORMATS[spec.format], **options)
    except (OSError, ValueError) as exc:
        message = f"cannot encode {spec.format} variant: {exc}"
        raise AssetgenError(message, asset=state.job.asset) from exc
    return buffer.getvalue()


def _encoder_options(spec: VariantSpec) -> dict[str, Any]:
    if spec.format == "png":
        return {"optimize": False, "compress_level": PNG_COMPRESS_LEVEL}
    if spec.format == "jpeg":
        return {"quality": spec.quality, "progressive": True, "optimize": True}
    if spec.format == "webp":
        return {"quality": spec.quality, "method": WEBP_METHOD, "lossless": spec.lossless}
    options = {"quality": spec.quality, "speed": AVIF_SPEED, "max_threads": 1}
    return {**options, "quality": 100, "subsampling": "4:4:4"} if spec.lossless else options


def _metadata(fmt: str, state: _JobState) -> dict[str, Any]:
    options: dict[str, Any] = {"icc_profile": state.icc} if state.icc else {}
    provenance = state.job.provenance
    if provenance is None:
        return options
    fields = _provenance_fields(state.job.asset, provenance)
    packet = _xmp_packet(*fields)
    if fmt == "png":
        options["pnginfo"] = _png_text(fields, packet)
    else:
        options["xmp"] = packet.encode("utf-8")
    return options


def _provenance_fields(asset: str, provenance: dict[str, str]) -> tuple[str, str, str]:
    model = provenance.get("model")
    tool = f"assetgen ({model})" if model else "assetgen"
    return provenance.get("asset", asset), provenance.get("prompt", ""), tool


def _png_text(fields: tuple[str, str, str], packet: str) -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    for keyword, value in zip(("Title", "Description", "Software"), fields, strict=True):
        info.add_text(keyword, value)  # falls back to UTF-8 iTXt beyond Latin-1
    info.add_itxt("XML:com.adobe.xmp", packet)
    return info


def _xmp_packet(title: str, description: str, creator_tool: str) -> str:
    """An XMP packet with ``dc:title``, ``dc:description`` and ``xmp:CreatorTool``."""
    values = (escape(_XML_INVALID.sub("", text)) for text in (title, description, creator_tool))
    return _XMP_TEMPLATE.format(*values)


def variant_filename(spec: VariantSpec, asset: str, size: tuple[int, int], sha256: str) -> str:
    """The variant's path relative to ``out_dir`` (``sha256`` feeds ``{hash8}``)."""
    values = {"name": asset, "width": size[0], "height": size[1], "hash8": sha256[:8]}
    try:
        return spec.filename.format(**values, ext=EXTENSIONS[spec.format])
    except (KeyError, IndexError, ValueError, AttributeError) as exc:
        message = f"cannot use filename pattern {spec.filename!r}: {exc}"
        raise SpecError(message, asset=asset, field="filename") from exc


def _output_path(job: VariantJob, spec: VariantSpec, size: tuple[int, int], digest: str) -> Path:
    relative = variant_filename(spec, job.asset, size, digest)
    path = job.out_dir / relative
    if not is_within(path, job.out_dir):
        message = f"variant path {relative!r} would land outside {job.out_dir}"
        raise SpecError(message, asset=job.asset, field="filename")
    return path


def _write(
    state: _JobState, path: Path, data: bytes, key: str, plain: str, digest: str
) -> tuple[str, int]:
    """Write once per path; two targets of a job writing different bytes there clash.

    ``plain`` is the hash before signing; returns the hash and size of the file written.
    """
    earlier = state.written.get(path)
    if earlier is None:
        atomic_write_bytes(path, data)
        state.written[path] = (key, plain, digest, len(data))
        return digest, len(data)
    if earlier[1] != plain:
        message = f"variants {earlier[0]!r} and {key!r} both write {path.name}"
        hint = "add {width}, {height} or {hash8} to the filename pattern"
        raise SpecError(message, asset=state.job.asset, field="filename", hint=hint)
    return earlier[2], earlier[3]
