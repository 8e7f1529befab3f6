"""Build small assetgen projects on disk for tests (real files, real images)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image

BASE_SPEC = """\
[build]
out_dir = "public/img"
store_dir = "assets/generated"
templates = "prompts"

[provider]
name = "offline"
model = "sketch"  # not in the model table: offline draws any size (small ones are fast)

[defaults]
size = "256x256"
quality = "low"

[vars]
brand = "Acme"
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def make_project(root: Path, assets: str, *, base: str = BASE_SPEC) -> Path:
    """A project folder with ``assetgen.toml`` = base + ``assets``; returns the spec path."""
    root.mkdir(parents=True, exist_ok=True)
    return write(root / "assetgen.toml", base + textwrap.dedent(assets))


def make_image(
    path: Path, size: tuple[int, int] = (256, 256), colour: tuple[int, ...] = (40, 90, 160)
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "RGBA" if len(colour) == 4 else "RGB"
    Image.new(mode, size, colour).save(path)
    return path


def make_mask(path: Path, size: tuple[int, int], box: tuple[int, int, int, int]) -> Path:
    """A black-and-white mask: white (edit) inside ``box``, black elsewhere."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mask = Image.new("L", size, 0)
    mask.paste(255, box)
    mask.save(path)
    return path
