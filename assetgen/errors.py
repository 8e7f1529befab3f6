"""Every error assetgen raises on purpose, and the exit code it maps to.

The class tree::

    AssetgenError                 exit 1   base; carries file, asset and field
    ├── UsageError                exit 2   bad command line; nothing was done
    ├── SpecError                 exit 2   one problem in assetgen.toml or a template
    ├── SpecErrors                exit 2   several SpecErrors, reported at once
    ├── LockfileError             exit 2   assetgen.lock (or local state) unreadable
    ├── InputImageError           exit 2   an input image or mask unusable for a request
    ├── BudgetError               exit 2   a plan that would spend more than allowed
    ├── OutOfDateError            exit 3   --locked / check: lock or outputs stale
    ├── ProvenanceError           exit 3   verify: outputs without valid C2PA provenance
    ├── ProviderError             exit 1   the image service refused or failed
    │   └── ProviderAuthError     exit 2   missing or rejected API key
    ├── ResultPending             exit 75  paid for in a batch that is still running
    ├── RemoteCacheError          exit 1   --require-remote: the remote cache failed

This module imports nothing from the package, so every layer can raise these.
The CLI catches ``AssetgenError`` once, prints ``str(error)`` and exits with
``error.exit_code``; no traceback reaches a user for an error we anticipated.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class AssetgenError(Exception):
    """Base class: a message plus where it happened (file, asset, field)."""

    exit_code: int = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        asset: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.asset = asset
        self.field = field
        self.hint = hint

    def location(self) -> str:
        """``file: asset 'x': field 'y'``, leaving out what is unknown."""
        parts = []
        if self.file:
            parts.append(self.file)
        if self.asset:
            parts.append(f"asset {self.asset!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        return ": ".join(parts)

    def __str__(self) -> str:
        where = self.location()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text


class UsageError(AssetgenError):
    """The command line asked for something impossible."""

    exit_code = 2


class SpecError(AssetgenError):
    """One problem in the spec, a template or an input file it names."""

    exit_code = 2


class SpecErrors(AssetgenError):
    """Several spec problems, found in one pass and reported together."""

    exit_code = 2

    def __init__(self, errors: Sequence[SpecError]) -> None:
        self.errors = list(errors)
        noun = "problem" if len(self.errors) == 1 else "problems"
        super().__init__(f"{len(self.errors)} {noun} in the spec")

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)

    @classmethod
    def raise_if_any(cls, errors: Iterable[SpecError]) -> None:
        found = list(errors)
        if len(found) == 1:
            raise found[0]
        if found:
            raise cls(found)


class LockfileError(AssetgenError):
    """The lockfile or a local state file cannot be read."""

    exit_code = 2


class InputImageError(AssetgenError):
    """An input image, mask or reference cannot be sent as it is."""

    exit_code = 2


class BudgetError(AssetgenError):
    """The plan would cost more than the budget allows."""

    exit_code = 2


class OutOfDateError(AssetgenError):
    """``--locked`` or ``check`` found assets that are not up to date."""

    exit_code = 3

    def __init__(self, reasons: Sequence[str], *, file: str | None = None) -> None:
        self.reasons = list(reasons)
        noun = "asset is" if len(self.reasons) == 1 else "assets are"
        super().__init__(f"{len(self.reasons)} {noun} out of date", file=file)

    def __str__(self) -> str:
        lines = [super().__str__(), *(f"  {reason}" for reason in self.reasons)]
        return "\n".join(lines)


class ProvenanceError(AssetgenError):
    """``verify`` found outputs whose provenance is missing, broken or not their original's."""

    exit_code = 3

    def __init__(self, problems: Sequence[str], *, file: str | None = None) -> None:
        self.problems = list(problems)
        noun = "problem" if len(self.problems) == 1 else "problems"
        super().__init__(f"{len(self.problems)} provenance {noun}", file=file)

    def __str__(self) -> str:
        return "\n".join([super().__str__(), *(f"  {problem}" for problem in self.problems)])


class ProviderError(AssetgenError):
    """The image service refused a request or could not be reached.

    ``code`` and ``status`` are the provider's own (``moderation_blocked``,
    429, ...); ``retryable`` says whether trying again may help.
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retryable: bool = False,
        asset: str | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, asset=asset, field=field, hint=hint)
        self.code = code
        self.status = status
        self.retryable = retryable

    def __str__(self) -> str:
        text = super().__str__()
        details = [str(self.status)] if self.status else []
        if self.code:
            details.append(self.code)
        return f"{text} [{' '.join(details)}]" if details else text


class ProviderAuthError(ProviderError):
    """No API key, or the service rejected it: no request can succeed."""

    exit_code = 2


class ResultPending(AssetgenError):
    """An asset's generation waits in a Batch API batch that has not finished.

    Not a failure: the batch is recorded under ``.assetgen/batches/`` and the
    next ``build`` (or ``batch wait``) collects the result without paying again.
    Exit 75 is ``EX_TEMPFAIL``: try again later.
    """

    exit_code = 75


class RemoteCacheError(AssetgenError):
    """``--require-remote``: the remote cache could not be reached or refused a write."""

    exit_code = 1
