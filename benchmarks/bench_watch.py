"""Watch mode: from a template save to the first API call, in a built project.

    python benchmarks/bench_watch.py DIR      # DIR: a project from benchmarks/project.py, built

Starts ``assetgen watch`` in this process, waits for its first (no-op) build,
then edits ``prompts/_style.j2`` (included by the template of half the
assets) and records when the rebuild starts (the change handed over, after
the debounce) and when the first generation starts (the API call; offline
here). Prints one JSON object of seconds and exits without waiting for the
generations: the project is left mid-build (its journal is folded by the
next build).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

from assetgen.events import Event
from assetgen.watch import Watcher, WatchOptions

EDIT = "{{ 'even' if n % 2 == 0 else 'odd' }} rows, edited"


def main(argv: list[str] | None = None) -> int:
    root = Path((argv or sys.argv[1:])[0]).resolve()
    style = root / "prompts/_style.j2"
    marks: dict[str, float] = {}
    ready = threading.Event()

    def echo(line: str) -> None:
        if line.startswith("watching "):
            ready.set()

    def emit(event: Event) -> None:
        if event.kind == "start" and event.message == "generate" and "call" not in marks:
            marks["call"] = time.perf_counter()
            finish(root, style, marks)

    rebuild = Watcher.rebuild

    async def timed_rebuild(self: Watcher, changed: set[Path]) -> None:
        if changed and "rebuild" not in marks:
            marks["rebuild"] = time.perf_counter()
        await rebuild(self, changed)

    Watcher.rebuild = timed_rebuild  # type: ignore[method-assign]
    watcher = Watcher(root / "assetgen.toml", WatchOptions(), emit, echo)
    import asyncio

    threading.Thread(target=lambda: asyncio.run(watcher.run()), daemon=True).start()
    if not ready.wait(120):
        print(json.dumps({"error": "watch did not start"}))
        return 1
    time.sleep(0.5)  # let the watcher settle on its folders
    marks["save"] = time.perf_counter()
    style.write_text(style.read_text().replace("rows", EDIT, 1))
    time.sleep(120)
    print(json.dumps({"error": "no generation within 120 s"}))
    return 1


def finish(root: Path, style: Path, marks: dict[str, float]) -> None:
    result = {
        "save_to_call_s": marks["call"] - marks["save"],
        "rebuild_to_call_s": marks["call"] - marks.get("rebuild", marks["save"]),
        "debounce_s": WatchOptions().debounce_ms / 1000,
    }
    print(json.dumps(result), flush=True)
    os._exit(0)  # the generations in flight are not what is measured


if __name__ == "__main__":
    sys.exit(main())
