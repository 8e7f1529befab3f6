"""The durable record of Batch API submissions: what was paid for and where it waits.

One JSON file per submission, ``.assetgen/batches/<submission>.json``, written
atomically and fsynced at each step, so that a build killed at any point
neither loses a batch nor submits its keys twice:

1. before the input file is uploaded: the submission id and its keys (a
   record without a file id was never sent anywhere billable: the next build
   drops it and sends its keys afresh);
2. the input file's id as soon as the upload answers (the next build creates
   the batch from it, never uploads again);
3. the batch id as soon as the create call answers. The create call carries
   the submission id in the batch's ``metadata``, so a kill between the
   create and this write is recovered by listing batches.

Keys leave a record once their result is stored (or has failed, so that a
retry may be sent); a record with no key left is deleted.

Every record read back is untrusted: its name, version, ids and keys are
checked (an id goes into a URL path) and a damaged file stops the build with
a :class:`~assetgen.errors.LockfileError` that names it and the way out.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import LockfileError
from .fsutil import atomic_write_text
from .keyrecords import KEY

STATE_VERSION = 1
FOLDER = "batches"
"""Under the state folder (``.assetgen``)."""
SUBMISSION_ID = re.compile(r"[0-9a-f]{32}")
OBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,199}")
"""A file or batch id as the API gives them (``file-…``, ``batch_…``): it goes into URL paths."""
MAX_STATE_BYTES = 16 * 1024 * 1024
MAX_NAME_CHARS = 1000
HEADER = "written by `assetgen build --batch`; `assetgen batch status` reads it"


@dataclass(frozen=True)
class Submission:
    """One batch of generations: submitted, or on its way to being submitted."""

    id: str
    """Random hex id, sent as the batch's ``metadata`` (recovery by listing)."""
    base_url: str
    """The API the batch lives at; another base URL cannot see it."""
    model: str
    created_at: int
    """Unix seconds when the record was first written."""
    keys: dict[str, str] = field(default_factory=dict)
    """Generation key (the line's ``custom_id``) → asset name, for messages."""
    input_file_id: str | None = None
    batch_id: str | None = None

    @classmethod
    def new(cls, base_url: str, model: str, keys: dict[str, str], now: int) -> Submission:
        return cls(secrets.token_hex(16), base_url, model, now, dict(sorted(keys.items())))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "comment": HEADER,
            "submission": self.id,
            "base_url": self.base_url,
            "model": self.model,
            "created_at": self.created_at,
            "input_file_id": self.input_file_id,
            "batch_id": self.batch_id,
            "keys": dict(sorted(self.keys.items())),
        }


class BatchStates:
    """The records under ``.assetgen/batches/`` (hold the project lock to write)."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / FOLDER
        self.state_dir = state_dir

    def path(self, submission_id: str) -> Path:
        return self.folder / f"{submission_id}.json"

    def load(self) -> list[Submission]:
        """Every record, oldest first; LockfileError names a damaged one."""
        try:
            paths = sorted(self.folder.glob("*.json"))
        except OSError:
            return []
        records = [self.read(path) for path in paths if not path.name.startswith(".")]
        return sorted(records, key=lambda s: (s.created_at, s.id))

    def save(self, submission: Submission) -> None:
        """Write the record durably before the caller goes on (the next step may cost money)."""
        text = json.dumps(submission.to_json(), indent=1, sort_keys=False) + "\n"
        atomic_write_text(self.path(submission.id), text)

    def remove(self, submission: Submission) -> None:
        self.path(submission.id).unlink(missing_ok=True)

    def display(self, path: Path) -> str:
        root = self.state_dir.parent
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)

    def read(self, path: Path) -> Submission:
        file = self.display(path)
        try:
            if path.is_symlink() or not path.is_file():
                raise ValueError("not a regular file")
            if path.stat().st_size > MAX_STATE_BYTES:
                raise ValueError(f"larger than {MAX_STATE_BYTES // (1024 * 1024)} MB")
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise _damaged(file, None, f"unreadable ({exc})") from None
        return _Reader(file, path.stem).submission(data)


def _damaged(file: str, field: str | None, message: str) -> LockfileError:
    return LockfileError(
        f"batch record is damaged: {message}",
        file=file,
        field=field,
        hint="run `assetgen batch status` to see the batch at the API; deleting the file "
        "forgets the batch (its results are then paid for again if rebuilt)",
    )


@dataclass
class _Reader:
    file: str
    stem: str

    def fail(self, field: str | None, message: str) -> LockfileError:
        return _damaged(self.file, field, message)

    def submission(self, data: Any) -> Submission:
        if not isinstance(data, dict):
            raise self.fail(None, "expected a JSON object")
        if data.get("version") != STATE_VERSION:
            raise self.fail("version", f"expected {STATE_VERSION}, got {data.get('version')!r}")
        submission = self.text(data, "submission", SUBMISSION_ID)
        if submission != self.stem:
            raise self.fail("submission", f"{submission!r} does not match the file's name")
        base_url = data.get("base_url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise self.fail("base_url", "expected an http(s) URL")
        model = data.get("model")
        if not isinstance(model, str) or not 0 < len(model) <= MAX_NAME_CHARS:
            raise self.fail("model", "expected a model id")
        created = data.get("created_at")
        if not isinstance(created, int) or isinstance(created, bool) or created < 0:
            raise self.fail("created_at", "expected Unix seconds")
        record = Submission(submission, base_url, model, created, self.keys(data.get("keys")))
        return replace(
            record,
            input_file_id=self.optional(data, "input_file_id"),
            batch_id=self.optional(data, "batch_id"),
        )

    def text(self, data: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
        value = data.get(name)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise self.fail(name, f"{str(value)[:80]!r} is not a valid id")
        return value

    def optional(self, data: dict[str, Any], name: str) -> str | None:
        return None if data.get(name) is None else self.text(data, name, OBJECT_ID)

    def keys(self, value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.fail("keys", "expected a table of generation keys")
        for key, name in value.items():
            if not KEY.fullmatch(key):
                raise self.fail("keys", f"{key[:80]!r} is not a generation key")
            if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_CHARS:
                raise self.fail(f"keys.{key}", "expected an asset name")
        return dict(value)
