"""The floor a no-op build is measured against: one Python process that stats every file.

    python benchmarks/stat_floor.py DIR

Walks the project (``.git`` left out) and ``lstat``s every file: the least
work any tool must do to answer "did anything change?" without a daemon. It
starts the same interpreter as ``assetgen``, so the ratio measures assetgen's
own work, not Python's start-up.
"""

from __future__ import annotations

import os
import sys


def stat_all(root: str) -> int:
    count = 0
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in files:
            os.lstat(os.path.join(top, name))
            count += 1
    return count


if __name__ == "__main__":
    print(stat_all(sys.argv[1] if len(sys.argv) > 1 else "."))
