"""``assetgen.lock``: what every asset's key resolved to, in stable TOML.

One table per concrete asset, keys sorted, floats rounded: the same state
always gives the same bytes, and a merge conflict between branches stays
local to the assets both changed.

Durability without quadratic rewrites: each finished asset is appended as
one JSON line to a journal under ``.assetgen/`` and fsynced (cheap, O(1) per
asset). The journal is folded into the lock at the end of a build and on the
next start after a crash. A torn last line (a crash mid-append) is ignored:
every complete line is an asset that is fully on disk.

Both files are untrusted input: the lock arrives in pull requests, and either
can be damaged or tampered with. Every field is checked on read (see
:func:`read_entry`); with :class:`LockFolders` known, every path must also stay
in the folder assetgen owns for it, symlinks resolved. A bad entry is a
:class:`LockfileError` (exit 2) naming the file, the asset and the field,
raised before anything is written or deleted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import posixpath
import re
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, NoReturn, Protocol

from .errors import LockfileError
from .filenames import ORIGINAL_EXTENSIONS
from .fsutil import atomic_write_text
from .keyrecords import KeyRecord, LockOriginal

LOCK_VERSION = 1
HEADER = "# assetgen.lock: written by `assetgen build`; do not edit by hand.\n"
FIX = "fix it, or delete it and run `assetgen build` (cached originals are reused)"
ENTRY_FIX = (
    "restore the lock from git (`git checkout -- {file}`), or delete this asset's entry "
    "and run `assetgen build`: a locally cached original is reused, else it is generated again"
)
UNSAFE_FIX = (
    "assetgen reads and writes originals only in store_dir and variants only in out_dir; "
    "a lock from an untrusted pull request may be crafted: restore {file} from a trusted "
    "commit (if you moved [build] store_dir or out_dir, delete the affected entries "
    "and build again)"
)
JOURNAL_FIX = (
    "a journal is written by assetgen only: delete {file} to drop the interrupted build's "
    "record (paid originals stay in the local cache and are reused by `assetgen build`)"
)
SHA256 = re.compile(r"^[0-9a-f]{64}$")
KEY = re.compile(r"^sha256:[0-9a-f]{64}$")
VARIANT_FORMATS = frozenset({"png", "jpeg", "webp", "avif"})
ROLES = frozenset({"image", "mask", "reference"})
ENTRY_OPTIONAL = frozenset(
    {"params", "inputs", "original", "candidates", "selected", "usage", "cost_usd",
     "generated_at", "variants", "c2pa"}
)  # fmt: skip
C2PA_STATES = frozenset({"none", "trusted", "valid", "invalid"})
C2PA_TEXTS = ("manifest", "claim_generator", "signer")
C2PA_LISTS = ("actions", "codes")
MAX_C2PA_TEXT = 500
"""Longest text (and most items in a list) a lock's C2PA summary may hold."""


@dataclass(frozen=True)
class LockVariant:
    """A variant file written to the output folder."""

    path: str
    key: str
    sha256: str
    width: int
    height: int
    bytes: int
    format: str
    encoder: str = ""
    """Encoder that wrote it (information only: never part of a key)."""
    c2pa: bool = False
    """Written with a signed C2PA manifest naming its original (``[provenance] c2pa = "sign"``)."""

    def to_toml(self) -> dict[str, Any]:
        data = asdict(self)
        if not self.c2pa:
            del data["c2pa"]  # locks without provenance keep their bytes
        return data


@dataclass(frozen=True)
class LockProvenance:
    """The C2PA manifest one original carried when it was stored (``[provenance] c2pa``)."""

    sha256: str
    """The original it describes."""
    validation_state: str
    """``none`` (no manifest), ``trusted``, ``valid`` (signer not a trust anchor), ``invalid``."""
    manifest: str = ""
    """The active manifest's label."""
    claim_generator: str = ""
    signer: str = ""
    actions: tuple[str, ...] = ()
    ai_generated: bool = False
    """The manifest records the IPTC ``trainedAlgorithmicMedia`` source type."""
    codes: tuple[str, ...] = ()
    """c2pa's validation status codes (e.g. ``signingCredential.untrusted``)."""

    def to_toml(self) -> dict[str, Any]:
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items() if v != ()}


@dataclass(frozen=True)
class LockInput:
    role: str
    path: str
    sha256: str


@dataclass(frozen=True)
class LockEntry:
    """Everything recorded about one concrete asset.

    The generation it uses (the very value the key caches keep) plus what only
    the lock knows: what was asked (prompt, params, inputs) and what was made
    from it (variants, C2PA). The read-only properties name the generation's
    fields; none of them is stored twice.
    """

    generation: KeyRecord
    """Key, provider, model, every candidate the generation returned, the one used
    (``selected``), usage, cost and time."""
    prompt: str
    params: dict[str, Any]
    inputs: tuple[LockInput, ...]
    variants: tuple[LockVariant, ...] = ()
    c2pa: tuple[LockProvenance, ...] = ()
    """The C2PA manifests of the candidates, when ``[provenance] c2pa`` read them."""

    @property
    def key(self) -> str:
        return self.generation.key

    @property
    def provider(self) -> str:
        return self.generation.provider

    @property
    def model(self) -> str:
        return self.generation.model

    @property
    def candidates(self) -> tuple[LockOriginal, ...]:
        return self.generation.candidates

    @property
    def selected(self) -> int:
        return self.generation.selected

    @property
    def usage(self) -> dict[str, int] | None:
        return self.generation.usage

    @property
    def cost_usd(self) -> float:
        return self.generation.cost_usd

    @property
    def generated_at(self) -> str:
        return self.generation.generated_at

    @property
    def original(self) -> LockOriginal:
        return self.generation.original

    @property
    def original_c2pa(self) -> LockProvenance | None:
        """The selected original's C2PA summary, if it was read."""
        return next((p for p in self.c2pa if p.sha256 == self.original.sha256), None)

    def to_toml(self) -> dict[str, Any]:
        # A fixed, reading order (not alphabetical): what changed first, then results.
        data: dict[str, Any] = {
            "key": self.key,
            "provider": self.provider,
            "model": self.model,
            "prompt": self.prompt,
            "params": dict(sorted(self.params.items())),
            "inputs": [asdict(item) for item in self.inputs],
            "original": asdict(self.original),
        }
        if len(self.candidates) > 1:
            data["selected"] = self.selected
            data["candidates"] = [asdict(item) for item in self.candidates]
        if self.c2pa:
            data["c2pa"] = [item.to_toml() for item in self.c2pa]
        if self.usage:
            data["usage"] = dict(sorted(self.usage.items()))
        data["cost_usd"] = round(self.cost_usd, 6)
        data["generated_at"] = self.generated_at
        data["variants"] = [item.to_toml() for item in sorted(self.variants, key=lambda v: v.path)]
        return data

    @classmethod
    def from_toml(cls, data: Any, *, file: str = "assetgen.lock", asset: str = "") -> LockEntry:
        """Build an entry from its TOML table; a :class:`LockfileError` when malformed."""
        return read_entry(data, file=file, asset=asset)

    def with_variants(self, variants: tuple[LockVariant, ...]) -> LockEntry:
        return replace(self, variants=variants)

    def with_selected(self, index: int) -> LockEntry:
        """The entry using candidate ``index`` (``assetgen pick``)."""
        return replace(self, generation=replace(self.generation, selected=index))


@dataclass
class Lockfile:
    """The lock's assets by name."""

    assets: dict[str, LockEntry] = field(default_factory=dict)
    relocated: bool = field(default=False, compare=False)
    """Some original was read under an old ``store_dir`` (see :func:`rebased_original`):
    the next build that holds the project lock writes the lock with today's paths."""

    def copy(self) -> Lockfile:
        """A lock of its own to change (entries are frozen: they are shared)."""
        return Lockfile(dict(self.assets), relocated=self.relocated)

    def dumps(self) -> str:
        import tomli_w

        body = {
            "version": LOCK_VERSION,
            "assets": {name: self.assets[name].to_toml() for name in sorted(self.assets)},
        }
        return HEADER + tomli_w.dumps(body, multiline_strings=False)


@dataclass(frozen=True)
class LockFolders:
    """The folders a lock's paths must stay in (all project-relative, POSIX)."""

    root: Path
    store_dir: str
    """Originals: exactly ``<store_dir>/<sha[:2]>/<sha>.<ext>``."""
    out_dir: str
    """Variants: anywhere inside, after resolving symlinks."""


class Resolver:
    """``realpath`` with folders cached for one read: one ``lstat`` per file, not per part.

    Made afresh for every read of the lock or journal, so a symlink changed
    since is seen. Works on strings: a lock has thousands of paths, and
    :class:`~pathlib.Path` objects cost more than the ``lstat`` itself.
    """

    def __init__(self, *, listing: bool = False) -> None:
        self._folders: dict[str, str] = {}
        self._links: dict[str, frozenset[str] | None] = {}
        self.listing = listing
        """Tell symlinks by listing each folder once (``scandir``), not by one ``lstat``
        per file: for checking many files of a few folders."""
        self.relocated = False
        """Set when an original was placed in a moved ``store_dir``."""

    def real(self, path: str) -> str:
        head, tail = os.path.split(path)
        if tail in ("", ".", ".."):
            return os.path.realpath(path)
        folder = self.folder(head)
        leaf = _join(folder, tail)
        return os.path.realpath(leaf) if self._is_link(folder, tail, leaf) else leaf

    def _is_link(self, folder: str, name: str, path: str) -> bool:
        links = self.links(folder) if self.listing else None
        return os.path.islink(path) if links is None else name in links

    def links(self, folder: str) -> frozenset[str] | None:
        """The symlinks in the (resolved) ``folder``, listed once; None if it cannot be."""
        if folder not in self._links:
            self._links[folder] = _symlinks_in(folder)
        return self._links[folder]

    def folder(self, path: str) -> str:
        """``realpath`` of a folder, from its parent's (one ``lstat`` per new folder)."""
        found = self._folders.get(path)
        if found is None:
            head, tail = os.path.split(path)
            if tail in ("", ".", "..") or not head or head == path:
                found = os.path.realpath(path)
            else:
                found = self.real(path)
            self._folders[path] = found
        return found

    def inside(self, path: str, folder: str) -> bool:
        """Whether ``path`` resolves strictly inside ``folder`` (symlinks followed)."""
        try:
            resolved = self.real(path)
            base = self.folder(folder)
        except (OSError, ValueError):  # e.g. a NUL byte, a loop of symlinks
            return False
        prefix = base if base.endswith(os.sep) else base + os.sep
        return resolved.startswith(prefix) and resolved != base


def _symlinks_in(folder: str) -> frozenset[str] | None:
    """The names of the symlinks in ``folder``; empty if it does not exist, None if unknown."""
    try:
        with os.scandir(folder) as entries:
            return frozenset(entry.name for entry in entries if entry.is_symlink())
    except (FileNotFoundError, NotADirectoryError):
        return frozenset()
    except OSError:
        return None


def _join(folder: str, relative: str) -> str:
    """``os.path.join`` for a folder and a path that is not absolute, without its cost."""
    if relative.startswith(os.sep):
        return relative
    return folder + relative if folder.endswith(os.sep) else f"{folder}{os.sep}{relative}"


@cache
@cache
def _normal(folder: str) -> str:
    return posixpath.normpath(folder)


def original_path_problem(
    path: str, sha256: str, folders: LockFolders, resolver: Resolver | None = None
) -> str | None:
    """Why ``path`` is not where this store keeps the original ``sha256``; None if it is.

    The only acceptable path is the store's own name for the content:
    ``<store_dir>/<sha[:2]>/<sha>.<ext>``, and it must resolve inside store_dir.
    """
    if not SHA256.match(sha256):
        return f"sha256 {sha256!r} is not 64 hex digits"[:200]
    ext = posixpath.splitext(path)[1].removeprefix(".")
    tail = f"{sha256[:2]}/{sha256}.{ext}"
    named = path in (f"{folders.store_dir}/{tail}", f"{_normal(folders.store_dir)}/{tail}")
    if ext not in ORIGINAL_EXTENSIONS.values() or not named:
        known = "|".join(sorted(ORIGINAL_EXTENSIONS.values()))
        sample = f"{folders.store_dir}/{sha256[:2]}/{sha256}.{{{known}}}"
        return f"original path {path!r} is not the store's own name for it ({sample})"
    resolver = resolver or Resolver()
    root = os.fspath(folders.root)
    if not resolver.inside(_join(root, path), _join(root, folders.store_dir)):
        return f"original path {path!r} leads outside store_dir {folders.store_dir!r}"
    return None


def rebased_original(path: str, sha256: str, folders: LockFolders) -> str:
    """An original's path moved into today's ``store_dir`` when only the folder changed.

    A user who moves ``store_dir`` (``git mv assets/generated art/generated``)
    keeps a lock naming the old folder. The store's name for an object depends
    only on its hash and extension, so a path that ends in exactly that name is
    placed in the current store: nothing from the recorded folder is used, and
    the result is checked like any other path. Anything else is left as it is,
    for :func:`original_path_problem` to refuse.
    """
    if not SHA256.match(sha256) or "\0" in path:
        return path
    tail = f"{sha256[:2]}/{sha256}{posixpath.splitext(path)[1]}"
    if path.endswith(f"/{tail}") and not posixpath.isabs(path) and ".." not in path.split("/"):
        return f"{posixpath.normpath(folders.store_dir)}/{tail}"
    return path


def variant_path_problem(
    path: str, folders: LockFolders, resolver: Resolver | None = None
) -> str | None:
    """Why ``path`` is not a file inside out_dir (symlinks resolved); None if it is."""
    root = os.fspath(folders.root)
    if (
        "\0" in path
        or posixpath.isabs(path)
        or not (resolver or Resolver()).inside(_join(root, path), _join(root, folders.out_dir))
    ):
        return f"variant path {path!r} is outside out_dir {folders.out_dir!r}"
    return None


class _EntryReader:
    """Checks one lock (or journal) entry field by field; fails naming the field."""

    def __init__(
        self,
        file: str,
        asset: str,
        folders: LockFolders | None,
        fix: str | None = None,
        resolver: Resolver | None = None,
    ) -> None:
        self.file = file
        self.asset = asset
        self.folders = folders
        self.resolver = resolver or Resolver()
        self.fix = fix
        """One repair hint for every problem (a journal's), instead of the lock's two."""

    def fail(self, field: str, message: str, *, unsafe: bool = False) -> NoReturn:
        hint = self.fix or (UNSAFE_FIX if unsafe else ENTRY_FIX).format(file=self.file)
        raise LockfileError(
            message, file=self.file, asset=self.asset or None, field=field or None, hint=hint
        )

    def table(self, value: Any, field: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(field, f"must be a table, not {type(value).__name__}")
        return value

    def fields(
        self,
        data: dict[str, Any],
        field: str,
        required: set[str],
        optional: frozenset[str] = frozenset(),
    ) -> None:
        """Every required key present, no key unknown (a typo must not be ignored)."""
        missing = sorted(required - set(data))
        if missing:
            self.fail(f"{field}.{missing[0]}" if field else missing[0], "is missing")
        unknown = sorted(set(data) - required - optional)
        if unknown:
            self.fail(field, f"has unknown field(s) {', '.join(map(repr, unknown))}"[:200])

    def string(self, value: Any, field: str, *, empty: bool = True) -> str:
        if not isinstance(value, str) or (not empty and not value.strip()):
            kind = "text" if empty else "non-empty text"
            self.fail(field, f"must be {kind}, not {value!r}"[:200])
        return value

    def pattern(self, value: Any, field: str, regex: re.Pattern[str], shape: str) -> str:
        if not isinstance(value, str) or not regex.match(value):
            self.fail(field, f"must be {shape}, not {value!r}"[:200])
        return value

    def integer(self, value: Any, field: str, *, least: int) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            kind = "a positive whole number" if least > 0 else "a whole number >= 0"
            self.fail(field, f"must be {kind}, not {value!r}"[:200])
        return value

    def cost(self, value: Any, field: str) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or value < 0:
            self.fail(field, f"must be a finite number >= 0, not {value!r}"[:200])
        return float(value)

    def items(self, value: Any, field: str) -> list[dict[str, Any]]:
        if not isinstance(value, list):
            self.fail(field, f"must be an array of tables, not {type(value).__name__}")
        return [self.table(item, f"{field}[{i}]") for i, item in enumerate(value)]

    def params(self, value: Any) -> dict[str, Any]:
        table = self.table(value, "params")
        for name, item in table.items():
            scalar = isinstance(item, str | int | float) and not (
                isinstance(item, float) and not math.isfinite(item)
            )
            if not scalar:
                self.fail(f"params.{name}", f"must be text, a number or true/false, not {item!r}")
        return dict(table)

    def usage(self, value: Any) -> dict[str, int] | None:
        table = self.table(value, "usage")
        return {k: self.integer(v, f"usage.{k}", least=0) for k, v in table.items()} or None

    def lock_input(self, data: dict[str, Any], field: str) -> LockInput:
        self.fields(data, field, {"role", "path", "sha256"})
        role = self.string(data["role"], f"{field}.role")
        if role not in ROLES:
            self.fail(f"{field}.role", f"must be one of {', '.join(sorted(ROLES))}, not {role!r}")
        return LockInput(
            role=role,
            path=self.string(data["path"], f"{field}.path", empty=False),
            sha256=self.pattern(data["sha256"], f"{field}.sha256", SHA256, "64 hex digits"),
        )

    def original(self, data: dict[str, Any], field: str) -> LockOriginal:
        self.fields(data, field, {"path", "sha256", "width", "height"})
        sha = self.pattern(data["sha256"], f"{field}.sha256", SHA256, "64 hex digits")
        path = self.string(data["path"], f"{field}.path", empty=False)
        if self.folders is not None:
            rebased = rebased_original(path, sha, self.folders)
            if rebased != path:
                path, self.resolver.relocated = rebased, True
            problem = original_path_problem(path, sha, self.folders, self.resolver)
            if problem:
                self.fail(f"{field}.path", problem, unsafe=True)
        return LockOriginal(
            path=path,
            sha256=sha,
            width=self.integer(data["width"], f"{field}.width", least=1),
            height=self.integer(data["height"], f"{field}.height", least=1),
        )

    def variant(self, data: dict[str, Any], field: str) -> LockVariant:
        required = {"path", "key", "sha256", "width", "height", "bytes", "format"}
        self.fields(data, field, required, frozenset({"encoder", "c2pa"}))
        path = self.string(data["path"], f"{field}.path", empty=False)
        if self.folders is not None:
            problem = variant_path_problem(path, self.folders, self.resolver)
            if problem:
                self.fail(f"{field}.path", problem, unsafe=True)
        fmt = self.string(data["format"], f"{field}.format")
        if fmt not in VARIANT_FORMATS:
            known = ", ".join(sorted(VARIANT_FORMATS))
            self.fail(f"{field}.format", f"must be one of {known}, not {fmt!r}")
        return LockVariant(
            path=path,
            key=self.pattern(data["key"], f"{field}.key", KEY, "sha256:<64 hex digits>"),
            sha256=self.pattern(data["sha256"], f"{field}.sha256", SHA256, "64 hex digits"),
            width=self.integer(data["width"], f"{field}.width", least=1),
            height=self.integer(data["height"], f"{field}.height", least=1),
            bytes=self.integer(data["bytes"], f"{field}.bytes", least=0),
            format=fmt,
            encoder=self.string(data.get("encoder", ""), f"{field}.encoder"),
            c2pa=self.boolean(data.get("c2pa", False), f"{field}.c2pa"),
        )

    def boolean(self, value: Any, field: str) -> bool:
        if not isinstance(value, bool):
            self.fail(field, f"must be true or false, not {value!r}"[:200])
        return value

    def short_text(self, value: Any, field: str) -> str:
        text = self.string(value, field)
        if len(text) > MAX_C2PA_TEXT:
            self.fail(field, f"is longer than {MAX_C2PA_TEXT} characters")
        return text

    def provenance(self, data: dict[str, Any], field: str, shas: set[str]) -> LockProvenance:
        """One original's C2PA summary: every field typed and bounded, for a candidate."""
        optional = frozenset({*C2PA_TEXTS, *C2PA_LISTS, "ai_generated"})
        self.fields(data, field, {"sha256", "validation_state"}, optional)
        sha = self.pattern(data["sha256"], f"{field}.sha256", SHA256, "64 hex digits")
        if sha not in shas:
            self.fail(f"{field}.sha256", "names no candidate of this asset")
        state = self.string(data["validation_state"], f"{field}.validation_state")
        if state not in C2PA_STATES:
            known = ", ".join(sorted(C2PA_STATES))
            self.fail(f"{field}.validation_state", f"must be one of {known}, not {state!r}"[:200])
        lists = {}
        for name in C2PA_LISTS:
            items = data.get(name, [])
            if not isinstance(items, list) or len(items) > MAX_C2PA_TEXT:
                self.fail(f"{field}.{name}", f"must be a list of at most {MAX_C2PA_TEXT} texts")
            lists[name] = tuple(
                self.short_text(v, f"{field}.{name}[{i}]") for i, v in enumerate(items)
            )
        texts = {
            name: self.short_text(data.get(name, ""), f"{field}.{name}") for name in C2PA_TEXTS
        }
        return LockProvenance(
            sha256=sha,
            validation_state=state,
            manifest=texts["manifest"],
            claim_generator=texts["claim_generator"],
            signer=texts["signer"],
            actions=lists["actions"],
            codes=lists["codes"],
            ai_generated=self.boolean(data.get("ai_generated", False), f"{field}.ai_generated"),
        )

    def provenances(
        self, value: Any, candidates: tuple[LockOriginal, ...]
    ) -> tuple[LockProvenance, ...]:
        shas = {c.sha256 for c in candidates}
        return tuple(
            self.provenance(item, f"c2pa[{i}]", shas)
            for i, item in enumerate(self.items(value, "c2pa"))
        )

    def candidates(self, data: dict[str, Any]) -> tuple[tuple[LockOriginal, ...], int]:
        """The candidates and the selected index, checked against each other."""
        if "candidates" in data:
            found = tuple(
                self.original(item, f"candidates[{i}]")
                for i, item in enumerate(self.items(data["candidates"], "candidates"))
            )
            if not found:
                self.fail("candidates", "must list at least one original")
        elif "original" in data:
            found = (self.original(self.table(data["original"], "original"), "original"),)
        else:
            self.fail("original", "is missing")
        selected = data.get("selected", 0)
        if not isinstance(selected, int) or isinstance(selected, bool):
            self.fail("selected", f"must be a whole number, not {selected!r}"[:200])
        if not 0 <= selected < len(found):
            self.fail(
                "selected",
                f"is {selected}, but there are {len(found)} candidate(s): "
                f"it must be 0 to {len(found) - 1} (`assetgen pick` chooses one)",
            )
        if "candidates" in data and "original" in data:
            original = self.original(self.table(data["original"], "original"), "original")
            if original != found[selected]:
                self.fail("original", f"does not match candidates[{selected}] (selected)")
        return found, selected

    def entry(self, data: Any) -> LockEntry:
        data = self.table(data, "")
        self.fields(data, "", {"key", "provider", "model", "prompt"}, ENTRY_OPTIONAL)
        candidates, selected = self.candidates(data)
        generation = KeyRecord(
            key=self.pattern(data["key"], "key", KEY, "sha256:<64 hex digits>"),
            provider=self.string(data["provider"], "provider", empty=False),
            model=self.string(data["model"], "model", empty=False),
            candidates=candidates,
            usage=self.usage(data["usage"]) if "usage" in data else None,
            cost_usd=self.cost(data.get("cost_usd", 0.0), "cost_usd"),
            generated_at=self.string(data.get("generated_at", ""), "generated_at"),
            selected=selected,
        )
        return LockEntry(
            generation=generation,
            prompt=self.string(data["prompt"], "prompt"),
            params=self.params(data.get("params", {})),
            inputs=tuple(
                self.lock_input(item, f"inputs[{i}]")
                for i, item in enumerate(self.items(data.get("inputs", []), "inputs"))
            ),
            variants=tuple(
                self.variant(item, f"variants[{i}]")
                for i, item in enumerate(self.items(data.get("variants", []), "variants"))
            ),
            c2pa=self.provenances(data.get("c2pa", []), candidates),
        )


def read_entry(
    data: Any,
    *,
    file: str,
    asset: str,
    folders: LockFolders | None = None,
    fix: str | None = None,
    resolver: Resolver | None = None,
) -> LockEntry:
    """Check one entry's every field (and, with ``folders``, its paths) and build it.

    Raises :class:`LockfileError` (exit 2) naming ``file``, ``asset`` and the
    field, with how to repair it (``fix`` replaces the lock's repair hints).
    One ``resolver`` shared by the entries of a read saves resolving folders again.
    """
    return _EntryReader(file, asset, folders, fix, resolver).entry(data)


def decode_lock(data: bytes, *, file: str) -> str:
    """The lock's text; binary junk (NUL bytes, not UTF-8) is a clear error."""
    if b"\0" in data:
        where = data.index(b"\0")
        raise LockfileError(
            f"contains a NUL byte at offset {where}: binary data, not a lock", file=file, hint=FIX
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LockfileError(
            f"is not UTF-8 text (bad byte at offset {exc.start})", file=file, hint=FIX
        ) from None


def parse_lock(text: str, *, file: str, folders: LockFolders | None = None) -> Lockfile:
    """The lock in ``text``, every entry checked (see :func:`read_entry`)."""
    import tomllib  # only when a file is parsed, not when its parse is reused

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockfileError(f"not valid TOML: {exc}", file=file, hint=FIX) from exc
    except (ValueError, RecursionError) as exc:  # e.g. an integer over 4300 digits, deep nesting
        raise LockfileError(f"not a readable lock: {exc}"[:300], file=file, hint=FIX) from None
    version = data.get("version")
    if version != LOCK_VERSION:
        raise LockfileError(
            f"lock format version {version!r} is not supported (expected {LOCK_VERSION})"[:300],
            file=file,
            hint="upgrade assetgen" if isinstance(version, int) and version > 1 else FIX,
        )
    tables = data.get("assets", {})
    if not isinstance(tables, dict):
        raise LockfileError("`assets` must be a table of asset tables", file=file, hint=FIX)
    resolver = Resolver()
    assets = {
        name: read_entry(table, file=file, asset=name, folders=folders, resolver=resolver)
        for name, table in tables.items()
    }
    return Lockfile(assets, relocated=resolver.relocated)


def paths_intact(lock: Lockfile, folders: LockFolders) -> bool:
    """Whether every path of a lock parsed earlier still stays where it must.

    For a lock read from a cache: its paths are the very strings that were
    checked when it was parsed with these ``folders`` (the cache's key), so
    their form holds; what the filesystem makes of them (symlinks) is checked
    now, folder by folder: each folder is resolved once and listed once, and a
    file that is a symlink (or an odd name) is resolved on its own.
    """
    root = os.fspath(folders.root)
    resolver = Resolver(listing=True)
    store: set[str] = set()
    out: set[str] = set()
    for entry in lock.assets.values():
        store.update(original.path for original in entry.candidates)
        out.update(variant.path for variant in entry.variants)
    return all(
        _all_inside(resolver, root, paths, _join(root, base))
        for base, paths in ((folders.store_dir, store), (folders.out_dir, out))
    )


def _all_inside(resolver: Resolver, root: str, paths: set[str], base: str) -> bool:
    """Whether every project-relative path resolves strictly inside ``base``."""
    by_folder: dict[str, set[str]] = {}
    for path in paths:
        head, _, name = path.rpartition("/")
        by_folder.setdefault(head, set()).add(name)
    try:
        real_base = resolver.folder(base)
        for head, names in by_folder.items():
            folder = _join(root, head) if head else root
            real = resolver.folder(folder)
            links = resolver.links(real)
            odd = {name for name in names if name in ("", ".", "..") or links is None}
            odd |= names & links if links is not None else set()
            if any(not resolver.inside(_join(folder, name), base) for name in odd):
                return False
            plain = real == real_base or real.startswith(real_base.rstrip(os.sep) + os.sep)
            if names - odd and not plain:
                return False
    except (OSError, ValueError):
        return False
    return True


class ParsedLocks(Protocol):
    """Where parsed locks are kept between commands (:mod:`assetgen.state_cache`)."""

    def get(self, digest: str, folders: LockFolders) -> Lockfile | None:
        """The lock parsed from bytes of SHA-256 ``digest`` with ``folders``, if kept."""

    def put(self, digest: str, folders: LockFolders, lock: Lockfile) -> None:
        """Keep ``lock``, parsed from bytes of SHA-256 ``digest`` with ``folders``."""


class LockStore:
    """The lockfile on disk plus its journal: read, record, fold.

    With ``folders``, every path read from either file is checked to stay in
    the folder assetgen owns for it (see :class:`LockFolders`). The lock is
    parsed once per content: a read of the same bytes (by SHA-256) reuses the
    parse, from memory or from ``parsed``, its paths checked again.
    """

    def __init__(
        self,
        path: Path,
        journal: Path,
        folders: LockFolders | None = None,
        parsed: ParsedLocks | None = None,
    ) -> None:
        self.path = path
        self.journal = journal
        self.folders = folders
        self.parsed = parsed
        self._journal_handle: Any = None
        self._memo: tuple[str, Lockfile] | None = None
        """The last lock parsed (or reused), by the SHA-256 of its bytes."""

    def display(self, path: Path) -> str:
        """``path`` as messages name it: project-relative when the project is known."""
        if self.folders is not None and path.is_relative_to(self.folders.root):
            return path.relative_to(self.folders.root).as_posix()
        return path.name

    def read_committed(self) -> Lockfile:
        """The lock file alone, without the journal."""
        file = self.display(self.path)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Lockfile()
        except OSError as exc:
            raise LockfileError(f"cannot be read: {exc.strerror or exc}", file=file) from None
        digest = hashlib.sha256(data).hexdigest()
        lock = self._reuse(digest)
        if lock is None:
            lock = parse_lock(decode_lock(data, file=file), file=file, folders=self.folders)
            self._memo = (digest, lock)
            if self.parsed is not None and self.folders is not None:
                self.parsed.put(digest, self.folders, lock)
        return lock.copy()

    def digest(self, lock: Lockfile) -> str | None:
        """The SHA-256 of the bytes ``lock`` was parsed from, if it still holds just that."""
        if self._memo is None or lock.assets != self._memo[1].assets:
            return None  # entries are shared with the parse: unchanged ones compare by identity
        return self._memo[0]

    def _reuse(self, digest: str) -> Lockfile | None:
        """The lock parsed earlier from these bytes: by this process (a build reads the
        lock its plan read), or kept by another one, if its paths are still safe."""
        if self.folders is None:
            return None
        if self._memo is not None and self._memo[0] == digest:
            return self._memo[1]
        lock = self.parsed.get(digest, self.folders) if self.parsed is not None else None
        if lock is None or not paths_intact(lock, self.folders):
            return None
        self._memo = (digest, lock)
        return lock

    def load(self) -> Lockfile:
        """The lock with any journal of an interrupted build applied (not written)."""
        lock = self.read_committed()
        for name, entry in self._journal_records():
            if entry is not None:
                lock.assets[name] = entry
            else:
                lock.assets.pop(name, None)
        return lock

    def recover(self) -> Lockfile:
        """Fold a leftover journal into the lock file; return the lock."""
        lock = self.load()
        if self.journal.exists() or lock.relocated:
            self.write(lock)
        return lock

    def _journal_records(self) -> list[tuple[str, LockEntry | None]]:
        """The journal's complete records, each checked like a lock entry.

        Only the last line can be torn (a crash mid-append): it is ignored, and
        no proper prefix of a JSON object is valid JSON, so a torn line never
        parses. Any other bad line (not JSON, or JSON that is not a well-formed
        record) cannot come from a crash: it means damage, tampering or a bug.
        It is refused, not skipped: skipping could silently drop a paid result
        (and pay for it again) or apply half of what the journal meant.
        """
        file = self.display(self.journal)
        try:
            lines = self.journal.read_bytes().split(b"\n")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise LockfileError(f"cannot be read: {exc.strerror or exc}", file=file) from None
        while lines and not lines[-1].strip():
            lines.pop()
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except (ValueError, RecursionError):
                if number == len(lines):
                    break  # a torn last line: the crash happened mid-append
                raise LockfileError(
                    f"line {number} is not a journal record (damaged)",
                    file=file,
                    hint=JOURNAL_FIX.format(file=file),
                ) from None
            records.append(self._journal_record(record, file, number))
        return records

    def _journal_record(self, record: Any, file: str, number: int) -> tuple[str, LockEntry | None]:
        name = record.get("name") if isinstance(record, dict) else None
        if not isinstance(name, str) or not name:
            raise LockfileError(
                f"line {number} is not a journal record (no asset name)",
                file=file,
                hint=JOURNAL_FIX.format(file=file),
            )
        if "entry" not in record:
            return name, None
        fix = JOURNAL_FIX.format(file=file)
        entry = read_entry(record["entry"], file=file, asset=name, folders=self.folders, fix=fix)
        return name, entry

    def record(self, name: str, entry: LockEntry | None) -> None:
        """Make one asset's new state durable now (``None`` removes it)."""
        payload: dict[str, Any] = {"name": name}
        if entry is not None:
            payload["entry"] = entry.to_toml()
        if self._journal_handle is None:
            self.journal.parent.mkdir(parents=True, exist_ok=True)
            self._journal_handle = self.journal.open("a", encoding="utf-8")
        self._journal_handle.write(json.dumps(payload, sort_keys=True) + "\n")
        self._journal_handle.flush()
        os.fsync(self._journal_handle.fileno())

    def write(self, lock: Lockfile) -> bool:
        """Write the lock if its bytes change; then drop the journal. Returns changed."""
        text = lock.dumps()
        try:
            changed = self.path.read_text(encoding="utf-8") != text
        except (FileNotFoundError, UnicodeDecodeError):
            changed = True
        if changed:
            atomic_write_text(self.path, text)
        self.close()
        self.journal.unlink(missing_ok=True)
        return changed

    def close(self) -> None:
        if self._journal_handle is not None:
            self._journal_handle.close()
            self._journal_handle = None
