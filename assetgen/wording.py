"""Values and parameters in the words of the spec, for every human-facing line.

Python's own spellings (``None``, ``True``, ``n``) never reach a user: values
are written as they would be in ``assetgen.toml`` and parameters by the name
the spec gives them. Imports nothing from the package, so every layer can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SPEC_NAMES = {"n": "candidates"}
"""Request parameters whose spec name differs (the lock and key use the API's)."""
IMPLIED = {"n": 1}
"""What an absent parameter means: ``n`` is left out of the key for one candidate."""
UNSET = "(not set)"


def value(item: Any) -> str:
    """A value as TOML writes it: ``true``, ``3``, ``low``; ``(not set)`` for nothing."""
    if item is None:
        return UNSET
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, list | tuple):
        return "[" + ", ".join(value(part) for part in item) + "]"
    return str(item)


def param_name(name: str) -> str:
    """The spec's name of a request parameter (``n`` → ``candidates``)."""
    return SPEC_NAMES.get(name, name)


def parameter_change(name: str, old: Any, new: Any) -> str:
    """``parameter changed (candidates: 1 → 3)``: a plan reason in the spec's words."""
    old = IMPLIED.get(name, old) if old is None else old
    new = IMPLIED.get(name, new) if new is None else new
    return f"parameter changed ({param_name(name)}: {value(old)} → {value(new)})"


def params_text(params: Mapping[str, Any], sep: str = "  ") -> str:
    """``background=auto  candidates=3  quality=low``, sorted by spec name."""
    named = sorted((param_name(key), item) for key, item in params.items())
    return sep.join(f"{key}={value(item)}" for key, item in named)


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


# -- failures ----------------------------------------------------------------------------

_UNREACHABLE = (
    re.compile(r"connection to (?P<url>\S+) failed"),
    re.compile(r"no answer from (?P<url>\S+) in time \(ConnectTimeout"),
)


def without_asset(message: str, name: str) -> str:
    """An asset's error without its name in front, so equal causes compare equal."""
    for prefix in (f"asset {name!r}: ", f"{name}: "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message.replace(f"asset {name!r}: ", "", 1)


def unreachable_host(message: str) -> str | None:
    """The ``scheme://host:port`` an error could not connect to, if that is what it says."""
    for pattern in _UNREACHABLE:
        match = pattern.search(message)
        if match:
            url = match.group("url")
            scheme, _, rest = url.partition("://")
            return f"{scheme}://{rest.split('/', 1)[0]}"
    return None


def unreachable_advice(host: str) -> str:
    """What to check when the image service cannot be reached at all."""
    return (
        f"could not reach {host}: check [provider] base_url (or $OPENAI_BASE_URL), "
        "the network, and any proxy (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)"
    )
