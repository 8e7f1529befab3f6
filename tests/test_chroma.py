"""Chroma-key removal on synthetic images with known alpha (issue 11, item 5's building block).

A subject with anti-aliased edges (drawn at 8× and reduced, so edge pixels
have fractional coverage) is composited over the key colour; keying it must
give back the coverage as alpha and leave no key colour in the edges.
"""

from __future__ import annotations

import io
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageDraw, ImageStat

from assetgen.chroma import KEYS, choose_key, key_excess, remove_key
from assetgen.cli import main
from tests.conftest import FAKE_API_KEY
from tests.fakeapi import FakeImagesAPI, Reply

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


KEYED = """
[provider]
name = "openai"
base_url = "{base_url}"
max_retries = 0

[[asset]]
name = "mascot"
prompt = "a round orange mascot"
model = "gpt-image-2"
size = "1024x1024"
quality = "low"
background = "transparent"
{transparency}
variants = [{{ width = 64, format = "png" }}]
"""


@pytest.fixture
def own_fake() -> Iterator[FakeImagesAPI]:
    """A fake of this test's own: a late request of an earlier test cannot take its reply."""
    fake = FakeImagesAPI(key=FAKE_API_KEY).start()
    try:
        yield fake
    finally:
        fake.stop()


def test_transparency_key_makes_alpha_on_a_model_without_it(
    tmp_path: Path, own_fake: FakeImagesAPI, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    fake_api = own_fake
    monkeypatch.setenv("OPENAI_API_KEY", FAKE_API_KEY)
    spec = tmp_path / "assetgen.toml"
    spec.write_text(KEYED.format(base_url=fake_api.base_url, transparency=""))
    assert main(["-C", str(tmp_path), "plan"]) == 2
    assert 'transparency = "key"' in capsys.readouterr().err  # the error says the way out

    spec.write_text(KEYED.format(base_url=fake_api.base_url, transparency='transparency = "key"'))
    assert main(["-C", str(tmp_path), "plan"]) == 0
    answer = io.BytesIO()
    composite((230, 120, 30), (0, 255, 0)).resize((1024, 1024)).save(answer, format="PNG")
    fake_api.script(Reply.images(answer.getvalue()))
    assert main(["-C", str(tmp_path), "build", "--yes"]) == 0
    bodies = [r.json for r in fake_api.requests if r.json and "orange mascot" in r.json["prompt"]]
    assert len(bodies) == 1
    body = bodies[0]
    assert body["background"] == "opaque"
    assert "pure green (#00ff00) background" in body["prompt"]
    entry = tomllib.loads((tmp_path / "assetgen.lock").read_text())["assets"]["mascot"]
    assert entry["params"]["transparency"] == "key" and entry["params"]["key_colour"] == "green"
    with Image.open(tmp_path / entry["original"]["path"]) as original:
        alpha = original.convert("RGBA").getchannel("A")
        assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((512, 512)) == 255
