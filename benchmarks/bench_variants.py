"""Benchmark variant rendering: serial vs the process pool, and encoder settings.

    python benchmarks/bench_variants.py --assets 24 --jobs 2
    python benchmarks/bench_variants.py --encoders      # the sweep behind the defaults
    python benchmarks/bench_variants.py --originals SRC --count 50   # write originals
    python benchmarks/bench_variants.py --workload SRC OUT           # assetgen renders them
    python benchmarks/bench_variants.py --webp-methods SRC           # the workload's WebP trade

``--workload`` is assetgen's own rendering path (the build's pool and
``render_job``: one decode per original, atomic durable writes, hashes) on
the workload "WebP 768 q80, WebP 1536 q80, JPEG 1024 q85" of every PNG in
SRC; ``benchmarks/pillow_pool.py`` is the hand-written yardstick for it. Both
print the bytes they wrote.

Synthetic 1536x1024 originals (soft shapes, lines and a little grain, like a
generated illustration) are written to a temporary folder; each gets the
typical responsive set: 480/960/1536 wide x WebP + JPEG.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assetgen.spec_types import VariantSpec
from assetgen.variants import (
    VariantJob,
    VariantTarget,
    make_pool,
    render_job,
)

SIZE = (1536, 1024)
WIDTHS = (480, 960, 1536)
FORMATS = ("webp", "jpeg")


def synthetic(seed: int, *, grain: float = 0.06, alpha: bool = False) -> Image.Image:
    """A deterministic illustration-like picture."""
    rng = random.Random(seed)
    width, height = SIZE
    ramp = Image.linear_gradient("L").resize(SIZE)
    image = Image.merge(
        "RGB",
        (
            ramp,
            ramp.transpose(Image.Transpose.ROTATE_90).resize(SIZE),
            Image.new("L", SIZE, rng.randrange(256)),
        ),
    )
    draw = ImageDraw.Draw(image)
    for _ in range(60):
        x, y, r = rng.randrange(width), rng.randrange(height), rng.randrange(20, 300)
        draw.ellipse((x - r, y - r, x + r, y + r // 2), fill=_colour(rng))
    image = image.filter(ImageFilter.GaussianBlur(3))
    if grain:
        noise = Image.frombytes("RGB", SIZE, rng.randbytes(width * height * 3))
        image = Image.blend(image, noise.filter(ImageFilter.GaussianBlur(1.2)), grain)
    draw = ImageDraw.Draw(image)
    for _ in range(30):
        line = [(rng.randrange(width), rng.randrange(height)) for _ in range(2)]
        draw.line(line, fill=_colour(rng), width=rng.randrange(1, 6))
    if alpha:
        mask = Image.new("L", SIZE, 0)
        ImageDraw.Draw(mask).ellipse((150, 50, width - 150, height - 50), fill=255)
        image.putalpha(mask.filter(ImageFilter.GaussianBlur(4)))
    return image


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return rng.randrange(256), rng.randrange(256), rng.randrange(256)


def make_jobs(folder: Path, count: int) -> list[VariantJob]:
    targets = tuple(
        VariantTarget(VariantSpec(width=width, format=fmt, quality=80), f"{width}-{fmt}", "#ffffff")
        for width in WIDTHS
        for fmt in FORMATS
    )
    jobs = []
    for index in range(count):
        original = folder / "originals" / f"asset-{index}.png"
        original.parent.mkdir(parents=True, exist_ok=True)
        synthetic(index).save(original, compress_level=1)
        jobs.append(VariantJob(f"asset-{index}", original, folder / "out", targets, folder))
    return jobs


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def run_serial(jobs: Iterable[VariantJob]) -> None:
    for job in jobs:
        render_job(job)


def run_pool(jobs: list[VariantJob], workers: int) -> None:
    with make_pool(workers) as pool:
        list(pool.map(render_job, jobs))


def compare(assets: int, workers: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        jobs = make_jobs(Path(folder), assets)
        images = assets * len(WIDTHS) * len(FORMATS)
        print(f"{assets} originals {SIZE[0]}x{SIZE[1]}, {images} variants, {os.cpu_count()} cores")
        for label, run in (
            ("serial", lambda: run_serial(jobs)),
            (f"make_pool({workers})", lambda: run_pool(jobs, workers)),
        ):
            seconds = timed(run)
            print(f"{label:14s} {seconds:7.2f} s  {images / seconds:6.1f} images/s")


ENCODERS: list[tuple[str, str, dict[str, object]]] = [
    *[(f"png level {n}", "PNG", {"compress_level": n}) for n in (1, 4, 6, 9)],
    ("jpeg q80 baseline", "JPEG", {"quality": 80}),
    (
        "jpeg q80 progressive+optimize",
        "JPEG",
        {"quality": 80, "progressive": True, "optimize": True},
    ),
    *[(f"webp q80 method {m}", "WEBP", {"quality": 80, "method": m}) for m in (0, 2, 4, 6)],
    *[
        (
            f"webp lossless method {m} effort {q}",
            "WEBP",
            {"lossless": True, "method": m, "quality": q},
        )
        for m, q in ((2, 50), (4, 50), (4, 80), (6, 50))
    ],
    *[
        (f"avif q80 speed {s}", "AVIF", {"quality": 80, "speed": s, "max_threads": 1})
        for s in (6, 8)
    ],
]


def sweep(kind: str, repeat: int) -> None:
    """Encode the 480/960/1536 set with each setting: best-of time and total size."""
    original = synthetic(0, grain=0.06 if kind == "grain" else 0.0, alpha=kind == "flat")
    scaled = [original.resize((w, w * 2 // 3), Image.Resampling.LANCZOS) for w in WIDTHS]
    for label, fmt, options in ENCODERS:
        results = [_encode(image, fmt, options, repeat) for image in scaled]
        total_time = sum(seconds for seconds, _ in results)
        total_bytes = sum(size for _, size in results)
        print(f"{kind:5s} {label:36s} {total_time * 1000:8.0f} ms {total_bytes / 1024:8.0f} KiB")


def _encode(
    image: Image.Image, fmt: str, options: dict[str, object], repeat: int
) -> tuple[float, int]:
    image = image.convert("RGB") if fmt == "JPEG" else image
    best, size = float("inf"), 0
    for _ in range(repeat):
        buffer = io.BytesIO()
        best = min(best, timed(lambda: image.save(buffer, fmt, **options)))  # noqa: B023
        size = buffer.tell()
    return best, size


WORKLOAD = ((768, "webp", 80), (1536, "webp", 80), (1024, "jpeg", 85))


def write_originals(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        synthetic(index).save(folder / f"original-{index:03d}.png", compress_level=1)


def workload(src: Path, out: Path, workers: int) -> int:
    """Render the workload with assetgen's pool; the bytes written."""
    targets = tuple(
        VariantTarget(
            VariantSpec(width=width, format=fmt, quality=quality, filename="{name}-{width}.{ext}"),
            f"{width}-{fmt}",
            "#ffffff",
        )
        for width, fmt, quality in WORKLOAD
    )
    jobs = [VariantJob(path.stem, path, out, targets, out) for path in sorted(src.glob("*.png"))]
    with make_pool(workers) as pool:
        results = list(pool.map(render_job, jobs))
    return sum(v.bytes for result in results for v in result.variants)


def psnr(reference: Image.Image, other: Image.Image) -> float:
    """Peak signal-to-noise ratio of ``other`` against ``reference`` (RGB), in dB."""
    rms = ImageStat.Stat(ImageChops.difference(reference, other.convert("RGB"))).rms
    mse = sum(channel * channel for channel in rms) / len(rms)
    return 10 * math.log10(255 * 255 / mse) if mse else float("inf")


def webp_methods(src: Path, count: int = 8, repeat: int = 2) -> None:
    """The workload's WebP targets at methods 4, 3 and 2: time, bytes and PSNR per original."""
    originals = []
    for path in sorted(src.glob("*.png"))[:count]:
        with Image.open(path) as opened:
            originals.append(opened.convert("RGB"))
    for method in (4, 3, 2):
        for width in (1536, 768):
            seconds, size, quality = 0.0, 0, 0.0
            for original in originals:
                height = round(original.height * width / original.width)
                image = original.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
                buffer = io.BytesIO()
                for _ in range(repeat):
                    buffer = io.BytesIO()
                    start = time.perf_counter()
                    image.save(buffer, "WEBP", quality=80, method=method)
                    seconds = seconds + (time.perf_counter() - start) / repeat
                size += buffer.tell()
                quality += psnr(image, Image.open(io.BytesIO(buffer.getvalue())))
            n = len(originals)
            print(
                f"webp q80 method {method} {width:5d} wide: {seconds / n * 1000:6.1f} ms "
                f"{size / n / 1000:6.1f} kB  PSNR {quality / n:.2f} dB"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--originals", type=Path, metavar="SRC", help="write --count originals")
    parser.add_argument("--count", type=int, default=50)
    parser.add_argument("--workload", type=Path, nargs=2, metavar=("SRC", "OUT"))
    parser.add_argument("--assets", type=int, default=24, help="originals to render")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="pool size")
    parser.add_argument("--encoders", action="store_true", help="sweep encoder settings")
    parser.add_argument("--repeat", type=int, default=3, help="sweep: best of N encodes")
    parser.add_argument("--webp-methods", type=Path, metavar="SRC", help="WebP methods on SRC")
    args = parser.parse_args(argv)
    if args.originals:
        write_originals(args.originals, args.count)
    elif args.workload:
        print(workload(*args.workload, args.jobs))
    elif args.webp_methods:
        webp_methods(args.webp_methods)
    elif args.encoders:
        for kind in ("grain", "flat"):
            sweep(kind, args.repeat)
    else:
        compare(args.assets, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
