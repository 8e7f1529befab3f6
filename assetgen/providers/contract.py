"""The provider contract: what every provider must do, as test bodies any suite can run.

Each check takes a :class:`Harness` (how to make the provider, and what its
model can do) and a scratch folder, and raises ``AssertionError`` when the
provider breaks the contract. assetgen runs them against every registered
provider (``tests/test_provider_contract.py``); a third-party package runs
them against its own, with pytest::

    import pytest
    from assetgen.providers.contract import CHECKS, Harness

    @pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
    def test_contract(check, tmp_path):
        harness = Harness(make=make_my_provider, model="my-1", refused={"size": "9999x9999"})
        check(harness, tmp_path)

What is checked: the class declares its seam (``name``, ``key_revision``,
``options_class``); a generation returns the requested size; transparency
where asked and the model allows it (an opaque request stays opaque);
``n`` candidates are ``n`` distinct images; a masked edit keeps every pixel
outside the mask and changes the inside; and a request the model refuses
raises SpecError from ``check()`` before anything is sent. Every request
passes ``check()`` first, as in a build. Importing this module costs nothing
at run time: nothing in assetgen imports it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageDraw

from ..errors import SpecError
from ..options import asset_option_kinds
from .base import ImageRequest, ImageResult, InputImage, Provider

PROMPT = "A teal fox in a coral forest"


def nothing_sent() -> int:
    return 0


@dataclass(frozen=True)
class Harness:
    """How the contract runs against one provider."""

    make: Callable[[], Provider]
    """A fresh provider, built as a spec would build it (``create_provider``)."""
    model: str
    """A model the provider serves; requests name it."""
    refused: Mapping[str, Any]
    """Request fields the model refuses (``{"size": "1000x1000"}``): ``check()`` raises
    SpecError and nothing is sent."""
    sizes: tuple[str, ...] = ("1024x1024", "1536x1024")
    """Sizes the model takes; each must come back exactly. The first is used for edits."""
    transparency: bool = True
    """Whether the model makes transparent backgrounds; if not, ``check()`` must refuse them."""
    sent: Callable[[], int] = nothing_sent
    """Requests that reached a server so far (a provider that sends none: always 0)."""


def request(harness: Harness, **fields: Any) -> ImageRequest:
    """A generation of :data:`PROMPT` with the harness's model; ``fields`` override."""
    seed = hashlib.sha256(repr(sorted(fields.items())).encode()).hexdigest()
    values: dict[str, Any] = {
        "asset": "contract",
        "key": f"sha256:{seed}",
        "prompt": PROMPT,
        "model": harness.model,
        "size": harness.sizes[0],
        "quality": "low",
    }
    return ImageRequest(**{**values, **fields})


def produce(harness: Harness, req: ImageRequest) -> ImageResult:
    """Check, then generate, with a fresh provider closed afterwards (one event loop)."""
    provider = harness.make()

    async def go() -> ImageResult:
        try:
            provider.check(req)
            return await provider.generate(req)
        finally:
            await provider.aclose()

    result = asyncio.run(go())
    assert isinstance(result, ImageResult), f"generate returned {type(result).__name__}"
    assert len(result.images) == req.n, f"asked for {req.n} image(s), got {len(result.images)}"
    return result


def decoded(data: bytes, fmt: str) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}[fmt], (
        f"ImageResult.format says {fmt}, the bytes are {image.format}"
    )
    return image


def dimensions(size: str) -> tuple[int, int]:
    width, height = size.split("x")
    return int(width), int(height)


def min_alpha(image: Image.Image) -> int:
    if "A" not in image.getbands():
        return 255
    low, _ = image.getchannel("A").getextrema()
    assert isinstance(low, int | float)
    return int(low)


# -- the checks ---------------------------------------------------------------------------


def declares_its_seam(harness: Harness, workdir: Path) -> None:
    """``name``, ``key_revision``, a frozen ``options_class`` dataclass and, if any, a
    valid ``asset_options_class``, on the class."""
    cls = type(harness.make())
    assert isinstance(cls.name, str) and cls.name, "the class declares no name"
    revision = cls.key_revision
    assert isinstance(revision, int) and not isinstance(revision, bool) and revision >= 0
    assert dataclasses.is_dataclass(cls.options_class), "options_class is not a dataclass"
    assert cls.options_class.__dataclass_params__.frozen, "options_class is not frozen"  # type: ignore[attr-defined]
    if cls.asset_options_class is not None:
        asset_option_kinds(cls.asset_options_class)  # TypeError says what is wrong


def returns_requested_sizes(harness: Harness, workdir: Path) -> None:
    """Each size the model takes comes back exactly, in the format the result says."""
    for size in harness.sizes:
        result = produce(harness, request(harness, size=size))
        image = decoded(result.images[0], result.format)
        assert image.size == dimensions(size), f"asked for {size}, got {image.size}"


def makes_alpha_where_asked(harness: Harness, workdir: Path) -> None:
    """Transparent where asked (or refused by ``check()``); opaque when asked opaque."""
    transparent = request(harness, background="transparent", output_format="png")
    if not harness.transparency:
        refuses_before_sending(harness, transparent)
    else:
        result = produce(harness, transparent)
        image = decoded(result.images[0], result.format)
        assert min_alpha(image) < 255, "asked for a transparent background, got no alpha"
    result = produce(harness, request(harness, background="opaque", output_format="png"))
    assert min_alpha(decoded(result.images[0], result.format)) == 255, "opaque has alpha"


def makes_distinct_candidates(harness: Harness, workdir: Path) -> None:
    """``n = 3`` gives three different images, each of the requested size."""
    result = produce(harness, request(harness, n=3))
    assert len(set(result.images)) == 3, "the three candidates are not all different"
    for data in result.images:
        assert decoded(data, result.format).size == dimensions(harness.sizes[0])


def edit_keeps_pixels_outside_the_mask(harness: Harness, workdir: Path) -> None:
    """A masked edit changes the inside of the mask and keeps every pixel outside it."""
    size = dimensions(harness.sizes[0])
    base, mask = edit_inputs(workdir, size)
    req = request(harness, image=base, mask=mask, keep_unmasked=True, prompt="Paint it coral")
    result = produce(harness, req)
    edited = decoded(result.images[0], result.format).convert("RGB")
    assert edited.size == size, f"the edit is {edited.size}, the base image {size}"
    with Image.open(base.path) as opened:
        original = opened.convert("RGB")
    with Image.open(mask.path) as opened:
        region = opened.convert("L")
    changed = ImageChops.difference(original, edited).convert("L").point(lambda v: 255 * (v > 0))
    outside = ImageChops.subtract(changed, region)
    assert outside.getbbox() is None, f"pixels changed outside the mask, in {outside.getbbox()}"
    assert ImageChops.multiply(changed, region).getbbox() is not None, "nothing was edited"


def edit_inputs(workdir: Path, size: tuple[int, int]) -> tuple[InputImage, InputImage]:
    """A patterned base image and a mask (white = edit) over its upper left quarter."""
    base = Image.new("RGB", size, (30, 120, 110))
    draw = ImageDraw.Draw(base)
    for x in range(0, size[0], 32):
        draw.line((x, 0, size[0] - x, size[1]), fill=(240, 110, 90), width=5)
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).rectangle((0, 0, size[0] // 2 - 1, size[1] // 2 - 1), fill=255)
    paths = workdir / "contract-base.png", workdir / "contract-mask.png"
    base.save(paths[0], "PNG")
    mask.save(paths[1], "PNG")
    digests = [hashlib.sha256(path.read_bytes()).hexdigest() for path in paths]
    return InputImage("image", paths[0], digests[0]), InputImage("mask", paths[1], digests[1])


def refuses_before_spending(harness: Harness, workdir: Path) -> None:
    """What the model refuses raises SpecError from ``check()``, naming the asset; none sent."""
    refuses_before_sending(harness, request(harness, **harness.refused))


def refuses_before_sending(harness: Harness, req: ImageRequest) -> None:
    provider = harness.make()
    before = harness.sent()
    try:
        provider.check(req)
    except SpecError as exc:
        assert exc.asset == req.asset, f"the refusal does not name the asset: {exc}"
    else:
        raise AssertionError(f"check() accepted a request the model refuses: {req}")
    finally:
        asyncio.run(provider.aclose())
    assert harness.sent() == before, "check() sent a request"


CHECKS: tuple[Callable[[Harness, Path], None], ...] = (
    declares_its_seam,
    returns_requested_sizes,
    makes_alpha_where_asked,
    makes_distinct_candidates,
    edit_keeps_pixels_outside_the_mask,
    refuses_before_spending,
)
"""Every check of the contract, in the order to run them."""
