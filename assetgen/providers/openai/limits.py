"""Bounds of the ``[provider]`` table: values that would hang, spin or break a header.

The spec reader checks types; these checks are the provider's own, so they
hold however a :class:`~assetgen.spec_types.ProviderConfig` was made.
"""

from __future__ import annotations

import math
import re

from ...errors import SpecError, SpecErrors
from ...secrets import key_problem
from ...spec_types import ProviderConfig
from .models import MB

MAX_RESPONSE_BYTES = 256 * MB
"""An answer larger than this is refused (ten 1536x1024 PNGs in base64 take about 40 MB)."""
MAX_TIMEOUT = 3600.0
"""``[provider] timeout`` at most, in seconds."""
MIN_REQUESTS_PER_MINUTE = 1.0
"""So that the pause between two requests is at most a minute."""
MAX_REQUESTS_PER_MINUTE = 1_000_000.0
MIN_BATCH_POLL = 0.01
MAX_BATCH_POLL = 3600.0
"""``[provider] batch_poll`` bounds: a look at a batch at least once an hour."""
MAX_BATCH_WAIT = 48 * 3600.0
"""``[provider] batch_wait`` at most: twice the Batch API's window."""
MAX_RETRIES = 10
"""``[provider] max_retries`` at most: each retry may cost a timeout's wait."""
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_config(config: ProviderConfig) -> None:
    """Refuse ``[provider]`` values that would hang, spin or break a header (all at once)."""
    SpecErrors.raise_if_any(config_problems(config))


def config_problems(config: ProviderConfig) -> list[SpecError]:
    """Every ``[provider]`` value that would hang, spin or break a header."""
    problems: list[SpecError] = []

    def refuse(message: str, field: str) -> None:
        problems.append(SpecError(message, field=f"provider.{field}"))

    if not math.isfinite(config.timeout) or not 0 < config.timeout <= MAX_TIMEOUT:
        refuse(
            f"expected a number of seconds > 0 and at most {MAX_TIMEOUT:g}, got {config.timeout!r}",
            "timeout",
        )
    rpm = config.requests_per_minute
    if rpm is not None and not MIN_REQUESTS_PER_MINUTE <= rpm <= MAX_REQUESTS_PER_MINUTE:
        refuse(
            f"expected {MIN_REQUESTS_PER_MINUTE:g} to {MAX_REQUESTS_PER_MINUTE:g} requests "
            f"a minute (at most a minute between two requests), got {rpm!r}",
            "requests_per_minute",
        )
    if not MIN_BATCH_POLL <= config.batch_poll <= MAX_BATCH_POLL:
        refuse(
            f"expected {MIN_BATCH_POLL:g} to {MAX_BATCH_POLL:g} seconds, got {config.batch_poll!r}",
            "batch_poll",
        )
    if not 0 <= config.batch_wait <= MAX_BATCH_WAIT:
        refuse(f"expected 0 to {MAX_BATCH_WAIT:g} seconds, got {config.batch_wait!r}", "batch_wait")
    if not 0 <= config.max_retries <= MAX_RETRIES:
        refuse(f"expected 0 to {MAX_RETRIES} retries, got {config.max_retries!r}", "max_retries")
    if not _ENV_NAME.fullmatch(config.api_key_env):
        refuse(
            "expected the name of an environment variable (letters, digits and _), "
            "not the key itself",
            "api_key_env",
        )
    for name in ("organization", "project"):
        value = getattr(config, name)
        problem = key_problem(value) if value is not None else None
        if problem is not None:
            refuse(f"cannot be sent as an HTTP header: {problem}", name)
    return problems
