"""Progress rendering: a live block on terminals, plain lines in CI logs."""

from __future__ import annotations

import io
import re

from assetgen.console import Progress
from assetgen.events import Event


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
    progress(Event("plan", data={"total": 3}))
    progress(Event("start", "generate", asset="hero-a"))
    progress(Event("start", "generate", asset="hero-b"))
    progress(Event("start", "render", asset="icon"))


def test_terminal_shows_a_line_per_running_asset_and_a_bar() -> None:
    stream = Terminal()
    progress = Progress(stream)
    drive(progress)
    shown = screen(stream.getvalue())
    assert [line.split()[:2] for line in shown[:3]] == [
        ["generate", "hero-a"],
        ["generate", "hero-b"],
        ["render", "icon"],
    ]
    assert shown[-1].endswith("0/3")
    progress(Event("generated", asset="hero-a", data={"cost_usd": 0.011}))
    progress(Event("done", "generated", asset="hero-a"))
    shown = screen(stream.getvalue())
    assert shown[0] == "$ generated hero-a  $0.0110"
    assert [line.split()[1] for line in shown[1:3]] == ["hero-b", "icon"]
    assert shown[-1].endswith("1/3")
    progress.close()
    assert screen(stream.getvalue()) == ["$ generated hero-a  $0.0110"]


def test_plain_lines_when_not_a_terminal() -> None:
    stream = io.StringIO()
    progress = Progress(stream)
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
    progress = Progress(stream, quiet=True)
    drive(progress)
    progress(Event("done", "rendered", asset="icon"))
    progress(Event("warning", "model gpt-image-1-mini shuts down on 2026-12-01"))
    progress(Event("failed", "hero-b: refused", asset="hero-b"))
    assert stream.getvalue().splitlines() == [
        "warning: model gpt-image-1-mini shuts down on 2026-12-01",
        "✗ failed    hero-b: refused",
    ]
