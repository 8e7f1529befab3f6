"""``assetgen gallery``: the static review page, its server, and the page in Chromium."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from assetgen.cli import main
from assetgen.gallery import GalleryServer, gallery_status, render_gallery
from assetgen.project import open_project

from .projects import make_image, make_mask, make_project, write

SITE = """
[[asset]]
name = "hero-{{ season }}"
template = "hero.j2"
matrix = { season = ["spring", "autumn"] }
size = "320x192"
variants = [{ width = 64, format = "webp" }, { width = 128, format = "jpeg" }]

[[asset]]
name = "mascot-wave"
prompt = "the mascot waving <hello> & goodbye"
image = "art/mascot.png"
mask = "art/mask.png"
references = ["art/style.png"]
variants = [{ width = 96, format = "png" }]

[[asset]]
name = "logo"
prompt = "a logo, two takes"
size = "320x192"
candidates = 2
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    make_image(root / "art/mascot.png", (128, 128), (20, 120, 120))
    make_mask(root / "art/mask.png", (128, 128), (64, 0, 128, 64))
    make_image(root / "art/style.png", (64, 64), (240, 110, 90))
    write(root / "prompts/hero.j2", "{{ brand }} hero in {{ season }}\n")
    make_project(root, SITE)
    return root


def run(root: Path, *args: str) -> int:
    return main(["-C", str(root), *args])


# -- reading the page ------------------------------------------------------------------


@dataclass
class Card:
    attrs: dict[str, str]
    figures: list[dict[str, str]] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    img_attrs: list[dict[str, str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.attrs["data-status"]

    def figure_classes(self) -> list[str]:
        return [f.get("class", "") for f in self.figures]


class Page(HTMLParser):
    """The gallery's cards, images, scripts and every URL it names."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.cards: dict[str, Card] = {}
        self.card: Card | None = None
        self.urls: list[str] = []
        self.scripts: list[dict[str, str]] = []
        self.links: list[dict[str, str]] = []
        self.buttons: list[str] = []
        self.images: list[dict[str, str]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {name: value or "" for name, value in attrs}
        self.urls.extend(found[a] for a in ("src", "href") if a in found)
        if tag == "article" and "card" in found.get("class", ""):
            self.card = self.cards.setdefault(found["data-name"], Card(found))
        elif tag == "script":
            self.scripts.append(found)
        elif tag == "link":
            self.links.append(found)
        elif tag == "button":
            self.buttons.append(found.get("data-status", ""))
        elif self.card is not None and tag == "figure":
            self.card.figures.append(found)
        elif self.card is not None and tag == "img":
            self.card.images.append(found["src"])
            self.card.img_attrs.append(found)
            self.images.append(found)

    def handle_endtag(self, tag: str) -> None:
        if tag == "article":
            self.card = None

    def handle_data(self, data: str) -> None:
        if self.card is not None and data.strip():
            self.card.text.append(data.strip())


def gallery(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[Path, Page]:
    capsys.readouterr()
    assert run(root, "gallery", *args) == 0
    path = Path(capsys.readouterr().out.strip())
    return path, Page(path.read_text(encoding="utf-8"))


def statuses(page: Page) -> dict[str, str]:
    return {name: card.status for name, card in page.cards.items()}


# -- structure ---------------------------------------------------------------------------


def test_every_asset_is_a_card_with_its_images(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "build") == 0
    path, page = gallery(site, capsys)
    assert path == site / ".assetgen/gallery/index.html"
    assert list(page.cards) == ["hero-spring", "hero-autumn", "mascot-wave", "logo"]
    assert set(statuses(page).values()) == {"new"}

    lock = open_project(site / "assetgen.toml").lock()
    for name, card in page.cards.items():
        entry = lock.assets[name]
        shown = {unquote(urlsplit(src).path) for src in card.images}
        files = {(path.parent / src).resolve() for src in shown}
        assert {site / c.path for c in entry.candidates} <= files
        assert {site / v.path for v in entry.variants} <= files
        assert all(f.is_file() for f in files), name
        assert entry.model in card.text[card.text.index("model") + 1]

    edit = page.cards["mascot-wave"]
    assert edit.figure_classes()[:3] == ["pic input", "pic input", "pic result"]
    assert [t for t in edit.text if t in ("base image", "mask", "reference")] == [
        "base image",
        "mask",
        "reference",
    ]
    assert "the mascot waving <hello> & goodbye" in edit.text  # escaped, then parsed back

    logo = page.cards["logo"]
    results = [c for c in logo.figure_classes() if "result" in c]
    assert results == ["pic result selected", "pic result"]

    hero = page.cards["hero-spring"]
    assert "Acme hero in spring" in hero.text
    assert "quality=low" in " ".join(hero.text)


def test_statuses_follow_the_last_build(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(site, "build") == 0
    write(site / "prompts/hero.j2", "{{ brand }} hero in {{ season }}, at night\n")
    assert run(site, "build") == 0
    _, page = gallery(site, capsys)
    assert statuses(page) == {
        "hero-spring": "regenerated",
        "hero-autumn": "regenerated",
        "mascot-wave": "unchanged",
        "logo": "unchanged",
    }
    assert "prompt changed" in page.cards["hero-spring"].text

    write(site / "prompts/hero.j2", "{{ brand }} hero in {{ season }}\n")
    assert run(site, "build") == 0
    _, page = gallery(site, capsys)
    assert statuses(page)["hero-autumn"] == "reused"

    # Edited since the last build: the card says the image is out of date.
    write(site / "prompts/hero.j2", "{{ brand }} hero in {{ season }}, in fog\n")
    _, page = gallery(site, capsys)
    assert any("spec changed" in t for t in page.cards["hero-spring"].text)
    assert "Acme hero in spring, in fog" in page.cards["hero-spring"].text


def test_a_failed_asset_shows_its_error(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(site, "build") == 0
    report_path = site / ".assetgen/last-build.json"
    report = json.loads(report_path.read_text())
    failure = next(a for a in report["assets"] if a["name"] == "logo")
    failure.update(status="failed", error="logo: refused <script>alert(1)</script>")
    report_path.write_text(json.dumps(report))
    path, page = gallery(site, capsys)
    assert page.cards["logo"].status == "failed"
    assert "logo: refused <script>alert(1)</script>" in page.cards["logo"].text
    assert "<script>alert(1)" not in path.read_text()
    assert "failed" in page.buttons


def test_the_page_is_self_contained_and_keeps_secrets_out(
    site: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-gallery-secret-4c1d9e"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("ASSETGEN_TEST_SECRET", secret)
    assert run(site, "build") == 0
    path, page = gallery(site, capsys)
    text = path.read_text()
    assert secret not in text
    assert all(not url.startswith(("http:", "https:", "//")) for url in page.urls)
    assert page.links == [] and all("src" not in s for s in page.scripts)
    assert "<style>" in text


def test_output_elsewhere_links_images_relative_to_it(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "build") == 0
    out = site.parent / "review" / "page.html"
    path, page = gallery(site, capsys, "-o", str(out))
    assert path == out
    for card in page.cards.values():
        for src in card.images:
            assert (out.parent / unquote(urlsplit(src).path)).is_file()


def test_gallery_before_any_build_lists_assets_without_images(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, page = gallery(site, capsys)
    assert set(statuses(page).values()) == {"unknown"}
    assert all("No image yet." in card.text for card in page.cards.values())
    assert len(page.cards["mascot-wave"].images) == 3  # its inputs are there already


@pytest.mark.parametrize(
    ("outcome", "built", "expected"),
    [
        ({"status": "generated", "reason": "new asset", "reason_code": "new-asset"}, True, "new"),
        ({"status": "generated", "reason": "new asset"}, True, "regenerated"),  # codes, not words
        ({"status": "generated", "reason_code": "prompt-changed"}, True, "regenerated"),
        ({"status": "reused", "reason": "prompt changed"}, True, "reused"),
        ({"status": "rendered", "reason": "output missing: x"}, True, "rendered"),
        ({"status": "fresh", "reason": ""}, True, "unchanged"),
        ({"status": "failed", "error": "boom"}, False, "failed"),
        ({"status": "skipped", "error": "budget"}, False, "failed"),
        (None, True, "unchanged"),
        (None, False, "unknown"),
    ],
)
def test_status_mapping(outcome: dict[str, str] | None, built: bool, expected: str) -> None:
    assert gallery_status(outcome, built) == expected


# -- the server (watch --serve) ------------------------------------------------------------


def get(port: int, path: str, host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Host": host or f"127.0.0.1:{port}"}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_server_serves_the_page_and_its_images_only(site: Path) -> None:
    assert run(site, "build") == 0
    project = open_project(site / "assetgen.toml")
    server = GalleryServer(site, 0)
    try:
        assert get(server.port, "/")[0] == 503  # nothing published yet
        page = render_gallery(project, live=1)
        server.publish(page, 1)
        status, headers, _ = get(server.port, "/")
        assert (status, headers["Location"]) == (302, "/.assetgen/gallery/index.html")
        status, _, body = get(server.port, "/.assetgen/gallery/index.html")
        assert status == 200 and b'data-live="1"' in body
        variant = project.lock().assets["logo"].original.path
        status, headers, body = get(server.port, f"/{variant}?v=1")
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert body == (site / variant).read_bytes()
        assert json.loads(get(server.port, "/__assetgen/version")[2]) == {"version": 1}
        for private in ("/assetgen.toml", "/assetgen.lock", "/.assetgen/last-build.json", "/../"):
            assert get(server.port, private)[0] == 404, private
        assert get(server.port, "/", host="attacker.example:80")[0] == 403
        assert get(server.port, "/", host=f"localhost:{server.port}")[0] == 302
    finally:
        server.close()


def test_a_busy_port_is_a_clear_error(site: Path) -> None:
    import socket

    from assetgen.errors import UsageError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UsageError, match=f"127.0.0.1:{port}"):
            GalleryServer(site, port)


# -- in a browser --------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium through chromedriver (Debian's packages; nothing downloaded)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[dev]')")
    if missing:
        why = f"browser tests need {', '.join(missing)}"
        if in_ci():
            pytest.fail(f"{why}: CI must run them (.ci/run installs chromium and chromium-driver)")
        pytest.skip(f"{why} (apt-get install chromium chromium-driver); CI runs them")
    profile = tempfile.mkdtemp(prefix="assetgen-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,1600",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(condition: Any, timeout: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


LOAD_ALL = """
const images = Array.from(document.querySelectorAll('.card img'));
images.forEach(img => { img.loading = 'eager'; });
return images.every(img => img.complete) ? images.map(img => img.naturalWidth) : null;
"""


def visible_cards(driver: Any) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.card'))"
        ".filter(c => !c.hidden && c.offsetParent !== null).map(c => c.dataset.name);"
    )


def test_the_page_renders_its_images_and_filters_in_chromium(
    site: Path, capsys: pytest.CaptureFixture[str], browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    assert run(site, "build") == 0
    write(site / "prompts/hero.j2", "{{ brand }} hero in {{ season }}, at noon\n")
    assert run(site, "build") == 0
    path, page = gallery(site, capsys)
    browser.get(path.as_uri())
    widths = wait_for(lambda: browser.execute_script(LOAD_ALL), what="images")
    assert len(widths) == sum(len(card.images) for card in page.cards.values())
    assert all(width > 0 for width in widths), widths

    assert sorted(visible_cards(browser)) == sorted(page.cards)
    browser.find_element(By.CSS_SELECTOR, 'button[data-status="regenerated"]').click()
    assert visible_cards(browser) == ["hero-autumn", "hero-spring"]
    assert "status=regenerated" in browser.current_url
    browser.find_element(By.CSS_SELECTOR, 'button[data-status="unchanged"]').click()
    assert visible_cards(browser) == ["logo", "mascot-wave"]
    browser.find_element(By.CSS_SELECTOR, 'button[data-status="all"]').click()
    browser.find_element(By.ID, "filter-name").send_keys("hero")
    assert sorted(visible_cards(browser)) == ["hero-autumn", "hero-spring"]
    browser.find_element(By.CSS_SELECTOR, 'button[data-status="unchanged"]').click()
    assert visible_cards(browser) == []
    assert "0 of 4 shown" in browser.find_element(By.ID, "shown").text


RESULTS = """
return Object.fromEntries(Array.from(document.querySelectorAll('.card')).map(
  c => [c.dataset.name, c.querySelector('.result img').getAttribute('src')]));
"""


def results(driver: Any) -> dict[str, str] | None:
    """Each card's result image URL, or ``None`` while the page is reloading."""
    from selenium.common.exceptions import WebDriverException

    try:
        return driver.execute_script(RESULTS)
    except WebDriverException:
        return None


def test_watch_serve_shows_a_new_image_within_seconds(site: Path, browser: Any) -> None:
    from tests.test_watch import WatchProcess

    watcher = WatchProcess(site, "--serve", "--port", "0")
    try:
        watcher.rebuild(timeout=30)
        url = watcher.until("gallery: http").split("gallery: ", 1)[1]
        browser.get(url)
        before = wait_for(lambda: results(browser), what="the served page")
        write(site / "prompts/hero.j2", "{{ brand }} hero in {{ season }}, under snow\n")
        after = wait_for(
            lambda: (now := results(browser)) != before and now,
            timeout=10,
            what="the page to reload with the new images",
        )
        changed = {name for name in before if before[name] != after[name]}
        assert changed == {"hero-spring", "hero-autumn"}
        widths = wait_for(lambda: browser.execute_script(LOAD_ALL), what="images")
        assert all(width > 0 for width in widths)
        assert watcher.stop() == 0
    finally:
        watcher.close()


def test_an_asset_made_from_another_shows_its_original_as_the_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "graph"
    make_mask(root / "art/mask.png", (256, 256), (0, 0, 128, 128))
    make_project(root, GRAPH)
    assert run(root, "build") == 0
    path, page = gallery(root, capsys)
    lock = open_project(root / "assetgen.toml").lock()
    card = page.cards["mascot-wave"]
    base, mask, result = ((path.parent / urlsplit(src).path).resolve() for src in card.images)
    assert base == root / lock.assets["mascot"].original.path
    assert (mask, result) == (
        root / "art/mask.png",
        root / lock.assets["mascot-wave"].original.path,
    )
    assert "@mascot" in card.text
    assert statuses(page) == {"mascot": "new", "mascot-wave": "new"}


GRAPH = """
[[asset]]
name = "mascot"
prompt = "the mascot"

[[asset]]
name = "mascot-wave"
prompt = "the mascot waving"
image = "@mascot"
mask = "art/mask.png"
"""


# -- issue 10: numbering, statuses, wording, self-contained pages, eager images -------------


def test_candidates_are_numbered_as_pick_counts_them(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "build") == 0
    assert run(site, "pick", "logo", "1") == 0
    _, page = gallery(site, capsys)
    logo = page.cards["logo"]
    assert "candidate 0" in logo.text and "candidate 1" in logo.text
    assert not any("of 2" in t or "candidate 2" in t for t in logo.text)
    results = [c for c in logo.figure_classes() if "result" in c]
    assert results == ["pic result", "pic result selected"]  # pick 1 is the second image
    assert "assetgen pick logo 0" in logo.text  # the command that picks the other one
    assert "assetgen pick logo 1" not in logo.text  # already selected


def test_a_rerendered_asset_is_badged_rendered(
    site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(site, "build") == 0
    (site / "public/img/hero-spring-64w.webp").unlink()
    assert run(site, "build") == 0
    _, page = gallery(site, capsys)
    assert statuses(page)["hero-spring"] == "rendered"
    assert statuses(page)["hero-autumn"] == "unchanged"
    assert "rendered" in page.buttons


def test_params_are_shown_in_the_spec_words(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(site, "build") == 0
    _, page = gallery(site, capsys)
    mascot = " ".join(page.cards["mascot-wave"].text)
    assert "keep_unmasked=true" in mascot and "True" not in mascot
    assert "candidates=2" in " ".join(page.cards["logo"].text)


def test_self_contained_page_still_works_when_moved(
    site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import base64
    import io

    from PIL import Image

    assert run(site, "build") == 0
    path, page = gallery(site, capsys, "--self-contained", "-o", str(site / "review.html"))
    moved = tmp_path / "elsewhere" / "attached.html"
    moved.parent.mkdir()
    path.rename(moved)
    srcs = [img["src"] for img in page.images]
    assert len(srcs) == sum(len(card.images) for card in page.cards.values()) > 10
    for src in srcs:
        assert src.startswith("data:image/webp;base64,"), src[:40]
        with Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as image:
            assert max(image.size) <= 512
    assert all(url.startswith("data:") for url in page.urls), "no links to project files"


def test_first_screenful_loads_eagerly_the_rest_lazily(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    many = '[[asset]]\nname = "tile-{{ i }}"\nprompt = "tile {{ i }}"\nsize = "320x192"\n'
    tiles = ", ".join(f'"{i:02}"' for i in range(20))
    many += f"matrix = {{ i = [{tiles}] }}\n"
    make_project(tmp_path, many)
    assert run(tmp_path, "build") == 0
    _, page = gallery(tmp_path, capsys)
    lazy = {
        name: [img.get("loading") for img in card.img_attrs] for name, card in page.cards.items()
    }
    first = sorted(lazy)[:12]  # the page's first order: status, then name
    assert all(lazy[name] == [None] for name in first)
    assert all(lazy[name] == ["lazy"] for name in sorted(lazy)[12:])


IN_VIEW_LOADED = """
const shown = Array.from(document.querySelectorAll('.card img')).filter(img => {
  const box = img.getBoundingClientRect();
  return box.bottom > 0 && box.top < window.innerHeight;
});
return shown.map(img => img.complete && img.naturalWidth > 0);
"""


def test_a_moved_self_contained_page_shows_every_image_at_load(
    site: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path, browser: Any
) -> None:
    assert run(site, "build") == 0
    path, _ = gallery(site, capsys, "--self-contained", "-o", str(site / "review.html"))
    moved = tmp_path / "pr-attachment.html"
    path.rename(moved)
    shutil.rmtree(site)  # nothing of the project is left to link to
    browser.get(moved.as_uri())  # returns at the load event, as a screenshot tool would
    loaded = browser.execute_script(IN_VIEW_LOADED)
    assert loaded and all(loaded), loaded
    widths = wait_for(lambda: browser.execute_script(LOAD_ALL), what="images")
    assert all(width > 0 for width in widths), widths
