"""Reading ``[provider]``: its own fields, its prices and each provider's options tables.

The fields of :class:`~assetgen.spec_types.ProviderConfig` are read as every
other spec field; ``prices`` is checked whichever provider the spec names
(:mod:`assetgen.prices`); and each ``[provider.<name>]`` table of a
registered provider is read into that provider's ``options_class``
(:mod:`assetgen.options`). Why options live in ``[provider.<name>]``: see
:mod:`assetgen.provider_registry`.

Per-asset options are read here too: an ``[asset.<name>]`` (or
``[defaults.<name>]``) sub-table goes into provider ``<name>``'s
``asset_options_class``. Every registered provider's table is checked; only
the one of the provider in use is kept (as
:class:`~assetgen.params.ProviderOptions`), the asset's over ``[defaults]``'s.
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
from .params import ProviderOptions
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
        self.provider_name = provider or ProviderConfig.name
        """The provider in use, once ``[provider]`` is read."""
        self.written_provider: Any = None
        """``[provider] name`` as the spec writes it."""
        self.unloadable: set[str] = set()
        """Providers whose class failed to load (reported once)."""
        self.default_model = ProviderConfig.model
        """``[provider] model``: the model of an asset that names none, nor ``[defaults]``."""
        self.default_options: ProviderOptions | None = None
        """``[defaults.<provider>]`` read (or the bare options): an asset's without its own."""
        self.default_options_table: dict[str, Any] = {}
        """``[defaults.<provider>]`` as written, which an asset's own table goes over."""

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
        values["name"] = self.provider_name = name
        self.written_provider = table.get("name")
        values["options"] = self.provider_options(table, name, written=table.get("name"))
        config = ProviderConfig(**{k: v for k, v in values.items() if v is not None})
        self.config_problems(name, config)
        return config

    def config_problems(self, name: str, config: ProviderConfig) -> None:
        """The provider's own bounds on ``[provider]`` values, with every other problem."""
        if not provider_registry.is_registered(name):
            return  # reported as an unknown provider
        cls = self.provider_class(name)
        check = getattr(cls, "config_problems", None)
        for problem in check(config) if check is not None else ():
            self.problem(problem.message, field=problem.field or "provider", hint=problem.hint)

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
        cls = self.provider_class(name)
        if cls is None:
            return None
        options, problems = read_options(
            cls.options_class, body, f"provider.{name}.", file=self.path.name
        )
        self.problems.extend(problems)
        return options

    def provider_class(self, name: str) -> Any:
        """The class of registered provider ``name``; ``None`` (reported once) when it fails."""
        if name in self.unloadable:
            return None
        try:
            return provider_registry.load(name)
        except SpecError as exc:
            exc.file = self.path.name
            self.problems.append(exc)
            self.unloadable.add(name)
            return None

    # -- per-asset options ------------------------------------------------

    def split_provider_tables(
        self, table: dict[str, Any], allowed: tuple[str, ...], prefix: str, asset: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``table`` without its ``<provider>`` sub-tables, and those sub-tables.

        A table under a name that is neither a field nor a registered provider is
        reported here; other unknown keys are left to the caller.
        """
        rest: dict[str, Any] = {}
        tables: dict[str, Any] = {}
        for key, value in table.items():
            if key in allowed:
                rest[key] = value
            elif key == self.written_provider or provider_registry.is_registered(key):
                tables[key] = value
            elif isinstance(value, dict):
                known = provider_registry.names()
                self.problem(
                    "unknown key: not a field, nor a registered provider's table",
                    field=f"{prefix}{key}",
                    asset=asset,
                    hint=did_you_mean(key, [*allowed, *known])
                    or f"registered providers: {', '.join(known)}",
                )
            else:
                rest[key] = value
        return rest, tables

    def asset_options(
        self,
        tables: dict[str, Any],
        prefix: str,
        asset: str | None,
        *,
        defaults: dict[str, Any],
        fallback: ProviderOptions | None,
    ) -> ProviderOptions | None:
        """The options for the provider in use: its table over ``defaults`` (raw, checked).

        Every registered provider's table is checked; the others are then ignored.
        Without a table of the provider in use: ``fallback``.
        """
        chosen = None
        for key, body in tables.items():
            cls = self.asset_options_class(key, body, f"{prefix}{key}", asset)
            if cls is None:
                continue
            active = key == self.provider_name
            values, problems = read_options(
                cls,
                {**defaults, **body} if active else body,
                f"{prefix}{key}.",
                file=self.path.name,
                asset=asset,
            )
            self.problems.extend(problems)
            if active and values is not None:
                chosen = ProviderOptions(key, values)
        return chosen if self.provider_name in tables else fallback

    def asset_options_class(
        self, name: str, body: Any, field: str, asset: str | None
    ) -> type[Any] | None:
        """Provider ``name``'s ``asset_options_class``, when ``body`` can be read into it."""
        if not provider_registry.is_registered(name):
            return None  # the spec's own provider, not installed here: waits unchecked
        cls = self.provider_class(name)
        if cls is None:
            return None
        options: type[Any] | None = cls.asset_options_class
        if options is None:
            self.problem(f"provider {name!r} takes no per-asset options", field=field, asset=asset)
        elif not isinstance(body, dict):
            got = type(body).__name__
            message = f"expected a table of provider {name!r}'s per-asset options, got {got}"
            self.problem(message, field=field, asset=asset)
            return None
        return options

    def bare_asset_options(self) -> ProviderOptions | None:
        """The provider in use's per-asset options at their defaults; ``None``: it has none."""
        if not provider_registry.is_registered(self.provider_name):
            return None
        cls = self.provider_class(self.provider_name)
        options = None if cls is None else cls.asset_options_class
        return None if options is None else ProviderOptions(self.provider_name, options())
