"""The ``assetgen`` command: argparse, printing and exit codes.

The only module that prints or exits. ``main(argv)`` returns the exit code so
tests call it directly. Heavy libraries are imported inside the commands, so
``assetgen --version`` stays fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .budget import money
from .errors import AssetgenError, UsageError

if TYPE_CHECKING:
    from .plan import Plan
    from .project import Project
    from .providers.base import Provider

EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="assetgen",
        description="Build a site's image assets from assetgen.toml, like a compiler builds code.",
    )
    root.add_argument("--version", action="version", version=f"assetgen {__version__}")
    root.add_argument("-C", dest="directory", metavar="DIR", help="run as if started in DIR")
    root.add_argument(
        "-c", dest="spec", metavar="FILE", help="spec file (default: ./assetgen.toml or a parent's)"
    )
    root.add_argument("-q", "--quiet", action="store_true", help="only failures and warnings")
    root.add_argument("-v", "--verbose", action="store_true", help="a line for every step")
    commands = root.add_subparsers(dest="command", metavar="COMMAND", required=True)

    init = commands.add_parser("init", help="create a starter assetgen.toml here")
    init.add_argument("--force", action="store_true", help="overwrite an existing spec")

    plan = commands.add_parser("plan", help="show what a build would do, why, and what it costs")
    plan.add_argument("--json", action="store_true", help="one JSON object on stdout")
    plan.add_argument("--provider", help="override [provider] name")
    plan.add_argument(
        "--graph", nargs="?", const="tree", choices=("tree", "dot"),
        help="print the dependency tree (or Graphviz DOT with --graph=dot)",
    )  # fmt: skip

    build = commands.add_parser("build", help="generate, reuse and render what changed")
    build.add_argument("names", nargs="*", metavar="NAME", help="only these assets (globs allowed)")
    build.add_argument("--json", action="store_true", help="summary as JSON on stdout")
    build.add_argument("--provider", help="override [provider] name (e.g. offline)")
    build.add_argument("--jobs", type=int, metavar="N", help="variant rendering processes")
    build.add_argument(
        "--locked", action="store_true", help="CI: never generate; exit 3 if anything is stale"
    )
    build.add_argument(
        "--frozen", action="store_true", help="with --locked: write nothing, not even variants"
    )
    build.add_argument("--max-cost", type=float, metavar="USD", help="budget for this build")
    build.add_argument("--yes", action="store_true", help="don't ask before a costly build")
    build.add_argument(
        "--refresh", action="append", default=[], metavar="NAME",
        help="generate NAME anew although its key is known (repeatable, globs allowed)",
    )  # fmt: skip

    build.add_argument(
        "--rerender",
        action="store_true",
        help="re-encode every variant (e.g. after a Pillow upgrade)",
    )

    check = commands.add_parser("check", help="like build --locked --frozen: verify, write nothing")
    check.add_argument("names", nargs="*", metavar="NAME")

    pick = commands.add_parser("pick", help="select another candidate of an asset (no API call)")
    pick.add_argument("name")
    pick.add_argument("index", type=int, help="candidate number, from 0 (see the lock or gallery)")

    gc = commands.add_parser("gc", help="remove store and cache objects no lock entry uses")
    gc.add_argument("--yes", action="store_true", help="delete (default: only list)")

    show = commands.add_parser("show", help="one asset's prompt, parameters, key and lock entry")
    show.add_argument("name")
    show.add_argument("--json", action="store_true")

    gallery = commands.add_parser("gallery", help="write a static HTML review page of every asset")
    gallery.add_argument(
        "-o", "--output", metavar="FILE", help="default .assetgen/gallery/index.html"
    )
    gallery.add_argument(
        "--draft", action="store_true", help="show the draft (watch --draft) build"
    )

    watch = commands.add_parser(
        "watch", help="rebuild on every save of the spec, templates or inputs"
    )
    watch.add_argument("--provider", help="override [provider] name")
    watch.add_argument(
        "--draft", action="store_true", help="cheap previews kept out of lock and store"
    )
    watch.add_argument("--serve", action="store_true", help="serve the gallery on 127.0.0.1")
    watch.add_argument("--port", type=int, default=8421, help="port for --serve (default 8421)")

    models = commands.add_parser(
        "models", help="known image models: status, sizes, qualities, prices per image"
    )
    models.add_argument("names", nargs="*", metavar="MODEL", help="only these models")
    models.add_argument("--json", action="store_true", help="one JSON object on stdout")
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.directory:
            change_directory(args.directory)
        return COMMANDS[args.command](args)
    except AssetgenError as exc:
        print(f"error: {exc}" if "\n" not in str(exc) else f"error:\n{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: every asset finished so far is kept", file=sys.stderr)
        return EXIT_INTERRUPTED


def change_directory(directory: str) -> None:
    try:
        os.chdir(directory)
    except OSError as exc:
        raise UsageError(f"-C {directory}: {exc.strerror}") from exc


def spec_path(args: argparse.Namespace) -> Path:
    from .spec import find_spec

    if args.spec:
        path = Path(args.spec)
        if not path.is_file():
            raise UsageError(f"spec file not found: {args.spec}")
        return path
    found = find_spec(Path.cwd())
    if found is None:
        raise UsageError(
            "no assetgen.toml here or in any parent folder",
            hint="run `assetgen init` to create one",
        )
    return found


def open_from_args(args: argparse.Namespace) -> Project:
    from .project import open_project

    return open_project(spec_path(args), provider=getattr(args, "provider", None))


# -- init -----------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import write_starter

    written = write_starter(Path.cwd(), force=args.force)
    for path in written:
        print(f"created {path}")
    print("next: `assetgen plan`, then `assetgen build`")
    return 0


# -- plan -----------------------------------------------------------------------


def make_provider(project: Project, emit: Any) -> Provider:
    from .errors import SpecError
    from .providers import create_provider

    try:
        return create_provider(project.spec.provider, emit=emit)
    except SpecError as exc:  # [provider] problems found by the provider: name the spec
        exc.file = exc.file or project.spec.display_path
        raise


def compute_plan(
    project: Project, provider: Provider, refresh: list[str] | None = None, rerender: bool = False
) -> Plan:
    from .project import to_request

    return project.plan(
        estimate=lambda asset: provider.estimate_cost(to_request(asset, "")),
        refresh=refresh,
        rerender=rerender,
    )


def cmd_plan(args: argparse.Namespace) -> int:
    from .console import Progress, graph_lines, plan_lines

    project = open_from_args(args)
    provider = make_provider(project, Progress(quiet=args.quiet))
    plan = compute_plan(project, provider)
    if args.graph:
        lines = graph_lines(plan, args.graph)
    elif args.json:
        lines = [json.dumps(plan.to_json(), indent=2)]
    else:
        offline = project.spec.provider.name == "offline"
        lines = plan_lines(plan, verbose=args.verbose, offline=offline)
    print("\n".join(lines))
    return 0


# -- build ----------------------------------------------------------------------


def cmd_build(args: argparse.Namespace) -> int:
    from .build import BuildOptions
    from .console import Progress
    from .plan import select

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.frozen and not args.locked:
        raise UsageError("--frozen goes with --locked")
    if args.locked:
        return verify_locked(args, write=not args.frozen)
    progress = Progress(quiet=args.quiet or args.json, verbose=args.verbose)
    project = open_from_args(args)
    provider = make_provider(project, progress)
    plan = compute_plan(project, provider, refresh=args.refresh, rerender=args.rerender)
    if args.names:
        plan = select(plan, args.names)
    budget = args.max_cost if args.max_cost is not None else project.spec.build.max_cost
    approve_cost(plan, budget, project.spec.build.confirm_above, yes=args.yes)
    options = BuildOptions(jobs=args.jobs, max_cost=budget)
    report = run_build(project, plan, provider, progress, options)
    return finish_build(report, as_json=args.json)


def run_build(
    project: Project, plan: Plan, provider: Provider | None, progress: Any, options: Any = None
) -> Any:
    """Run a plan inside one event loop (the provider's client lives in it)."""
    from .build import build
    from .events import Event

    progress(Event("plan", data={"total": sum(1 for s in plan.steps if s.action != "fresh")}))

    async def run() -> Any:
        try:
            used = provider if plan.api_calls else None
            return await build(project, plan, used, emit=progress, options=options)
        finally:
            if provider is not None:
                await provider.aclose()

    try:
        return asyncio.run(run())
    finally:
        progress.close()


def finish_build(report: Any, *, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        cost = f", {money(report.cost_usd)} spent" if report.cost_usd else ""
        print(f"{report.summary()}{cost} in {report.seconds:.1f}s")
    for outcome in report.failed:
        print(f"{outcome.status}: {outcome.error}", file=sys.stderr)
    return 1 if report.failed else 0


def approve_cost(plan: Plan, budget: float | None, confirm_above: float, *, yes: bool) -> None:
    """Refuse a plan over budget; without one, ask (terminal) or refuse (CI) above a threshold."""
    from .budget import check_cost
    from .errors import BudgetError

    check = check_cost(plan, budget, confirm_above, yes=yes)
    if check.verdict == "refuse" or (check.verdict == "ask" and not sys.stdin.isatty()):
        raise BudgetError(check.message, hint=check.hint)
    if check.verdict == "ask":
        answer = input(f"{check.message}. Go ahead? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise BudgetError("stopped: nothing was generated")


# -- check / --locked -----------------------------------------------------------------


def verify_locked(args: argparse.Namespace, *, write: bool) -> int:
    """``build --locked`` and ``check``: never call a provider; exit 3 on drift."""
    from .console import Progress
    from .errors import OutOfDateError
    from .manifest import manifest_current
    from .plan import Plan, select
    from .verify import missing_outputs, verify

    project = open_from_args(args)
    project.frozen = not write
    plan = project.plan()
    if args.names:
        plan = select(plan, args.names)
    verdict = verify(plan)
    problems = list(verdict.out_of_date)
    if not write:
        problems += missing_outputs(verdict.rerender)
        if not manifest_current(project.spec, project.lock()):
            problems.append(f"manifest out of date: {project.spec.build.manifest}")
    lockfile = project.spec.build.lockfile
    if problems:
        raise OutOfDateError(problems, file=lockfile)
    if write:
        if verdict.rerender:
            names = ", ".join(step.name for step in verdict.rerender)
            print(f"re-rendering missing variants locally (no API call): {names}", file=sys.stderr)
        progress = Progress(quiet=True)
        report = run_build(project, Plan(steps=verdict.rerender), None, progress)
        if report.failed:
            return finish_build(report, as_json=False)
    print(f"{len(plan.steps)} assets up to date with {lockfile}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    return verify_locked(args, write=False)


# -- pick and gc ----------------------------------------------------------------------


def cmd_pick(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .console import Progress
    from .plan import select

    project = open_from_args(args)
    entry = project.lock().assets.get(args.name)
    if entry is None:
        raise UsageError(f"{args.name!r} is not in the lock", hint="build it first")
    count = len(entry.candidates)
    if not 0 <= args.index < count:
        raise UsageError(f"{args.name} has {count} candidate(s): pick 0 to {count - 1}")
    stale = [
        s for s in select(project.plan(), [args.name]).steps if s.action in ("generate", "reuse")
    ]
    if stale:
        raise UsageError(
            f"{stale[0].name} is out of date ({stale[0].reason}); pick needs a current asset",
            hint=f"run `assetgen build {args.name}` first",
        )
    with project.exclusive():
        project.locks.record(args.name, replace(entry, selected=args.index))
        project.locks.close()
        plan = select(project.plan(), [args.name])
        report = run_build(project, plan, None, Progress(quiet=args.quiet))
    print(f"{args.name}: candidate {args.index} selected ({entry.candidates[args.index].path})")
    return finish_build(report, as_json=False) if report.failed else 0


def cmd_gc(args: argparse.Namespace) -> int:
    from .gc import find_garbage

    project = open_from_args(args)
    garbage = find_garbage(project)
    size = f"{garbage.bytes / 1e6:.1f} MB"
    if not garbage.paths:
        print("nothing to remove: every stored object is referenced by the lock")
        return 0
    for path in garbage.paths:
        print(path.relative_to(project.root).as_posix())
    if args.yes:
        garbage.delete()
        print(f"removed {len(garbage.paths)} files, {size} freed")
    else:
        print(f"would remove {len(garbage.paths)} files, {size} (dry run: --yes deletes)")
    return 0


# -- show -----------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    project = open_from_args(args)
    info = project.describe(args.name)
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    for field in ("name", "operation", "model", "key", "locked", "action", "reason", "prompt"):
        print(f"{field + ':':<11}{info[field]}")
    print(f"{'params:':<11}{json.dumps(info['params'], sort_keys=True)}")
    for item in info["inputs"]:
        digest = f" sha256:{item['sha256'][:12]}…" if item["sha256"] else ""
        print(f"{'input:':<11}{item['role']} {item['path']}{digest}")
    lock = info["lock"]
    if lock is not None:
        print(f"{'original:':<11}{lock['original']['path']}")
        for variant in lock["variants"]:
            print(f"{'variant:':<11}{variant['path']} ({variant['width']}x{variant['height']})")
    return 0


# -- gallery and watch ---------------------------------------------------------------


def cmd_gallery(args: argparse.Namespace) -> int:
    from .gallery import write_gallery
    from .project import open_project

    project = open_project(spec_path(args), draft=args.draft)
    page = write_gallery(project, Path(args.output) if args.output else None)
    print(page)
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from .console import Progress
    from .watch import WatchOptions, watch

    options = WatchOptions(
        provider=args.provider, draft=args.draft, serve=args.serve, port=args.port
    )
    progress = Progress(quiet=True, verbose=args.verbose)
    return watch(spec_path(args), options, emit=progress, echo=partial(print, flush=True))


# -- models -----------------------------------------------------------------------------


def cmd_models(args: argparse.Namespace) -> int:
    """The model table; inside a project, with its ``[provider.prices]`` applied."""
    from .console import models_lines
    from .models_report import models_report
    from .spec import find_spec, load_spec

    path = Path(args.spec) if args.spec else find_spec(Path.cwd())
    report = models_report(load_spec(path) if path else None, names=args.names)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print("\n".join(models_lines(report)))
    return 0


COMMANDS = {
    "init": cmd_init,
    "plan": cmd_plan,
    "build": cmd_build,
    "show": cmd_show,
    "check": cmd_check,
    "pick": cmd_pick,
    "gc": cmd_gc,
    "gallery": cmd_gallery,
    "watch": cmd_watch,
    "models": cmd_models,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
