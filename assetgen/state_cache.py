"""Parsed state kept between commands, so a no-op build costs little more than ``stat``.

A no-op ``build``, ``plan`` or ``check`` of a large project used to spend its
time redoing work whose inputs had not changed: parsing and validating the
spec, rendering every asset's name and prompt, parsing and checking the lock.
The results are kept under ``.assetgen/parsed/``, one file per kind, each
valid for exactly the inputs it was made from, which are checked on every use:

``spec``
    The validated :class:`~assetgen.spec_types.Spec`, for the SHA-256 of the
    spec's bytes (the very bytes that were parsed). On use, the folder rules
    (which follow symlinks) are checked again.
``assets``
    The expanded assets, for the spec's bytes, ``--provider`` and draft mode,
    kept per ``[[asset]]`` table with every template that table's renders read,
    by the digest of the source Jinja2 compiled (project and stock templates,
    includes, imports and extends, and names that were looked for and not
    found, which must still be missing). On use every template file is read and
    hashed again, and every input image is resolved (symlinks followed) and
    hashed again through the stat cache; a table that fails is rendered again,
    alone. Each table's expansion carries a random token.
``keys``
    The keys the last plan computed from those assets (:mod:`assetgen.key_memo`),
    each under the token of its table's expansion.
``lock``
    The parsed lock, for the SHA-256 of the lock's bytes and the folders its
    paths must stay in; on use every path is checked again, symlinks resolved
    (:func:`~assetgen.lockfile.paths_intact`). A journal is always read afresh.

Every file also carries the cache format, assetgen's version, a fingerprint of
assetgen's own modules and of Jinja2's (their sizes and mtimes: a checkout
being developed changes without a new version) and Python's version. Anything
that does not match exactly, cannot be read, is too large or does not
authenticate is a miss: the slow path runs and rewrites the file. Nothing here
is ever needed: deleting ``.assetgen/`` costs one slow run.

**Why pickle, and how it is trusted.** A cache that skips validation must be
as trustworthy as the validation it skips: a crafted file could otherwise hand
a build an input image outside the project or a lock path outside ``out_dir``,
whatever the format. So every file is authenticated first, with HMAC-SHA256
under a per-project random secret (``.assetgen/parsed/secret``: 32 bytes,
created 0o600, used only while it is a regular file of this user with no
permission for anyone else). The key also covers the secret file's inode and
ctime, which nobody can set: a secret shipped in a tarball or a repository
next to crafted cache files authenticates nothing once extracted. Only then
is the payload unpickled, and with an allowlist of classes (assetgen's frozen
dataclasses, ``pathlib`` paths, the date and time types TOML has): even with
the secret known, unpickling reaches no other callable. A provider
package's own options classes (``options_class``, ``asset_options_class``)
are not on it: a spec that holds one is a miss every time, read the slow way. Plain marshal or JSON
would need the same authentication, and hand-written converters for a dozen
dataclasses that every refactor must keep in step (a converter that drifts
is a stale answer); pickle rebuilds exactly the objects the slow path made,
in a few milliseconds, and the fingerprint of assetgen's modules retires every
file written by other code.

Writes are atomic (:mod:`assetgen.fsutil`) but not fsynced: a file torn by a
power loss fails authentication and is a miss.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import io
import os
import pathlib
import pickle
import stat
import sys
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .fsutil import Listing, atomic_write_bytes
from .graph import Asset, Expander, InputRef
from .hashing import HashCache, text_sha256
from .key_memo import KeyMemo
from .keyrecords import KeyRecord, LockOriginal
from .layout import Layout, build_layout, check_input
from .lockfile import (
    LockEntry,
    Lockfile,
    LockFolders,
    LockInput,
    LockProvenance,
    LockVariant,
)
from .options import NoOptions
from .params import GenerationParams, ProviderOptions
from .spec import layout_errors, load_spec, read_spec
from .spec_types import (
    AssetSpec,
    BuildConfig,
    CacheConfig,
    ProvenanceConfig,
    ProviderConfig,
    Spec,
    VariantSpec,
)

FORMAT = 6
"""Bump when what a cache file holds changes shape."""
MAGIC = b"assetgen parsed state\n"
FOLDER = "parsed"
SECRET_NAME = "secret"
SECRET_BYTES = 32
MAC_BYTES = 32
MAX_FILE_BYTES = 512 * 1024 * 1024
"""Largest cache file read (a 10,000-asset project writes a few tens of MB)."""

_ALLOWED: dict[tuple[str, str], type] = {
    (cls.__module__, cls.__qualname__): cls
    for cls in (
        Spec, BuildConfig, ProviderConfig, ProvenanceConfig, CacheConfig, NoOptions, VariantSpec,
        AssetSpec, Asset, InputRef, GenerationParams, ProviderOptions, Lockfile, LockEntry,
        KeyRecord, LockOriginal, LockVariant, LockInput, LockProvenance,
        pathlib.PosixPath, pathlib.PurePosixPath, pathlib.WindowsPath, pathlib.PureWindowsPath,
        datetime.date, datetime.time, datetime.datetime, datetime.timedelta, datetime.timezone,
    )
}  # fmt: skip
"""Every class a cache file may name; anything else makes it a miss."""


class _Unpickler(pickle.Unpickler):
    """Unpickles only :data:`_ALLOWED` classes; ``refs`` stand for shared objects."""

    def __init__(self, data: bytes, refs: Sequence[object]) -> None:
        super().__init__(io.BytesIO(data))
        self.refs = refs

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache file")
        return found

    def persistent_load(self, pid: Any) -> object:
        if not (isinstance(pid, int) and 0 <= pid < len(self.refs)):
            raise pickle.UnpicklingError("a reference out of range")
        return self.refs[pid]


class _Pickler(pickle.Pickler):
    """Pickles ``refs`` (objects the reader already has) as their index."""

    def __init__(self, file: io.BytesIO, refs: Sequence[object]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.indexes = {id(obj): index for index, obj in enumerate(refs)}

    def persistent_id(self, obj: object) -> int | None:
        return self.indexes.get(id(obj))


@cache
def code_fingerprint() -> str:
    """Sizes and mtimes of assetgen's and Jinja2's modules, and the versions that matter."""
    import importlib.util

    parts = [f"format {FORMAT}", f"assetgen {__version__}", sys.version]
    folders = [Path(__file__).parent]
    jinja = importlib.util.find_spec("jinja2")
    if jinja is not None and jinja.origin:
        folders.append(Path(jinja.origin).parent)
    for folder in folders:
        parts.extend(_module_stats(folder))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _module_stats(folder: Path) -> Iterator[str]:
    for top, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                info = os.stat(os.path.join(top, name))
                yield f"{top}/{name} {info.st_size} {info.st_mtime_ns}"


def file_digest(path: Path) -> str | None:
    """SHA-256 of a regular file's bytes; None when it is missing or not a regular file."""
    try:
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                return None
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


class StateCache:
    """The files under ``.assetgen/parsed/``: authenticated, checked, disposable."""

    def __init__(self, state_dir: Path) -> None:
        self.folder = state_dir / FOLDER
        self._key: bytes | None = None
        self.tokens: dict[int, str] = {}
        """The token of each ``[[asset]]`` table's expansion :meth:`assets` returned last
        (drawn anew whenever a table is rendered again): the keys memo's validity."""

    # -- files ------------------------------------------------------------

    def path(self, kind: str, identity: str) -> Path:
        name = hashlib.sha256(identity.encode("utf-8", "surrogatepass")).hexdigest()[:20]
        return self.folder / f"{kind}-{name}.pickle"

    def read(self, kind: str, identity: str, key: object, refs: Sequence[object] = ()) -> Any:
        """The value kept for ``key``, or None (missing, foreign, damaged or another key)."""
        secret = self._secret(create=False)
        data = self._bytes(self.path(kind, identity))
        if secret is None or data is None or not data.startswith(MAGIC):
            return None
        mac, payload = data[len(MAGIC) : len(MAGIC) + MAC_BYTES], data[len(MAGIC) + MAC_BYTES :]
        if not hmac.compare_digest(mac, _mac(secret, payload)):
            return None
        try:
            header, value = _Unpickler(payload, refs).load()
        except Exception:  # an authentic file of another shape: a miss, never a failure
            return None
        return value if header == (code_fingerprint(), kind, identity, key) else None

    def write(
        self, kind: str, identity: str, key: object, value: object, refs: Sequence[object] = ()
    ) -> bool:
        """Keep ``value`` for ``key``; a cache that cannot be written is no error (False)."""
        try:
            secret = self._secret(create=True)
            if secret is None:
                return False
            buffer = io.BytesIO()
            _Pickler(buffer, refs).dump(((code_fingerprint(), kind, identity, key), value))
            payload = buffer.getvalue()
            data = MAGIC + _mac(secret, payload) + payload
            atomic_write_bytes(self.path(kind, identity), data, durable=False)
        except (OSError, pickle.PicklingError, RecursionError, TypeError, AttributeError):
            return False
        return True

    @staticmethod
    def _bytes(path: Path) -> bytes | None:
        try:
            with open(path, "rb") as handle:
                info = os.fstat(handle.fileno())
                if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
                    return None
                return handle.read(MAX_FILE_BYTES + 1)
        except OSError:
            return None

    def _secret(self, *, create: bool) -> bytes | None:
        """The MAC key: the secret's bytes bound to its file (see the module's docstring)."""
        if self._key is not None:
            return self._key
        path = self.folder / SECRET_NAME
        key = _read_secret(path)
        if key is None and create:
            atomic_write_bytes(path, os.urandom(SECRET_BYTES), private=True)
            key = _read_secret(path)
        self._key = key
        return key

    # -- the spec -------------------------------------------------------------

    def spec(self, path: Path, *, provider: str | None = None) -> tuple[Spec, str]:
        """The validated spec at ``path`` (``provider``: ``--provider``) and its bytes' SHA-256."""
        path = path.resolve()
        raw = read_spec(path)
        digest = hashlib.sha256(raw).hexdigest()
        identity = f"{path}\0{provider or ''}"
        spec = self.read("spec", identity, digest)
        if isinstance(spec, Spec) and spec.path == path and not self._layout_moved(spec):
            return spec, digest
        spec = load_spec(path, provider=provider, raw=raw)
        self.write("spec", identity, digest, spec)
        return spec, digest

    @staticmethod
    def _layout_moved(spec: Spec) -> bool:
        """Whether the folder rules, which follow symlinks, fail now (the slow path says why)."""
        return bool(layout_errors(spec.path, spec.build, spec.assets))

    # -- the assets -------------------------------------------------------------

    def assets(self, spec: Spec, hashes: HashCache, *, key: str, slot: str) -> list[Asset]:
        """The spec's assets (:func:`assetgen.graph.expand`); ``key`` names the spec's
        bytes and every option that changes the expansion (draft, ``--provider``);
        ``slot`` those options alone: one file per slot, whatever the spec's bytes,
        so editing the spec replaces the file instead of adding one.

        Kept per ``[[asset]]`` table: a template edit renders again only the
        tables whose templates read it (watch mode's usual change).
        """
        identity = _identity(spec, slot)
        kept = self.read("assets", identity, key, refs=spec.assets)
        tables = _tables(kept, len(spec.assets))
        currency = _Currency(spec, hashes)
        current = {
            index: table
            for index, table in enumerate(tables or ())
            if currency.table(table[0], table[1])
        }
        self.tokens = {index: table[2] for index, table in current.items()}
        if tables is not None and len(current) == len(tables):
            return [asset for table in tables for asset in table[1]]
        expander = Expander(spec, hashes)
        assets = expander.expand({index: table[1] for index, table in current.items()})
        by_table: dict[int, list[Asset]] = {}
        for asset in assets:
            by_table.setdefault(asset.spec.index, []).append(asset)
        fresh: list[TableExpansion] = []
        for index in range(len(spec.assets)):
            if index in current:
                fresh.append(current[index])
                continue
            templates = _template_reads(spec, expander.table_reads.get(index, {}))
            if templates is None:  # read through a loader this module cannot check
                self.tokens = {}
                return assets
            token = os.urandom(16).hex()  # names this table's expansion, for its keys
            fresh.append((templates, tuple(by_table.get(index, ())), token))
        if self.write("assets", identity, key, tuple(fresh), refs=spec.assets):
            self.tokens = {index: table[2] for index, table in enumerate(fresh)}
        else:
            self.tokens = {}
        return assets

    # -- the keys of the expansion (key_memo.KeyMemo) -----------------------------------

    def key_memo(self, spec: Spec, *, key: str, slot: str) -> KeyMemo:
        """The keys computed from the assets :meth:`assets` returned last."""
        known = self.read("keys", _identity(spec, slot), key) if self.tokens else None
        return KeyMemo(known if isinstance(known, dict) else None, tokens=self.tokens)

    def remember_keys(self, spec: Spec, memo: KeyMemo, *, key: str, slot: str) -> None:
        if self.tokens and memo.changed:
            self.write("keys", _identity(spec, slot), key, memo.used)

    # -- the lock (lockfile.ParsedLocks) -------------------------------------------

    def get(self, digest: str, folders: LockFolders) -> Lockfile | None:
        key = _lock_key(digest, folders)
        lock = self.read("lock", "\0".join(key[1:]), key)
        return lock if isinstance(lock, Lockfile) else None

    def put(self, digest: str, folders: LockFolders, lock: Lockfile) -> None:
        key = _lock_key(digest, folders)
        self.write("lock", "\0".join(key[1:]), key, lock)

    # -- the manifest (manifest.ManifestMemo) -----------------------------------------

    def manifest_digest(self, path: Path, fingerprint: str) -> str | None:
        digest = self.read("manifest", str(path), fingerprint)
        return digest if isinstance(digest, str) else None

    def remember_manifest(self, path: Path, fingerprint: str, digest: str) -> None:
        self.write("manifest", str(path), fingerprint, digest)

    # -- folders without temp files (fsutil.leftover_temps) -------------------------------

    def clean_folders(self, root: Path) -> Listing:
        """What the last scan for leftover temp files found clean (an empty listing if none)."""
        listing = self.read("folders", str(root), "clean")
        return listing if isinstance(listing, dict) else {}

    def remember_clean_folders(self, root: Path, listing: Listing) -> None:
        self.write("folders", str(root), "clean", listing)


TemplateDep = tuple[tuple[str, ...], str | None, str | None]
"""``(files that must be missing, file read, digest of its source)`` for one template name."""
TableExpansion = tuple[tuple[TemplateDep, ...], tuple[Asset, ...], str]
"""One ``[[asset]]`` table expanded: what its renders read, its assets, its token."""


def _tables(kept: object, count: int) -> list[TableExpansion] | None:
    """The kept tables, if ``kept`` has the shape :meth:`StateCache.assets` writes."""
    if not isinstance(kept, tuple) or len(kept) != count:
        return None
    for table in kept:
        if not (isinstance(table, tuple) and len(table) == 3 and isinstance(table[2], str)):
            return None
    return list(kept)


def _template_reads(spec: Spec, reads: dict[str, Any]) -> tuple[TemplateDep, ...] | None:
    """What the renders read, as files to check; None if a read cannot be placed."""
    from .prompts import template_files

    templates_dir = spec.project_path(spec.build.templates)
    deps: list[TemplateDep] = []
    for name, read in sorted(reads.items()):
        candidates = [os.path.normpath(p) for p in template_files(templates_dir, name)]
        if read is None:
            deps.append((tuple(candidates), None, None))
            continue
        filename, digest = read
        if filename not in candidates:
            return None  # found by a loader this module does not know: never cache it
        deps.append((tuple(candidates[: candidates.index(filename)]), filename, digest))
    return tuple(deps)


class _Currency:
    """Whether kept tables are what expanding them would give now, each file looked at once
    however many tables read it."""

    def __init__(self, spec: Spec, hashes: HashCache) -> None:
        self.spec = spec
        self.hashes = hashes
        layout, problems = build_layout(spec.root, spec.path, spec.build)
        self.layout: Layout | None = None if problems else layout
        """The folder rules as they resolve now; ``None`` (nothing is current) when they fail."""
        self._sources: dict[str, str | None] = {}
        self._missing: dict[str, bool] = {}
        self._inputs: dict[str, tuple[Path | None, str]] = {}

    def table(self, templates: tuple[TemplateDep, ...], assets: Sequence[Asset]) -> bool:
        return self.layout is not None and self.templates(templates) and self.inputs(assets)

    def templates(self, templates: tuple[TemplateDep, ...]) -> bool:
        for missing, filename, digest in templates:
            if not all(self.missing(path) for path in missing):
                return False
            if filename is not None and self.source_digest(filename) != digest:
                return False
        return True

    def missing(self, path: str) -> bool:
        found = self._missing.get(path)
        if found is None:
            found = self._missing[path] = not os.path.isfile(path)
        return found

    def source_digest(self, filename: str) -> str | None:
        if filename not in self._sources:
            try:
                # As Jinja2's FileSystemLoader reads it: UTF-8, universal newlines.
                with open(filename, encoding="utf-8") as handle:
                    self._sources[filename] = text_sha256(handle.read())
            except (OSError, UnicodeError):
                self._sources[filename] = None
        return self._sources[filename]

    def inputs(self, assets: Sequence[Asset]) -> bool:
        """Every input image resolves where it did (symlinks followed), with the same content."""
        for asset in assets:
            for ref in asset.inputs:
                if ref.upstream is not None:
                    continue
                found = self._inputs.get(ref.source)
                if found is None:
                    found = self._inputs[ref.source] = self.input(ref.source)
                if found != (ref.path, ref.sha256):
                    return False
        return True

    def input(self, source: str) -> tuple[Path | None, str]:
        assert self.layout is not None  # table() looks at inputs only under usable rules
        path, _ = check_input(self.layout, source, self.spec.root)
        digest = self.hashes.sha256_or_none(path) if path is not None else None
        return (path, digest or "")


def _identity(spec: Spec, slot: str) -> str:
    """Which file of a kind holds a spec's state: one per spec and slot."""
    return f"{spec.path}\0{slot}"


def _lock_key(digest: str, folders: LockFolders) -> tuple[str, str, str, str]:
    return (digest, str(folders.root), folders.store_dir, folders.out_dir)


def _read_secret(path: Path) -> bytes | None:
    """The secret bound to its file, or None unless it is ours alone (0o600, this user)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        owner = getattr(os, "geteuid", lambda: info.st_uid)()
        private = stat.S_ISREG(info.st_mode) and not info.st_mode & 0o077
        if not private or info.st_uid != owner or info.st_size != SECRET_BYTES:
            return None
        secret = handle.read(SECRET_BYTES)
    binding = f"{info.st_ino}:{info.st_ctime_ns}".encode()
    return hmac.new(secret, binding, hashlib.sha256).digest()


def _mac(key: bytes, payload: bytes) -> bytes:
    return hmac.new(key, MAGIC + payload, hashlib.sha256).digest()
