"""Variants: geometry, formats, metadata, filenames and the worker pool, on real images."""

from __future__ import annotations

import hashlib
import io
import pickle
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image, ImageCms, ImageDraw, PngImagePlugin

from assetgen.errors import AssetgenError, SpecError
from assetgen.filenames import check_filename_pattern, format_supported
from assetgen.lockfile import LockVariant
from assetgen.spec_types import VariantSpec
from assetgen.variants import (
    ENCODER,
    EXTENSIONS,
    JobResult,
    VariantJob,
    VariantTarget,
    make_pool,
    output_size,
    render_job,
)

WIDE = (1536, 1024)
XMP_NS = {
    "dc": "http://purl.org/dc/elements/1.1/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "xmp": "http://ns.adobe.com/xap/1.0/",
}
ROOT = Path(Path.cwd().anchor)
"""The root tests' jobs name files from: every ``tmp_path`` is inside it."""
PROVENANCE = {"asset": "hero-spring", "model": "gpt-image-1-mini", "prompt": "A <teal> hill & sky"}


def make_original(
    path: Path, size: tuple[int, int] = WIDE, *, alpha: bool = False, **save: object
) -> Path:
    """A picture with detail everywhere (so crops and scales show), saved to ``path``."""
    image = Image.linear_gradient("L").resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for step in range(0, size[0], max(1, size[0] // 12)):
        draw.line((step, 0, size[0] - step, size[1]), fill=(200, 40, step % 256), width=3)
    if alpha:
        mask = Image.new("L", size, 0)
        ImageDraw.Draw(mask).ellipse((size[0] // 4, 0, 3 * size[0] // 4, size[1]), fill=255)
        image.putalpha(mask)
    image.save(path, **save)
    return path


def load(path: Path) -> Image.Image:
    """The image at ``path``, read and closed (no ResourceWarning)."""
    with Image.open(path) as image:
        image.load()
    return image


def target(key: str = "v", background: str = "#ffffff", **spec: object) -> VariantTarget:
    return VariantTarget(spec=VariantSpec(**spec), key=key, background=background)


def job(original: Path, out: Path, *targets: VariantTarget, **extra: object) -> VariantJob:
    """A job whose results name their files from the filesystem root (see :func:`file`)."""
    return VariantJob(
        asset="hero", original=original, out_dir=out, targets=targets, root=ROOT, **extra
    )


def file(variant: LockVariant) -> Path:
    """The file a variant of a :func:`job` names."""
    return ROOT / variant.path


def render(original: Path, out: Path, *targets: VariantTarget, **extra: object) -> JobResult:
    return render_job(job(original, out, *targets, **extra))


def variants(original: Path, out: Path, *targets: VariantTarget, **extra: object) -> tuple:
    return render(original, out, *targets, **extra).variants


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_original(tmp_path_factory.mktemp("orig") / "wide.png")


@pytest.fixture(scope="module")
def transparent(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_original(tmp_path_factory.mktemp("orig") / "alpha.png", alpha=True)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_original(tmp_path_factory.mktemp("orig") / "small.png", (300, 200))


# -- geometry -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (VariantSpec(width=480, height=480, fit="cover"), (480, 480)),
        (VariantSpec(width=480, height=480, fit="contain"), (480, 480)),
        (VariantSpec(width=480, height=480, fit="inside"), (480, 320)),
        (VariantSpec(width=480), (480, 320)),
        (VariantSpec(height=256), (384, 256)),
        (VariantSpec(), WIDE),
        # no upscaling: capped at the original, boxes keep their shape
        (VariantSpec(width=3000), WIDE),
        (VariantSpec(width=3000, height=3000, fit="inside"), WIDE),
        (VariantSpec(width=2000, height=2000, fit="cover"), (1024, 1024)),
        (VariantSpec(width=2000, height=500, fit="cover"), (1536, 384)),
        (VariantSpec(width=3000, height=3000, fit="contain"), (1536, 1536)),
        # upscaling when asked
        (VariantSpec(width=3072, upscale=True), (3072, 2048)),
        (VariantSpec(width=2000, height=2000, fit="cover", upscale=True), (2000, 2000)),
        (VariantSpec(width=4000, height=4000, fit="inside", upscale=True), (4000, 2667)),
    ],
)
def test_output_size(spec: VariantSpec, expected: tuple[int, int]) -> None:
    assert output_size(WIDE, spec) == expected


def test_output_size_rejects_unknown_fit() -> None:
    with pytest.raises(SpecError, match="unknown fit 'fill'"):
        output_size(WIDE, VariantSpec(width=10, height=10, fit="fill"))


def test_fit_modes_write_the_planned_sizes(wide: Path, tmp_path: Path) -> None:
    targets = [
        target(fit, width=480, height=480, fit=fit, format="png", filename="{name}-" + fit + ".png")
        for fit in ("cover", "contain", "inside")
    ]
    result = render(wide, tmp_path, *targets)
    sizes = {v.key: load(file(v)).size for v in result.variants}
    assert sizes == {"cover": (480, 480), "contain": (480, 480), "inside": (480, 320)}
    assert [(v.width, v.height) for v in result.variants] == list(sizes.values())


def test_contain_pads_png_with_transparency(wide: Path, tmp_path: Path) -> None:
    [variant] = variants(wide, tmp_path, target(width=480, height=480, fit="contain", format="png"))
    with Image.open(file(variant)) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((240, 10))[3] == 0  # padding above
        assert image.getpixel((240, 240))[3] == 255  # the picture


def test_contain_pads_jpeg_with_the_background(wide: Path, tmp_path: Path) -> None:
    spec = {"width": 480, "height": 480, "fit": "contain", "format": "jpeg"}
    result = render(wide, tmp_path, target(background="#ff0000", **spec))
    with Image.open(file(result.variants[0])) as image:
        red, green, blue = image.getpixel((240, 10))
    assert red > 240 and green < 16 and blue < 16
    assert result.notices == ()  # an opaque original is not "flattened"


def test_contain_pads_png_with_its_own_background(wide: Path, tmp_path: Path) -> None:
    spec = VariantSpec(width=480, height=480, fit="contain", format="png", background="#0000ff")
    [variant] = variants(wide, tmp_path, VariantTarget(spec, "v", "#0000ff"))
    with Image.open(file(variant)) as image:
        assert image.mode == "RGB"
        assert image.getpixel((240, 10)) == (0, 0, 255)


def test_cover_crops_the_centre(tmp_path: Path) -> None:
    original = Image.new("RGB", (300, 100), "blue")
    original.paste((255, 0, 0), (100, 0, 200, 100))  # red middle third
    original.save(tmp_path / "bands.png")
    [variant] = variants(tmp_path / "bands.png", tmp_path / "out", target(width=50, height=50))
    with Image.open(file(variant)) as image:
        assert image.convert("RGB").getpixel((2, 25))[0] > 200


def test_no_upscale_by_default_and_upscale_when_asked(small: Path, tmp_path: Path) -> None:
    capped, enlarged = render(
        small,
        tmp_path,
        target("capped", width=960, filename="{name}-a-{width}.{ext}"),
        target("enlarged", width=960, upscale=True, filename="{name}-b-{width}.{ext}"),
    ).variants
    assert (capped.width, capped.height) == (300, 200)
    assert file(capped).name == "hero-a-300.webp"
    assert load(file(enlarged)).size == (960, 640)


# -- formats ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "avif"])
def test_each_format_decodes_as_itself(fmt: str, wide: Path, tmp_path: Path) -> None:
    if not format_supported(fmt):
        pytest.skip(f"this Pillow cannot write {fmt}")
    [variant] = variants(wide, tmp_path, target(width=240, format=fmt))
    with Image.open(file(variant)) as image:
        assert image.format == {"jpeg": "JPEG"}.get(fmt, fmt.upper())
        assert image.size == (240, 160)
    assert file(variant).suffix == "." + EXTENSIONS[fmt]
    assert variant.format == fmt
    assert variant.bytes == file(variant).stat().st_size


def test_format_supported() -> None:
    assert all(format_supported(fmt) for fmt in ("png", "jpeg", "webp"))
    assert not format_supported("gif")


def test_lossless_webp_round_trips_pixels(wide: Path, tmp_path: Path) -> None:
    [variant] = variants(wide, tmp_path, target(format="webp", lossless=True))
    with Image.open(wide) as original, Image.open(file(variant)) as copy:
        assert copy.convert("RGB").tobytes() == original.convert("RGB").tobytes()


def test_shared_sizes_resize_once_and_agree(wide: Path, tmp_path: Path) -> None:
    png, webp = render(
        wide,
        tmp_path,
        target("png", width=240, format="png"),
        target("webp", width=240, format="webp", lossless=True),
    ).variants
    with Image.open(file(png)) as a, Image.open(file(webp)) as b:
        assert a.convert("RGB").tobytes() == b.convert("RGB").tobytes()


def test_transparent_original_flattened_for_jpeg_with_one_notice(
    transparent: Path, tmp_path: Path
) -> None:
    result = render(
        transparent,
        tmp_path,
        target("a", background="#00ff00", width=300, format="jpeg"),
        target("b", background="#00ff00", width=200, format="jpeg"),
        target("c", width=300, format="png"),
    )
    with Image.open(file(result.variants[0])) as image:
        assert image.mode == "RGB"
        red, green, blue = image.getpixel((2, 2))  # a transparent corner
    assert red < 16 and green > 240 and blue < 16
    assert result.notices == ("transparent original flattened onto #00ff00 for JPEG",)
    assert load(file(result.variants[2])).mode == "RGBA"


# -- metadata -----------------------------------------------------------------


SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def tagged_original(path: Path) -> Path:
    """A JPEG carrying EXIF, XMP, a comment and an ICC profile."""
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    exif[0x0131] = "Some editor"  # Software
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    extra = {"exif": exif.tobytes(), "xmp": xmp, "comment": b"secret", "icc_profile": SRGB}
    return make_original(path, (320, 200), quality=90, **extra)


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_metadata_stripped_but_icc_kept(fmt: str, tmp_path: Path) -> None:
    original = load(tagged_original(tmp_path / "photo.jpg"))
    assert original.getexif() and {"xmp", "comment", "icc_profile"} <= original.info.keys()
    [variant] = variants(Path(original.filename), tmp_path / "out", target(width=160, format=fmt))
    with Image.open(file(variant)) as image:
        assert not image.getexif()
        assert not {"xmp", "comment", "exif"} & image.info.keys()
        assert image.info.get("icc_profile") == SRGB
        assert not getattr(image, "text", {})


def test_png_text_chunks_stripped(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "made on my laptop")
    original = make_original(tmp_path / "o.png", (64, 64), pnginfo=info)
    assert load(original).text
    [variant] = variants(original, tmp_path / "out", target(format="png"))
    assert load(file(variant)).text == {}


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    Image.new("RGB", (200, 100), "red").save(tmp_path / "rot.jpg", exif=exif.tobytes())
    [variant] = variants(tmp_path / "rot.jpg", tmp_path / "out", target(format="png"))
    assert (variant.width, variant.height) == (100, 200)


def xmp_fields(xmp: bytes | str) -> dict[str, str | None]:
    root = ET.fromstring(xmp)
    find = root.find
    return {
        "title": find(".//dc:title/rdf:Alt/rdf:li", XMP_NS).text,  # type: ignore[union-attr]
        "description": find(".//dc:description/rdf:Alt/rdf:li", XMP_NS).text,  # type: ignore[union-attr]
        "tool": find(".//xmp:CreatorTool", XMP_NS).text,  # type: ignore[union-attr]
    }


EXPECTED_XMP = {
    "title": "hero-spring",
    "description": "A <teal> hill & sky",
    "tool": "assetgen (gpt-image-1-mini)",
}


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_provenance_as_xmp(fmt: str, wide: Path, tmp_path: Path) -> None:
    [variant] = variants(wide, tmp_path, target(width=120, format=fmt), provenance=PROVENANCE)
    with Image.open(file(variant)) as image:
        assert xmp_fields(image.info["xmp"]) == EXPECTED_XMP


def test_provenance_as_png_text(wide: Path, tmp_path: Path) -> None:
    provenance = {**PROVENANCE, "prompt": "Ünïcode prompt — 世界"}
    [variant] = variants(wide, tmp_path, target(width=120, format="png"), provenance=provenance)
    with Image.open(file(variant)) as image:
        assert image.text["Title"] == "hero-spring"
        assert image.text["Description"] == "Ünïcode prompt — 世界"
        assert image.text["Software"] == "assetgen (gpt-image-1-mini)"
        assert xmp_fields(image.info["xmp"])["description"] == "Ünïcode prompt — 世界"


def test_rendering_is_deterministic(wide: Path, tmp_path: Path) -> None:
    targets = [target(f, width=200, format=f) for f in ("png", "jpeg", "webp", "avif")]
    targets = [t for t in targets if format_supported(t.spec.format)]
    first = render(wide, tmp_path / "a", *targets, provenance=PROVENANCE)
    second = render(wide, tmp_path / "b", *targets, provenance=PROVENANCE)
    assert [v.sha256 for v in first.variants] == [v.sha256 for v in second.variants]
    for variant in first.variants:
        assert hashlib.sha256(file(variant).read_bytes()).hexdigest() == variant.sha256


# -- filenames ----------------------------------------------------------------


def test_filename_placeholders(wide: Path, tmp_path: Path) -> None:
    pattern = "{name}/{width}x{height}-{hash8}.{ext}"
    [variant] = variants(wide, tmp_path, target(width=120, format="jpeg", filename=pattern))
    digest = hashlib.sha256(file(variant).read_bytes()).hexdigest()
    assert file(variant) == tmp_path / "hero" / f"120x80-{digest[:8]}.jpg"


def test_same_file_from_two_targets_is_written_once(small: Path, tmp_path: Path) -> None:
    capped = [target(str(w), width=w) for w in (960, 1536)]  # both 300 wide
    first, second = render(small, tmp_path, *capped).variants
    assert file(first) == file(second) == tmp_path / "hero-300w.webp"


def test_two_targets_clashing_on_a_path_fail(small: Path, tmp_path: Path) -> None:
    clash = [target("a", width=960, quality=50), target("b", width=1536, quality=90)]
    with pytest.raises(SpecError, match=r"both write hero-300w\.webp"):
        render(small, tmp_path, *clash)


def test_asset_name_cannot_escape_out_dir(wide: Path, tmp_path: Path) -> None:
    escaping = VariantJob("../../evil", wide, tmp_path / "out", (target(width=10),), tmp_path)
    with pytest.raises(SpecError, match="outside"):
        render_job(escaping)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("{name}-{size}.{ext}", "unknown placeholder {size}"),
        ("{name}-{widht}.{ext}", "did you mean {width}?"),
        ("{width}.{ext}", "must contain {name}"),
        ("/abs/{name}.{ext}", "not absolute"),
        ("../{name}.{ext}", "'..'"),
        ("{name}/../../x.{ext}", "'..'"),
        ("{name}-{width", "malformed"),
        ("{name}-{width:q}.{ext}", "cannot be filled in"),
    ],
)
def test_check_filename_pattern_rejects(pattern: str, message: str) -> None:
    problem = check_filename_pattern(pattern)
    assert problem is not None and message in problem


@pytest.mark.parametrize(
    "pattern", ["{name}-{width}w.{ext}", "{name}/{width}.{ext}", "{name}.{hash8}.{ext}"]
)
def test_check_filename_pattern_accepts(pattern: str) -> None:
    assert check_filename_pattern(pattern) is None


# -- errors and the pool ------------------------------------------------------


def test_unreadable_original_is_an_assetgen_error(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(AssetgenError, match=r"cannot read original bad\.png"):
        render(tmp_path / "bad.png", tmp_path, target())


def test_results_are_the_locks_records_of_the_files(wide: Path, tmp_path: Path) -> None:
    """A job names its files as the lock does (project-relative), with its encoder."""
    out = tmp_path / "public" / "img"
    one = VariantJob("hero", wide, out, (target(width=40, format="png"),), tmp_path)
    [variant] = render_job(one).variants
    written = tmp_path / "public/img/hero-40w.png"
    assert variant == LockVariant(
        path="public/img/hero-40w.png",
        key="v",
        sha256=hashlib.sha256(written.read_bytes()).hexdigest(),
        width=40,
        height=27,
        bytes=written.stat().st_size,
        format="png",
        encoder=ENCODER,
    )


def test_jobs_and_results_pickle(wide: Path, tmp_path: Path) -> None:
    one = job(wide, tmp_path, target(width=40), provenance=PROVENANCE)
    assert pickle.loads(pickle.dumps(one)) == one
    result = render_job(one)
    assert pickle.loads(pickle.dumps(result)) == result


@pytest.mark.parametrize("jobs", [1, 2])
def test_pool_renders_jobs(jobs: int, wide: Path, small: Path, tmp_path: Path) -> None:
    work = [
        VariantJob(name, path, tmp_path, (target(width=64, format="jpeg"),), tmp_path)
        for name, path in (("wide", wide), ("small", small))
    ]
    with make_pool(jobs) as pool:
        results = list(pool.map(render_job, work))
    assert [r.asset for r in results] == ["wide", "small"]
    assert [load(tmp_path / r.variants[0].path).size for r in results] == [(64, 43), (64, 43)]


def test_encoded_bytes_decode(wide: Path, tmp_path: Path) -> None:
    [variant] = variants(wide, tmp_path, target(width=50, format="webp"))
    with Image.open(io.BytesIO(file(variant).read_bytes())) as image:
        image.verify()
