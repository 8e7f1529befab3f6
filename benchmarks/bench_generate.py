"""Generation throughput against the fake Images API, and a storm of 429s.

    python benchmarks/bench_generate.py [--assets 200] [--latency 1.0] [--storm-assets 40]

The fake (``tests/fakeapi.py``, a real HTTP server on 127.0.0.1) answers every
request after ``--latency`` seconds. ``assetgen build`` runs as a process with
``concurrency = 4``: the ideal is ``concurrency / latency`` images a second,
and the efficiency printed is the ideal time over the measured one. Then a
storm: the next 16 requests are all answered 429 (``retry-after: 0.5``) while
40 assets build with ``max_retries = 6``; every asset must succeed and every
429 must have been retried (one more request each). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.fakeapi import FakeImagesAPI, Reply  # noqa: E402

CONCURRENCY = 4
STORM = 16
SPEC = """\
[build]
out_dir = "public/img"
[provider]
name = "openai"
model = "gpt-image-1-mini"
base_url = "{base_url}"
concurrency = {concurrency}
max_retries = {retries}
[defaults]
size = "1024x1024"
quality = "low"
[[asset]]
name = "gen-{{{{ n }}}}"
prompt = "a picture, number {{{{ n }}}}"
matrix = {{ n = {numbers} }}
"""


def build(root: Path, fake: FakeImagesAPI, count: int, retries: int) -> tuple[float, int, str]:
    root.mkdir(parents=True, exist_ok=True)
    spec = SPEC.format(
        base_url=fake.base_url, concurrency=CONCURRENCY, retries=retries, numbers=list(range(count))
    )
    (root / "assetgen.toml").write_text(spec)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["OPENAI_API_KEY"] = "sk-test"
    command = [sys.executable, "-m", "assetgen", "-C", str(root), "-q", "build", "--yes", "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - started, done.returncode, done.stdout


def failed(stdout: str) -> int:
    try:
        return int(json.loads(stdout).get("failed", -1))
    except (ValueError, AttributeError):
        return -1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--storm-assets", type=int, default=40)
    args = parser.parse_args(argv)
    fake = FakeImagesAPI(latency=args.latency).start()
    result: dict[str, object] = {}
    try:
        with tempfile.TemporaryDirectory() as temp:
            seconds, code, out = build(Path(temp) / "run", fake, args.assets, retries=2)
            ideal = args.assets * args.latency / CONCURRENCY
            result.update(
                assets=args.assets, seconds=seconds, ideal_seconds=ideal,
                efficiency=ideal / seconds, exit=code, failed=failed(out),
                max_concurrent=fake.max_concurrent,
            )  # fmt: skip
            fake.reset()
            fake.script(*[Reply.rate_limited(retry_after=0.5) for _ in range(STORM)])
            seconds, code, out = build(Path(temp) / "storm", fake, args.storm_assets, retries=6)
            throttled = sum(1 for r in fake.requests if r.status == 429)
            result.update(
                storm_assets=args.storm_assets, storm_seconds=seconds, storm_exit=code,
                storm_failed=failed(out), storm_429=throttled,
                storm_requests=len(fake.requests),
                storm_all_retried=len(fake.requests) == args.storm_assets + throttled,
            )  # fmt: skip
    finally:
        fake.stop()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
