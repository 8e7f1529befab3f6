"""Draw the example's input images in art/ (run once; the outputs are committed).

    python make_inputs.py

* ``art/mascot.png``: Nim, the mascot, on a transparent background; base
  image of the ``mascot-wave`` edit.
* ``art/mascot-arm.png``: black and white mask, same size; white marks the
  region around the right arm that the edit may repaint.
* ``art/style.png``: a small style reference (flat shapes in the brand palette).

Flat colours and no anti-aliasing keep the PNGs a few kilobytes each.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ART = Path(__file__).parent / "art"
SIZE = (1024, 1024)
TEAL, DEEP_TEAL, CORAL, OFF_WHITE, INK = (
    (38, 140, 140),
    (18, 78, 84),
    (244, 112, 96),
    (250, 245, 236),
    (28, 36, 44),
)
ARM_BOX = (640, 300, 960, 640)
"""Where the right arm hangs now and where it may wave: the edit region."""


def mascot() -> Image.Image:
    """A round cloud-like character with a face and two arms at its sides."""
    image = Image.new("RGBA", SIZE, (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for box in ((250, 330, 530, 610), (420, 280, 720, 580), (300, 420, 740, 800)):
        draw.ellipse(box, fill=TEAL)
    draw.ellipse((330, 470, 690, 760), fill=OFF_WHITE)
    for x in (430, 570):
        draw.ellipse((x - 28, 400, x + 28, 456), fill=OFF_WHITE)
        draw.ellipse((x - 14, 416, x + 10, 444), fill=INK)
    draw.arc((450, 470, 550, 530), start=20, end=160, fill=INK, width=12)
    draw.rounded_rectangle((250, 560, 330, 720), radius=40, fill=DEEP_TEAL)
    draw.rounded_rectangle((700, 560, 780, 720), radius=40, fill=DEEP_TEAL)
    for x in (400, 560):
        draw.rounded_rectangle((x, 780, x + 70, 870), radius=30, fill=DEEP_TEAL)
    return image


def arm_mask() -> Image.Image:
    """White (edit) around the right arm and the space it waves into; black elsewhere."""
    mask = Image.new("L", SIZE, 0)
    ImageDraw.Draw(mask).rounded_rectangle(ARM_BOX, radius=60, fill=255)
    ImageDraw.Draw(mask).rectangle((690, 540, 800, 740), fill=255)
    return mask


def style() -> Image.Image:
    """Flat shapes in the brand palette, for the model to borrow colours and shapes."""
    image = Image.new("RGB", (512, 512), OFF_WHITE)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 352, 512, 512), fill=DEEP_TEAL)
    draw.ellipse((56, 120, 296, 360), fill=TEAL)
    draw.ellipse((250, 60, 450, 260), fill=CORAL)
    draw.rounded_rectangle((300, 300, 470, 420), radius=40, fill=OFF_WHITE)
    return image


def main() -> None:
    ART.mkdir(exist_ok=True)
    mascot().save(ART / "mascot.png", optimize=True)
    arm_mask().save(ART / "mascot-arm.png", optimize=True)
    style().save(ART / "style.png", optimize=True)


if __name__ == "__main__":
    main()
