"""Watch mode: rebuild on every save of the spec, a template or an input image.

One watchfiles watcher follows the folders that hold what the build reads
(never recursively, so a site's ``node_modules`` costs nothing); a filter
keeps the files the last good expansion named, the template folder, and never
the outputs, the store or ``.assetgen/``, so a build cannot trigger itself.
Changes go into a queue; after a quiet spell (``debounce_ms``) everything
queued becomes one build. A build in flight is never cancelled for a change:
what arrives meanwhile waits in the queue for the next one, and the key cache
means nothing is paid twice. A spec or template error is printed and the
previous watch set is kept, so the next good save recovers.

Ctrl-C stops after the build in flight (which writes the lock); a second
Ctrl-C interrupts it, and the build still folds its journal into the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .batch_options import BatchOptions
from .build import BuildOptions
from .editor_temps import is_editor_temp
from .errors import AssetgenError, BudgetError, UsageError
from .events import Emit, Event
from .gallery import GalleryServer, default_output, render_gallery
from .plan import Plan
from .project import Project, open_project
from .report import BuildReport
from .session import Session

MAX_NAMES = 8
"""Names listed per kind in a rebuild line before ``+N more``."""
MAX_CHANGED = 3
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__"})
BUSY_RETRY_SECONDS = 0.5
"""While another assetgen holds the project lock, saves wait and the build is retried this often."""


def is_busy(exc: AssetgenError) -> bool:
    """Whether ``exc`` says another assetgen process holds the project lock."""
    return isinstance(exc, UsageError) and exc.message.startswith("another assetgen ")


@dataclass(frozen=True)
class WatchOptions:
    """How ``assetgen watch`` runs."""

    provider: str | None = None
    """Override ``[provider] name`` (e.g. ``offline``)."""
    draft: bool = False
    """Cheap previews: lowest quality, kept out of the lock, store and site."""
    serve: bool = False
    """Serve the gallery on 127.0.0.1 and refresh it after each rebuild."""
    port: int = 8421
    """Port for ``serve`` (0 picks a free one)."""
    debounce_ms: int = 200
    """Quiet time after the last change before a build starts."""
    step_ms: int = 50
    """How often the watcher thread looks for new changes."""


def real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def under(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


@dataclass(frozen=True)
class WatchSet:
    """What a build reads: the files to watch, the template folder, what to ignore."""

    spec: Path
    files: frozenset[Path] = frozenset()
    templates: Path | None = None
    ignored: tuple[Path, ...] = ()
    strict: bool = True
    """False after an error: any change in a watched folder may be the fix."""

    @classmethod
    def of(cls, project: Project, inputs: Iterable[Path]) -> WatchSet:
        spec = project.spec
        ignored = [spec.build.out_dir, spec.build.store_dir, spec.build.lockfile]
        ignored += [spec.build.manifest] if spec.build.manifest else []
        return cls(
            spec=real(spec.path),
            files=frozenset({real(spec.path), *(real(p) for p in inputs)}),
            templates=real(spec.project_path(spec.build.templates)),
            ignored=(real(spec.state_dir), *(real(spec.project_path(p)) for p in ignored)),
        )

    def folders(self) -> frozenset[Path]:
        """Folders to watch (non-recursively): the files' and the template tree's."""
        found = {path.parent for path in self.files}
        if self.templates is not None:
            found.add(self.templates.parent)
            for top, dirs, _ in os.walk(self.templates):
                dirs[:] = [d for d in dirs if self.template_dir(Path(top) / d)]
                found.add(Path(top))
        return frozenset(path for path in found if path.is_dir())

    def template_dir(self, path: Path) -> bool:
        """Sub-folders of the template folder worth watching (it may be the project root)."""
        if path.name.startswith(".") or path.name in SKIPPED_DIRS:
            return False
        return not any(under(path, folder) for folder in self.ignored)

    def accepts(self, path: Path) -> bool:
        if any(under(path, folder) for folder in self.ignored):
            return False
        if path in self.files:
            return True
        if is_editor_temp(path.name):
            return False
        if self.templates is not None and under(path, self.templates):
            return True
        # After an error any file may be the fix; a vanished one was an editor's temporary.
        return not self.strict and path.exists()

    def describe(self, root: Path) -> str:
        parts = [self.spec.name]
        if self.templates is not None and self.templates.is_dir():
            parts.append(relative(self.templates, root) + "/")
        inputs = len(self.files) - 1
        if inputs:
            parts.append(f"{inputs} input image{'s' if inputs != 1 else ''}")
        return ", ".join(parts)


def relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def names(items: list[str]) -> str:
    shown = ", ".join(items[:MAX_NAMES])
    return shown + (f" +{len(items) - MAX_NAMES} more" if len(items) > MAX_NAMES else "")


def outcome_text(report: BuildReport) -> str:
    """``generated a, b; rendered c; failed d``, or ``up to date``."""
    kinds = ("generated", "reused", "rendered", "failed", "skipped")
    groups = [(k, sorted(o.name for o in report.outcomes if o.status == k)) for k in kinds]
    groups.append(("removed", sorted(report.removed)))
    text = "; ".join(f"{kind} {names(items)}" for kind, items in groups if items)
    return text or "up to date"


def changed_text(changed: set[Path], root: Path) -> str:
    if not changed:
        return "initial build"
    items = sorted(relative(path, root) for path in changed)
    more = len(items) - MAX_CHANGED
    return ", ".join(items[:MAX_CHANGED]) + (f" +{more} more" if more > 0 else "")


def input_files(plan: Plan) -> list[Path]:
    """Input images on disk; an ``@asset`` input is another asset's output, never watched."""
    return [
        ref.path
        for step in plan.steps
        for ref in step.asset.inputs
        if ref.upstream is None and ref.path is not None
    ]


def check_budget(session: Session, plan: Plan) -> None:
    """Watch never asks: a plan over budget, or over ``confirm_above``, is refused."""
    try:
        session.approve(plan, ask=None)
    except BudgetError as exc:
        raise BudgetError(
            f"{exc.message}; not built",
            hint="run `assetgen build` to approve it, or use `watch --draft`",
        ) from None


class Feed:
    """A watchfiles watcher over a set of folders, pushing changed paths to a queue."""

    def __init__(self, folders: frozenset[Path], watcher: Watcher) -> None:
        self.folders = folders
        self.stop = asyncio.Event()
        self.task = asyncio.ensure_future(self.run(watcher.queue, watcher))

    async def run(self, queue: asyncio.Queue[Any], watcher: Watcher) -> None:
        from watchfiles import DefaultFilter, awatch

        junk = DefaultFilter()

        def keep(change: Any, path: str) -> bool:
            # Editor droppings by name only: the project may live under any folder.
            return junk(change, os.path.basename(path)) and watcher.watch_set.accepts(real(path))

        try:
            async for changes in awatch(
                *sorted(self.folders),
                watch_filter=keep,
                recursive=False,
                step=watcher.options.step_ms,
                stop_event=self.stop,
            ):
                queue.put_nowait({real(path) for _, path in changes})
        except Exception:
            # A watched folder vanished (or the OS refused it): wake the loop,
            # whose rebuild reports what is missing and whose follow() restarts us.
            await asyncio.sleep(0.5)
            queue.put_nowait(set(self.folders))

    @property
    def alive(self) -> bool:
        return not self.task.done()

    async def close(self) -> None:
        self.stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@dataclass
class Watcher:
    """The watch loop: wait for changes, build, report, refresh the gallery."""

    spec_path: Path
    options: WatchOptions
    emit: Emit
    echo: Callable[[str], None]
    watch_set: WatchSet = field(init=False)
    queue: asyncio.Queue[Any] = field(init=False, default_factory=asyncio.Queue)
    session_cost: float = 0.0
    building: bool = False
    stopping: bool = False
    feed: Feed | None = None
    retired: list[asyncio.Future[None]] = field(default_factory=list)
    server: GalleryServer | None = None
    version: int = 0
    pending: set[Path] | None = None
    """Changes whose build found the project lock busy: built once it is free."""

    def __post_init__(self) -> None:
        self.emit = quieter(self.emit)
        self.spec_path = real(self.spec_path)
        self.root = self.spec_path.parent
        self.watch_set = WatchSet(spec=self.spec_path, files=frozenset({self.spec_path}))

    async def run(self) -> int:
        self.install_signals()
        try:
            if self.options.serve:
                self.server = GalleryServer(self.root, self.options.port)
            await self.rebuild(set())
            await self.follow()
            self.echo(f"watching {self.watch_set.describe(self.root)}; Ctrl-C stops")
            self.echo(f"gallery: {self.gallery_location()}")
            while not self.stopping:
                changed = await self.next_changes()
                if changed is None:
                    break
                await self.rebuild(changed)
                await self.follow()
            return 0
        except asyncio.CancelledError:
            self.echo("interrupted: every asset finished so far is kept")
            return 130
        finally:
            await self.close()

    def gallery_location(self) -> str:
        if self.server is not None:
            return self.server.url
        return relative(self.gallery_path(), self.root)

    def gallery_path(self) -> Path:
        return default_output(self.root, draft=self.options.draft)

    # -- signals ------------------------------------------------------------

    def install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signum, self.interrupt, task)

    def interrupt(self, task: asyncio.Task[Any] | None) -> None:
        if self.stopping and self.building and task is not None:
            task.cancel()
            return
        self.stopping = True
        self.queue.put_nowait(None)
        if self.building:
            self.echo("stopping after the build in flight (Ctrl-C again to interrupt it)")

    # -- changes ------------------------------------------------------------

    async def follow(self) -> None:
        """Point the watcher at the current watch set's folders (restart if they moved)."""
        folders = self.watch_set.folders()
        if self.feed is not None and self.feed.alive and self.feed.folders == folders:
            return
        # The new watcher starts before the old one stops, so no save falls between.
        old, self.feed = self.feed, Feed(folders, self)
        # One turn of the loop runs the new task up to its first wait, by which time
        # watchfiles has registered every folder: saves from now on are seen.
        await asyncio.sleep(0)
        if old is not None:
            self.retired.append(asyncio.ensure_future(old.close()))

    async def next_changes(self) -> set[Path] | None:
        """Everything changed until a quiet spell; ``None`` when stopping.

        Changes deferred by a busy project lock come back after
        :data:`BUSY_RETRY_SECONDS`, with any saves made since.
        """
        pending = self.pending
        try:
            if pending is None:
                batch = await self.queue.get()
            else:
                batch = await asyncio.wait_for(self.queue.get(), BUSY_RETRY_SECONDS)
        except TimeoutError:
            return pending
        if batch is None:
            return None
        changed = set(batch) | (pending or set())
        while True:
            try:
                more = await asyncio.wait_for(self.queue.get(), self.options.debounce_ms / 1000)
            except TimeoutError:
                return changed
            if more is None:
                return None
            changed |= more

    # -- builds -------------------------------------------------------------

    async def rebuild(self, changed: set[Path]) -> None:
        started = time.monotonic()
        what = changed_text(changed, self.root)
        try:
            project = open_project(
                self.spec_path, provider=self.options.provider, draft=self.options.draft
            )
        except AssetgenError as exc:
            self.pending = None
            self.failed(what, exc, None)
            return
        try:
            report = await self.build(project)
        except AssetgenError as exc:
            if is_busy(exc):
                self.defer(what, changed)
                return
            self.pending = None
            self.failed(what, exc, project)
            return
        self.pending = None
        self.session_cost += report.cost_usd
        seconds = time.monotonic() - started
        self.echo(
            f"{clock()} {what} → {outcome_text(report)} · {seconds:.1f}s"
            f" · ${self.session_cost:.4f} this session"
        )
        for outcome in report.failed:
            self.echo(f"  ✗ {outcome.error}")
        self.refresh_gallery(project)

    async def build(self, project: Project) -> BuildReport:
        # Results waiting in a batch are looked at, never sent again: watch mode does not wait.
        session = Session(project, emit=self.emit, batching=BatchOptions(wait=False))
        try:
            plan = session.plan(checked=False)  # the build checks, and a problem is reported
            self.watch_set = WatchSet.of(project, input_files(plan))
            check_budget(session, plan)
            self.building = True
            return await session.run(plan, BuildOptions(max_cost=session.budget()))
        finally:
            self.building = False
            await session.aclose()

    def defer(self, what: str, changed: set[Path]) -> None:
        """Keep ``changed`` for when the other build lets go of the project lock."""
        if self.pending is None:
            self.echo(f"{clock()} {what} → another assetgen is building here; building after it")
        self.pending = (self.pending or set()) | changed

    def failed(self, what: str, exc: AssetgenError, project: Project | None) -> None:
        """Print the error; keep watching the last good set (and the spec and templates)."""
        current = self.watch_set
        if project is not None:
            fresh = WatchSet.of(project, ())
            current = replace(current, templates=fresh.templates, ignored=fresh.ignored)
        self.watch_set = replace(current, files=current.files | {self.spec_path}, strict=False)
        self.echo(f"{clock()} {what} → error, still watching:")
        for line in str(exc).splitlines():
            self.echo(f"  {line}")

    def refresh_gallery(self, project: Project) -> None:
        try:
            self.version += 1
            live = self.version if self.server is not None else None
            page = render_gallery(project, self.gallery_path(), live=live)
        except (AssetgenError, OSError) as exc:
            self.echo(f"  gallery not written: {exc}")
            return
        if self.server is not None:
            self.server.publish(page, self.version)

    async def close(self) -> None:
        if self.feed is not None:
            await self.feed.close()
        await asyncio.gather(*self.retired)
        if self.server is not None:
            self.server.close()


def quieter(emit: Emit) -> Emit:
    """Failures go in the rebuild's own lines; a warning is worth one line a session
    (each build makes a new provider, which would warn again)."""
    warned: set[str] = set()

    def forward(event: Event) -> None:
        if event.kind in ("failed", "skipped"):
            return
        if event.kind == "warning":
            if event.message in warned:
                return
            warned.add(event.message)
        emit(event)

    return forward


def clock() -> str:
    return time.strftime("%H:%M:%S")


def watch(
    spec_path: Path,
    options: WatchOptions,
    *,
    emit: Emit,
    echo: Callable[[str], None],
) -> int:
    """Build, then rebuild on every change until Ctrl-C; returns the exit code.

    ``emit`` receives the build events; ``echo`` prints one line (watch mode
    never prints itself). Returns 0 after a clean stop, 130 when a build in
    flight was interrupted (its finished assets are in the lock).
    """
    try:
        return asyncio.run(Watcher(spec_path, options, emit, echo).run())
    except KeyboardInterrupt:
        # Only where signal handlers cannot be installed (Windows): the build's
        # own cleanup has already folded the journal into the lock.
        echo("stopped")
        return 0
