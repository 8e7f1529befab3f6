"""``assetgen init``: a starter project that builds offline right away."""

from __future__ import annotations

from pathlib import Path

from .errors import UsageError
from .fsutil import atomic_write_text
from .spec_types import DEFAULT_SPEC_NAME, DEFAULT_STATE_DIR

STARTER_SPEC = """\
# assetgen.toml: the image assets of this project. Reference: see the README.

[build]
out_dir = "public/img"          # variants are written here
store_dir = "assets/generated"  # originals, content-addressed: commit this folder
templates = "prompts"           # prompt templates (Jinja2)

[provider]
# "offline" draws deterministic placeholder images, no key needed.
# Switch to the real thing with name = "openai" and OPENAI_API_KEY set.
name = "offline"
model = "gpt-image-2.6-flare"   # fast draft tier; "gpt-image-2.6-sunburst" for detail.
                                # `assetgen models` lists every model with its prices.

[defaults]
size = "1024x1024"
quality = "medium"

[vars]
brand = "My Product"
palette = "deep teal, coral and off-white"

[variant_sets.responsive]
widths = [480, 960]
formats = ["webp", "jpeg"]
quality = 80

[[asset]]
name = "hero-{{ mood }}"
template = "hero.j2"
matrix = { mood = ["calm", "bold"] }
size = "1536x1024"
variants = ["responsive"]
"""

STARTER_TEMPLATE = """\
{# prompts/hero.j2: whitespace is normalised, so format freely. #}
A wide hero illustration for {{ brand }}, {{ mood }} mood,
flat vector style in {{ palette }}, generous empty space on the left for a headline,
no text, no logos.
"""


def write_starter(folder: Path, *, force: bool = False) -> list[tuple[str, str]]:
    """Write the starter spec, a template and a .gitignore line.

    Returns ``(what, path)`` per file: ``created``, ``overwrote``, ``appended to``
    or ``kept`` (an existing file left as it was).
    """
    spec = folder / DEFAULT_SPEC_NAME
    if spec.exists() and not force:
        raise UsageError(
            f"{DEFAULT_SPEC_NAME} already exists here", hint="use --force to overwrite"
        )
    done = [("overwrote" if spec.exists() else "created", DEFAULT_SPEC_NAME)]
    atomic_write_text(spec, STARTER_SPEC)
    template = folder / "prompts" / "hero.j2"
    if not template.exists() or force:
        done.append(("overwrote" if template.exists() else "created", "prompts/hero.j2"))
        atomic_write_text(template, STARTER_TEMPLATE)
    else:
        done.append(("kept", "prompts/hero.j2"))
    gitignore = folder / ".gitignore"
    existed = gitignore.exists()
    if add_gitignore_line(gitignore, f"{DEFAULT_STATE_DIR}/"):
        done.append(("appended to" if existed else "created", ".gitignore"))
    else:
        done.append(("kept", ".gitignore"))
    return done


def add_gitignore_line(path: Path, line: str) -> bool:
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    if line in existing.splitlines():
        return False
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    atomic_write_text(path, f"{existing}{prefix}{line}\n")
    return True
