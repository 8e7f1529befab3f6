"""A model's lifecycle in words: deprecation and shutdown notes, and refusals explained.

A shutdown date applies to OpenAI's own endpoint, which then refuses the
model: there a retired model is a spec error naming its successor and the one
line to change. Another ``base_url`` (a reseller) may still serve it, so it is
sent, with one warning per build.
"""

from __future__ import annotations

from datetime import date
from typing import Literal
from urllib.parse import urlsplit

from ..base import ImageRequest
from .models import ModelProfile

OPENAI_HOSTS = frozenset({"api.openai.com"})
"""Hosts of OpenAI's own endpoint, the one a shutdown date applies to."""


def is_openai_endpoint(base_url: str) -> bool:
    """Whether ``base_url`` is OpenAI's own API (where shutdown dates apply)."""
    return (urlsplit(base_url).hostname or "").lower() in OPENAI_HOSTS


def change_model_line(profile: ModelProfile) -> str:
    """The one edit that moves a spec off a retired model."""
    if not profile.successors:
        return "change [provider] model (or the asset's model) to a current model"
    first, *others = profile.successors
    also = f" (also current: {', '.join(others)})" if others else ""
    return f'set [provider] model = "{first}" in assetgen.toml, or the asset\'s model{also}'


def lifecycle_note(
    profile: ModelProfile, today: date, base_url: str, *, notice_days: int
) -> tuple[Literal["error", "warning", "info"], str] | None:
    """What to say about the model's lifecycle, once per build; ``None``: nothing.

    ``error``: shut down on OpenAI's endpoint, which refuses it. Elsewhere a
    retired model may still be served, so it is a ``warning`` and is sent.
    """
    if profile.shutdown is None:
        return None
    fix = change_model_line(profile)
    if profile.status(today) == "shut down":
        head = f"model {profile.id!r} was shut down upstream on {profile.shutdown}"
        if is_openai_endpoint(base_url):
            return "error", f"{head}, so OpenAI's API refuses it; {fix}"
        return "warning", (
            f"{head}; {base_url} may still serve it, so it is sent; locked assets stay "
            f"valid; to move on, {fix}"
        )
    days = (profile.shutdown - today).days
    message = (
        f"model {profile.id!r} is deprecated and shuts down upstream on "
        f"{profile.shutdown} (in {days} days); for new assets, {fix}"
    )
    return ("warning" if days <= notice_days else "info"), message


def transparency_hint(
    profile: ModelProfile, request: ImageRequest, param: str | None, message: str
) -> str | None:
    """A hint for a refused transparent background on a model not known to refuse it."""
    asked = request.background == "transparent" and profile.transparency is None
    if not asked or not (param == "background" or "transparent" in message.lower()):
        return None
    return (
        f"assetgen's model table does not know whether {profile.id} makes transparent "
        'backgrounds, so it asked; use background = "opaque" or a model that can'
    )
