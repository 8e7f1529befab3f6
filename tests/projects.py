"""Build small assetgen projects on disk for tests (real files, real images)."""

from __future__ import annotations

import os
import subprocess
import sys
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


HEAVY_MODULES = ("PIL", "jinja2", "httpx", "fsspec", "c2pa", "asyncio")
"""What a no-op must not pay to import: Pillow, Jinja2, httpx, fsspec, c2pa, an event loop."""


def heavy_imports(root: Path, command: str, *, drop_env: tuple[str, ...] = ()) -> tuple[int, str]:
    """``(exit code, heavy modules imported)`` of ``assetgen -C root -q command`` in a new process.

    ``drop_env``: environment variables the process runs without (e.g. the API key).
    """
    code = (
        "import sys; from assetgen.cli import main; "
        f"code = main(['-C', {str(root)!r}, '-q', {command!r}]); "
        f"print(code, ','.join(m for m in {HEAVY_MODULES!r} if m in sys.modules))"
    )
    env = {name: value for name, value in os.environ.items() if name not in drop_env}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    code_text, _, heavy = done.stdout.splitlines()[-1].partition(" ")
    return int(code_text), heavy
