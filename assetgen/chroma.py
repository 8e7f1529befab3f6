"""Transparency by chroma key, for models that cannot return an alpha channel.

The building block of ``transparency = "key"`` (issue 11, item 5; not wired
into the spec yet): the model is asked for the subject on a flat key colour
chosen away from the prompt's palette, and the colour is removed here:

* **alpha** by colour difference: how far the key's channels stand above the
  others, so anti-aliased edges get soft alpha (noise near either end is
  snapped to fully clear or fully solid);
* **spill removal**: the key's dominant channels are pulled down to what the
  other channels justify (green: ``G = min(G, max(R, B))``; magenta: ``R`` and
  ``B`` lose what they have above ``G`` in common; blue: ``B = min(B, max(R,
  G))``), so edges keep no coloured fringe.

Everything is Pillow band arithmetic (``ImageChops``, ``point``): no pixel
loops, bounded by the image's size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


@dataclass(frozen=True)
class KeyColour:
    name: str
    rgb: tuple[int, int, int]
    words: tuple[str, ...]
    """Palette words that make this key a bad choice (the subject may use them)."""


KEYS = (
    KeyColour("green", (0, 255, 0), ("green", "lime", "teal", "emerald", "olive", "mint", "jade")),
    KeyColour("magenta", (255, 0, 255), ("magenta", "pink", "purple", "violet", "fuchsia", "rose")),
    KeyColour("blue", (0, 0, 255), ("blue", "navy", "azure", "cobalt", "cyan", "indigo", "sky")),
)
CLEAR = 16
"""Alpha (0–255) below which a pixel is made fully transparent (noise on the key)."""
SOLID = 240
"""Alpha above which a pixel is made fully opaque."""


def choose_key(prompt: str) -> KeyColour:
    """The key colour whose palette words the prompt mentions least (green on a tie)."""
    words = re.findall(r"[a-z]+", prompt.lower())

    def clashes(key: KeyColour) -> int:
        return sum(1 for word in words if any(word.startswith(w) for w in key.words))

    return min(KEYS, key=clashes)


def key_prompt(prompt: str, key: KeyColour) -> str:
    """The prompt that asks for the subject alone on the flat key colour."""
    hex_rgb = "#{:02x}{:02x}{:02x}".format(*key.rgb)
    return (
        f"{prompt} The subject stands alone on a perfectly flat, uniform pure {key.name} "
        f"({hex_rgb}) background: no shadow, no gradient, no {key.name} in the subject."
    )


def key_by_name(name: str) -> KeyColour:
    return next(key for key in KEYS if key.name == name)


def remove_key_png(data: bytes, key: KeyColour) -> bytes:
    """An answer's image with the key keyed out, as PNG (alpha needs PNG or WebP)."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        keyed = remove_key(image, key)
    buffer = io.BytesIO()
    keyed.save(buffer, format="PNG")
    return buffer.getvalue()


def remove_key(image: Image.Image, key: KeyColour) -> Image.Image:
    """``image`` as RGBA with ``key`` keyed out: soft alpha at edges, spill removed.

    Colour-difference keying: how far the key's own channels stand above the
    others (``G - max(R, B)`` for green) measures how much key shows through;
    a pure key pixel scores 255 (transparent), a subject pixel 0 or less
    (opaque), and an edge blending the two lies in between.
    """
    rgb = image.convert("RGB")
    excess = key_excess(rgb, key)
    span = SOLID - CLEAR

    def ramp(value: int) -> int:
        opacity = 255 - value
        return (
            0 if opacity <= CLEAR else 255 if opacity >= SOLID else (opacity - CLEAR) * 255 // span
        )

    keyed = despill(rgb, key)
    keyed.putalpha(excess.point(ramp))
    return keyed


def key_excess(rgb: Image.Image, key: KeyColour) -> Image.Image:
    """Per pixel, how far the key's channels stand above the others (0–255, clamped)."""
    from PIL import ImageChops

    red, green, blue = rgb.split()
    if key.name == "green":
        return ImageChops.subtract(green, ImageChops.lighter(red, blue))
    if key.name == "blue":
        return ImageChops.subtract(blue, ImageChops.lighter(red, green))
    return ImageChops.subtract(ImageChops.darker(red, blue), green)


def despill(rgb: Image.Image, key: KeyColour) -> Image.Image:
    """Pull the key's channels down to what the other channels justify."""
    from PIL import Image, ImageChops

    red, green, blue = rgb.split()
    if key.name == "green":
        green = ImageChops.darker(green, ImageChops.lighter(red, blue))
    elif key.name == "blue":
        blue = ImageChops.darker(blue, ImageChops.lighter(red, green))
    else:  # magenta: red and blue share the spill above green
        spill = ImageChops.subtract(ImageChops.darker(red, blue), green)
        red, blue = ImageChops.subtract(red, spill), ImageChops.subtract(blue, spill)
    return Image.merge("RGB", (red, green, blue))
