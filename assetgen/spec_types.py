"""The validated spec as frozen dataclasses: what the rest of assetgen reads.

Raw TOML dicts stop at :mod:`assetgen.spec`, which builds these. Defaults are
named constants so the README, ``init`` and the loader agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .params import DEFAULT_MODEL as DEFAULT_MODEL  # the users' import path
from .params import GenerationParams

DEFAULT_SPEC_NAME = "assetgen.toml"
DEFAULT_OUT_DIR = "public/img"
DEFAULT_STORE_DIR = "assets/generated"
DEFAULT_LOCKFILE = "assetgen.lock"
DEFAULT_TEMPLATES = "prompts"
DEFAULT_STATE_DIR = ".assetgen"
DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_API_KEY_ENV = "OPENAI_API_KEY"
DEFAULT_TIMEOUT = 300.0
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_RETRIES = 2
DEFAULT_BATCH_POLL = 30.0
DEFAULT_BATCH_WAIT = 25 * 3600.0
"""The Batch API's 24 h window, and an hour for finalizing and downloading."""
BATCH_MODES = ("never", "ask", "always")
DEFAULT_FLATTEN_BACKGROUND = "#ffffff"
DEFAULT_VARIANT_FILENAME = "{name}-{width}w.{ext}"

VARIANT_FORMATS = ("png", "jpeg", "webp", "avif")
FITS = ("cover", "contain", "inside")
IMAGE_FIELDS = ("auto", "image[]", "image")
MAX_ASSETS = 10_000
"""Most concrete assets one spec may make (matrices included): checked before expanding."""
MAX_VARIANTS = 1_000
"""Most variants one asset may have (``widths`` x ``heights`` x ``formats`` included)."""
MAX_SPEC_BYTES = 4 * 1024 * 1024
"""Largest ``assetgen.toml`` read."""
MAX_NESTING = 32
"""Deepest nesting of tables and arrays in a spec."""
C2PA_MODES = ("off", "keep-original", "sign")
"""``[provenance] c2pa``: ignore C2PA, record the originals' manifests, or sign variants."""
SIGNING_ALGS = ("es256", "es384", "es512", "ps256", "ps384", "ps512", "ed25519")
"""Signature algorithms c2pa-python signs with (the key must be of that kind)."""
PLACEHOLDER_PROVENANCE_PROVIDERS = ("offline",)
"""Providers whose originals carry a (placeholder) C2PA manifest only when
``[provenance] c2pa`` is on: for them, whether it is on is part of the generation key."""


@dataclass(frozen=True)
class BuildConfig:
    """``[build]``: where things go. Paths are relative to the project root."""

    out_dir: str = DEFAULT_OUT_DIR
    """Folder the variants are written to."""
    store_dir: str = DEFAULT_STORE_DIR
    """Content-addressed originals (commit it)."""
    lockfile: str = DEFAULT_LOCKFILE
    templates: str = DEFAULT_TEMPLATES
    """Jinja2 search path for prompt templates."""
    manifest: str | None = None
    """JSON manifest of every variant, for frameworks."""
    url_prefix: str = "/"
    """URL under which ``out_dir`` is served (manifest URLs)."""
    flatten_background: str = DEFAULT_FLATTEN_BACKGROUND
    """Colour a transparent original is flattened onto for JPEG variants."""
    jobs: int | None = None
    """Processes rendering variants; ``None`` = one per core."""
    max_cost: float | None = None
    """Refuse plans estimated above this many USD."""
    confirm_above: float = 1.0
    """Without a budget, ask before plans estimated above this many USD."""
    provenance: bool = False
    """Embed asset name, model and prompt in variants' metadata."""
    allow_inputs: tuple[str, ...] = ()
    """Folders outside the project that input images may come from (relative to the
    project root, or absolute), like Vite's ``server.fs.allow``."""


@dataclass(frozen=True)
class ProviderConfig:
    """``[provider]``: which image service, and how to talk to it.

    These fields are the users' contract (most of them the built-in ``openai``
    provider's settings) and stay flat in ``[provider]``; a provider's own
    settings are ``options``, from the table ``[provider.<name>]``.
    """

    name: str = "openai"
    """A registered provider (:mod:`assetgen.provider_registry`): ``openai`` (any
    OpenAI-compatible Images API), ``offline``, or one a package adds."""
    model: str = DEFAULT_MODEL
    base_url: str = DEFAULT_BASE_URL
    base_url_set: bool = False
    """Whether the spec set ``base_url`` (else ``OPENAI_BASE_URL`` may override)."""
    api_key_env: str = DEFAULT_API_KEY_ENV
    """Name of the environment variable holding the API key (never the key)."""
    organization: str | None = None
    project: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    """Seconds to wait for one response (image generation can take minutes)."""
    concurrency: int = DEFAULT_CONCURRENCY
    """Requests in flight at once."""
    requests_per_minute: float | None = None
    max_retries: int = DEFAULT_MAX_RETRIES
    image_field: str = "auto"
    """Multipart name of edit images: ``auto`` (one ``image``, several ``image[]``,
    as the official SDK sends them), or always ``image[]`` / ``image`` for relays
    that accept only one form."""
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per-model price overrides (resellers): ``{model: {field: USD}}``."""
    batch: str = "never"
    """Whether generations go through the Batch API: ``never``, ``ask`` or ``always``."""
    batch_poll: float = DEFAULT_BATCH_POLL
    """Seconds between two looks at a running batch."""
    batch_wait: float = DEFAULT_BATCH_WAIT
    """Seconds a build waits for its batches at most (0: submit and leave, like ``--no-wait``)."""
    options: Any = None
    """The provider's own options: ``[provider.<name>]`` read into its ``options_class``
    (what its constructor receives as ``options=``); ``None`` until the spec is read."""


@dataclass(frozen=True)
class ProvenanceConfig:
    """``[provenance]``: C2PA content credentials (see :mod:`assetgen.provenance`)."""

    c2pa: str = "off"
    """``off``; ``keep-original`` (the originals' manifests summarised in the lock and the
    manifest JSON); ``sign`` (also every variant signed, naming its original as ingredient)."""
    cert: str | None = None
    """Project-relative PEM certificate chain (leaf first); ``$ASSETGEN_C2PA_CERT`` wins."""
    key: str | None = None
    """Project-relative PKCS#8 PEM private key; ``$ASSETGEN_C2PA_KEY`` wins (keep keys
    out of git: the environment variable may hold the PEM text itself)."""
    alg: str = "es256"
    """Signature algorithm, one of :data:`SIGNING_ALGS`."""
    trust_anchors: str | None = None
    """Project-relative PEM of root certificates ``verify`` trusts;
    ``$ASSETGEN_C2PA_TRUST_ANCHORS`` wins."""

    @property
    def enabled(self) -> bool:
        """Whether manifests are read at all (anything but ``off``)."""
        return self.c2pa != "off"

    @property
    def signs(self) -> bool:
        return self.c2pa == "sign"


@dataclass(frozen=True)
class VariantSpec:
    """One output file derived from an original."""

    width: int | None = None
    height: int | None = None
    fit: str = "cover"
    """``cover`` (crop to fill), ``contain`` (pad to the box), ``inside`` (fit within)."""
    format: str = "webp"
    quality: int = 80
    lossless: bool = False
    """WebP/AVIF lossless encoding."""
    filename: str = DEFAULT_VARIANT_FILENAME
    """Pattern with ``{name}``, ``{width}``, ``{height}``, ``{ext}``, ``{hash8}``."""
    upscale: bool = False
    """Allow a variant larger than the original."""
    background: str | None = None
    """Flatten/pad colour; ``None`` = ``[build] flatten_background``."""

    def recipe(self) -> dict[str, Any]:
        """Everything that shapes the output bytes, for the variant key."""
        return {
            "width": self.width,
            "height": self.height,
            "fit": self.fit,
            "format": self.format,
            "quality": self.quality,
            "lossless": self.lossless,
            "filename": self.filename,
            "upscale": self.upscale,
            "background": self.background,
        }


@dataclass(frozen=True)
class AssetSpec:
    """One ``[[asset]]`` table as written (before matrix expansion)."""

    index: int
    """Position in the spec, 0-based (for messages: ``asset #3``)."""
    name: str
    """Name template (Jinja2); rendered per matrix combination."""
    prompt: str | None = None
    template: str | None = None
    matrix: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    params: GenerationParams = field(default_factory=GenerationParams)
    """Generation parameters after ``[defaults]``: size, quality, background, the model, ..."""
    image: str | None = None
    mask: str | None = None
    references: tuple[str, ...] = ()
    variants: tuple[VariantSpec, ...] = ()

    @property
    def take(self) -> int:
        """Ask for a fresh roll of the same inputs by bumping this."""
        return self.params.take

    @property
    def candidates(self) -> int:
        return self.params.candidates

    @property
    def keep_unmasked(self) -> bool:
        return self.params.keep_unmasked

    def input_fields(self) -> list[tuple[str, str]]:
        """``(field, value)`` of every input as written: image, mask, references."""
        fields = [("image", self.image), ("mask", self.mask)]
        named = [(field, value) for field, value in fields if value]
        return named + [(f"references[{i}]", ref) for i, ref in enumerate(self.references)]

    @property
    def label(self) -> str:
        """How messages name the asset before its name is rendered."""
        return self.name if "{" not in self.name else f"#{self.index + 1} ({self.name})"


DEFAULT_REMOTE_TIMEOUT = 10.0
"""Seconds one remote cache call may take (and a whole lookup batch, at most)."""
REMOTE_SCHEMES = ("file", "s3", "gs", "gcs")


@dataclass(frozen=True)
class CacheConfig:
    """``[cache]``: a remote cache shared by a team and its CI runners."""

    remote: str | None = None
    """``s3://bucket/prefix``, ``gs://bucket/prefix`` or ``file:///shared/folder``; None:
    only the local cache. Credentials come from the standard environment, never here."""
    endpoint_url: str | None = None
    """An S3-compatible endpoint (R2, MinIO); ``AWS_ENDPOINT_URL`` does the same."""
    timeout: float = DEFAULT_REMOTE_TIMEOUT
    """Seconds one remote call may take before the build goes on without the remote."""


@dataclass(frozen=True)
class Spec:
    """A whole validated ``assetgen.toml``."""

    path: Path
    """Absolute path of the spec file."""
    build: BuildConfig
    provider: ProviderConfig
    defaults: dict[str, Any]
    vars: dict[str, Any]
    variant_sets: dict[str, tuple[VariantSpec, ...]]
    assets: tuple[AssetSpec, ...]
    provenance: ProvenanceConfig = field(default_factory=ProvenanceConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)

    @property
    def root(self) -> Path:
        """The project folder: the spec's folder; every relative path starts here."""
        return self.path.parent

    @property
    def display_path(self) -> str:
        return self.path.name

    def project_path(self, relative: str) -> Path:
        return self.root / relative

    @property
    def state_dir(self) -> Path:
        return self.root / DEFAULT_STATE_DIR
