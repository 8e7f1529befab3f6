"""Atomic file writes: a reader never sees half a file, a crash never leaves one.

Every file assetgen writes goes through here: the bytes land in a temporary
file beside the target (same filesystem, so the rename is atomic), are flushed
to disk, and then replace the target in one ``os.replace``.

Temporary files are named ``.<name>.assetgen-<pid>-<8 hex>.tmp``, so that the
ones a killed process leaves behind can be recognised and removed (see
:func:`leftover_temps`) without ever touching a file assetgen did not write.
They are created with ``os.open(..., 0o666)``, so the kernel applies the
umask: a written file gets the mode a plain ``open()`` would give it (0644
under umask 022), and a file that is replaced keeps its mode.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

TEMP_PATTERN = re.compile(r"\..+\.assetgen-(?P<pid>[0-9]{1,10})-[0-9a-f]{8}\.tmp")
"""The name of every temporary file assetgen writes (and the only names it cleans up)."""
NAME_ROOM = 200
"""Characters of the target's name kept in a temp name (names are at most 255 bytes)."""
COPY_CHUNK = 1 << 20
FICLONE = 0x40049409
"""Linux ``ioctl`` that makes a copy-on-write clone (btrfs, XFS, bcachefs)."""


def temp_name(path: Path) -> Path:
    """A fresh temporary name beside ``path``, recognisable as assetgen's."""
    stem = path.name[:NAME_ROOM]
    return path.with_name(f".{stem}.assetgen-{os.getpid()}-{os.urandom(4).hex()}.tmp")


def _create_temp(path: Path, mode: int = 0o666) -> tuple[int, Path]:
    """Create and open a new temp file beside ``path`` (``mode`` less the umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    while True:
        temp = temp_name(path)
        try:
            return os.open(temp, flags, mode), temp
        except FileExistsError:  # pragma: no cover - 2**32 names per process
            continue


def _keep_mode(fd: int, path: Path) -> None:
    """Give the temp file the mode of the file it replaces, as rewriting it in place would."""
    try:
        old = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return
    if stat.S_ISREG(old.st_mode):
        os.fchmod(fd, stat.S_IMODE(old.st_mode) & 0o777)


@contextlib.contextmanager
def _replacing(path: Path, *, durable: bool, private: bool = False) -> Iterator[int]:
    """Yield an fd of a new temp file that replaces ``path`` when the block ends well.

    ``private``: the file is created 0o600 (a secret), whatever it replaces.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = _create_temp(path, 0o600 if private else 0o666)
    try:
        try:
            if not private:
                _keep_mode(fd, path)
            yield fd
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write_bytes(
    path: Path, data: bytes, *, durable: bool = True, private: bool = False
) -> None:
    """Write ``data`` to ``path`` atomically, creating parent folders.

    ``durable`` fsyncs the file before the rename, so that after a power loss
    the target holds either the old or the new content, never an empty file.
    ``private`` creates it readable and writable by its owner only (0o600),
    from the first byte on.
    """
    with _replacing(path, durable=durable, private=private) as fd:
        _write_all(fd, data)


@contextlib.contextmanager
def atomic_writer(path: Path, *, durable: bool = True) -> Iterator[Callable[[bytes], None]]:
    """A ``write(bytes)`` whose bytes replace ``path`` atomically when the block ends well.

    For content that arrives in pieces (a download): a reader, or a killed
    process, never leaves half of it at ``path``.
    """
    with _replacing(path, durable=durable) as fd:
        yield lambda data: _write_all(fd, data)


def atomic_write_text(path: Path, text: str, *, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), durable=durable)


def atomic_copy(source: Path, path: Path, *, durable: bool = True) -> None:
    """Copy ``source`` to ``path`` atomically as an independent file (never a hard link).

    A copy-on-write clone is tried first where the filesystem offers one; it
    shares no bytes that an in-place edit of either file could change.
    """
    with source.open("rb") as src, _replacing(path, durable=durable) as fd:
        if not _reflink(src.fileno(), fd):
            while chunk := src.read(COPY_CHUNK):
                _write_all(fd, chunk)


def _reflink(source_fd: int, fd: int) -> bool:
    try:
        import fcntl

        fcntl.ioctl(fd, FICLONE, source_fd)
    except (ImportError, OSError):
        return False
    return True


def is_within(path: Path, folder: Path) -> bool:
    """Whether ``path`` (resolved) lies inside ``folder`` (resolved)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


# -- leftovers of killed processes ------------------------------------------------------


def _running(pid: int) -> bool:
    """Whether process ``pid`` exists (ours counts: it may be writing right now)."""
    if os.name != "posix":  # pragma: no cover - os.kill(pid, 0) would end it on Windows
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True  # another user's process, or a pid we cannot ask about
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has died but not been reaped (it writes nothing any more).

    A killed build's workers are re-parented to PID 1, which in a container is
    often not an init that reaps: they stay zombies, and ``kill(pid, 0)`` still
    finds them.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False  # no /proc (macOS): a zombie is reaped soon enough there
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


Listing = dict[str, tuple[int, int, tuple[str, ...]]]
"""Folders a scan found without temp files: path -> (inode, mtime_ns, sub-folder names)."""
TRUSTED_AGE_NS = 2_000_000_000
"""A folder's mtime is trusted to show a new entry only once it is this old at the listing
(git's "racily clean" rule: a coarse clock could give a later change the same mtime)."""


def _temp_entries(
    folder: Path, *, recursive: bool, clean: Listing, seen: Listing | None
) -> Iterator[os.DirEntry[str]]:
    """Temp-named regular files in ``folder`` (and below it, without following symlinks).

    A folder in ``clean`` whose inode and mtime are unchanged is not listed
    again: an entry cannot appear in a folder without changing its mtime.
    Folders found clean now go into ``seen``.
    """
    pending = [os.fspath(folder)]  # strings and a stack: a store has hundreds of folders
    while pending:
        current = pending.pop()
        try:
            info = os.stat(current) if seen is not None else None
            known = clean.get(current)
            if info is not None and known and known[:2] == (info.st_ino, info.st_mtime_ns):
                seen[current] = known  # type: ignore[index]
                if recursive:
                    pending.extend(os.path.join(current, name) for name in known[2])
                continue
            with os.scandir(current) as listing:
                entries = list(listing)
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        folders, temps = [], 0
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != ".git":
                    folders.append(entry.name)
                    if recursive:
                        pending.append(entry.path)
            elif (
                entry.name.endswith(".tmp")  # cheap first: thousands of variants and objects
                and entry.is_file(follow_symlinks=False)
                and TEMP_PATTERN.fullmatch(entry.name)
            ):
                temps += 1
                yield entry
        settled = info is not None and time.time_ns() - info.st_mtime_ns >= TRUSTED_AGE_NS
        if settled and seen is not None and info is not None and not temps:
            seen[current] = (info.st_ino, info.st_mtime_ns, tuple(folders))


def leftover_temps(
    trees: Iterable[Path], folders: Iterable[Path] = (), listing: Listing | None = None
) -> list[Path]:
    """assetgen temp files left by processes that are gone, sorted.

    ``trees`` are searched recursively (without following symlinks), ``folders``
    only at their top level. Only regular files whose name matches
    :data:`TEMP_PATTERN` and whose writer process no longer runs are listed.
    With ``listing`` (what an earlier scan found clean), unchanged folders are
    not listed again; it is then replaced by what this scan found clean.
    """
    found: set[Path] = set()
    clean = dict(listing or {})
    seen: Listing | None = {} if listing is not None else None
    searched = [(Path(t), True) for t in trees] + [(Path(f), False) for f in folders]
    for folder, recursive in searched:
        for entry in _temp_entries(folder, recursive=recursive, clean=clean, seen=seen):
            match = TEMP_PATTERN.fullmatch(entry.name)
            if match is not None and not _running(int(match["pid"])):
                found.add(Path(entry.path))
    if listing is not None and seen is not None:
        listing.clear()
        listing.update(seen)
    return sorted(found)


def remove_files(paths: Iterable[Path]) -> list[Path]:
    """Unlink each path that is still a regular file (never a symlink); return those removed."""
    removed = []
    for path in paths:
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            os.unlink(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        removed.append(path)
    return removed
