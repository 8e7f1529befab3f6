"""Chroma-key removal on synthetic images with known alpha (issue 11, item 5's building block).

A subject with anti-aliased edges (drawn at 8× and reduced, so edge pixels
have fractional coverage) is composited over the key colour; keying it must
give back the coverage as alpha and leave no key colour in the edges.
"""

from __future__ import annotations

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from assetgen.chroma import KEYS, choose_key, key_excess, remove_key

SIZE = 128


def coverage() -> Image.Image:
    """Alpha of a disc with soft edges: 0 outside, 255 inside, fractions on the rim."""
    big = Image.new("L", (SIZE * 8, SIZE * 8), 0)
    ImageDraw.Draw(big).ellipse((128, 128, SIZE * 8 - 128, SIZE * 8 - 128), fill=255)
    return big.resize((SIZE, SIZE), Image.Resampling.BOX)


def composite(subject: tuple[int, int, int], key: tuple[int, int, int]) -> Image.Image:
    return Image.composite(
        Image.new("RGB", (SIZE, SIZE), subject), Image.new("RGB", (SIZE, SIZE), key), coverage()
    )


def edge_mask(alpha: Image.Image) -> Image.Image:
    return alpha.point(lambda a: 255 if 0 < a < 255 else 0)


def mean_error(found: Image.Image, truth: Image.Image, where: Image.Image) -> float:
    """Mean absolute alpha error (0–1) over the pixels of ``where``."""
    diff = ImageChops.difference(found, truth)
    total = ImageStat.Stat(diff, mask=where).mean[0]
    return total / 255


@pytest.mark.parametrize("key", KEYS, ids=[k.name for k in KEYS])
def test_a_neutral_subject_keys_out_with_exact_soft_edges(key) -> None:
    truth = coverage()
    keyed = remove_key(composite((128, 128, 128), key.rgb), key)
    alpha = keyed.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((SIZE // 2, SIZE // 2)) == 255
    error = mean_error(alpha, truth, edge_mask(truth))
    assert error < 0.06, f"edge alpha error {error:.3f}"


def test_a_coloured_subject_keeps_its_colour_and_loses_the_spill() -> None:
    key = choose_key("an orange fox")
    truth = coverage()
    keyed = remove_key(composite((230, 120, 30), key.rgb), key)
    alpha = keyed.getchannel("A")
    assert keyed.getpixel((SIZE // 2, SIZE // 2)) == (230, 120, 30, 255)
    error = mean_error(alpha, truth, edge_mask(truth))
    assert error < 0.2, f"edge alpha error {error:.3f}"
    spill = key_excess(keyed.convert("RGB"), key)
    assert ImageStat.Stat(spill, mask=edge_mask(truth)).extrema[0][1] == 0  # no key colour left


def test_the_key_avoids_the_prompts_palette() -> None:
    assert choose_key("a round, friendly teal cloud").name != "green"
    assert choose_key("a purple and pink logo").name == "green"
    assert choose_key("a green frog on a blue lily pad").name == "magenta"
