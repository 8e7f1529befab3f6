"""Reading ``[provider]``: its own fields, its prices and each provider's options table.

The fields of :class:`~assetgen.spec_types.ProviderConfig` are read as every
other spec field; ``prices`` is checked whichever provider the spec names
(:mod:`assetgen.prices`); and each ``[provider.<name>]`` table of a
registered provider is read into that provider's ``options_class``
(:mod:`assetgen.options`). Why options live in ``[provider.<name>]``: see
:mod:`assetgen.provider_registry`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import provider_registry
from .checks import (
    is_non_empty_str,
    is_non_negative_int,
    is_non_negative_number,
    is_positive_int,
    is_positive_number,
    is_table_of_tables,
)
from .errors import SpecError
from .options import read_options
from .prices import price_problems
from .spec_types import BATCH_MODES, IMAGE_FIELDS, ProviderConfig
from .validation import TableReader, did_you_mean

PROVIDER_KEYS = tuple(
    k for k in ProviderConfig.__dataclass_fields__ if k not in ("base_url_set", "options")
)


class ProviderReader(TableReader):
    """Reads ``[provider]``; ``provider`` is ``--provider``, which overrides its ``name``."""

    def __init__(self, path: Path, data: dict[str, Any], *, provider: str | None = None) -> None:
        super().__init__(path, data)
        self.provider_override = provider

    def read_provider(self, table: dict[str, Any]) -> ProviderConfig:
        """``[provider]``: its own fields, then each provider's ``[provider.<name>]`` table."""
        p = "provider."
        own = {k: v for k, v in table.items() if k in PROVIDER_KEYS or not isinstance(v, dict)}
        self.unknown_keys(own, PROVIDER_KEYS, p)
        values: dict[str, Any] = {
            "name": self.typed(table, "name", is_non_empty_str, "a provider name", prefix=p),
            "image_field": self.choice(table, "image_field", IMAGE_FIELDS, prefix=p),
            "timeout": self.typed(
                table, "timeout", is_positive_number, "a number of seconds > 0", prefix=p
            ),
            "concurrency": self.typed(
                table, "concurrency", is_positive_int, "an integer >= 1", prefix=p
            ),
            "max_retries": self.typed(
                table, "max_retries", is_non_negative_int, "an integer >= 0", prefix=p
            ),
            "requests_per_minute": self.typed(
                table, "requests_per_minute", is_positive_number, "a number > 0", prefix=p
            ),
            "prices": self.prices(table),
            "batch": self.choice(table, "batch", BATCH_MODES, prefix=p),
            "batch_poll": self.typed(
                table, "batch_poll", is_positive_number, "a number of seconds > 0", prefix=p
            ),
            "batch_wait": self.typed(
                table, "batch_wait", is_non_negative_number, "a number of seconds >= 0", prefix=p
            ),
        }
        for key in ("model", "base_url", "api_key_env", "organization", "project"):
            values[key] = self.typed(table, key, is_non_empty_str, "a non-empty string", prefix=p)
        values["base_url_set"] = values["base_url"] is not None
        name = self.provider_override or values["name"] or ProviderConfig.name
        values["name"] = name
        values["options"] = self.provider_options(table, name, written=table.get("name"))
        return ProviderConfig(**{k: v for k, v in values.items() if v is not None})

    def prices(self, table: dict[str, Any]) -> dict[str, dict[str, Any]] | None:
        """``[provider] prices``, checked whichever provider the spec names."""
        prices: dict[str, dict[str, Any]] | None = self.typed(
            table, "prices", is_table_of_tables, "a table of tables", prefix="provider."
        )
        for field, message in price_problems(prices or {}):
            self.problem(message, field=field)
        return prices

    def provider_options(self, table: dict[str, Any], name: str, written: Any) -> Any:
        """The options of provider ``name``; every ``[provider.<x>]`` table is checked.

        A table named after the spec's own ``name`` is skipped when ``--provider``
        chose another one, so a spec for a provider not installed here still builds
        with ``--provider offline``.
        """
        if self.provider_override is None and not provider_registry.is_registered(name):
            message, hint = provider_registry.unknown(name)
            self.problem(message, field="provider.name", hint=hint)
        tables = {k: v for k, v in table.items() if k not in PROVIDER_KEYS and isinstance(v, dict)}
        chosen = None
        for key, body in tables.items():
            if provider_registry.is_registered(key):
                options = self.options_of(key, body)
                chosen = options if key == name else chosen
            elif key != written:
                known = provider_registry.names()
                self.problem(
                    "unknown key: not a [provider] field, nor a registered provider's table",
                    field=f"provider.{key}",
                    hint=did_you_mean(key, [*PROVIDER_KEYS, *known])
                    or f"registered providers: {', '.join(known)}",
                )
        if name not in tables and provider_registry.is_registered(name):
            chosen = self.options_of(name, {})
        return chosen

    def options_of(self, name: str, body: dict[str, Any]) -> Any:
        """``[provider.<name>]`` read into the provider's options class (problems collected)."""
        try:
            cls = provider_registry.load(name)
        except SpecError as exc:
            exc.file = self.path.name
            self.problems.append(exc)
            return None
        options, problems = read_options(
            cls.options_class, body, f"provider.{name}.", file=self.path.name
        )
        self.problems.extend(problems)
        return options
