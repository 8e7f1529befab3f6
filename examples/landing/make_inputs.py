"""Draw the example's input images in art/ (run once; the outputs are committed).

    python make_inputs.py

* ``art/mask-wave.png`` and ``art/mask-cheer.png``: black and white masks of
  the generated 1024x1024 ``mascot``; white marks the region the pose edits
  (``mascot-wave``, ``mascot-cheer``) may repaint: the right arm, both arms.
* ``art/style.png``: a small style reference (flat shapes in the brand palette).
* ``mascot()`` draws a hand-made stand-in of the mascot, handy for checking
  the masks line up (``python make_inputs.py --preview``); it is not an input.

Flat colours and no anti-aliasing keep the PNGs a few kilobytes each.
"""

from __future__ import annotations

import sys
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


def cheer_mask() -> Image.Image:
    """Both arms and the space above them: the mascot cheers with its arms up."""
    mask = arm_mask()
    left = (1024 - ARM_BOX[2], ARM_BOX[1], 1024 - ARM_BOX[0], ARM_BOX[3])
    ImageDraw.Draw(mask).rounded_rectangle(left, radius=60, fill=255)
    ImageDraw.Draw(mask).rectangle((224, 540, 334, 740), fill=255)
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
    arm_mask().save(ART / "mask-wave.png", optimize=True)
    cheer_mask().save(ART / "mask-cheer.png", optimize=True)
    style().save(ART / "style.png", optimize=True)
    if "--preview" in sys.argv:
        preview = mascot()
        preview.paste((244, 112, 96, 160), mask=cheer_mask())
        preview.save(ART.parent / "mask-preview.png")


if __name__ == "__main__":
    main()
