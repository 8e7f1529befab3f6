"""Image providers: the offline renderer, the OpenAI-compatible Images API, and plugins.

:func:`create_provider` finds the class ``[provider] name`` names in the
registry (:mod:`assetgen.provider_registry`: the built-ins and the
``assetgen.providers`` entry points), which imports a provider's module only
when it is used, so that httpx is never imported by a build that stays offline.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import SpecError, SpecErrors
from ..options import read_options
from ..provider_registry import load
from .base import Provider

if TYPE_CHECKING:
    from ..events import Emit
    from ..spec_types import ProviderConfig
    from .base import Provider

__all__ = ["create_provider"]


def create_provider(config: ProviderConfig, *, emit: Emit) -> Provider:
    """The provider ``config.name`` names, built with its validated options, ready to use.

    ``config.options`` is what the spec reader made of ``[provider.<name>]``; a
    config made in code without it gets the options' defaults.
    """
    cls = load(config.name)
    if not issubclass(cls, Provider):
        raise SpecError(
            f"provider {config.name!r} ({cls.__module__}.{cls.__qualname__}) is not a "
            "subclass of assetgen.providers.base.Provider",
            field="provider.name",
        )
    provider: Provider = cls(config, options=options_for(cls, config), emit=emit)
    return provider


def options_for(cls: type[Provider], config: ProviderConfig) -> Any:
    """``config.options`` if they are this provider's; its defaults when none were read."""
    if config.options is None:
        options, problems = read_options(cls.options_class, {}, f"provider.{cls.name}.")
        SpecErrors.raise_if_any(problems)
        return options
    if not isinstance(config.options, cls.options_class):
        raise SpecError(
            f"options of type {type(config.options).__name__} given to provider "
            f"{cls.name!r}, which takes {cls.options_class.__name__}",
            field=f"provider.{cls.name}",
        )
    return config.options
