"""How one build uses the Batch API: its options, read without importing the batch client.

Kept apart from :mod:`assetgen.batching` so that a build that never batches
(every offline build, every no-op) does not import the client to learn that.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from .errors import UsageError
from .spec_types import ProviderConfig

BatchMode = Literal["never", "ask", "always"]


@dataclass(frozen=True)
class BatchOptions:
    """How one build uses the Batch API."""

    mode: BatchMode = "never"
    """``[provider] batch``, or ``--batch`` (always) / ``--no-batch`` (never)."""
    wait: bool = True
    """False (``--no-wait``): check each batch once and leave it running."""
    poll_seconds: float = 30.0
    max_wait: float = 90_000.0
    submit: bool = True
    """False (``batch wait``): only collect batches already submitted."""
    confirm_direct: Callable[[int], bool] | None = field(default=None, compare=False)
    """Asked (with the count) when the base URL has no Batch API; True sends them direct."""

    @property
    def use(self) -> bool:
        """Whether new generations go by batch."""
        return self.mode != "never" and self.submit


def batch_options(
    config: ProviderConfig, *, batch: bool = False, no_batch: bool = False, no_wait: bool = False
) -> BatchOptions:
    """The build's options from ``[provider]`` and the command line."""
    if batch and no_batch:
        raise UsageError("--batch and --no-batch contradict each other")
    mode: BatchMode = "always" if batch else "never" if no_batch else config.batch  # type: ignore[assignment]
    return BatchOptions(
        mode=mode,
        wait=not no_wait and config.batch_wait > 0,
        poll_seconds=config.batch_poll,
        max_wait=config.batch_wait,
    )
