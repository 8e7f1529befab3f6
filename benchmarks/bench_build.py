"""Build-level timings: a cold build, a no-op build, and lock durability strategies.

    python benchmarks/bench_build.py --assets 200

Creates a throwaway project of N offline assets (a matrix), then measures:

* a cold build (generate + render every variant),
* a no-op build right after (must read no image: stat cache),
* the lock's durability: one journal line per finished asset versus
  rewriting the whole lock per asset (what the journal avoids).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
from pathlib import Path

from assetgen.cli import main
from assetgen.keyrecords import KeyRecord, LockOriginal
from assetgen.lockfile import LockEntry, Lockfile, LockStore, LockVariant

SPEC = """\
[build]
out_dir = "public/img"
[provider]
name = "offline"
[defaults]
size = "{size}"
[[asset]]
name = "tile-{{{{ n }}}}"
prompt = "tile number {{{{ n }}}}"
matrix = {{ n = {numbers} }}
variants = [{{ width = 128, format = "webp" }}, {{ width = 64, format = "png" }}]
"""


def timed(label: str, argv: list[str]) -> float:
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    seconds = time.perf_counter() - started
    print(f"{label:<34} {seconds:8.2f} s   (exit {code})")
    return seconds


def entry(index: int) -> LockEntry:
    digest = f"{index:064x}"
    generation = KeyRecord(
        key=f"sha256:{digest}",
        provider="offline",
        model="gpt-image-1-mini",
        candidates=(
            LockOriginal(f"assets/generated/{digest[:2]}/{digest}.png", digest, 1024, 1024),
        ),
        usage=None,
        cost_usd=0.005,
        generated_at="2026-11-25T12:00:00Z",
    )
    return LockEntry(
        generation=generation,
        prompt=f"tile number {index} " * 8,
        params={"size": "1024x1024", "quality": "low", "background": "auto"},
        inputs=(),
        variants=tuple(
            LockVariant(
                f"public/img/tile-{index}-{w}w.webp", f"sha256:{digest}", digest, w, w, 9000, "webp"
            )
            for w in (480, 960, 1536)
        ),
    )


def lock_strategies(count: int, folder: Path) -> None:
    entries = [entry(i) for i in range(count)]
    store = LockStore(folder / "rewrite.lock", folder / "unused.jsonl")
    lock = Lockfile()
    started = time.perf_counter()
    for i, item in enumerate(entries):
        lock.assets[f"tile-{i}"] = item
        store.write(lock)
    rewrite = time.perf_counter() - started
    journal = LockStore(folder / "journal.lock", folder / "journal.jsonl")
    lock = Lockfile()
    started = time.perf_counter()
    for i, item in enumerate(entries):
        lock.assets[f"tile-{i}"] = item
        journal.record(f"tile-{i}", item)
    journal.write(lock)
    journaled = time.perf_counter() - started
    print(f"lock, rewrite per asset ({count})      {rewrite:8.2f} s")
    print(f"lock, journal per asset + 1 fold      {journaled:8.2f} s")


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=100)
    parser.add_argument("--size", default="512x512", help="original size (offline provider)")
    parser.add_argument("--lock-entries", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        numbers = list(range(args.assets))
        (root / "assetgen.toml").write_text(SPEC.format(size=args.size, numbers=numbers))
        print(f"{args.assets} assets of {args.size}, 2 variants each")
        timed("cold build", ["-C", temp, "-q", "build"])
        timed("no-op build", ["-C", temp, "-q", "build"])
        timed("no-op check (--locked --frozen)", ["-C", temp, "check"])
        lock_strategies(args.lock_entries, root)


if __name__ == "__main__":
    main_bench()
