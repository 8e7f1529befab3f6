"""Progress events a build emits; the CLI, watch mode and tests render them.

The library never prints: it calls an ``emit`` callback with these events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

EventKind = Literal[
    "plan",  # the plan is known: PlanEvent
    "start",  # an asset's work began: message = action
    "retry",  # a provider request is retried: RetryEvent (message = why)
    "generated",  # an original was paid for and stored
    "done",  # an asset is finished and durable
    "failed",  # an asset failed: message = the error
    "skipped",  # an asset was not attempted: message = why
    "pending",  # an asset's result waits in a batch still running: message = where
    "removed",  # an output of an asset no longer in the spec was deleted
    "warning",  # something the user should know, once
    "note",  # what the plan settled that the user should hear once (not a problem)
    "batch",  # a Batch API batch's state: BatchEvent
    "info",  # anything else worth a line in verbose mode
]


@dataclass(frozen=True)
class Event:
    """One thing that happened during a build; kinds with more to say are subclasses."""

    kind: EventKind
    message: str = ""
    asset: str | None = None


@dataclass(frozen=True)
class PlanEvent(Event):
    """The plan is known: how many assets have work to do."""

    kind: EventKind = "plan"
    total: int = 0


@dataclass(frozen=True)
class StartEvent(Event):
    """An asset's work began (``message`` is the action), and why."""

    kind: EventKind = "start"
    reason: str = ""
    reason_code: str = ""


@dataclass(frozen=True)
class GeneratedEvent(Event):
    """An original was paid for and stored."""

    kind: EventKind = "generated"
    cost_usd: float = 0.0


@dataclass(frozen=True)
class RetryEvent(Event):
    """A provider request is retried after ``delay`` seconds."""

    kind: EventKind = "retry"
    delay: float = 0.0
    attempt: int = 0
    status: int | None = None
    code: str | None = None


@dataclass(frozen=True)
class ModelEvent(Event):
    """A note about a model (unknown id, deprecation, shutdown): ``warning`` or ``info``."""

    kind: EventKind = "warning"
    model: str = ""


@dataclass(frozen=True)
class BatchEvent(Event):
    """A Batch API batch's state and counts, and the assets waiting in it."""

    kind: EventKind = "batch"
    id: str = ""
    status: str = ""
    total: int = 0
    completed: int = 0
    failed: int = 0
    assets: tuple[str, ...] = ()

    def counts(self) -> dict[str, Any]:
        """The batch as ``build --json`` and the console keep it."""
        fields = ("id", "status", "total", "completed", "failed")
        return {**{name: getattr(self, name) for name in fields}, "assets": list(self.assets)}


Emit = Callable[[Event], None]


def ignore(event: Event) -> None:
    """An ``emit`` that drops every event (for library callers that don't care)."""
