"""A synthetic offline project of N assets x 2 variants, for the no-op benchmarks.

    python benchmarks/project.py DIR --assets 1000          # write it (no build)
    python benchmarks/project.py DIR --assets 1000 --build  # and build it cold

The spec mixes what real projects use, in proportions that keep every code
path warm: a matrix over a project template (``tile.j2``) that includes a
partial (``_style.j2``) and imports the stock macros; a matrix with an inline
prompt; and a few edits of committed input images. Originals are small
(``--size``, 256x256 by default) so a cold build of 1,000 assets stays short;
a no-op does not read images, so their size does not change what it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

SPEC = """\
[build]
out_dir = "public/img"
templates = "prompts"
manifest = "public/img/assets.json"

[provider]
name = "offline"
model = "sketch"  # not in the model table: offline draws any size (256x256 keeps builds short)

[defaults]
size = "{size}"
quality = "low"

[vars]
brand = "Bench Co"
palette = "deep teal, coral and off-white"

[variant_sets.pair]
widths = [128]
formats = ["webp", "png"]
filename = "{{name}}-{{width}}w.{{ext}}"

[[asset]]
name = "tile-{{{{ n }}}}"
template = "tile.j2"
matrix = {{ n = {templated} }}
variants = ["pair"]

[[asset]]
name = "inline-{{{{ n }}}}"
prompt = "an inline prompt for {{{{ brand }}}}, picture number {{{{ n }}}}"
matrix = {{ n = {inline} }}
variants = ["pair"]

[[asset]]
name = "edit-{{{{ n }}}}"
image = "art/base-{{{{ n }}}}.png"
prompt = "restyle base {{{{ n }}}} {{{{ palette }}}}"
matrix = {{ n = {edits} }}
variants = ["pair"]
"""

TILE = """\
{% import "stock/_macros.j2" as m %}
A square tile, number {{ n }}, {% include "_style.j2" %}
{{ m.palette_phrase(palette) }}, {{ m.brand_phrase(brand) }}
"""
STYLE = "flat shapes, soft light, {{ 'even' if n % 2 == 0 else 'odd' }} rows"
EDIT_SHARE = 50
"""One asset in this many is an edit of an input image."""


def split(assets: int) -> tuple[list[int], list[int], list[int]]:
    """Asset numbers per table: templated (half), inline, edits (1 in 50)."""
    edits = max(1, assets // EDIT_SHARE)
    templated = (assets - edits) // 2
    inline = assets - edits - templated
    return list(range(templated)), list(range(inline)), list(range(edits))


def write_project(root: Path, assets: int, *, size: str = "256x256") -> Path:
    """Write the spec, templates and input images under ``root``; returns the spec path."""
    from PIL import Image

    templated, inline, edits = split(assets)
    root.mkdir(parents=True, exist_ok=True)
    spec = root / "assetgen.toml"
    spec.write_text(SPEC.format(size=size, templated=templated, inline=inline, edits=edits))
    prompts = root / "prompts"
    prompts.mkdir(exist_ok=True)
    (prompts / "tile.j2").write_text(TILE)
    (prompts / "_style.j2").write_text(STYLE)
    art = root / "art"
    art.mkdir(exist_ok=True)
    for n in edits:
        Image.new("RGB", (64, 64), (n * 37 % 256, 90, 160)).save(art / f"base-{n}.png")
    return spec


def build(root: Path) -> int:
    from assetgen.cli import main

    with contextlib.redirect_stdout(io.StringIO()):
        return main(["-C", str(root), "-q", "build"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--build", action="store_true", help="build it cold afterwards")
    args = parser.parse_args(argv)
    write_project(args.folder, args.assets, size=args.size)
    return build(args.folder) if args.build else 0


if __name__ == "__main__":
    sys.exit(main())
