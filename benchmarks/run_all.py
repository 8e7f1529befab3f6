"""Every benchmark in one command, as a table of ratios measured in the same run.

    .venv/bin/python benchmarks/run_all.py            # about 5 minutes on 2 cores
    .venv/bin/python benchmarks/run_all.py --quick    # fewer runs and assets: a smoke test

Each target of BENCHMARKS.md is a ratio of two things measured here, one right
after the other (see ``paired.py``), because a shared machine's speed drifts:

* no-op ``build``, ``plan``, ``check`` of 1,000 and 5,000 offline assets x 2
  variants against the stat floor (``stat_floor.py``: one Python process that
  ``lstat``s every file of the project);
* ``assetgen --version``, and the peak RSS of a cold 1,000-asset build;
* watch: a template save to the first API call, against a no-op build;
* variants: 50 originals 1536x1024 -> WebP 768/1536 q80 + JPEG 1024 q85, assetgen's
  pool against a plain Pillow ``ProcessPoolExecutor`` (``pillow_pool.py``), and
  Eleventy Image (sharp) as a further column when ``node`` and ``npm`` are there;
* generation against the fake Images API (1 s latency, concurrency 4), and a
  storm of 429s.

Modules are byte-compiled first and commands run with bytecode caching on, as
an installed assetgen runs.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from benchmarks.paired import Pair, environment, paired, series  # noqa: E402
from benchmarks.project import write_project  # noqa: E402

PYTHON = sys.executable


@dataclass
class Row:
    name: str
    measured: str
    target: str
    ok: bool | None

    def line(self) -> str:
        verdict = {True: "yes", False: "NO", None: "-"}[self.ok]
        return f"| {self.name} | {self.measured} | {self.target} | {verdict} |"


def assetgen() -> list[str]:
    script = Path(PYTHON).with_name("assetgen")
    return [str(script)] if script.exists() else [PYTHON, "-m", "assetgen"]


def ratio_text(pair: Pair) -> str:
    low, high = pair.spread
    times = f"{pair.a.wall * 1000:.0f} / {pair.b.wall * 1000:.0f} ms"
    return f"{pair.ratio:.2f}x ({times}; pairs {low:.2f}-{high:.2f})"


def build_project(root: Path, assets: int, size: str) -> tuple[float, float]:
    """Write and build a project cold; its wall seconds and peak MiB."""
    write_project(root, assets, size=size)
    cold = series([*assetgen(), "-C", str(root), "-q", "build"], runs=1, warmup=0)
    return cold.wall, cold.peak_mib


def noop_rows(root: Path, assets: int, runs: int, limit: float) -> tuple[list[Row], float]:
    rows, build_wall = [], 0.0
    floor = [PYTHON, str(HERE / "stat_floor.py"), str(root)]
    for command in ("build", "plan", "check"):
        pair = paired([*assetgen(), "-C", str(root), "-q", command], floor, runs=runs)
        assert pair.a.codes == {0}, f"{command} exited {pair.a.codes}"
        rows.append(Row(f"no-op {command}, {assets} assets / stat floor", ratio_text(pair),
                        f"<= {limit}x", pair.ratio <= limit))  # fmt: skip
        build_wall = pair.a.wall if command == "build" else build_wall
    return rows, build_wall


def version_row(runs: int) -> Row:
    pair = paired([*assetgen(), "--version"], [PYTHON, "-c", "pass"], runs=runs)
    ms = pair.a.wall * 1000
    return Row("`assetgen --version` (/ bare python)", f"{ms:.0f} ms ({pair.ratio:.1f}x)",
               "< 150 ms", ms < 150)  # fmt: skip


def watch_row(root: Path, noop_build: float, runs: int = 3) -> Row:
    """The median of ``runs`` watch sessions, each on a copy of the built project."""
    results = []
    for index in range(runs):
        copy = root.with_name(f"{root.name}-watch-{index}")
        shutil.copytree(root, copy, symlinks=True)
        done = subprocess.run(
            [PYTHON, str(HERE / "bench_watch.py"), str(copy)],
            capture_output=True, text=True, timeout=300, env=environment(),
        )  # fmt: skip
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
        shutil.rmtree(copy, ignore_errors=True)
    if any("error" in data for data in results):
        return Row("watch: template edit -> first API call", str(results), "<= 2x no-op", False)
    middle = sorted(results, key=lambda data: data["rebuild_to_call_s"])[len(results) // 2]
    ratio = middle["rebuild_to_call_s"] / noop_build
    text = (
        f"{ratio:.2f}x ({middle['rebuild_to_call_s'] * 1000:.0f} ms, median of {runs} / no-op "
        f"build {noop_build * 1000:.0f} ms; save to call {middle['save_to_call_s'] * 1000:.0f} ms "
        f"with the {middle['debounce_s'] * 1000:.0f} ms debounce)"
    )
    return Row("watch: template edit -> first API call / no-op build", text, "<= 2x", ratio <= 2)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def variant_rows(temp: Path, count: int, runs: int) -> list[Row]:
    src = temp / "originals"
    subprocess.run(
        [PYTHON, str(HERE / "bench_variants.py"), "--originals", str(src), "--count", str(count)],
        check=True, env=environment(),
    )  # fmt: skip
    outs = {name: temp / f"out-{name}" for name in ("assetgen", "pillow", "eleventy")}
    for out in outs.values():
        out.mkdir()
    mine = [PYTHON, str(HERE / "bench_variants.py"), "--workload", str(src), str(outs["assetgen"])]
    script = [PYTHON, str(HERE / "pillow_pool.py"), str(src), str(outs["pillow"])]
    pair = paired(mine, script, runs=runs)
    throughput = 1 / pair.ratio
    mb = {name: folder_bytes(out) / 1e6 for name, out in outs.items()}
    sizes = f"{mb['assetgen']:.2f} MB vs {mb['pillow']:.2f} MB"
    rows = [
        Row(f"variants, {count} originals: assetgen throughput / Pillow pool script",
            f"{throughput:.3f}x ({pair.a.wall:.2f} s / {pair.b.wall:.2f} s; bytes {sizes})",
            ">= 1.1x", throughput >= 1.1),
    ]  # fmt: skip
    rows.append(eleventy_row(src, outs["eleventy"], script, runs))
    return rows


def eleventy_row(src: Path, out: Path, script: list[str], runs: int) -> Row:
    name = "variants: Eleventy Image (sharp) throughput / Pillow pool script"
    folder = HERE / "eleventy"
    if shutil.which("node") is None or shutil.which("npm") is None:
        return Row(name, "skipped: node/npm not found", "(a column)", None)
    if not (folder / "node_modules/@11ty/eleventy-img").is_dir():
        installed = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if installed.returncode != 0:
            return Row(name, f"skipped: npm install failed ({installed.stderr[-80:]!r})", "", None)
    pair = paired(["node", str(folder / "render.mjs"), str(src), str(out)], script, runs=runs)
    times = f"{pair.a.wall:.2f} s / {pair.b.wall:.2f} s"
    text = f"{1 / pair.ratio:.3f}x ({times}; {folder_bytes(out) / 1e6:.2f} MB)"
    return Row(name, text, "(a column)", None)


def generate_rows(quick: bool) -> list[Row]:
    args = ["--assets", "40", "--storm-assets", "20"] if quick else []
    done = subprocess.run(
        [PYTHON, str(HERE / "bench_generate.py"), *args],
        capture_output=True, text=True, timeout=900, env=environment(),
    )  # fmt: skip
    data = json.loads(done.stdout.strip().splitlines()[-1])
    efficiency = data["efficiency"]
    storm_ok = data["storm_failed"] == 0 and data["storm_exit"] == 0 and data["storm_all_retried"]
    return [
        Row(f"generation, {data['assets']} assets, 1 s latency, concurrency 4 / ideal",
            f"{efficiency:.1%} ({data['seconds']:.1f} s / {data['ideal_seconds']:.0f} s; "
            f"{data['failed']} failed)", ">= 90%", efficiency >= 0.9 and data["failed"] == 0),
        Row(f"429 storm: {data['storm_429']} of {data['storm_requests']} answers were 429",
            f"{data['storm_failed']} failed, every 429 retried: {data['storm_all_retried']}",
            "0 failed, all retried", storm_ok),
    ]  # fmt: skip


def timed(label: str, step: Callable[[], list[Row]], rows: list[Row]) -> None:
    started = time.perf_counter()
    print(f"... {label}", file=sys.stderr, flush=True)
    rows.extend(step())
    print(f"    {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs and assets")
    args = parser.parse_args(argv)
    compileall.compile_dir(REPO / "assetgen", quiet=1)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    runs = 3 if args.quick else 7
    small, large = (200, 1000) if args.quick else (1000, 5000)
    rows: list[Row] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp_name:
        temp = Path(temp_name)
        timed("--version", lambda: [version_row(runs + 2)], rows)
        one = temp / "one"
        noop_build = [0.0]

        def first() -> list[Row]:
            wall, peak = build_project(one, small, "256x256")
            found, noop_build[0] = noop_rows(one, small, runs, 5.0)
            peak_row = Row(
                f"peak RSS, cold build of {small} assets ({wall:.0f} s)",
                f"{peak:.0f} MiB (largest single process)", "< 300 MiB", peak < 300,
            )  # fmt: skip
            return [*found, peak_row]

        timed(f"no-op, {small} assets (and its cold build)", first, rows)
        timed("watch", lambda: [watch_row(one, noop_build[0])], rows)
        shutil.rmtree(one, ignore_errors=True)
        many = temp / "many"

        def second() -> list[Row]:
            build_project(many, large, "64x64")
            return noop_rows(many, large, max(3, runs - 2), 5.5)[0]

        timed(f"no-op, {large} assets (and its cold build)", second, rows)
        shutil.rmtree(many, ignore_errors=True)
        count = 12 if args.quick else 50
        timed("variants", lambda: variant_rows(temp, count, 2 if args.quick else 3), rows)
        timed("generation", lambda: generate_rows(args.quick), rows)
    print(f"\nassetgen benchmarks, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}, "
          f"{time.perf_counter() - started:.0f} s in all\n")  # fmt: skip
    print("| benchmark | measured | target | met |\n| --- | --- | --- | --- |")
    for row in rows:
        print(row.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
