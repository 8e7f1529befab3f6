"""Why the plan chose each step: a stable code for programs, words for people.

``plan --json``, ``build --json`` and ``check --json`` carry both (``reason``
and ``reason_code``); ``verify`` and the gallery switch on the code, so the
words can improve without breaking either. Codes are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReasonCode = Literal[
    # generate (or reuse, when an original for the new key is already paid for)
    "new-asset",
    "provider-changed",
    "model-changed",
    "prompt-changed",
    "input-changed",
    "inputs-changed",
    "parameter-changed",
    "take-changed",
    "original-missing",
    "refresh-requested",
    # reuse with the lock's own key: the store lost or altered the original,
    # which the local cache still holds
    "original-restored",
    "original-altered",
    # reuse: the remote cache ([cache] remote) has an original for the key
    "remote-cache",
    # render
    "variants-missing",
    "output-missing",
    "output-altered",
    "variant-changed",
    "variant-removed",
    "rerender-requested",
    # fresh
    "up-to-date",
]
REASON_CODES: tuple[ReasonCode, ...] = ReasonCode.__args__  # type: ignore[attr-defined]

KNOWN_ORIGINAL = "original known for this key"
REMOTE_ORIGINAL = "reuse: remote cache"


@dataclass(frozen=True)
class Reason:
    """A plan reason: ``code`` is the contract, ``text`` the explanation shown."""

    code: ReasonCode
    text: str
    known_original: bool = False
    """A generation avoided: an original for the new key is already paid for."""

    def __str__(self) -> str:
        return f"{self.text}; {KNOWN_ORIGINAL}" if self.known_original else self.text

    def to_json(self) -> dict[str, str]:
        return {"reason": str(self), "reason_code": self.code}


UP_TO_DATE = Reason("up-to-date", "up to date")
