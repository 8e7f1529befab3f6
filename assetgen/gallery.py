"""The gallery: a static HTML page to review every asset and the last build.

One card per concrete asset: the selected original and the other candidates
side by side, for edits the base image and mask beside the result, every
variant, the prompt the image was made from, its parameters, model and cost,
and what the last build did to it (``new``, ``regenerated``, ``reused``,
``rendered``, ``unchanged`` or ``failed`` with the error). Candidates are
numbered from 0, as ``assetgen pick NAME N`` counts them, and each shows that
command. The page needs no network (CSS and JS inline) and links the
project's image files by paths relative to its own folder, so it works from
``file://``; ``self_contained`` embeds thumbnails instead, so the one file
still works when moved or attached to a pull request. The images of the first
screenful load eagerly (a headless screenshot shows them), the rest lazily.
It shows what the lock, the spec and ``.assetgen/last-build.json`` say,
never environment values.

:class:`GalleryServer` serves it on 127.0.0.1 for ``watch --serve``: only the
page and the images it shows, plus a version number the page polls to reload
itself after each rebuild.
"""

from __future__ import annotations

import json
import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, replace
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
from .wording import params_text

GALLERY_DIR = f"{DEFAULT_STATE_DIR}/gallery"
STATUSES = ("failed", "new", "regenerated", "reused", "rendered", "unchanged", "unknown")
"""Gallery statuses, in the order the page sorts them (what needs a look first)."""
EAGER_CARDS = 12
"""Cards (in the page's first sort order) whose images load eagerly: a screenful."""
EAGER_IMAGES = 60
"""At most this many eager images, however many each of those cards has."""
THUMBNAIL_SIDE = 512
"""``self_contained``: longest side of an embedded result image."""
SMALL_THUMBNAIL_SIDE = 256
"""``self_contained``: longest side of embedded inputs, references and variants."""
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
    pick: str = ""
    """The ``assetgen pick`` command that selects this candidate (others: empty)."""
    eager: bool = False
    """Loaded with the page (first screenful) rather than lazily."""

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @property
    def embedded(self) -> bool:
        return self.src.startswith("data:")


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
    provenance: str = ""
    """C2PA provenance in words (``[provenance] c2pa`` on; see ``assetgen verify``)."""
    provenance_state: str = ""
    """``chained``, ``none``, ``altered``… (the worst of the variants)."""

    @property
    def pictures(self) -> tuple[Picture, ...]:
        """Every picture, in the order the page shows them."""
        return (*self.inputs, *self.originals, *self.references, *self.variants)

    @property
    def params_text(self) -> str:
        """``background=auto  keep_unmasked=true``: in the spec's words, not Python's."""
        return params_text(self.params)


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
        return "new" if outcome.get("reason_code") == "new-asset" else "regenerated"
    if status in ("reused", "rendered"):
        return str(status)
    if status == "fresh":
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

    def __init__(
        self, project: Project, lock: Lockfile, page_dir: Path, thumbnails: Thumbnails | None
    ) -> None:
        self.root = project.root
        self.lock = lock
        self.page_dir = page_dir
        self.thumbnails = thumbnails
        self.checks: dict[str, Any] = {}
        """``assetgen verify``'s check of each asset, with ``[provenance] c2pa`` on."""

    def src(self, path: Path, sha256: str, side: int = SMALL_THUMBNAIL_SIDE) -> str:
        if self.thumbnails is not None:
            return self.thumbnails.data_url(path, side)
        try:
            relative = os.path.relpath(path, self.page_dir)
        except ValueError:  # another drive (Windows): fall back to an absolute URL
            return path.as_uri()
        return quote(relative.replace(os.sep, "/")) + f"?v={sha256[:12]}"

    def picture(
        self, label: str, relative: str, sha256: str, side: int = SMALL_THUMBNAIL_SIDE, **extra: Any
    ) -> Picture:
        path = self.root / relative
        return Picture(label, path, self.src(path, sha256, side), title=relative, **extra)

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
            params=dict(sorted((entry.params if entry else asset.params.fields()).items())),
            cost_usd=entry.cost_usd if entry is not None else 0.0,
            generated_at=entry.generated_at if entry is not None else "",
            key=entry.key if entry is not None else "",
            stale=stale,
            inputs=self.input_pictures(r for r in asset.inputs if r.role != "reference"),
            references=self.input_pictures(asset.references),
            originals=self.originals(
                entry, "result" if asset.inputs else "original", asset.name, pickable=not stale
            ),
            variants=self.variants(asset.name, entry),
            **self.provenance(asset.name),
        )

    def provenance(self, name: str) -> dict[str, str]:
        from .provenance_verify import asset_words

        check = self.checks.get(name)
        if check is None:
            return {}
        return {"provenance": asset_words(check), "provenance_state": check.state}

    def originals(
        self, entry: LockEntry | None, label: str, name: str, *, pickable: bool
    ) -> tuple[Picture, ...]:
        """The candidates, numbered from 0 as ``assetgen pick`` counts them."""
        if entry is None:
            return ()
        many = len(entry.candidates) > 1
        return tuple(
            self.picture(
                f"candidate {i}" if many else label,
                item.path,
                item.sha256,
                THUMBNAIL_SIDE,
                width=item.width,
                height=item.height,
                note=f"{item.width}×{item.height}",
                selected=many and i == entry.selected,
                pick=pick_command(name, i) if many and pickable and i != entry.selected else "",
            )
            for i, item in enumerate(entry.candidates)
        )

    def variants(self, name: str, entry: LockEntry | None) -> tuple[Picture, ...]:
        if entry is None:
            return ()
        check = self.checks.get(name)
        states = {v.path: f" · c2pa {v.state}" for v in check.variants} if check else {}
        return tuple(
            self.picture(
                f"{item.width}×{item.height} {item.format}",
                item.path,
                item.sha256,
                width=item.width,
                height=item.height,
                note=kilobytes(item.bytes) + states.get(item.path, ""),
            )
            for item in entry.variants
        )


def pick_command(name: str, index: int) -> str:
    """``assetgen pick NAME N``, quoted for a POSIX shell where the name needs it."""
    return shlex.join(["assetgen", "pick", name, str(index)])


class Thumbnails:
    """Images as ``data:`` URLs at thumbnail size, each file encoded once per side."""

    def __init__(self) -> None:
        self.cache: dict[tuple[Path, int], str] = {}

    def data_url(self, path: Path, side: int) -> str:
        """The image as a WebP ``data:`` URL, or ``""`` if it is missing or unreadable."""
        key = (path, side)
        if key not in self.cache:
            self.cache[key] = thumbnail_url(path, side)
        return self.cache[key]


def thumbnail_url(path: Path, side: int) -> str:
    import base64
    import io
    import warnings

    from PIL import Image

    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            # Bounded: an image over Pillow's pixel limit is left out, not decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.draft("RGB", (side, side))  # JPEG: decode at reduced size
                image.thumbnail((side, side))
                alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
                image.convert("RGBA" if alpha else "RGB").save(buffer, "WEBP", quality=75)
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return ""
    return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def with_eager_images(cards: list[Card]) -> list[Card]:
    """Mark the images of the first screenful eager, in the page's initial order
    (by status, then name), so a screenshot taken at ``load`` shows them."""
    first = sorted(cards, key=lambda card: (STATUSES.index(card.status), card.name))
    budget = EAGER_IMAGES
    counts: dict[str, int] = {}
    for card in first[:EAGER_CARDS]:
        counts[card.name] = min(len(card.pictures), budget)
        budget -= counts[card.name]
    return [eager(card, counts.get(card.name, 0)) for card in cards]


def eager(card: Card, count: int) -> Card:
    """The card with its first ``count`` pictures (in page order) loading eagerly."""
    if not count:
        return card
    groups: list[tuple[Picture, ...]] = []
    for pictures in (card.inputs, card.originals, card.references, card.variants):
        groups.append(tuple(replace(p, eager=i < count) for i, p in enumerate(pictures)))
        count = max(0, count - len(pictures))
    inputs, originals, references, variants = groups
    return replace(
        card, inputs=inputs, originals=originals, references=references, variants=variants
    )


def kilobytes(size: int) -> str:
    return f"{size / 1024:.1f} KB" if size < 1024 * 1024 else f"{size / 1024 / 1024:.1f} MB"


def collect(
    project: Project, page_dir: Path, thumbnails: Thumbnails | None = None
) -> tuple[list[Card], dict[str, Any]]:
    """Every asset's card, in spec order, and the last build's report."""
    report = read_report(project)
    outcomes = {
        item.get("name"): item for item in report.get("assets", []) if isinstance(item, dict)
    }
    # A reader: the lock with any journal applied, never written (a build may be running).
    lock = project.locks.load()
    maker = CardMaker(project, lock, page_dir, thumbnails)
    from .provenance_verify import check_lock

    maker.checks = check_lock(project, lock)
    cards = [
        maker.card(asset, lock.assets.get(asset.name), outcomes.get(asset.name))
        for asset in project.assets()
    ]
    return with_eager_images(cards), report


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
    project: Project,
    output: Path | None = None,
    *,
    live: int | None = None,
    self_contained: bool = False,
) -> GalleryPage:
    """Render and write the gallery page; ``live`` makes a served page reload itself;
    ``self_contained`` embeds thumbnails instead of linking the image files."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    path = Path(os.path.abspath(output or default_output(project.root, draft=project.draft)))
    thumbnails = Thumbnails() if self_contained else None
    cards, report = collect(project, path.parent, thumbnails)
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
        self_contained=self_contained,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, html, durable=False)
    files = frozenset(pic.path for card in cards for pic in card.pictures)
    return GalleryPage(path=path, html=html, files=files)


def write_gallery(
    project: Project, output: Path | None = None, *, self_contained: bool = False
) -> Path:
    """Write the static gallery (default ``.assetgen/gallery/index.html``); return its path."""
    return render_gallery(project, output, self_contained=self_contained).path


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
