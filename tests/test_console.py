"""Progress rendering: a live block on terminals, plain lines in CI logs."""

from __future__ import annotations

import io
import re

from assetgen.console import Progress
from assetgen.events import Event, GeneratedEvent, PlanEvent


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(raw: str) -> list[str]:
    """Replay the ANSI moves the progress uses into the lines left on screen."""
    lines: list[str] = []
    for chunk in re.split(r"(\x1b\[\d+F\x1b\[J)", raw):
        match = re.match(r"\x1b\[(\d+)F\x1b\[J", chunk)
        if match:
            del lines[len(lines) - int(match.group(1)) :]
        else:
            lines.extend(chunk.splitlines())
    return lines


def drive(progress: Progress) -> None:
    progress(PlanEvent(total=3))
    progress(Event("start", "generate", asset="hero-a"))
    progress(Event("start", "generate", asset="hero-b"))
    progress(Event("start", "render", asset="icon"))


def test_terminal_shows_a_line_per_running_asset_and_a_bar() -> None:
    stream = Terminal()
    progress = Progress(stream, ticking=False)
    drive(progress)
    shown = screen(stream.getvalue())
    assert [line.split()[:2] for line in shown[:3]] == [
        ["generate", "hero-a"],
        ["generate", "hero-b"],
        ["render", "icon"],
    ]
    assert shown[-1].endswith("0/3")
    progress(GeneratedEvent(asset="hero-a", cost_usd=0.011))
    progress(Event("done", "generated", asset="hero-a"))
    shown = screen(stream.getvalue())
    assert shown[0] == "$ generated hero-a  $0.0110"
    assert [line.split()[1] for line in shown[1:3]] == ["hero-b", "icon"]
    assert shown[-1].endswith("1/3")
    progress.close()
    assert screen(stream.getvalue()) == ["$ generated hero-a  $0.0110"]


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream, ticking=False)
    drive(progress)
    progress(Event("done", "rendered", asset="icon"))
    progress(Event("failed", "hero-b: refused [400 moderation_blocked]", asset="hero-b"))
    progress(Event("retry", "429 rate_limit_exceeded, waiting 1.0s", asset="hero-a"))
    assert "\x1b" not in stream.getvalue()
    assert stream.getvalue().splitlines() == [
        "✓ rendered  icon",
        "✗ failed    hero-b: refused [400 moderation_blocked]",
        "↻ retry     hero-a: 429 rate_limit_exceeded, waiting 1.0s",
    ]


def test_quiet_keeps_failures_and_warnings_only() -> None:
    stream = io.StringIO()
    progress = Progress(stream, quiet=True, ticking=False)
    drive(progress)
    progress(Event("done", "rendered", asset="icon"))
    progress(Event("warning", "model gpt-image-1-mini shuts down on 2026-12-01"))
    progress(Event("failed", "hero-b: refused", asset="hero-b"))
    assert stream.getvalue().splitlines() == [
        "warning: model gpt-image-1-mini shuts down on 2026-12-01",
        "✗ failed    hero-b: refused",
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_terminal_shows_how_long_each_request_has_been_running() -> None:
    stream, clock = Terminal(), Clock()
    progress = Progress(stream, clock=clock, ticking=False)
    drive(progress)
    clock.now += 65
    progress.tick()  # the ticker thread does this every second
    shown = screen(stream.getvalue())
    assert shown[0].split()[:3] == ["generate", "hero-a", "1m05s"]
    assert shown[2].split()[:3] == ["render", "icon", "1m05s"]
    assert shown[-1].endswith("0/3")


def test_ci_logs_get_a_line_every_30_seconds_per_running_request() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(stream, clock=clock, ticking=False)
    drive(progress)
    clock.now += 29
    progress.tick()
    assert stream.getvalue() == ""
    clock.now += 2
    progress.tick()
    progress.tick()  # once per interval, however often it ticks
    progress(Event("done", "rendered", asset="icon"))
    clock.now += 60
    progress.tick()
    assert stream.getvalue().splitlines() == [
        "  hero-a: waiting for the API, 31 s",
        "  hero-b: waiting for the API, 31 s",
        "  icon: still rendering, 31 s",
        "✓ rendered  icon",
        "  hero-a: waiting for the API, 1m31s",
        "  hero-b: waiting for the API, 1m31s",
    ]


def test_the_ticker_thread_stops_on_close() -> None:
    stream = Terminal()
    progress = Progress(stream)
    drive(progress)
    assert progress._ticker is not None and progress._ticker.is_alive()
    progress.close()
    assert not progress._ticker.is_alive()
    assert screen(stream.getvalue()) == []


def test_the_same_failure_is_printed_in_full_once() -> None:
    stream = io.StringIO()
    progress = Progress(stream, ticking=False)
    drive(progress)
    cause = "connection to http://127.0.0.1:9/v1/images/generations failed: refused"
    for name in ("hero-a", "hero-b"):
        progress(Event("retry", f"{cause}; attempt 2 of 3 in 0.25 s", asset=name))
    progress(Event("retry", f"{cause}; attempt 3 of 3 in 0.50 s", asset="hero-a"))
    for name in ("hero-a", "hero-b"):
        progress(Event("failed", f"asset {name!r}: {cause} (gave up after 3 attempts)", asset=name))
    assert stream.getvalue().splitlines() == [
        f"↻ retry     hero-a: {cause}; attempt 2 of 3 in 0.25 s",
        f"↻ retry     hero-a: {cause}; attempt 3 of 3 in 0.50 s",
        f"✗ failed    hero-a: {cause} (gave up after 3 attempts)",
        "✗ failed    hero-b: same error as hero-a",
    ]
