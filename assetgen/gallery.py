"""The gallery: a static HTML page to review every asset and the last build.

One card per concrete asset: the selected original and the other candidates
side by side, for edits the base image and mask beside the result, every
variant, the prompt the image was made from, its parameters, model and cost,
and what the last build did to it (``new``, ``regenerated``, ``reused``,
``unchanged`` or ``failed`` with the error). The page is self-contained (CSS
and JS inline, no network) and links the project's image files by paths
relative to its own folder, so it works from ``file://``. It shows what the
lock, the spec and ``.assetgen/last-build.json`` say, never environment values.

:class:`GalleryServer` serves it on 127.0.0.1 for ``watch --serve``: only the
page and the images it shows, plus a version number the page polls to reload
itself after each rebuild.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .dependencies import resolve
from .errors import UsageError
from .fsutil import atomic_write_text
from .graph import Asset, InputRef, generation_key
from .lockfile import LockEntry, Lockfile
from .project import Project
from .spec_types import DEFAULT_STATE_DIR

GALLERY_DIR = f"{DEFAULT_STATE_DIR}/gallery"
STATUSES = ("failed", "new", "regenerated", "reused", "unchanged", "unknown")
"""Gallery statuses, in the order the page sorts them (what needs a look first)."""
ROLE_LABELS = {"image": "base image", "mask": "mask", "reference": "reference"}


@dataclass(frozen=True)
class Picture:
    """One image on a card."""

    label: str
    path: Path
    src: str
    """URL relative to the page's folder (with a content hash against stale caches)."""
    width: int | None = None
    height: int | None = None
    note: str = ""
    selected: bool = False
    title: str = ""
    """The file's project-relative path (a tooltip)."""

    @property
    def exists(self) -> bool:
        return self.path.is_file()


@dataclass(frozen=True)
class Card:
    """One asset as the gallery shows it."""

    name: str
    status: str
    reason: str
    error: str | None
    operation: str
    model: str
    prompt: str
    pending_prompt: str | None
    """The spec's current prompt, when it differs from the image's and is not built yet."""
    params: dict[str, Any]
    cost_usd: float
    generated_at: str
    key: str
    stale: bool
    inputs: tuple[Picture, ...]
    references: tuple[Picture, ...]
    originals: tuple[Picture, ...]
    variants: tuple[Picture, ...]

    @property
    def pictures(self) -> tuple[Picture, ...]:
        return (*self.inputs, *self.references, *self.originals, *self.variants)


@dataclass(frozen=True)
class GalleryPage:
    """A rendered gallery: where it goes, its HTML, and every image file it shows."""

    path: Path
    html: str
    files: frozenset[Path]


def default_output(root: Path, *, draft: bool = False) -> Path:
    """``.assetgen/gallery/index.html`` (``draft.html`` for the draft build)."""
    return root / GALLERY_DIR / ("draft.html" if draft else "index.html")


def gallery_status(outcome: dict[str, Any] | None, built: bool) -> str:
    """The last build's status of an asset, in the gallery's words."""
    if outcome is None:
        return "unchanged" if built else "unknown"
    status = outcome.get("status")
    if status == "generated":
        return "new" if outcome.get("reason") == "new asset" else "regenerated"
    if status == "reused":
        return "reused"
    if status in ("rendered", "fresh"):
        return "unchanged"
    if status in ("failed", "skipped"):
        return "failed"
    return "unknown"


def read_report(project: Project) -> dict[str, Any]:
    """The last build's report, or ``{}`` when there is none (or it is unreadable)."""
    try:
        data = json.loads(project.report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class CardMaker:
    """Builds cards with image URLs relative to the page's folder."""

    def __init__(self, project: Project, lock: Lockfile, page_dir: Path) -> None:
        self.root = project.root
        self.lock = lock
        self.page_dir = page_dir

    def src(self, path: Path, sha256: str) -> str:
        try:
            relative = os.path.relpath(path, self.page_dir)
        except ValueError:  # another drive (Windows): fall back to an absolute URL
            return path.as_uri()
        return quote(relative.replace(os.sep, "/")) + f"?v={sha256[:12]}"

    def picture(self, label: str, relative: str, sha256: str, **extra: Any) -> Picture:
        path = self.root / relative
        return Picture(label, path, self.src(path, sha256), title=relative, **extra)

    def input_pictures(self, refs: Iterable[InputRef]) -> tuple[Picture, ...]:
        """Input images; an ``@asset`` input shows that asset's original (once it has one)."""
        return tuple(
            Picture(
                ROLE_LABELS[ref.role],
                ref.path,
                self.src(ref.path, ref.sha256),
                note=ref.source,
                title=ref.source,
            )
            for ref in refs
            if ref.path is not None
        )

    def resolved(self, asset: Asset) -> Asset:
        """The asset with its ``@asset`` inputs read from the lock, when all are there."""
        lock = self.lock.assets
        originals = {name: lock[name].original for name in asset.upstreams if name in lock}
        if len(originals) < len(asset.upstreams):
            return asset
        return resolve(asset, originals, self.root)

    def card(self, asset: Asset, entry: LockEntry | None, outcome: dict[str, Any] | None) -> Card:
        asset = self.resolved(asset)
        stale = (
            entry is not None
            and asset.resolved
            and generation_key(entry.provider, asset) != entry.key
        )
        prompt = entry.prompt if entry is not None else asset.prompt
        return Card(
            name=asset.name,
            status=gallery_status(outcome, entry is not None),
            reason=(outcome or {}).get("reason") or "",
            error=(outcome or {}).get("error"),
            operation=asset.operation,
            model=entry.model if entry is not None else asset.model,
            prompt=prompt,
            pending_prompt=asset.prompt if stale and asset.prompt != prompt else None,
            params=dict(sorted((entry.params if entry is not None else asset.params).items())),
            cost_usd=entry.cost_usd if entry is not None else 0.0,
            generated_at=entry.generated_at if entry is not None else "",
            key=entry.key if entry is not None else "",
            stale=stale,
            inputs=self.input_pictures(r for r in asset.inputs if r.role != "reference"),
            references=self.input_pictures(asset.references),
            originals=self.originals(entry, "result" if asset.inputs else "original"),
            variants=self.variants(entry),
        )

    def originals(self, entry: LockEntry | None, label: str) -> tuple[Picture, ...]:
        if entry is None:
            return ()
        many = len(entry.candidates) > 1
        return tuple(
            self.picture(
                f"candidate {i + 1} of {len(entry.candidates)}" if many else label,
                item.path,
                item.sha256,
                width=item.width,
                height=item.height,
                note=f"{item.width}×{item.height}",
                selected=many and i == entry.selected,
            )
            for i, item in enumerate(entry.candidates)
        )

    def variants(self, entry: LockEntry | None) -> tuple[Picture, ...]:
        if entry is None:
            return ()
        return tuple(
            self.picture(
                f"{item.width}×{item.height} {item.format}",
                item.path,
                item.sha256,
                width=item.width,
                height=item.height,
                note=kilobytes(item.bytes),
            )
            for item in entry.variants
        )


def kilobytes(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def collect(project: Project, page_dir: Path) -> tuple[list[Card], dict[str, Any]]:
    """Every asset's card, in spec order, and the last build's report."""
    report = read_report(project)
    outcomes = {
        item.get("name"): item for item in report.get("assets", []) if isinstance(item, dict)
    }
    # A reader: the lock with any journal applied, never written (a build may be running).
    lock = project.locks.load()
    maker = CardMaker(project, lock, page_dir)
    cards = [
        maker.card(asset, lock.assets.get(asset.name), outcomes.get(asset.name))
        for asset in project.assets()
    ]
    return cards, report


def summary(cards: list[Card], report: dict[str, Any]) -> dict[str, Any]:
    counts = {status: sum(card.status == status for card in cards) for status in STATUSES}
    return {
        "counts": counts,
        "finished_at": report.get("finished_at"),
        "cost_usd": report.get("cost_usd"),
        "seconds": report.get("seconds"),
        "removed": report.get("removed") or [],
    }


def render_gallery(
    project: Project, output: Path | None = None, *, live: int | None = None
) -> GalleryPage:
    """Render and write the gallery page; ``live`` makes a served page reload itself."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    path = Path(os.path.abspath(output or default_output(project.root, draft=project.draft)))
    cards, report = collect(project, path.parent)
    env = Environment(
        loader=PackageLoader("assetgen", "templates_gallery"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html = env.get_template("index.html.j2").render(
        title=project.root.name,
        draft=project.draft,
        cards=cards,
        statuses=STATUSES,
        summary=summary(cards, report),
        live=live,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, html, durable=False)
    files = frozenset(pic.path for card in cards for pic in card.pictures)
    return GalleryPage(path=path, html=html, files=files)


def write_gallery(project: Project, output: Path | None = None) -> Path:
    """Write the static gallery (default ``.assetgen/gallery/index.html``); return its path."""
    return render_gallery(project, output).path


# -- serving (watch --serve) ---------------------------------------------------------

NOT_READY = (
    b"<!doctype html><meta charset=utf-8><meta http-equiv=refresh content=1>"
    b"<title>assetgen</title><p>No gallery yet: the first build is running (or failed, see"
    b" the terminal). This page reloads itself."
)


class GalleryServer:
    """Serves the gallery read-only on 127.0.0.1: the page, its images and a version.

    Nothing else in the project is reachable (no spec, no ``.env``), and only
    requests addressed to 127.0.0.1 or localhost are answered, so a web page
    cannot read it through DNS rebinding.
    """

    def __init__(self, root: Path, port: int) -> None:
        import threading
        from http.server import ThreadingHTTPServer

        self.root = Path(os.path.realpath(root))
        self.files: dict[str, Path] = {}
        self.page = ""
        self.version = 0
        self.lock = threading.Lock()
        try:
            self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler_for(self))
        except OSError as exc:
            raise UsageError(
                f"cannot serve the gallery on 127.0.0.1:{port}: {exc.strerror}",
                hint="pick another port with --port",
            ) from exc
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, name="assetgen-gallery", daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def url_path(self, path: Path) -> str | None:
        try:
            return "/" + Path(os.path.realpath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def publish(self, page: GalleryPage, version: int) -> None:
        """Serve this page and its images from now on; pages still open reload."""
        files = {url: p for p in page.files if (url := self.url_path(p)) is not None}
        page_url = self.url_path(page.path) or ""
        files[page_url] = page.path
        with self.lock:
            self.files, self.page, self.version = files, page_url, version

    def lookup(self, url: str) -> Path | None:
        with self.lock:
            return self.files.get(url)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def handler_for(server: GalleryServer) -> type:
    import mimetypes
    from http.server import BaseHTTPRequestHandler
    from urllib.parse import unquote, urlsplit

    class Handler(BaseHTTPRequestHandler):
        server_version = "assetgen"

        def do_GET(self) -> None:
            hosts = (f"127.0.0.1:{server.port}", f"localhost:{server.port}")
            if self.headers.get("Host", "") not in hosts:
                self.reply(403, b"forbidden", "text/plain")
                return
            url = unquote(urlsplit(self.path).path)
            if url == "/__assetgen/version":
                body = json.dumps({"version": server.version}).encode()
                self.reply(200, body, "application/json")
            elif url == "/" or (not server.page and url.endswith(".html")):
                self.home()
            else:
                self.send_path(server.lookup(url))

        def home(self) -> None:
            if not server.page:
                self.reply(503, NOT_READY, "text/html; charset=utf-8")
                return
            self.send_response(302)
            self.send_header("Location", quote(server.page))
            self.send_header("Content-Length", "0")
            self.end_headers()

        def send_path(self, path: Path | None) -> None:
            try:
                body = path.read_bytes() if path is not None else None
            except OSError:
                body = None
            if body is None or path is None:
                self.reply(404, b"not found", "text/plain")
                return
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            self.reply(200, body, kind)

        def reply(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-cache")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: watch mode prints its own lines."""

    return Handler
