"""Time whole commands in pairs: A, B, A, B, ... and the ratio A/B pair by pair.

A shared or throttled machine drifts in speed during a run; a ratio of two
commands run one right after the other drifts far less than either time, so
every target is stated as a ratio measured in the same run. Each sample is a
whole process: wall time (monotonic clock around start and reaping), CPU time
and peak RSS from ``wait4`` (the largest single process among the command
and the children it waited for, not their sum).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    wall: float
    cpu: float
    peak_mib: float
    code: int


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def cpu(self) -> float:
        return statistics.median(s.cpu for s in self.samples)

    @property
    def peak_mib(self) -> float:
        return max(s.peak_mib for s in self.samples)

    @property
    def codes(self) -> set[int]:
        return {s.code for s in self.samples}


@dataclass
class Pair:
    a: Series
    b: Series
    ratios: list[float]

    @property
    def ratio(self) -> float:
        """Median of the pairwise wall-time ratios A/B."""
        return statistics.median(self.ratios)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.ratios), max(self.ratios)


def environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment commands run in: bytecode caching on, as users have it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, **(extra or {})}


def sample(command: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str]) -> Sample:
    started = time.perf_counter()
    process = subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return Sample(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode)


def series(
    command: Sequence[str], *, runs: int, warmup: int = 1, cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Series:  # fmt: skip
    env = environment(env)
    for _ in range(warmup):
        sample(command, cwd=cwd, env=env)
    return Series([sample(command, cwd=cwd, env=env) for _ in range(runs)])


def paired(
    a: Sequence[str], b: Sequence[str], *, runs: int, warmup: int = 1,
    cwd: Path | None = None, env: Mapping[str, str] | None = None,
) -> Pair:  # fmt: skip
    """Run ``a`` and ``b`` in turn ``runs`` times (after ``warmup`` turns not counted)."""
    env = environment(env)
    for _ in range(warmup):
        sample(a, cwd=cwd, env=env)
        sample(b, cwd=cwd, env=env)
    first, second, ratios = Series(), Series(), []
    for _ in range(runs):
        one, two = sample(a, cwd=cwd, env=env), sample(b, cwd=cwd, env=env)
        first.samples.append(one)
        second.samples.append(two)
        ratios.append(one.wall / two.wall)
    return Pair(first, second, ratios)
