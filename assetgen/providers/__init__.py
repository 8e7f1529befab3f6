"""Image providers: the offline renderer and the OpenAI-compatible Images API.

:func:`create_provider` imports a provider's module only when it is used, so
that httpx is never imported by a build that stays offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import SpecError
from ..spec_types import PROVIDER_NAMES

if TYPE_CHECKING:
    from ..events import Emit
    from ..spec_types import ProviderConfig
    from .base import Provider

__all__ = ["PROVIDER_NAMES", "create_provider"]


def create_provider(config: ProviderConfig, *, emit: Emit) -> Provider:
    """The provider ``config.name`` names, ready to use."""
    if config.name == "offline":
        from .offline import OfflineProvider

        return OfflineProvider(config, emit=emit)
    if config.name == "openai":
        from .openai import OpenAIProvider

        return OpenAIProvider(config, emit=emit)
    raise SpecError(
        f"unknown provider {config.name!r}; expected one of {', '.join(PROVIDER_NAMES)}",
        field="provider.name",
    )
