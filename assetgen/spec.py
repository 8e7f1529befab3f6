"""Read and validate ``assetgen.toml`` into :class:`~assetgen.spec_types.Spec`.

Validation happens in one pass that collects every problem (unknown keys
with a "did you mean", wrong types, values outside their allowed list, paths
that would leave the project) and raises them together as
:class:`~assetgen.errors.SpecErrors`. Problems that need the matrix expanded
or files hashed (duplicate names, missing input images) are found by
:mod:`assetgen.graph`, in the same spirit.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from . import provider_registry
from .checks import (
    is_bool,
    is_dict,
    is_int,
    is_list_of,
    is_non_empty_str,
    is_non_negative_int,
    is_non_negative_number,
    is_percent,
    is_percent_nonzero,
    is_positive_int,
    is_positive_number,
    is_size,
    is_str,
)
from .errors import SpecError, SpecErrors, UsageError
from .layout import build_layout, check_input, layout_problems
from .params import (
    BACKGROUNDS,
    COMPLEXITIES,
    INPUT_FIDELITIES,
    MODERATIONS,
    OUTPUT_FORMATS,
    QUALITIES,
    TRANSPARENCIES,
    GenerationParams,
)
from .paths import path_text_problem
from .provider_spec import ProviderReader
from .spec_types import (
    C2PA_MODES,
    DEFAULT_SPEC_NAME,
    FITS,
    MAX_ASSETS,
    MAX_NESTING,
    MAX_SPEC_BYTES,
    MAX_VARIANTS,
    REMOTE_SCHEMES,
    SIGNING_ALGS,
    VARIANT_FORMATS,
    AssetSpec,
    BuildConfig,
    CacheConfig,
    ProvenanceConfig,
    ProviderConfig,
    Spec,
    VariantSpec,
)
from .validation import did_you_mean, shown, structure_problems

SECTIONS = (
    "build", "provider", "provenance", "cache", "defaults", "vars", "variant_sets", "asset",
)  # fmt: skip
CACHE_KEYS = tuple(CacheConfig.__dataclass_fields__)
BUILD_KEYS = tuple(BuildConfig.__dataclass_fields__)
PROVENANCE_KEYS = tuple(ProvenanceConfig.__dataclass_fields__)
GENERATION_KEYS = (
    "size",
    "quality",
    "background",
    "moderation",
    "output_format",
    "output_compression",
    "input_fidelity",
    "complexity",
    "transparency",
)
DEFAULTS_KEYS = (*GENERATION_KEYS, "model", "variants", "keep_unmasked")
ASSET_KEYS = (
    "name",
    "prompt",
    "template",
    "matrix",
    "vars",
    "image",
    "mask",
    "references",
    "take",
    "candidates",
    *DEFAULTS_KEYS,
)
VARIANT_KEYS = tuple(VariantSpec.__dataclass_fields__)
VARIANT_SET_KEYS = (*VARIANT_KEYS, "widths", "heights", "formats")


def find_spec(start: Path) -> Path | None:
    """``assetgen.toml`` in ``start`` or the nearest parent folder that has one."""
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_SPEC_NAME
        if candidate.is_file():
            return candidate
    return None


def load_spec(path: Path, *, provider: str | None = None, raw: bytes | None = None) -> Spec:
    """Read, validate and return the spec at ``path``; raise every problem at once.

    ``provider`` (``--provider``) overrides ``[provider] name``; an unknown one is a
    UsageError blamed on the option, before the spec is read. ``raw``: the file's
    bytes, already read (with :func:`read_spec`).
    """
    if provider is not None and not provider_registry.is_registered(provider):
        message, hint = provider_registry.unknown(provider)
        raise UsageError(f"--provider {provider}: {message}", hint=hint)
    path = path.resolve()
    data = parse_spec(path, raw)
    SpecErrors.raise_if_any(
        SpecError(message, file=path.name, field=field or None)
        for field, message in structure_problems(data)
    )
    try:
        return SpecReader(path, data, provider=provider).read()
    except (RecursionError, ValueError, OSError, OverflowError) as exc:
        # Last resort: every check above should have caught it with a location.
        raise SpecError(f"cannot read the spec: {exc}", file=path.name) from exc


def read_spec(path: Path) -> bytes:
    """The bytes of the spec at ``path``, read with a size limit; every failure a SpecError."""
    if path.exists() and not path.is_file():
        raise SpecError("not a regular file", file=str(path))
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError as exc:
        raise SpecError("spec file not found", file=str(path)) from exc
    except OSError as exc:
        raise SpecError(f"cannot read the spec: {exc.strerror}", file=path.name) from exc
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"larger than {MAX_SPEC_BYTES // (1024 * 1024)} MiB", file=path.name)
    return raw


def parse_spec(path: Path, raw: bytes | None = None) -> dict[str, Any]:
    """The parsed TOML of ``path`` (or of its bytes ``raw``); every failure a SpecError."""
    import tomllib  # only when a file is parsed, not when its parse is reused

    raw = read_spec(path) if raw is None else raw
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"not valid TOML: {exc}", file=path.name) from exc
    except RecursionError as exc:
        raise SpecError(
            f"not valid TOML: nested too deeply (at most {MAX_NESTING} levels)", file=path.name
        ) from exc
    except ValueError as exc:  # int() of more than sys.get_int_max_str_digits() digits
        raise SpecError(f"not valid TOML: {exc}", file=path.name) from exc


class SpecReader(ProviderReader):
    """One validation pass over the parsed TOML of ``assetgen.toml``."""

    # -- sections ---------------------------------------------------------

    def read(self) -> Spec:
        self.unknown_keys(self.data, SECTIONS, "")
        build = self.read_build(self.table("build"))
        provider = self.read_provider(self.table("provider"))
        provenance = self.read_provenance(self.table("provenance"))
        cache = self.read_cache(self.table("cache"))
        defaults = self.read_defaults(provider)
        variables = self.table("vars")
        variant_sets = self.read_variant_sets(self.table("variant_sets"))
        assets = self.read_assets(defaults, variant_sets)
        if provenance.signs:
            self.check_signable(assets)
        SpecErrors.raise_if_any(self.problems)
        self.check_layout(build, assets)
        SpecErrors.raise_if_any(self.problems)
        return Spec(
            path=self.path,
            build=build,
            provider=provider,
            defaults=defaults,
            vars=dict(variables),
            variant_sets=variant_sets,
            assets=tuple(assets),
            provenance=provenance,
            cache=cache,
        )

    def read_defaults(self, provider: ProviderConfig) -> dict[str, Any]:
        """``[defaults]``, and its ``[defaults.<provider>]`` options (kept on the reader)."""
        table, tables = self.split_provider_tables(
            self.table("defaults"), DEFAULTS_KEYS, "defaults.", None
        )
        defaults = self.read_generation(table, "defaults.", DEFAULTS_KEYS)
        self.default_model = provider.model
        self.default_options = self.asset_options(
            tables, "defaults.", None, defaults={}, fallback=self.bare_asset_options()
        )
        own = tables.get(provider.name)
        self.default_options_table = own if isinstance(own, dict) and self.default_options else {}
        return defaults

    def check_layout(self, build: BuildConfig, assets: list[AssetSpec]) -> None:
        self.problems.extend(layout_errors(self.path, build, assets))

    def read_build(self, table: dict[str, Any]) -> BuildConfig:
        self.unknown_keys(table, BUILD_KEYS, "build.")
        values: dict[str, Any] = {}
        for key in ("out_dir", "store_dir", "lockfile", "templates", "manifest"):
            values[key] = self.project_path(table, key, prefix="build.")
        values["url_prefix"] = self.typed(table, "url_prefix", is_str, "a string", prefix="build.")
        values["flatten_background"] = self.colour(table, "flatten_background", "build.")
        values["jobs"] = self.typed(
            table, "jobs", is_positive_int, "an integer >= 1", prefix="build."
        )
        for key in ("max_cost", "confirm_above"):
            values[key] = self.typed(
                table, key, is_non_negative_number, "a number >= 0", prefix="build."
            )
        values["provenance"] = self.typed(
            table, "provenance", is_bool, "true or false", prefix="build."
        )
        values["allow_inputs"] = self.allow_inputs(table)
        return BuildConfig(**{k: v for k, v in values.items() if v is not None})

    def allow_inputs(self, table: dict[str, Any]) -> tuple[str, ...] | None:
        """``[build] allow_inputs``: folders (relative or absolute) inputs may come from."""
        folders = self.typed(
            table,
            "allow_inputs",
            lambda v: is_list_of(v, is_non_empty_str),
            "a list of folder paths",
            prefix="build.",
        )
        if folders is None:
            return None
        for position, folder in enumerate(folders):
            reason = path_text_problem(folder)
            if reason:
                self.problem(f"{shown(folder)} {reason}", field=f"build.allow_inputs[{position}]")
        return tuple(folders)

    def read_provenance(self, table: dict[str, Any]) -> ProvenanceConfig:
        """``[provenance]``; signing material is read only when a build signs."""
        self.unknown_keys(table, PROVENANCE_KEYS, "provenance.")
        p = "provenance."
        values: dict[str, Any] = {
            "c2pa": self.choice(table, "c2pa", C2PA_MODES, prefix=p),
            "alg": self.choice(table, "alg", SIGNING_ALGS, prefix=p),
        }
        for key in ("cert", "key", "trust_anchors"):
            values[key] = self.project_path(table, key, prefix=p)
        return ProvenanceConfig(**{k: v for k, v in values.items() if v is not None})

    def read_cache(self, table: dict[str, Any]) -> CacheConfig:
        """``[cache]``: a remote URL and endpoint without credentials, a positive timeout."""
        self.unknown_keys(table, CACHE_KEYS, "cache.")
        values: dict[str, Any] = {
            "remote": self.typed(table, "remote", is_non_empty_str, "a URL", prefix="cache."),
            "endpoint_url": self.typed(
                table, "endpoint_url", is_non_empty_str, "a URL", prefix="cache."
            ),
            "timeout": self.typed(
                table, "timeout", is_positive_number, "a number of seconds > 0", prefix="cache."
            ),
        }
        remote, endpoint = values["remote"], values["endpoint_url"]
        if remote is not None:
            self.check_url(remote, "cache.remote", REMOTE_SCHEMES)
        if endpoint is not None:
            self.check_url(endpoint, "cache.endpoint_url", ("http", "https"))
        return CacheConfig(**{k: v for k, v in values.items() if v is not None})

    def check_url(self, url: str, field: str, schemes: tuple[str, ...]) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        allowed = ", ".join(f"{scheme}://" for scheme in schemes)
        if parts.scheme not in schemes or not (parts.netloc or parts.path.strip("/")):
            self.problem(f"{shown(url)} is not a URL of {allowed}", field=field)
        elif parts.username is not None or parts.password is not None or parts.query:
            self.problem(
                "credentials never go in the spec: remove the user, password or query from the URL",
                field=field,
                hint="set them in the environment (AWS_ACCESS_KEY_ID, AWS_PROFILE, …)",
            )

    def check_signable(self, assets: list[AssetSpec]) -> None:
        """``c2pa = "sign"``: every variant's format must be one C2PA can carry."""
        from .provenance import C2PA_MIME_TYPES

        for asset in assets:
            for fmt in sorted(
                {variant.format for variant in asset.variants} - set(C2PA_MIME_TYPES)
            ):
                self.problem(
                    f'[provenance] c2pa = "sign" cannot sign {fmt} variants: C2PA carries '
                    f"{', '.join(C2PA_MIME_TYPES)}",
                    field="variants.format",
                    asset=asset.label,
                    hint='choose another format, or set [provenance] c2pa = "keep-original"',
                )

    def read_generation(
        self, table: dict[str, Any], prefix: str, allowed: tuple[str, ...], asset: str | None = None
    ) -> dict[str, Any]:
        """Generation parameters (and per-asset extras) of ``[defaults]`` or an asset."""
        self.unknown_keys(table, allowed, prefix, asset)
        out: dict[str, Any] = {}
        for key, values in (
            ("quality", QUALITIES),
            ("background", BACKGROUNDS),
            ("moderation", MODERATIONS),
            ("output_format", OUTPUT_FORMATS),
            ("input_fidelity", INPUT_FIDELITIES),
            ("complexity", COMPLEXITIES),
            ("transparency", TRANSPARENCIES),
        ):
            out[key] = self.choice(table, key, values, prefix=prefix, asset=asset)
        out["size"] = self.typed(
            table, "size", is_size, 'a size like "1024x1024" or "auto"', prefix=prefix, asset=asset
        )
        out["output_compression"] = self.typed(
            table, "output_compression", is_percent, "an integer 0-100", prefix=prefix, asset=asset
        )
        out["model"] = self.typed(
            table, "model", is_non_empty_str, "a model id", prefix=prefix, asset=asset
        )
        out["keep_unmasked"] = self.typed(
            table, "keep_unmasked", is_bool, "true or false", prefix=prefix, asset=asset
        )
        if "variants" in table:
            out["variants"] = table["variants"]
        return {k: v for k, v in out.items() if v is not None}

    # -- variants ---------------------------------------------------------

    def read_variant_sets(self, table: dict[str, Any]) -> dict[str, tuple[VariantSpec, ...]]:
        sets: dict[str, tuple[VariantSpec, ...]] = {}
        for name, body in table.items():
            prefix = f"variant_sets.{name}."
            if not isinstance(body, dict):
                self.problem("expected a table", field=f"variant_sets.{name}")
                continue
            self.unknown_keys(body, VARIANT_SET_KEYS, prefix)
            sets[name] = self.expand_variant_set(body, prefix)
        return sets

    def expand_variant_set(
        self, body: dict[str, Any], prefix: str, asset: str | None = None
    ) -> tuple[VariantSpec, ...]:
        """``widths`` × ``heights`` × ``formats`` (each optional) into VariantSpecs."""
        axes: dict[str, list[Any]] = {}
        for plural, singular, check, expected in (
            ("widths", "width", is_positive_int, "an integer >= 1"),
            ("heights", "height", is_positive_int, "an integer >= 1"),
            ("formats", "format", is_str, "a format name"),
        ):
            values = self.typed(
                body,
                plural,
                functools.partial(is_list_of, check=check),
                f"a list, each {expected}",
                prefix=prefix,
                asset=asset,
            )
            if values:
                axes[singular] = values
        count = math.prod(len(values) for values in axes.values())
        if count > MAX_VARIANTS:
            self.problem(
                f"{count:,} variants; an asset may have at most {MAX_VARIANTS:,}",
                field=prefix.rstrip(".") or "variants",
                asset=asset,
            )
            return ()
        shared = {k: v for k, v in body.items() if k not in ("widths", "heights", "formats")}
        combos: list[dict[str, Any]] = [shared]
        for key, values in axes.items():
            combos = [{**combo, key: value} for combo in combos for value in values]
        variants = [self.variant(combo, prefix, asset) for combo in combos]
        return tuple(v for v in variants if v is not None)

    def variant(self, table: dict[str, Any], prefix: str, asset: str | None) -> VariantSpec | None:
        before = len(self.problems)
        self.unknown_keys(table, VARIANT_KEYS, prefix, asset)
        values: dict[str, Any] = {
            "width": self.typed(
                table, "width", is_positive_int, "an integer >= 1", prefix=prefix, asset=asset
            ),
            "height": self.typed(
                table, "height", is_positive_int, "an integer >= 1", prefix=prefix, asset=asset
            ),
            "fit": self.choice(table, "fit", FITS, prefix=prefix, asset=asset),
            "format": self.variant_format(table, prefix, asset),
            "quality": self.typed(
                table, "quality", is_percent_nonzero, "an integer 1-100", prefix=prefix, asset=asset
            ),
            "lossless": self.typed(
                table, "lossless", is_bool, "true or false", prefix=prefix, asset=asset
            ),
            "upscale": self.typed(
                table, "upscale", is_bool, "true or false", prefix=prefix, asset=asset
            ),
            "background": self.colour(table, "background", prefix, asset),
            "filename": self.filename_pattern(table, prefix, asset),
        }
        if len(self.problems) > before:
            return None
        return VariantSpec(**{k: v for k, v in values.items() if v is not None})

    def variant_format(self, table: dict[str, Any], prefix: str, asset: str | None) -> str | None:
        fmt = self.choice(table, "format", (*VARIANT_FORMATS, "jpg"), prefix=prefix, asset=asset)
        fmt = "jpeg" if fmt == "jpg" else fmt
        if fmt == "avif":
            from .filenames import format_supported

            if not format_supported("avif"):
                self.problem(
                    "this Pillow cannot write AVIF; upgrade Pillow (>= 11.2 has it built in) "
                    "or install pillow-avif-plugin, or choose webp",
                    field=f"{prefix}format",
                    asset=asset,
                )
                return None
        return fmt

    def filename_pattern(self, table: dict[str, Any], prefix: str, asset: str | None) -> str | None:
        value: str | None = self.typed(
            table, "filename", is_str, "a filename pattern", prefix=prefix, asset=asset
        )
        if value is None:
            return None
        from .filenames import check_filename_pattern

        reason = path_text_problem(value) or check_filename_pattern(value)
        if reason:
            if reason.startswith("filename pattern "):  # it names the pattern already
                reason = reason.removeprefix("filename pattern ")
            else:
                reason = f"{shown(value)}: {reason}"
            self.problem(reason, field=f"{prefix}filename", asset=asset)
            return None
        return value

    def asset_variants(
        self, value: Any, sets: dict[str, tuple[VariantSpec, ...]], asset: str
    ) -> tuple[VariantSpec, ...]:
        """An asset's ``variants``: names of variant sets and/or inline tables."""
        if not isinstance(value, list):
            self.problem(
                "expected a list of variant set names or inline tables",
                field="variants",
                asset=asset,
            )
            return ()
        out: list[VariantSpec] = []
        for position, item in enumerate(value):
            if isinstance(item, str):
                if item in sets:
                    out.extend(sets[item])
                else:
                    self.problem(
                        f"no variant set {shown(item)}",
                        field=f"variants[{position}]",
                        asset=asset,
                        hint=did_you_mean(item, list(sets))
                        or f"defined sets: {', '.join(sets) or 'none'}",
                    )
            elif isinstance(item, dict):
                out.extend(self.expand_variant_set(item, f"variants[{position}].", asset))
            else:
                self.problem(
                    f"expected a set name or a table, got {shown(item)}",
                    field=f"variants[{position}]",
                    asset=asset,
                )
        if len(out) > MAX_VARIANTS:
            self.problem(
                f"{len(out):,} variants; an asset may have at most {MAX_VARIANTS:,}",
                field="variants",
                asset=asset,
            )
            return ()
        return tuple(out)

    # -- assets -----------------------------------------------------------

    def read_assets(
        self, defaults: dict[str, Any], sets: dict[str, tuple[VariantSpec, ...]]
    ) -> list[AssetSpec]:
        raw = self.data.get("asset", [])
        if not isinstance(raw, list):
            self.problem("expected [[asset]] tables", field="asset")
            return []
        assets = []
        for index, table in enumerate(raw):
            if not isinstance(table, dict):
                self.problem("expected a table", field=f"asset[{index}]")
                continue
            asset = self.read_asset(index, table, defaults, sets)
            if asset is not None:
                assets.append(asset)
        total = sum(math.prod(len(v) for v in a.matrix.values()) for a in assets)
        if total > MAX_ASSETS:
            self.problem(
                f"the assets expand to {total:,} concrete assets; "
                f"a spec may make at most {MAX_ASSETS:,}",
                field="asset",
            )
        return assets

    def read_asset(
        self,
        index: int,
        table: dict[str, Any],
        defaults: dict[str, Any],
        sets: dict[str, tuple[VariantSpec, ...]],
    ) -> AssetSpec | None:
        name = table.get("name")
        label = name if isinstance(name, str) and name else f"#{index + 1}"
        before = len(self.problems)
        if not isinstance(name, str) or not name.strip():
            self.problem("every asset needs a name (a string)", field="name", asset=label)
            name = label
        prompt = self.typed(table, "prompt", is_str, "a string", prefix="", asset=label)
        template = self.typed(
            table, "template", is_non_empty_str, "a template file name", prefix="", asset=label
        )
        if template is not None and path_text_problem(template):
            self.problem(
                f"{shown(template)} {path_text_problem(template)}", field="template", asset=label
            )
        if (prompt is None) == (template is None):
            self.problem("give exactly one of 'prompt' or 'template'", field="prompt", asset=label)
        table, tables = self.split_provider_tables(table, ASSET_KEYS, "", label)
        own = self.read_generation(
            {k: v for k, v in table.items() if k in DEFAULTS_KEYS}, "", DEFAULTS_KEYS, label
        )
        self.unknown_keys(table, ASSET_KEYS, "", label)
        provider_options = self.asset_options(
            tables,
            "",
            label,
            defaults=self.default_options_table,
            fallback=self.default_options,
        )
        params = {"model": self.default_model, **defaults, **own}
        variants = self.asset_variants(params.pop("variants", []), sets, label)
        keep_unmasked = params.pop("keep_unmasked", True)
        matrix = self.matrix(table.get("matrix", {}), label)
        asset_vars = self.typed(table, "vars", is_dict, "a table", prefix="", asset=label) or {}
        image = self.typed(
            table, "image", is_non_empty_str, "a file path or @asset", prefix="", asset=label
        )
        mask = self.typed(
            table, "mask", is_non_empty_str, "a file path or @asset", prefix="", asset=label
        )
        if mask is not None and image is None:
            self.problem("a mask needs a base 'image' to apply to", field="mask", asset=label)
        references = (
            self.typed(
                table,
                "references",
                lambda v: is_list_of(v, is_non_empty_str),
                "a list of file paths",
                prefix="",
                asset=label,
            )
            or []
        )
        take = self.typed(
            table, "take", is_non_negative_int, "an integer >= 0", prefix="", asset=label
        )
        candidates = self.typed(
            table,
            "candidates",
            lambda v: is_int(v) and 1 <= v <= 10,
            "an integer 1-10",
            prefix="",
            asset=label,
        )
        if len(self.problems) > before:
            return None
        return AssetSpec(
            index=index,
            name=name,
            prompt=prompt,
            template=template,
            matrix=matrix,
            vars=dict(asset_vars),
            params=GenerationParams.from_fields(
                {
                    **params,
                    "take": take or 0,
                    "candidates": candidates or 1,
                    "keep_unmasked": keep_unmasked,
                    "provider_options": provider_options,
                }
            ),
            image=image,
            mask=mask,
            references=tuple(references),
            variants=variants,
        )

    def matrix(self, value: Any, label: str) -> dict[str, tuple[Any, ...]]:
        if not isinstance(value, dict):
            self.problem("expected a table of lists", field="matrix", asset=label)
            return {}
        out: dict[str, tuple[Any, ...]] = {}
        for key, values in value.items():
            if not isinstance(values, list) or not values:
                self.problem("expected a non-empty list", field=f"matrix.{key}", asset=label)
                continue
            out[key] = tuple(values)
        count = math.prod(len(values) for values in out.values())
        if count > MAX_ASSETS:
            self.problem(
                f"{' x '.join(str(len(v)) for v in out.values())} = {count:,} combinations; "
                f"a spec may make at most {MAX_ASSETS:,} assets",
                field="matrix",
                asset=label,
            )
            return {}
        return out


def layout_errors(path: Path, build: BuildConfig, assets: Iterable[AssetSpec]) -> list[SpecError]:
    """Output folders apart from what assetgen does not own; literal inputs allowed.

    Depends on the filesystem (symlinks are followed), so a spec read from a
    cache is checked again. Inputs written as templates are checked after
    rendering, by :mod:`assetgen.graph`.
    """
    errors: list[SpecError] = []
    layout, problems = build_layout(path.parent, path, build)
    if layout is not None:
        problems = layout_problems(layout)
    for field, message in problems:
        message = f"{shown(written_value(build, field))} {message}"
        errors.append(SpecError(message, file=path.name, field=f"build.{field}"))
    if layout is None:
        return errors
    for asset in assets:
        for field, source in asset.input_fields():
            if "{" in source or source.startswith("@"):
                continue
            _, reason = check_input(layout, source, path.parent)
            if reason and reason != "file not found":
                message = f"{shown(source)} {reason}"
                errors.append(SpecError(message, file=path.name, asset=asset.label, field=field))
    return errors


def written_value(build: BuildConfig, field: str) -> str:
    """The value of a ``[build]`` path field as the spec writes it (``allow_inputs[1]`` too)."""
    if field.startswith("allow_inputs["):
        return build.allow_inputs[int(field.removeprefix("allow_inputs[").rstrip("]"))]
    return str(getattr(build, field))
