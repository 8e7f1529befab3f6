"""What every provider receives and returns, and the provider interface.

A provider turns one :class:`ImageRequest` (a fully resolved generation or
edit) into one :class:`ImageResult` (the image bytes and what they cost).
Providers know nothing of specs, locks or variants: the build owns those.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..events import Emit, ignore
from ..options import NoOptions as NoOptions  # re-exported: providers import it from here

if TYPE_CHECKING:
    from ..errors import SpecError
    from ..spec_types import ProviderConfig

InputRole = Literal["image", "mask", "reference"]


@dataclass(frozen=True)
class InputImage:
    """An input image of a request, already hashed."""

    role: InputRole
    path: Path
    """Absolute path of the file to send."""
    sha256: str
    """Hex content hash of the file (part of the generation key); empty while pending."""

    @property
    def pending(self) -> bool:
        """An ``@asset`` input not generated yet: only in requests built for estimates."""
        return not self.sha256


@dataclass(frozen=True)
class ImageRequest:
    """Everything a provider needs to produce an asset's original(s)."""

    asset: str
    """Concrete asset name, for messages."""
    key: str
    """Generation key (``sha256:…``); deterministic providers seed from it."""
    prompt: str
    """Rendered, whitespace-normalised prompt."""
    model: str
    size: str = "1024x1024"
    """``WIDTHxHEIGHT`` or ``auto``."""
    quality: str = "auto"
    background: str = "auto"
    n: int = 1
    """How many candidates to ask for in one call."""
    output_format: str = "png"
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None
    complexity: str | None = None
    key_colour: str | None = None
    """Set when the background is made by chroma key: the model is asked for an opaque
    background of this colour (``assetgen.chroma``), removed after the answer."""
    """``low``/``medium``/``high`` for models that take it (the 2.6 family)."""
    image: InputImage | None = None
    """Base image of an edit."""
    mask: InputImage | None = None
    """Edit region of the base image."""
    references: tuple[InputImage, ...] = ()
    keep_unmasked: bool = True
    """Composite the result onto the base outside the mask (masked edits)."""
    c2pa: bool = False
    """``[provenance] c2pa`` is on: a provider that signs only on request (offline) signs."""
    asset_options: Any = None
    """The asset's own options for this provider: an instance of its
    ``asset_options_class`` (``[asset.<name>]`` over ``[defaults.<name>]``); ``None``
    when it declares none, or for a request not made from a spec."""

    @property
    def operation(self) -> Literal["generate", "edit"]:
        return "edit" if self.image is not None or self.references else "generate"

    @property
    def inputs(self) -> tuple[InputImage, ...]:
        """Base image first, then references (the order the API receives them)."""
        first = (self.image,) if self.image is not None else ()
        return first + self.references


@dataclass(frozen=True)
class Usage:
    """Tokens the service billed for one request."""

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    output_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "input_text_tokens": self.input_text_tokens,
            "input_image_tokens": self.input_image_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass(frozen=True)
class ImageResult:
    """What one request produced."""

    images: tuple[bytes, ...]
    """Encoded image files, one per candidate, in the order received."""
    format: str = "png"
    """File format of every image: ``png``, ``jpeg`` or ``webp``."""
    usage: Usage | None = None
    cost_usd: float | None = None
    """Billed cost computed from usage, when prices are known."""
    model: str = ""
    """The model that answered."""
    request_id: str | None = None
    warnings: tuple[str, ...] = field(default=())


class Provider(ABC):
    """An image model behind a uniform, async interface.

    A subclass declares what the registry (:mod:`assetgen.provider_registry`)
    and the spec reader need, as class attributes:

    * ``name``: the value of ``[provider] name``; part of every generation key,
      so results of different providers never mix.
    * ``key_revision``: in every key of this provider; bump it when the same
      request would now give a different image, to regenerate this provider's only.
    * ``options_class``: a frozen dataclass of the provider's own settings, read
      from ``[provider.<name>]`` (see :mod:`assetgen.options`).
    * ``asset_options_class``: ``None``, or a frozen dataclass of per-asset options,
      read from ``[asset.<name>]`` over ``[defaults.<name>]`` (every field with a
      default, none an array); each request carries it as ``asset_options``.

    It is constructed as ``cls(config, options=options, emit=emit)``: ``config``
    the ``[provider]`` table, ``options`` the validated ``options_class`` instance.
    """

    name: ClassVar[str] = ""
    key_revision: ClassVar[int] = 0
    options_class: ClassVar[type[Any]] = NoOptions
    asset_options_class: ClassVar[type[Any] | None] = None

    def __init__(self, emit: Emit = ignore) -> None:
        self.emit = emit

    @classmethod
    def config_problems(cls, config: ProviderConfig) -> list[SpecError]:
        """What is wrong with the ``[provider]`` values for this provider (each a SpecError
        naming its field). The spec pass reports them with every other problem, so they
        are found whether or not a command goes on to make the provider."""
        return []

    def check(self, request: ImageRequest) -> None:
        """Refuse, before any money is spent, a request this provider cannot serve.

        Raises :class:`~assetgen.errors.SpecError` or
        :class:`~assetgen.errors.InputImageError` naming the asset and field.
        """
        return None

    def estimate_cost(self, request: ImageRequest) -> float | None:
        """Estimated USD for the request, or ``None`` when unknown."""
        return 0.0

    async def prepare(self, requests: Sequence[ImageRequest]) -> None:
        """Called once per build, under the project lock, before any request is sent,
        with every generation the plan knows of (the Batch API submits them here)."""
        return None

    async def finish(self) -> None:
        """Called once per build that ran to its end, still under the project lock
        (the Batch API lets go of the records of collected results here)."""
        return None

    def queued(self, request: ImageRequest) -> bool:
        """Whether ``generate`` only waits for a result already paid for elsewhere
        (a batch): the build then holds no concurrency slot or budget check for it."""
        return False

    @abstractmethod
    async def generate(self, request: ImageRequest) -> ImageResult:
        """Produce the request's image(s). Raises ProviderError on refusal."""

    async def aclose(self) -> None:
        """Release connections; the provider is not used afterwards."""
        return None
