"""Secrets (API keys): check their shape, and keep them out of every message.

A key reaches a message in many spellings: raw, as Python's ``repr`` or
``ascii`` writes it, escaped by ``unicode_escape`` or JSON, percent-encoded
in a URL, as the UTF-8 bytes' repr an HTTP library prints, or base64 in a
basic ``Authorization`` header. :class:`Redactor` knows them all and
replaces each with :data:`REDACTED`; :func:`key_problem` refuses a key that
no HTTP header can carry, before it is sent anywhere.

This module imports nothing from the package, so every layer can use it.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MAX_KEY_LENGTH = 8192
"""Longer than any API key or bearer token; servers refuse larger headers."""
SHORT_SECRET = 8
"""A secret shorter than this (a local server's ``none``) is redacted only where
it stands alone, so that redacting it does not garble ordinary words."""


def key_problem(key: str) -> str | None:
    """Why ``key`` cannot be sent as an HTTP header, or ``None`` when it can.

    The answer never quotes the key or any part of it: a key with a stray
    character is still a key.
    """
    if not key:
        return "it is empty"
    if len(key) > MAX_KEY_LENGTH:
        return f"it is longer than {MAX_KEY_LENGTH} characters"
    if any(char in "\r\n" for char in key):
        return "it holds a line break (was it read from a file with several lines?)"
    if any(char.isspace() for char in key):
        return "it holds a space or another blank character"
    if not key.isascii():
        return (
            "it holds a character that is not ASCII (a curly quote, an accented letter or a "
            "dash pasted from a document?)"
        )
    if not key.isprintable():
        return "it holds a control character"
    return None


def spellings(secret: str) -> set[str]:
    """Every form of ``secret`` that a message, log or page may hold."""
    if not secret:
        return set()
    utf8 = secret.encode("utf-8", "surrogatepass")
    forms = {
        secret,
        repr(secret)[1:-1],
        ascii(secret)[1:-1],
        secret.encode("unicode_escape").decode("ascii"),
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(utf8)[2:-1],
        quote(secret),
        quote(secret, safe=""),
        quote_plus(secret),
        quote_plus(secret, safe=""),
        utf8.decode("latin-1"),
        base64.b64encode(utf8).decode("ascii"),
        base64.b64encode(b":" + utf8).decode("ascii"),
        base64.urlsafe_b64encode(utf8).decode("ascii"),
    }
    # A message squeezed onto one line, or one that shows a line of the key only.
    forms.add(" ".join(secret.split()))
    forms |= {part for part in secret.split() if len(part) >= SHORT_SECRET}
    # Base64 without padding, as tokens usually appear.
    forms |= {form.rstrip("=") for form in forms}
    # HTML pages escape quotes and angle brackets.
    forms |= {_html(form) for form in forms}
    return {form for form in forms if form}


def _html(text: str) -> str:
    table = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"}
    return "".join(table.get(char, char) for char in text)


SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD")
MIN_GUESSED_SECRET = 12
"""Shortest value of a secret-looking variable that is redacted without being named."""
"""Environment variable names treated as holding a secret (upper-cased first)."""


class Redactor:
    """Replaces every spelling of some secrets with :data:`REDACTED`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pattern: re.Pattern[str] | None = None
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    @classmethod
    def from_environment(
        cls, names: Iterable[str], environ: Mapping[str, str] = os.environ
    ) -> Redactor:
        """A redactor of the secrets held in the environment variables ``names``.

        For layers that print or store text (console, report, gallery): built
        from ``[provider] api_key_env``, it catches a key whatever produced the text.
        """
        values = (environ.get(name, "") for name in names)
        return cls(form for value in values if value.strip() for form in (value, value.strip()))

    @classmethod
    def for_environment(cls, *names: str, environ: Mapping[str, str] = os.environ) -> Redactor:
        """A redactor of ``names`` plus every variable that looks like it holds a secret.

        Where the text comes from is not always known (an error from any layer, a
        report written after a build), so every ``*KEY*``, ``*TOKEN*``, ``*SECRET*``
        and ``*PASSWORD*`` variable counts, besides the named ones: those only
        when their value is long enough to be a credential (``XKB_KEYMAP=us``
        must not turn every "us" into ``[redacted]``).
        """
        looks_secret = [
            n
            for n, value in environ.items()
            if SECRET_NAME.search(n.upper()) and len(value.strip()) >= MIN_GUESSED_SECRET
        ]
        return cls.from_environment([*names, *looks_secret], environ)

    def add(self, secret: str) -> None:
        """Redact ``secret`` (in all its spellings) from now on."""
        if secret and secret not in self._secrets:
            self._secrets.append(secret)
            self._pattern = _pattern(self._secrets)

    def redact(self, text: str) -> str:
        """``text`` with every spelling of every secret replaced."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def __bool__(self) -> bool:
        return bool(self._secrets)


def _pattern(secrets: list[str]) -> re.Pattern[str]:
    long_forms: set[str] = set()
    short_forms: set[str] = set()
    for secret in secrets:
        target = short_forms if len(secret) < SHORT_SECRET else long_forms
        target |= spellings(secret)
    # Longest first, so that a longer spelling is replaced whole.
    alternatives = [re.escape(form) for form in sorted(long_forms, key=len, reverse=True)]
    alternatives += [
        rf"(?<![\w-]){re.escape(form)}(?![\w-])"
        for form in sorted(short_forms, key=len, reverse=True)
    ]
    return re.compile("|".join(alternatives))
