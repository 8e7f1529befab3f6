"""When to try a request again, how long to wait first, and request pacing.

The policy follows the official OpenAI SDK with two deliberate differences:
a 429 ``insufficient_quota`` is never retried (waiting cannot add money to an
account), and the fallback backoff uses *full* jitter (a uniform draw up to
the exponential cap) so that many assets throttled together spread out.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 524})
"""Statuses worth another try (524: a reseller's gateway timed out upstream)."""
NO_RETRY_CODES = frozenset({"insufficient_quota", "invalid_request"})
"""Codes that fail the same way every time, whatever the status (a reseller
reports some malformed requests as a 500 with ``invalid_request``)."""

DEFAULT_INITIAL_DELAY = 0.5
DEFAULT_MAX_DELAY = 8.0
DEFAULT_MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again."""

    max_retries: int = 2
    """Retries after the first attempt (``[provider] max_retries``)."""
    initial_delay: float = DEFAULT_INITIAL_DELAY
    """Backoff cap before the first retry, in seconds; doubles with each retry."""
    max_delay: float = DEFAULT_MAX_DELAY
    """Backoff never waits longer than this many seconds."""
    max_retry_after: float = DEFAULT_MAX_RETRY_AFTER
    """A server asking for a longer wait than this is not retried (like SDK v3)."""

    def backoff(self, retries: int, draw: Callable[[], float] = random.random) -> float:
        """Full-jitter wait before retry number ``retries + 1``."""
        return draw() * min(self.initial_delay * 2.0**retries, self.max_delay)

    def delay(self, retries: int, headers: Mapping[str, str]) -> float | None:
        """Seconds to wait before the next try; ``None``: the server asks for too long."""
        hint = retry_after(headers)
        if hint is not None and hint > self.max_retry_after:
            return None
        if hint is not None and hint > 0:
            return hint
        return self.backoff(retries)


def should_retry(status: int, code: str | None, headers: Mapping[str, str]) -> bool:
    """Whether an error response may succeed when sent again."""
    override = headers.get("x-should-retry", "").lower()
    if override in ("true", "false"):
        return override == "true"
    return status in RETRY_STATUSES and code not in NO_RETRY_CODES


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's requested wait in seconds (``retry-after-ms``, then ``retry-after``)."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    moment = datetime.now(UTC).timestamp() if now is None else now
    return when.timestamp() - moment


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


class RateLimiter:
    """Spaces requests evenly to stay under a requests-per-minute limit.

    Each caller reserves the next free slot and then sleeps until it comes;
    nothing awaits between reading and moving the slot, so no lock is needed.
    """

    def __init__(
        self,
        per_minute: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0

    async def wait(self) -> None:
        """Return when the next request may be sent."""
        if not self.interval:
            return
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)
