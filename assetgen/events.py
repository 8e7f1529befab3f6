"""Progress events a build emits; the CLI, watch mode and tests render them.

The library never prints: it calls an ``emit`` callback with these events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "plan",  # the plan is known: data = counts
    "start",  # an asset's work began: message = action
    "retry",  # a provider request is retried: message = why, data = delay
    "generated",  # an original was paid for and stored
    "done",  # an asset is finished and durable
    "failed",  # an asset failed: message = the error
    "skipped",  # an asset was not attempted: message = why
    "pending",  # an asset's result waits in a batch still running: message = where
    "removed",  # an output of an asset no longer in the spec was deleted
    "warning",  # something the user should know, once
    "note",  # what the plan settled that the user should hear once (not a problem)
    "batch",  # a Batch API batch's state: data = id, status, completed, failed, total, assets
    "info",  # anything else worth a line in verbose mode
]


@dataclass(frozen=True)
class Event:
    """One thing that happened during a build."""

    kind: EventKind
    message: str = ""
    asset: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


Emit = Callable[[Event], None]


def ignore(event: Event) -> None:
    """An ``emit`` that drops every event (for library callers that don't care)."""
