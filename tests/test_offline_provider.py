"""The offline provider: deterministic, honours size/background/format, edits exactly."""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw

import assetgen
from assetgen.errors import SpecError
from assetgen.events import Event
from assetgen.providers.base import ImageRequest, ImageResult, InputImage
from assetgen.providers.offline import OfflineProvider, caption_text
from assetgen.spec_types import ProviderConfig

KEY = "sha256:" + "ab" * 32
SMALL = "256x192"
SQUARE = "1024x1024"


def request(**fields: object) -> ImageRequest:
    values: dict[str, object] = {
        "asset": "hero",
        "key": KEY,
        "prompt": "A calm teal landscape with coral hills at dawn, wide",
        "model": "sketch",  # not in the model table: any size
        "size": SMALL,
    }
    values.update(fields)
    return ImageRequest(**values)  # type: ignore[arg-type]


def generate(req: ImageRequest) -> ImageResult:
    provider = OfflineProvider(ProviderConfig(name="offline"))
    return asyncio.run(provider.generate(req))


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def input_image(role: str, path: Path) -> InputImage:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return InputImage(role=role, path=path, sha256=digest)  # type: ignore[arg-type]


def test_same_key_gives_identical_bytes_even_in_another_process() -> None:
    first = generate(request())
    assert first.images == generate(request()).images
    assert (first.format, first.cost_usd, first.usage, first.model) == (
        "png",
        0.0,
        None,
        "sketch",
    )
    code = (
        "import asyncio, sys\n"
        "from assetgen.providers.base import ImageRequest\n"
        "from assetgen.providers.offline import OfflineProvider\n"
        "from assetgen.spec_types import ProviderConfig\n"
        f"req = {request()!r}\n"
        "result = asyncio.run(OfflineProvider(ProviderConfig()).generate(req))\n"
        "sys.stdout.buffer.write(result.images[0])\n"
    )
    root = str(Path(assetgen.__file__).parent.parent)
    env = {**os.environ, "PYTHONPATH": root, "PYTHONHASHSEED": "12345"}
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, check=True, env=env, cwd=root
    )
    assert other.stdout == first.images[0]


def test_different_keys_give_different_images() -> None:
    one = generate(request()).images[0]
    two = generate(request(key="sha256:" + "cd" * 32)).images[0]
    assert one != two
    assert ImageChops.difference(decode(one), decode(two)).getbbox() is not None


@pytest.mark.parametrize(
    ("size", "expected"), [("1536x1024", (1536, 1024)), ("auto", (1024, 1024))]
)
def test_requested_size_is_honoured(size: str, expected: tuple[int, int]) -> None:
    assert decode(generate(request(size=size)).images[0]).size == expected


def test_transparent_background_has_clear_pixels() -> None:
    image = decode(generate(request(background="transparent")).images[0])
    assert image.mode == "RGBA"
    low, high = image.getchannel("A").getextrema()
    assert (low, high) == (0, 255)


def test_opaque_background_has_no_alpha() -> None:
    image = decode(generate(request(background="opaque")).images[0])
    assert image.mode == "RGB"


def draw_inputs(tmp_path: Path, mode: str = "RGB") -> tuple[Path, Path, Path, Image.Image]:
    """A base image, a B/W mask (white = edit), the same mask as alpha, and the region."""
    base = Image.new(mode, (128, 96), (40, 90, 200, 0)[: len(mode)])
    ImageDraw.Draw(base).ellipse((10, 10, 70, 80), fill=(250, 200, 30))
    region = Image.new("L", base.size, 0)
    ImageDraw.Draw(region).rectangle((60, 20, 119, 79), fill=255)
    alpha_mask = Image.new("RGBA", base.size, (0, 0, 0, 255))
    alpha_mask.putalpha(ImageChops.invert(region))
    paths = tmp_path / "base.png", tmp_path / "mask-bw.png", tmp_path / "mask-alpha.png"
    for image, path in zip((base, region.convert("RGB"), alpha_mask), paths, strict=True):
        image.save(path)
    return (*paths, region)


@pytest.mark.parametrize(
    ("mask_name", "mode"),
    [("mask-bw.png", "RGB"), ("mask-alpha.png", "RGB"), ("mask-bw.png", "RGBA")],
)
def test_edit_keeps_every_pixel_outside_the_mask(tmp_path: Path, mask_name: str, mode: str) -> None:
    base_path, _, _, region = draw_inputs(tmp_path, mode)
    req = request(
        image=input_image("image", base_path), mask=input_image("mask", tmp_path / mask_name)
    )
    result = decode(generate(req).images[0])
    assert result.mode == mode
    base = Image.open(base_path).convert(mode)
    assert result.size == base.size
    outside = ImageChops.invert(region)
    black = Image.new(mode, base.size)
    kept = Image.composite(result, black, outside)
    assert kept.tobytes() == Image.composite(base, black, outside).tobytes()
    # Outside is identical, so any difference lies inside the region.
    assert ImageChops.difference(result, base).getbbox() is not None


def test_edit_without_mask_restyles_the_whole_image(tmp_path: Path) -> None:
    base_path, *_ = draw_inputs(tmp_path)
    result = decode(generate(request(image=input_image("image", base_path))).images[0])
    base = Image.open(base_path).convert("RGB")
    assert result.size == base.size
    assert ImageChops.difference(result.convert("RGB"), base).getbbox() is not None


def test_references_change_the_image(tmp_path: Path) -> None:
    reference = tmp_path / "style.png"
    Image.new("RGB", (32, 32), (255, 0, 0)).save(reference)
    tinted = generate(request(references=(input_image("reference", reference),))).images[0]
    assert tinted != generate(request()).images[0]


def test_n_candidates_are_distinct() -> None:
    images = generate(request(n=3)).images
    assert len(images) == 3
    assert len(set(images)) == 3
    assert images[0] == generate(request()).images[0]


@pytest.mark.parametrize(("fmt", "pil_format"), [("webp", "WEBP"), ("jpeg", "JPEG")])
def test_output_format(fmt: str, pil_format: str) -> None:
    backgrounds = ("auto", "transparent") if fmt == "webp" else ("auto", "opaque")
    for background in backgrounds:
        result = generate(request(output_format=fmt, background=background))
        assert result.format == fmt
        assert decode(result.images[0]).format == pil_format


def test_transparent_jpeg_is_refused_as_the_api_would() -> None:
    with pytest.raises(SpecError) as caught:
        generate(request(output_format="jpeg", background="transparent"))
    assert caught.value.field == "background" and "png or webp" in caught.value.message


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"model": "gpt-image-2.6-flare", "size": "256x256"}, "size", "too small"),
        ({"model": "gpt-image-1-mini", "size": "1000x1000"}, "size", "1536x1024"),
        (
            {"model": "gpt-image-2", "size": SQUARE, "background": "transparent"},
            "background",
            "cannot",
        ),
        ({"model": "gpt-image-2.6-flare", "size": SQUARE, "quality": "ultra"}, "quality", "xhigh"),
        (
            {"model": "gpt-image-2.5-flare", "size": SQUARE, "complexity": "high"},
            "complexity",
            "not",
        ),
    ],
)
def test_offline_applies_the_models_profile(fields: dict[str, str], field: str, words: str) -> None:
    """A spec developed offline fails where the real API would refuse it."""
    provider = OfflineProvider(ProviderConfig(name="offline"))
    with pytest.raises(SpecError) as caught:
        provider.check(request(**fields))
    assert caught.value.field == field and words in caught.value.message, caught.value
    assert caught.value.asset == "hero"


def test_offline_reports_every_profile_problem_at_once() -> None:
    provider = OfflineProvider(ProviderConfig(name="offline"))
    bad = request(model="gpt-image-2", size="100x100", background="transparent", quality="max")
    with pytest.raises(SpecError) as caught:
        provider.check(bad)
    for name in ("size:", "background:", "quality:"):
        assert name in caught.value.message, caught.value.message


def test_offline_accepts_what_the_model_takes_and_notes_a_retired_model() -> None:
    events: list[Event] = []
    provider = OfflineProvider(ProviderConfig(name="offline"), emit=events.append)
    provider.check(request(model="gpt-image-2.6-flare", size="1536x1024", quality="xhigh"))
    assert events == []
    provider.check(request(model="gpt-image-1-mini", size="1024x1024"))
    provider.check(request(model="gpt-image-1-mini", size="1024x1024"))
    [note] = events
    assert note.kind == "warning" and "gpt-image-2.6-flare" in note.message, note


@pytest.mark.parametrize("size", ["15x100", "100x4097", "big", "1024X1024", "0x0", "１２x１２"])
def test_check_refuses_bad_sizes(size: str) -> None:
    provider = OfflineProvider(ProviderConfig(name="offline"))
    with pytest.raises(SpecError) as caught:
        provider.check(request(size=size))
    assert (caught.value.asset, caught.value.field) == ("hero", "size")


def test_check_accepts_good_sizes_and_costs_nothing() -> None:
    provider = OfflineProvider(ProviderConfig(name="offline"))
    for size in ("auto", "16x16", "4096x16", "1536x1024"):
        provider.check(request(size=size))
    assert provider.estimate_cost(request()) == 0.0
    assert provider.name == "offline"


def test_tiny_images_render() -> None:
    for background in ("auto", "transparent"):
        assert decode(generate(request(size="16x16", background=background)).images[0]).size == (
            16,
            16,
        )


def test_caption_is_the_opening_words() -> None:
    assert caption_text("one two three") == "one two three"
    assert caption_text("a b c d e f g h") == "a b c d e f…"
