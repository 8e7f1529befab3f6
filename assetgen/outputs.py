"""Which files a plan's variants write, checked before anything runs.

Two variants (of one asset or of two) whose file names resolve to one path
but whose settings differ would overwrite each other half-way through a
build: ``plan`` refuses them (exit 2) naming the asset, both variants by
their settings and the pattern to fix, so no money is spent and no file is
left behind that the lock does not own.

A variant's output size depends on its original: known for assets whose
original exists, taken from the requested ``size`` for generations (an
``auto`` size cannot be predicted: then only names without ``{width}`` or
``{height}`` are compared). Names with ``{hash8}`` never collide: they carry
the content. Variants that make the *same* file (a width clamped to the
original's) are not collisions: the planner collapses them into one
(:func:`assetgen.plan.effective_recipe`).
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import SpecError, SpecErrors
from .filenames import EXTENSIONS
from .plan import AssetStep, VariantStep, duplicate_note, effective_recipe

if TYPE_CHECKING:
    from .spec_types import VariantSpec

SIZE_FIELDS = ("width", "height")


@dataclass(frozen=True)
class Output:
    """One variant's predicted file."""

    asset: str
    variant: VariantStep
    path: str
    """Project-relative, normalised."""
    recipe: dict[str, Any]
    """What makes its bytes (clamped to the original when known)."""


def settings(spec: VariantSpec) -> str:
    """A variant as the user wrote it, for messages: ``width=800, format=webp, quality=80``."""
    recipe = spec.recipe()
    shown = [f"{k}={recipe[k]}" for k in ("width", "height", "fit", "format") if recipe[k]]
    shown += [f"quality={spec.quality}"] if spec.format in ("jpeg", "webp", "avif") else []
    return ", ".join(shown)


def original_size(step: AssetStep) -> tuple[int, int] | None:
    """The size of the original the step's variants are made from, if it can be known."""
    if step.known is not None:
        chosen = step.known.candidates[min(step.selected, len(step.known.candidates) - 1)]
        return chosen.width, chosen.height
    width, _, height = step.asset.params.size.partition("x")
    if width.isdigit() and height.isdigit():
        return int(width), int(height)
    return None


def predicted(step: AssetStep, out_dir: str) -> list[Output]:
    """The files the step's variants will write (recorded paths for kept ones)."""

    size = original_size(step)
    outputs = []
    for variant in step.variants:
        if variant.kept is not None:
            path = posixpath.normpath(variant.kept.path)
            outputs.append(Output(step.name, variant, path, variant.recipe))
            continue
        if "{hash8" in variant.spec.filename:
            continue
        recipe = effective_recipe(variant.recipe, size) if size else variant.recipe
        name = filename(variant.spec, step.name, size)
        if name is not None:
            path = posixpath.normpath(f"{out_dir}/{name}")
            outputs.append(Output(step.name, variant, path, recipe))
    return outputs


def filename(spec: VariantSpec, asset: str, original: tuple[int, int] | None) -> str | None:
    """The variant's file name; ``None`` when it depends on a size that is not known."""
    uses_size = any(f"{{{field}" in spec.filename for field in SIZE_FIELDS)
    if uses_size and original is None:
        return None
    width, height = (0, 0)
    if uses_size and original is not None:
        from .variants import output_size  # Pillow: only for plans that render something

        width, height = output_size(original, spec)
    try:
        return spec.filename.format(
            name=asset, width=width, height=height, hash8="", ext=EXTENSIONS[spec.format]
        )
    except (KeyError, IndexError, ValueError, AttributeError):
        return None  # the pattern's own problem is reported where the spec is checked


def collision(first: Output, second: Output, file: str) -> SpecError:
    if first.asset == second.asset:
        message = (
            f"variants ({settings(first.variant.spec)}) and ({settings(second.variant.spec)}) "
            f"both write {second.path}"
        )
    else:
        message = f"writes {second.path}, which asset {first.asset!r} writes too"
    hint = (
        f"make the file name pattern {second.variant.spec.filename!r} tell them apart "
        "(with {name}, {width}, {height}, {ext} or {hash8})"
    )
    return SpecError(message, file=file, asset=second.asset, field="variants.filename", hint=hint)


def check_outputs(steps: list[AssetStep], out_dir: str, *, file: str) -> list[str]:
    """Refuse colliding variants (all at once); notes for files written once for several."""

    owners: dict[str, Output] = {}
    problems: list[SpecError] = []
    notes: list[str] = []
    for step in steps:
        for output in predicted(step, out_dir):
            first = owners.setdefault(output.path, output)
            if first is output:
                continue
            if first.asset == output.asset and first.recipe == output.recipe:
                size = output.recipe.get("width") or output.recipe.get("height")
                notes.append(
                    duplicate_note(output.asset, first.variant.spec, output.variant.spec, size)
                )
            else:
                problems.append(collision(first, output, file))
    SpecErrors.raise_if_any(problems)
    return notes
