"""assetgen: build a site's image assets from a declarative spec.

The library API is a build session (the CLI and watch mode are shells over it)::

    from assetgen import Session

    with Session.open("site/assetgen.toml") as session:
        plan = session.plan()                      # every local check, all problems at once
        session.approve(plan, ask=lambda q: False)  # a BudgetError rather than spend unasked
        report = session.build(plan)
    print(report.summary())

Names are imported on first use, so ``import assetgen`` (and ``assetgen
--version``) stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "AssetgenError": "assetgen.errors",
    "SpecError": "assetgen.errors",
    "ProviderError": "assetgen.errors",
    "load_spec": "assetgen.spec",
    "Spec": "assetgen.spec_types",
    "Session": "assetgen.session",
    "CheckResult": "assetgen.session",
    "open_project": "assetgen.project",
    "Project": "assetgen.project",
    "Plan": "assetgen.plan",
    "build": "assetgen.build",
    "BuildOptions": "assetgen.build",
    "BuildReport": "assetgen.report",
    "create_provider": "assetgen.providers",
    "Event": "assetgen.events",
    "main": "assetgen.cli",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assetgen' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
