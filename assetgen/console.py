"""Turning events and results into terminal lines (part of the CLI layer).

On a terminal, progress is a live block on stderr, redrawn in place every
second: one line per running generation or render with its elapsed time and
an overall bar, with permanent lines above it for what matters (generations
and their cost, failures, warnings). Off a terminal (CI logs), every event is
a plain line, and a request still running says so every
:data:`HEARTBEAT_SECONDS` (``hero: waiting for the API, 90 s``).

Failures with the same cause (five assets against an unreachable host) are
printed in full once; the others say "same error as ..."; a retry with a
cause already shown for another asset is left out unless verbose.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .budget import money
from .events import BatchEvent, Event, GeneratedEvent, PlanEvent, StartEvent
from .wording import without_asset

if TYPE_CHECKING:
    from .models_report import ModelEntry, ModelsReport
    from .plan import Plan
    from .providers.openai.models import ModelProfile

BAR_WIDTH = 30
MAX_LIVE_LINES = 8
COLUMNS = 100
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
REDRAW_SECONDS = 1.0
"""A terminal's live block is redrawn this often, so elapsed times move."""
HEARTBEAT_SECONDS = 30.0
"""Off a terminal, a line this often per asset still running."""
BATCH_LINE_SECONDS = 60.0
"""Off a terminal, a running batch's counts at most this often (a change of state at once)."""
WAITING = {
    "generate": "waiting for the API",
    "reuse": "still restoring",
    "render": "still rendering",
}
ATTEMPT = re.compile(r"; attempt \d+ of \d+ in [\d.]+ s$")

SYMBOLS = {
    "generated": "$",
    "done": "✓",
    "failed": "✗",
    "removed": "-",
    "warning": "!",
    "retry": "↻",
    "skipped": "·",
}


def elapsed(seconds: float) -> str:
    """``42 s``, ``3m05s``."""
    whole = int(seconds)
    return f"{whole} s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"


class Progress:
    """Renders build events; quiet mode keeps only failures and warnings.

    A background thread redraws the terminal block (or, off a terminal, writes
    the heartbeat lines) until :meth:`close`; ``ticking=False`` leaves that to
    the caller's :meth:`tick` (tests), ``clock`` replaces ``time.monotonic``.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        quiet: bool = False,
        verbose: bool = False,
        clock: Callable[[], float] = time.monotonic,
        ticking: bool = True,
    ):
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() and not quiet
        self.quiet = quiet
        self.verbose = verbose
        self.clock = clock
        self.total = 0
        self.finished = 0
        self.running: dict[str, str] = {}
        self.started: dict[str, float] = {}
        self.beats: dict[str, int] = {}
        self.costs: dict[str, float] = {}
        self.causes: dict[str, str] = {}
        """A failure's cause → the first asset that failed with it."""
        self.retried: dict[str, str] = {}
        """A retry's cause → the first asset retried for it."""
        self.batches: dict[str, dict[str, Any]] = {}
        """Batch id → its last state (``batch`` events), with when it was first and last told."""
        self.batched: set[str] = set()
        """Assets waiting in a batch: its line speaks for them."""
        self._drawn = 0
        self.ticks = 0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._ticking = ticking and (self.live or not quiet)

    def __call__(self, event: Event) -> None:
        handler = getattr(self, f"on_{event.kind}", None)
        if handler is not None:
            with self._lock:
                handler(event)

    def on_plan(self, event: Event) -> None:
        """A build starts (watch mode: each rebuild); failures group within one build."""
        self.total = event.total if isinstance(event, PlanEvent) else 0
        self.finished = 0
        self.causes.clear()
        self.retried.clear()
        if self._ticking and self._ticker is None and self.total:
            self._ticker = threading.Thread(target=self._run_ticker, name="assetgen-progress")
            self._ticker.daemon = True
            self._ticker.start()

    def _run_ticker(self) -> None:
        interval = REDRAW_SECONDS if self.live else min(REDRAW_SECONDS, HEARTBEAT_SECONDS)
        while not self._stop.wait(interval):
            self.tick()

    def tick(self) -> None:
        """Redraw the live block, or write the heartbeat of requests still running."""
        with self._lock:
            if self.live:
                self.status()
                return
            if self.quiet:
                return
            now = self.clock()
            for name, action in list(self.running.items()):
                if name in self.batched:
                    continue
                spent = now - self.started.get(name, now)
                due = int(spent // HEARTBEAT_SECONDS)
                if due > self.beats.get(name, 0):
                    self.beats[name] = due
                    what = WAITING.get(action, f"still running ({action})")
                    self.line(f"  {name}: {what}, {elapsed(spent)}")

    def on_start(self, event: Event) -> None:
        name = event.asset or ""
        self.running[name] = event.message
        self.started[name] = self.clock()
        if self.verbose and not self.live:
            reason = event.reason if isinstance(event, StartEvent) else ""
            self.line(f"  {event.message:<8} {event.asset}  ({reason})")
        self.status()

    def forget(self, name: str) -> None:
        self.running.pop(name, None)
        self.started.pop(name, None)
        self.beats.pop(name, None)

    def on_done(self, event: Event) -> None:
        name = event.asset or ""
        self.forget(name)
        self.finished += 1
        cost = self.costs.pop(name, 0.0)
        if event.message == "generated" and not self.quiet:
            priced = f"  ${cost:.4f}" if cost else ""
            self.line(f"{SYMBOLS['generated']} generated {name}{priced}")
        elif self.verbose or (not self.live and not self.quiet):
            self.line(f"{SYMBOLS['done']} {event.message:<9} {name}")
        self.status()

    def on_generated(self, event: Event) -> None:
        cost = event.cost_usd if isinstance(event, GeneratedEvent) else 0.0
        self.costs[event.asset or ""] = cost

    def on_failed(self, event: Event) -> None:
        name = event.asset or ""
        self.forget(name)
        self.finished += 1
        cause = without_asset(event.message, name) if name else event.message
        first = self.causes.setdefault(cause, name)
        if first != name:
            self.line(f"{SYMBOLS['failed']} failed    {name}: same error as {first}")
        else:
            self.line(f"{SYMBOLS['failed']} failed    {f'{name}: ' if name else ''}{cause}")

    def on_skipped(self, event: Event) -> None:
        self.forget(event.asset or "")
        self.finished += 1
        self.line(f"{SYMBOLS['skipped']} skipped   {event.asset}: {event.message}")

    def on_pending(self, event: Event) -> None:
        """The batch's line already said it: only the count moves."""
        self.forget(event.asset or "")
        self.finished += 1
        self.status()

    def on_batch(self, event: Event) -> None:
        """A batch's state: in the live block; off a terminal at each change or once a minute."""
        if not isinstance(event, BatchEvent):
            return
        data = event.counts()
        now = self.clock()
        known = self.batches.get(str(data.get("id")))
        self.batches[str(data.get("id"))] = {
            **data,
            "since": known["since"] if known else now,
            "told": known["told"] if known else None,
        }
        self.batched.update(data.get("assets", ()))
        if self.live:
            self.status()
            return
        state = self.batches[str(data.get("id"))]
        changed = known is None or known.get("status") != data.get("status")
        if not self.quiet and (changed or now - (state["told"] or now) >= BATCH_LINE_SECONDS):
            state["told"] = now
            self.line(f"  {batch_text(state)}, {elapsed(now - state['since'])}")

    def on_removed(self, event: Event) -> None:
        if not self.quiet:
            self.line(f"{SYMBOLS['removed']} removed   {event.asset}")

    def on_warning(self, event: Event) -> None:
        self.line(f"warning: {event.message}")

    def on_note(self, event: Event) -> None:
        if not self.quiet:
            self.line(f"note: {event.message}")

    def on_retry(self, event: Event) -> None:
        name = event.asset or ""
        first = self.retried.setdefault(ATTEMPT.sub("", event.message), name)
        if self.quiet or (first != name and not self.verbose):
            return
        self.line(f"{SYMBOLS['retry']} retry     {name}: {event.message}")

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
        now = self.clock()
        spinner = SPINNER[self.ticks % len(SPINNER)]
        running = [(n, a) for n, a in self.running.items() if n not in self.batched]
        lines = [
            f"  {batch_text(state)}  {elapsed(now - state['since'])} {spinner}"
            for state in self.batches.values()
        ]
        lines += [
            f"  {action:<8} {name}  {elapsed(now - self.started.get(name, now))} {spinner}"
            for name, action in running[:MAX_LIVE_LINES]
        ]
        if len(running) > MAX_LIVE_LINES:
            lines.append(f"  … and {len(running) - MAX_LIVE_LINES} more")
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
        """Stop the ticker and erase the live block."""
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join()
        with self._lock:
            self.clear_status()


def batch_text(state: dict[str, Any]) -> str:
    """``batch batch_abc: in_progress 37/100 (2 failed)``."""
    total, failed = state.get("total") or 0, state.get("failed") or 0
    counts = f" {state.get('completed', 0)}/{total}" if total else ""
    failures = f" ({failed} failed)" if failed else ""
    return f"batch {state.get('id')}: {state.get('status')}{counts}{failures}"


def batch_status_lines(batches: list[dict[str, Any]]) -> list[str]:
    """``batch status``: a line per recorded batch."""
    if not batches:
        return ["no batch is recorded: nothing waits"]
    lines = []
    for entry in batches:
        if entry.get("id") is None:
            state = (
                f"submission {entry['submission']}: being submitted (the next build finishes it)"
            )
        elif entry.get("error"):
            state = f"batch {entry['id']}: {entry['error']}"
        else:
            state = batch_text(entry)
        count = len(entry["assets"])
        lines.append(f"{state} · {count} asset{'s' if count != 1 else ''}, {entry['model']}")
    return lines


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


def plan_lines(
    plan: Plan, *, verbose: bool, offline: bool = False, routes: dict[str, str] | None = None
) -> list[str]:
    """``plan``: a line per asset that changes, then a count of the fresh ones and a total.

    ``routes`` marks the generations that go through the Batch API (``batch``,
    ``in batch ID``): their estimate is the batch price.
    """
    routes = routes or {}
    lines = []
    fresh = 0
    for step in plan.steps:
        if step.action == "fresh" and not verbose:
            fresh += 1
            continue
        priced = step.action == "generate" and step.estimated_cost != 0
        cost = f"  ~{money(step.estimated_cost)}" if priced else ""
        route = f"  [{routes[step.name]}]" if step.name in routes else ""
        lines.append(f"{step.action:<9} {step.name:<28} {step.reason}{cost}{route}")
    for removal in plan.removals:
        lines.append(f"{'remove':<9} {removal.name:<28} no longer in the spec")
    lines.extend(f"note: {note}" for note in plan.notes)
    if fresh:
        lines.append(f"{'fresh':<9} {fresh} asset{'s' if fresh != 1 else ''} up to date")
    calls = plan.api_calls
    if offline:
        lines.append(f"{calls} generation{'s' if calls != 1 else ''} by the offline provider, free")
    else:
        cost = money(plan.estimated_cost)
        batched = f" ({len(routes)} by batch, at half price)" if routes else ""
        lines.append(f"{calls} API call{'s' if calls != 1 else ''}{batched}, estimated cost {cost}")
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
    from .providers.openai.estimates import HIGHER_QUALITY_FACTORS

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
