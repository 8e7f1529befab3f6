"""The yardstick for variants: a plain Pillow script with a process pool.

    python benchmarks/pillow_pool.py SRC OUT [--jobs N]

What a developer would write by hand for the workload "every PNG in SRC ->
WebP 768 q80, WebP 1536 q80, JPEG 1024 q85": one task per original (decoded
once), Lanczos resizes, Pillow's default encoder settings, plain ``save()``
(no temp file, no fsync, no hash), a ``ProcessPoolExecutor`` of one process
per core. It prints the bytes written.
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

TARGETS = ((768, "WEBP", 80, "webp"), (1536, "WEBP", 80, "webp"), (1024, "JPEG", 85, "jpg"))


def render(source: Path, out: Path) -> int:
    written = 0
    with Image.open(source) as original:
        image = original.convert("RGB")
    for width, fmt, quality, ext in TARGETS:
        height = round(image.height * width / image.width)
        resized = image.resize((width, height), Image.Resampling.LANCZOS)
        path = out / f"{source.stem}-{width}.{ext}"
        resized.save(path, fmt, quality=quality)
        written += path.stat().st_size
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    sources = sorted(args.src.glob("*.png"))
    with ProcessPoolExecutor(args.jobs) as pool:
        total = sum(pool.map(render, sources, [args.out] * len(sources)))
    print(total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
