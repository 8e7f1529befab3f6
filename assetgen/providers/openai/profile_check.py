"""Everything a model's profile refuses, checked locally and reported at once.

Both built-in providers run these checks, so a spec developed offline fails
in ``plan`` exactly where the real API would refuse it: the offline provider
draws any size, but it refuses one the configured model would not take.
"""

from __future__ import annotations

from ...errors import SpecError
from ..base import ImageRequest
from .models import ModelProfile, param_problems

Problem = tuple[str, str]
"""``(field, message)``."""


def profile_problems(profile: ModelProfile, request: ImageRequest) -> list[Problem]:
    """Parameters the model cannot serve and, for an edit, inputs the API would refuse."""
    problems = param_problems(profile, request)
    if request.operation == "edit":
        from .inputs import inspect_inputs  # Pillow: only for edits, never on a no-op

        try:
            inspect_inputs(request, profile)
        except SpecError as exc:  # reported with the parameters' problems, all at once
            problems.append((exc.field or "image", exc.message))
    return problems


def raise_problems(problems: list[Problem], request: ImageRequest) -> None:
    """One SpecError (the provider interface's promise) that names every problem."""
    if len(problems) == 1:
        [(name, message)] = problems
        raise SpecError(message, asset=request.asset, field=name)
    if problems:
        text = "; ".join(f"{name}: {message}" for name, message in problems)
        raise SpecError(text, asset=request.asset)
