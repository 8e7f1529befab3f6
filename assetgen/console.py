"""Turning events and results into terminal lines (part of the CLI layer).

On a terminal, progress is a live block on stderr, redrawn in place: one
line per running generation or render and an overall bar, with permanent
lines above it for what matters (generations and their cost, failures,
warnings). Off a terminal (CI logs), every event is a plain line.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

from .budget import money
from .events import Event

if TYPE_CHECKING:
    from .models_report import ModelEntry, ModelsReport
    from .plan import Plan
    from .providers.models import ModelProfile

BAR_WIDTH = 30
MAX_LIVE_LINES = 8
COLUMNS = 100
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"

SYMBOLS = {
    "generated": "$",
    "done": "✓",
    "failed": "✗",
    "removed": "-",
    "warning": "!",
    "retry": "↻",
    "skipped": "·",
}


class Progress:
    """Renders build events; quiet mode keeps only failures and warnings."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, verbose: bool = False):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() and not quiet
        self.quiet = quiet
        self.verbose = verbose
        self.total = 0
        self.finished = 0
        self.running: dict[str, str] = {}
        self.costs: dict[str, float] = {}
        self._drawn = 0
        self.ticks = 0

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def on_plan(self, event: Event) -> None:
        self.total = int(event.data.get("total", 0))

    def on_start(self, event: Event) -> None:
        self.running[event.asset or ""] = event.message
        if self.verbose and not self.live:
            self.line(f"  {event.message:<8} {event.asset}  ({event.data.get('reason', '')})")
        self.status()

    def on_done(self, event: Event) -> None:
        name = event.asset or ""
        self.running.pop(name, None)
        self.finished += 1
        cost = self.costs.pop(name, 0.0)
        if event.message == "generated" and not self.quiet:
            priced = f"  ${cost:.4f}" if cost else ""
            self.line(f"{SYMBOLS['generated']} generated {name}{priced}")
        elif self.verbose or (not self.live and not self.quiet):
            self.line(f"{SYMBOLS['done']} {event.message:<9} {name}")
        self.status()

    def on_generated(self, event: Event) -> None:
        self.costs[event.asset or ""] = float(event.data.get("cost_usd") or 0.0)

    def on_failed(self, event: Event) -> None:
        self.running.pop(event.asset or "", None)
        self.finished += 1
        self.line(f"{SYMBOLS['failed']} failed    {event.message}")

    def on_skipped(self, event: Event) -> None:
        self.finished += 1
        self.line(f"{SYMBOLS['skipped']} skipped   {event.asset}: {event.message}")

    def on_removed(self, event: Event) -> None:
        if not self.quiet:
            self.line(f"{SYMBOLS['removed']} removed   {event.asset}")

    def on_warning(self, event: Event) -> None:
        self.line(f"warning: {event.message}")

    def on_retry(self, event: Event) -> None:
        if not self.quiet:
            self.line(f"{SYMBOLS['retry']} retry     {event.asset or ''}: {event.message}")

    def on_info(self, event: Event) -> None:
        if self.verbose:
            self.line(event.message)

    def line(self, text: str) -> None:
        self.clear_status()
        print(text, file=self.stream, flush=True)
        self.status()

    def status(self) -> None:
        """Redraw the live block: one line per running asset, then the overall bar."""
        if not self.live or not self.total:
            return
        self.clear_status()
        lines = [
            f"  {action:<8} {name} {SPINNER[self.ticks % len(SPINNER)]}"
            for name, action in list(self.running.items())[:MAX_LIVE_LINES]
        ]
        if len(self.running) > MAX_LIVE_LINES:
            lines.append(f"  … and {len(self.running) - MAX_LIVE_LINES} more")
        filled = int(BAR_WIDTH * self.finished / self.total)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        lines.append(f"{bar} {self.finished}/{self.total}")
        self.ticks += 1
        self.stream.write("\n".join(line[:COLUMNS] for line in lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)

    def clear_status(self) -> None:
        """Move up over the live block and erase it (ANSI: cursor up, clear below)."""
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def close(self) -> None:
        self.clear_status()


def graph_lines(plan: Plan, style: str) -> list[str]:
    """``plan --graph``: the dependency tree (or Graphviz DOT) with planned actions."""
    from .dependencies import dot, tree_lines

    assets = [step.asset for step in plan.steps]
    steps = {step.name: step for step in plan.steps}
    if style == "dot":
        return dot(assets, {name: step.action for name, step in steps.items()}).splitlines()

    def label(name: str) -> str:
        step = steps[name]
        priced = step.action == "generate" and step.estimated_cost != 0
        cost = f", ~{money(step.estimated_cost)}" if priced else ""
        return f"{name}  [{step.action}: {step.reason}{cost}]"

    return tree_lines(assets, label)


def plan_lines(plan: Plan, *, verbose: bool, offline: bool = False) -> list[str]:
    """``plan``: a line per asset that changes, then a count of the fresh ones and a total."""
    lines = []
    fresh = 0
    for step in plan.steps:
        if step.action == "fresh" and not verbose:
            fresh += 1
            continue
        priced = step.action == "generate" and step.estimated_cost != 0
        cost = f"  ~{money(step.estimated_cost)}" if priced else ""
        lines.append(f"{step.action:<9} {step.name:<28} {step.reason}{cost}")
    for removal in plan.removals:
        lines.append(f"{'remove':<9} {removal.name:<28} no longer in the spec")
    if fresh:
        lines.append(f"{'fresh':<9} {fresh} asset{'s' if fresh != 1 else ''} up to date")
    calls = plan.api_calls
    if offline:
        lines.append(f"{calls} generation{'s' if calls != 1 else ''} by the offline provider, free")
    else:
        cost = money(plan.estimated_cost)
        lines.append(f"{calls} API call{'s' if calls != 1 else ''}, estimated cost {cost}")
    return lines


# -- assetgen models ---------------------------------------------------------------------


def models_lines(report: ModelsReport) -> list[str]:
    """``models``: a block per model (a line per snapshot), then how to read it."""
    lines: list[str] = []
    for entry in report.entries:
        lines.extend(_model_block(entry, report))
    where = f"with [provider.prices] of {report.spec_file}" if report.spec_file else "built in"
    lines += [
        f"Prices in USD ({where}); status is OpenAI's, as of {report.today}: other endpoints",
        "may still serve a model OpenAI shut down. Per image: output tokens × image-out price;",
        'edits add their input images. quality "auto" is estimated as the dearest quality;',
        '~ marks an assumed token count. Override: [provider.prices."MODEL"] in assetgen.toml.',
    ]
    return lines


def _model_block(entry: ModelEntry, report: ModelsReport) -> list[str]:
    profile = entry.profile
    head = f"{profile.id}  {_lifecycle(entry)}"
    if profile.id == report.project_model:
        head += " · this project's model" if report.spec_file else " · the default"
    elif entry.in_use:
        head += " · used by an asset"
    if profile.snapshot_of:
        return [f"{head} · snapshot of {profile.snapshot_of}, as above", ""]
    if not profile.known:
        return [f"{head} · not in assetgen's table: sent unchecked", *_price_lines(entry), ""]
    qualities = [q for q in profile.qualities if q != "auto"]
    auto = f", auto (estimated as {qualities[-1]})" if qualities else ""
    lines = [
        head,
        f"  sizes         {_sizes(profile)}",
        f"  qualities     {', '.join(qualities)}{auto}",
    ]
    if profile.complexities:
        lines.append(f"  complexity    {', '.join(profile.complexities)}")
    transparency = {"unknown": "unknown (asked for, it is sent; a refusal is reported)"}
    lines.append(f"  transparency  {transparency.get(entry.transparency, entry.transparency)}")
    fidelity = "yes" if "input_fidelity" in profile.edit_fields else "no"
    lines.append(
        f"  edits         up to {profile.max_inputs} input images and a mask; "
        f"input_fidelity: {fidelity}"
    )
    return [*lines, *_price_lines(entry), ""]


def _lifecycle(entry: ModelEntry) -> str:
    profile = entry.profile
    if entry.status == "current":
        return "current"
    then = f" → {profile.successors[0]}" if profile.successors else ""
    if entry.status == "shut down":
        return f"shut down {profile.shutdown}{then}"
    return f"deprecated, shuts down {profile.shutdown}{then}"


def _sizes(profile: ModelProfile) -> str:
    fixed = ", ".join(profile.sizes)
    limits = profile.custom_sizes
    if limits is None:
        return fixed
    return (
        f"{fixed},\n                or custom: multiples of {limits.multiple}, longest edge ≤ "
        f"{limits.max_edge}, {limits.min_pixels:,}–{limits.max_pixels:,} pixels, "
        f"aspect ≤ {limits.max_ratio:g}:1"
    )


def _price_lines(entry: ModelEntry) -> list[str]:
    from .providers.estimates import HIGHER_QUALITY_FACTORS

    prices = entry.prices

    def rate(value: float | None, cached: float | None = None) -> str:
        text = "unknown" if value is None else f"${value:.2f}"
        return text if cached is None else f"{text} (cached ${cached:.2f})"

    lines = [
        f"  per 1M        text {rate(prices.text_input, prices.cached_text_input)}, "
        f"image in {rate(prices.image_input, prices.cached_image_input)}, "
        f"image out {rate(prices.output)}"
    ]
    if entry.overridden:
        lines.append(f"  overridden    {', '.join(entry.overridden)}")
    sizes = list(next(iter(entry.per_image.values()), {}))
    if not sizes:
        return lines
    lines.append("  per image     " + "".join(f"{size:>11}" for size in sizes))
    for quality, row in entry.per_image.items():
        mark = "~" if quality in entry.assumed else ""
        cells = "".join(
            f"{'unknown' if usd is None else mark + money(usd):>11}" for usd in row.values()
        )
        note = f"  (assumed: {HIGHER_QUALITY_FACTORS[quality]:g}× high)" if mark else ""
        lines.append(f"    {quality:<10}{cells}{note}")
    return lines
