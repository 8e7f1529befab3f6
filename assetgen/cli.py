"""The ``assetgen`` command: argparse, printing and exit codes.

The only module that prints or exits. ``main(argv)`` returns the exit code so
tests call it directly. Heavy libraries are imported inside the commands, so
``assetgen --version`` stays fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .budget import money
from .errors import AssetgenError, ResultPending, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .plan import Plan
    from .project import Project
    from .report import BuildReport
    from .session import CheckResult, Session
    from .shards import Shard

EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="assetgen",
        description="Build a site's image assets from assetgen.toml, like a compiler builds code.",
    )
    root.add_argument("--version", action="version", version=f"assetgen {__version__}")
    add_global_options(root)
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
    add_batch_options(plan)
    add_remote_options(plan)

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
    add_batch_options(build)
    build.add_argument(
        "--no-wait", action="store_true",
        help="leave batches running (exit 75); the next build or `batch wait` collects them",
    )  # fmt: skip
    add_remote_options(build)
    build.add_argument(
        "--pull", action="store_true",
        help="with --locked: first download from [cache] remote the originals the store lacks",
    )  # fmt: skip
    build.add_argument(
        "--shard", metavar="K/N",
        help="CI: build only shard K of N (assets stay with their @inputs); needs [cache] remote",
    )  # fmt: skip

    cache = commands.add_parser("cache", help="the lock's originals and the remote cache")
    cache.add_argument("action", choices=("status", "push", "pull"))
    cache.add_argument("--json", action="store_true", help="one JSON object on stdout")

    batch = commands.add_parser("batch", help="the Batch API batches this project waits for")
    batch.add_argument("action", choices=("status", "wait", "cancel"))
    batch.add_argument("--json", action="store_true", help="JSON on stdout (status, wait)")

    check = commands.add_parser("check", help="like build --locked --frozen: verify, write nothing")
    check.add_argument("names", nargs="*", metavar="NAME", help="only these assets (globs allowed)")
    check.add_argument("--json", action="store_true", help="every asset and its drift as JSON")

    verify = commands.add_parser(
        "verify", help="check every output's C2PA provenance; exit 3 on a problem"
    )
    verify.add_argument(
        "names", nargs="*", metavar="NAME", help="only these assets (globs allowed)"
    )
    verify.add_argument("--json", action="store_true", help="every asset and variant as JSON")

    pick = commands.add_parser("pick", help="select another candidate of an asset (no API call)")
    pick.add_argument("name")
    pick.add_argument("index", type=int, help="candidate number, from 0 (see the lock or gallery)")

    gc = commands.add_parser("gc", help="remove store and cache objects no lock entry uses")
    gc.add_argument("--yes", action="store_true", help="delete (default: only list)")

    show = commands.add_parser("show", help="assets' prompt, parameters, key and lock entry")
    show.add_argument("names", nargs="+", metavar="NAME", help="assets to show (globs allowed)")
    show.add_argument(
        "--json", action="store_true", help="JSON (a list for several names or a glob)"
    )

    gallery = commands.add_parser("gallery", help="write a static HTML review page of every asset")
    gallery.add_argument(
        "-o", "--output", metavar="FILE", help="default .assetgen/gallery/index.html"
    )
    gallery.add_argument(
        "--draft", action="store_true", help="show the draft (watch --draft) build"
    )
    gallery.add_argument(
        "--self-contained", action="store_true",
        help="embed thumbnails: one file that works when moved or attached to a pull request",
    )  # fmt: skip

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
    # Global options work after the command too (`assetgen build 'icon-*' -v`).
    for command in commands.choices.values():
        add_global_options(command, defaults=False)
    return root


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--require-remote", action="store_true",
        help="fail (instead of warning) when [cache] remote cannot be reached",
    )  # fmt: skip


def attach_remote(
    project: Project, progress: Any, args: argparse.Namespace, *, fetches: bool = True
) -> None:
    """Give the project its remote cache tier, when ``[cache] remote`` names one."""
    if project.spec.cache.remote is None:
        return  # no remote: no thread pool to import
    from .cache_tiers import open_remote
    from .events import Event

    def warn(message: str) -> None:
        progress(Event("warning", message))

    require = getattr(args, "require_remote", False)
    project.remote = open_remote(project.store, project.spec.cache, warn=warn, require=require)
    if project.remote is not None:
        project.remote.fetches = fetches


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch", action="store_true",
        help="generations through the Batch API: half price, results within 24 h",
    )  # fmt: skip
    parser.add_argument(
        "--no-batch", action="store_true",
        help="new generations direct (results already in a batch are still awaited)",
    )  # fmt: skip


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool = True) -> None:
    """-C, -c, -q, -v; a subcommand's copies leave out their defaults (``SUPPRESS``)
    so a value given before the subcommand is not reset by the subparser."""
    unset: dict[str, Any] = {} if defaults else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "-C", dest="directory", metavar="DIR", help="run as if started in DIR", **unset
    )
    parser.add_argument(
        "-c", dest="spec", metavar="FILE", **unset,
        help="spec file (default: ./assetgen.toml or a parent's)",
    )  # fmt: skip
    store_true: dict[str, Any] = {"action": "store_true", **unset}
    parser.add_argument("-q", "--quiet", help="only failures and warnings", **store_true)
    parser.add_argument("-v", "--verbose", help="a line for every step", **store_true)


EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE, as a shell reports a command whose reader closed the pipe."""


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        check_directory(args)
        return COMMANDS[args.command](args)
    except AssetgenError as exc:
        report_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: every asset finished so far is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `assetgen models | head`: the reader left, that's all
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def report_error(exc: AssetgenError) -> None:
    from .secrets import Redactor

    text = Redactor.for_environment().redact(str(exc))
    print(f"error: {text}" if "\n" not in text else f"error:\n{text}", file=sys.stderr)


def check_directory(args: argparse.Namespace) -> None:
    """``-C DIR`` must be a folder: every path of the command is taken relative to it."""
    if args.directory and not Path(args.directory).is_dir():
        raise UsageError(f"-C {args.directory}: no such folder")


def working_dir(args: argparse.Namespace) -> Path:
    """The folder given by ``-C`` (the process's own working directory is never changed)."""
    return Path(args.directory or ".")


def spec_path(args: argparse.Namespace) -> Path:
    from .spec import find_spec

    if args.spec:
        path: Path = working_dir(args) / str(args.spec)
        if not path.is_file():
            raise UsageError(f"spec file not found: {args.spec}")
        return path
    found = find_spec(working_dir(args).resolve())
    if found is None:
        raise UsageError(
            "no assetgen.toml here or in any parent folder",
            hint="run `assetgen init` to create one",
        )
    return found


def open_from_args(args: argparse.Namespace) -> Project:
    from .project import open_project

    return open_project(spec_path(args), provider=getattr(args, "provider", None))


def ask(question: str) -> bool | None:
    """A yes/no question on the terminal (default no); ``None`` where nobody can answer."""
    if not sys.stdin.isatty():
        return None
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")


def terminal_ask() -> Callable[[str], bool] | None:
    """:func:`ask` where a terminal can answer, else ``None`` (CI: refuse, never hang)."""
    return (lambda question: bool(ask(question))) if sys.stdin.isatty() else None


# -- init -----------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from .scaffold import write_starter
    from .spec_types import DEFAULT_STATE_DIR

    notes = {
        ("appended to", ".gitignore"): f" (added {DEFAULT_STATE_DIR}/)",
        ("kept", ".gitignore"): f" (already ignores {DEFAULT_STATE_DIR}/)",
        ("kept", "prompts/hero.j2"): " (yours, unchanged: the starter spec uses it)",
    }
    for what, path in write_starter(working_dir(args), force=args.force):
        print(f"{what} {path}{notes.get((what, path), '')}")
    print("next: `assetgen plan`, then `assetgen build`")
    return 0


# -- plan -----------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    from .batch_options import batch_options
    from .console import Progress, graph_lines, plan_lines
    from .session import Session

    progress = Progress(quiet=args.quiet)
    project = open_from_args(args)
    attach_remote(project, progress, args, fetches=False)
    options = batch_options(project.spec.provider, batch=args.batch, no_batch=args.no_batch)
    session = Session(project, emit=progress, batching=options)
    plan = session.plan()  # every local check: exit 2, no key needed
    routes = session.batch_routes(plan)
    if args.graph:
        lines = graph_lines(plan, args.graph)
    elif args.json:
        lines = [json.dumps({**plan.to_json(), "batch": routes}, indent=2)]
    else:
        offline = project.spec.provider.name == "offline"
        lines = plan_lines(plan, verbose=args.verbose, offline=offline, routes=routes)
        lines += remote_lines(plan)
    print("\n".join(lines))
    return 0


def remote_lines(plan: Plan) -> list[str]:
    """What the remote cache saves this build (``plan``)."""
    count = len(plan.remote_reuses)
    if not count:
        return []
    saves = plan.remote_saves
    worth = f", saving ~${saves:.4f}" if saves else ""
    return [f"{count} asset(s) from the remote cache (no API call){worth}"]


# -- build ----------------------------------------------------------------------


def cmd_build(args: argparse.Namespace) -> int:
    from .batch_options import batch_options
    from .build import BuildOptions
    from .console import Progress
    from .session import Session
    from .shards import parse_shard

    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    if args.frozen and not args.locked:
        raise UsageError("--frozen goes with --locked")
    if args.pull and not args.locked:
        raise UsageError("--pull goes with --locked (a plain build fetches what it needs)")
    shard = parse_shard(args.shard) if args.shard is not None else None
    if shard is not None and args.locked:
        raise UsageError("--shard builds generations; --locked never generates")
    if args.locked:
        return verify_locked(args, write=not args.frozen)
    progress = Progress(quiet=args.quiet or args.json, verbose=args.verbose)
    project = open_from_args(args)
    if shard is not None and project.spec.cache.remote is None:
        raise UsageError("--shard: shards publish to [cache] remote; set one", hint=SHARD_HINT)
    attach_remote(project, progress, args)
    batching = batch_options(
        project.spec.provider, batch=args.batch, no_batch=args.no_batch, no_wait=args.no_wait
    )
    if batching.mode == "ask" and sys.stdin.isatty():
        batching = replace(batching, confirm_direct=confirm_direct)
    session = Session(project, emit=progress, batching=batching)
    plan = build_plan(session, args, shard)
    if declined_batch(session, plan):
        session.use_batching(replace(batching, mode="never"))
        plan = build_plan(session, args, shard)
    budget = session.budget(args.max_cost)
    session.approve(plan, budget=budget, yes=args.yes, ask=terminal_ask())
    try:
        report = session.build(plan, BuildOptions(jobs=args.jobs, max_cost=budget))
        if session.provider_used is not None:
            from .batching import batches_json

            report.batches = batches_json(session.provider_used)
    finally:
        progress.close()
    return finish_build(report, as_json=args.json)


SHARD_HINT = 'add `[cache]` with `remote = "s3://bucket/prefix"` (or a shared `file://` folder)'


def build_plan(session: Session, args: argparse.Namespace, shard: Shard | None) -> Plan:
    """The build's plan: the named assets (and their inputs), only shard K's with ``--shard``."""
    refresh = args.refresh or ()
    return session.plan(args.names, refresh=refresh, rerender=args.rerender, shard=shard)


def declined_batch(session: Session, plan: Plan) -> bool:
    """``batch = "ask"`` on a terminal: whether the user wants the generations direct."""
    batching = session.batching
    if batching is None or batching.mode != "ask" or not sys.stdin.isatty():
        return False
    from .batching import plan_routes

    routes = plan_routes(session.provider, plan).values()
    count = sum(1 for route in routes if route == "batch")
    if not count:
        return False
    question = (
        f"{count} generation{'s' if count != 1 else ''} can go through the Batch API at half "
        f"price ({money(plan.estimated_cost)} in all), with results within 24 hours, usually "
        "sooner. Use it? [Y/n] "
    )
    return input(question).strip().lower() in ("n", "no")


def confirm_direct(count: int) -> bool:
    """This base URL has no Batch API: whether to send the generations direct."""
    question = f"send the {count} generation{'s' if count != 1 else ''} direct, at the full price?"
    return bool(ask(question))


def finish_build(report: BuildReport, *, as_json: bool) -> int:
    """The summary, after what to check if the service could not be reached at all.

    Each failure was printed as it happened (grouped by cause); the end names
    the failed assets once, so nothing is said twice.
    """
    from .wording import unreachable_advice, unreachable_host

    hosts = dict.fromkeys(h for cause in report.causes() if (h := unreachable_host(cause)))
    for host in hosts:
        print(f"error: {unreachable_advice(host)}", file=sys.stderr, flush=True)
    if as_json:
        print(json.dumps(report.to_json(), indent=2), flush=True)
    else:
        cost = f", {money(report.cost_usd)} spent" if report.cost_usd else ""
        print(f"{report.summary()}{cost} in {report.seconds:.1f}s", flush=True)
    for status in ("failed", "skipped", "pending"):
        names = sorted(o.name for o in report.outcomes if o.status == status)
        if names:
            print(f"{status}: {', '.join(names)}", file=sys.stderr)
    if report.failed:
        return 1
    if report.count("pending"):
        print(
            "waiting in a batch, paid for once: the next `assetgen build` or "
            "`assetgen batch wait` collects the results",
            file=sys.stderr,
        )
        return ResultPending.exit_code
    return 0


# -- batch ---------------------------------------------------------------------------------


def cmd_batch(args: argparse.Namespace) -> int:
    """``batch status|wait|cancel``: the batches recorded under ``.assetgen/batches/``."""
    import asyncio

    from .batching import cancel, statuses
    from .console import Progress, batch_status_lines
    from .session import Session

    project = open_from_args(args)
    if args.action == "wait":
        return batch_wait(project, args)
    session = Session(project, emit=Progress(quiet=True))
    provider = session.direct
    if provider.name != "openai":
        raise UsageError(f"the {provider.name} provider has no Batch API")

    async def run() -> Any:
        try:
            if args.action == "cancel":
                return await cancel(provider, project)
            return await statuses(provider, project)
        finally:
            await session.aclose()

    if args.action == "cancel":
        with project.exclusive():
            lines = asyncio.run(run())
        print("\n".join(lines) or "no batch is recorded: nothing to cancel")
        return 0
    found = asyncio.run(run())
    print(json.dumps(found, indent=2) if args.json else "\n".join(batch_status_lines(found)))
    return 0


def batch_wait(project: Project, args: argparse.Namespace) -> int:
    """Collect the results of recorded batches for the spec's assets; submit nothing new."""
    from .batch_options import batch_options
    from .batching import batches_json, plan_routes
    from .console import Progress
    from .plan import select
    from .session import Session

    progress = Progress(quiet=args.quiet or args.json, verbose=args.verbose)
    options = replace(batch_options(project.spec.provider), submit=False)
    session = Session(project, emit=progress, batching=options)
    plan = session.plan()
    waiting = sorted(plan_routes(session.provider, plan))
    if not waiting:
        session.close()
        progress.close()
        print("no asset of this spec waits in a batch")
        return 0
    try:
        report = session.build(select(plan, waiting))
        if session.provider_used is not None:
            from .batching import batches_json

            report.batches = batches_json(session.provider_used)
    finally:
        progress.close()
    return finish_build(report, as_json=args.json)


# -- check / --locked -----------------------------------------------------------------


def verify_locked(args: argparse.Namespace, *, write: bool) -> int:
    """``build --locked`` and ``check``: never call a provider; exit 3 on drift."""
    from .console import Progress
    from .errors import OutOfDateError
    from .session import Session

    project = open_from_args(args)
    progress = Progress(quiet=True)
    pull = getattr(args, "pull", False)
    if pull:
        pulled = run_cache(project, "pull", args)
        if pulled.missing:
            print(f"not in {pulled.remote}: {', '.join(pulled.missing)}", file=sys.stderr)
    session = Session(project, emit=progress)
    result = session.check(args.names, write=write)
    if pull and write and result.problems:
        attach_remote(project, progress, args)
        result = assemble_from_remote(session, args) or result
    lockfile = project.spec.build.lockfile
    fix = fix_hint(project, args.names)
    if getattr(args, "json", False):
        print(
            json.dumps(drift_json(result.plan, result.problems, result.repairable, fix), indent=2)
        )
    if result.problems:
        report_error(OutOfDateError(result.problems, file=lockfile))
        print(f"to fix: {fix}", file=sys.stderr)
        return OutOfDateError.exit_code
    if result.repairable:
        names = ", ".join(sorted(result.repairable))
        print(f"re-rendering missing variants locally (no API call): {names}", file=sys.stderr)
        report = session.repair(result)
        if report.failed:
            return finish_build(report, as_json=False)
    if not getattr(args, "json", False):
        print(f"{len(result.plan.steps)} assets up to date with {lockfile}")
    return 0


def assemble_from_remote(session: Session, args: argparse.Namespace) -> CheckResult | None:
    """After ``build --shard`` jobs: the lock from what they published, or None (nothing done)."""
    report = session.assemble(args.names)
    if report is None:
        return None
    if report.failed:
        return None
    print(f"assembled from the remote cache (no API call): {report.summary()}", file=sys.stderr)
    return session.check(args.names, write=True)


def fix_hint(project: Project, names: list[str]) -> str:
    """The commands that bring a drifted project back in line with its lock."""
    import shlex

    build = project.spec.build
    committed = [build.lockfile, f"{build.store_dir}/", f"{build.out_dir}/"]
    if build.manifest:
        committed.append(build.manifest)
    command = shlex.join(["assetgen", "build", *names])
    return (
        f"run `{command}` (`assetgen plan` shows what it generates and costs), "
        f"then commit {', '.join(committed[:-1])} and {committed[-1]}"
    )


def drift_json(plan: Plan, problems: list[str], repairable: set[str], fix: str) -> dict[str, Any]:
    """``check --json``: every asset with the plan's reason (as in ``build --json``)."""
    stale = {line.split(":", 1)[0] for line in problems}
    assets = [
        {
            "name": step.name,
            "action": step.action,
            **step.reason.to_json(),
            "up_to_date": step.action == "fresh" or step.name in repairable,
        }
        for step in sorted(plan.steps, key=lambda step: step.name)
    ]
    return {
        "up_to_date": not problems,
        "out_of_date": sorted(stale & {step.name for step in plan.steps}),
        "removed": sorted(removal.name for removal in plan.removals),
        "problems": problems,
        "assets": assets,
        "fix": fix if problems else None,
    }


def run_cache(project: Project, action: str, args: argparse.Namespace) -> Any:
    """One ``cache`` action against ``[cache] remote`` (which must be set and reachable)."""
    from . import cache_commands
    from .cache_tiers import open_remote
    from .console import Progress
    from .events import Event

    progress = Progress(quiet=args.quiet)
    remote = open_remote(
        project.store,
        project.spec.cache,
        warn=lambda message: progress(Event("warning", message)),
        require=True,
    )
    if remote is None:
        raise UsageError(
            "no remote cache is configured", file=project.spec.display_path,
            field="cache.remote", hint='set [cache] remote = "s3://bucket/prefix" (or file://…)',
        )  # fmt: skip
    return getattr(cache_commands, action)(project, remote)


CACHE_WORDS = {
    "status": ("complete on the remote", "missing from the remote"),
    "push": ("on the remote", "not pushed (no intact local copy)"),
    "pull": ("fetched", "not on the remote"),
}


def cmd_cache(args: argparse.Namespace) -> int:
    """``cache status|push|pull``; exit 1 when ``pull`` cannot get everything the lock needs."""
    project = open_from_args(args)
    report = run_cache(project, args.action, args)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        done, lacking = CACHE_WORDS[args.action]
        kept = f", {len(report.present)} already in the store" if args.action == "pull" else ""
        print(f"{report.remote}: {len(report.complete)} {done}{kept}")
        for name in report.missing:
            print(f"  {lacking}: {name}")
    return 1 if args.action == "pull" and report.missing else 0


def cmd_check(args: argparse.Namespace) -> int:
    return verify_locked(args, write=False)


def cmd_verify(args: argparse.Namespace) -> int:
    """Read every output's C2PA manifest; exit 3 when one is missing, broken or foreign."""
    from .errors import ProvenanceError
    from .provenance_verify import report_lines, verify_provenance

    project = open_from_args(args)
    report = verify_provenance(project, args.names)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, ensure_ascii=False))
    else:
        print("\n".join(report_lines(report, verbose=args.verbose)))
    if report.problems:
        report_error(ProvenanceError(report.problems, file=project.spec.display_path))
        return ProvenanceError.exit_code
    return 0


# -- pick and gc ----------------------------------------------------------------------


def cmd_pick(args: argparse.Namespace) -> int:
    from .console import Progress
    from .session import Session

    progress = Progress(quiet=args.quiet)
    session = Session(open_from_args(args), emit=progress)
    try:
        report = session.pick(args.name, args.index)
    finally:
        progress.close()
    entry = session.project.lock().assets[args.name]
    print(f"{args.name}: candidate {args.index} selected ({entry.candidates[args.index].path})")
    return finish_build(report, as_json=False) if report.failed else 0


def cmd_gc(args: argparse.Namespace) -> int:
    from .gc import find_garbage
    from .project import LOCK_WAIT_SECONDS

    project = open_from_args(args)
    with project.exclusive(wait=LOCK_WAIT_SECONDS, purpose="gc", clean=False):
        garbage = find_garbage(project)
        if args.verbose:
            for path in garbage.foreign:
                print(f"{relative(path, project.root)}: not assetgen's, left alone")
        if not garbage.paths:
            print("nothing to remove: every stored object is referenced by the lock")
            return 0
        for path in garbage.paths:
            note = "  (temp file of a killed assetgen)" if path in garbage.temps else ""
            print(f"{relative(path, project.root)}{note}")
        size = f"{garbage.bytes / 1e6:.1f} MB"
        if args.yes:
            removed = garbage.delete()
            print(f"removed {len(removed)} files, {size} freed")
        else:
            print(f"would remove {len(garbage.paths)} files, {size} (dry run: --yes deletes)")
    return 0


def relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


# -- show -----------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    project = open_from_args(args)
    plan = project.plan()
    infos = [project.describe(name, plan) for name in show_names(plan, args.names)]
    one = len(args.names) == 1 and not has_glob(args.names[0])
    if args.json:
        print(json.dumps(infos[0] if one else infos, indent=2, ensure_ascii=False))
        return 0
    print("\n\n".join("\n".join(aligned(show_fields(info))) for info in infos))
    return 0


def has_glob(pattern: str) -> bool:
    return any(char in pattern for char in "*?[")


def show_names(plan: Plan, patterns: list[str]) -> list[str]:
    """The assets ``show`` describes, in spec order; a plain unknown name is left to
    ``describe`` (its message says "no asset named")."""
    from .plan import matching

    names = [step.name for step in plan.steps]
    globs = [p for p in patterns if has_glob(p)]
    chosen = matching(names, globs, option="") if globs else set()
    plain = [p for p in patterns if not has_glob(p)]
    return [*dict.fromkeys([*plain, *(n for n in names if n in chosen)])]


def aligned(fields: list[tuple[str, str]], width: int = 11) -> list[str]:
    """``label:`` padded to ``width`` (one more for an indented sub-block)."""
    return [
        f"{label + ':':<{max(width + label.startswith(' '), len(label) + 2)}}{text}"
        for label, text in fields
    ]


def show_fields(info: dict[str, Any]) -> list[tuple[str, str]]:
    """``show``'s lines: what the spec asks for, then the lock (labelled as the lock's
    when it holds an older generation)."""
    from .wording import params_text, yes_no

    lock = info["lock"]
    current = bool(info["locked"])
    key = info["key"] or "(known once its @inputs are generated)"
    if current:
        locked = yes_no(True)
    elif lock is None:
        locked = "no (not built yet)"
    else:
        locked = "no: out of date (the lock holds the previous generation, below)"
    fields = [
        ("name", info["name"]), ("operation", info["operation"]), ("model", info["model"]),
        ("key", key), ("locked", locked), ("action", info["action"]),
        ("reason", info["reason"]), ("prompt", info["prompt"]),
        ("params", params_text(info["params"])),
    ]  # fmt: skip
    for item in info["inputs"]:
        digest = f" sha256:{item['sha256'][:12]}…" if item["sha256"] else ""
        fields.append(("input", f"{item['role']} {item['path']}{digest}"))
    if lock is not None:
        if not current:
            fields.append(("lock", "the previous generation (the next build replaces it)"))
        fields += lock_fields(info, lock, prefix="" if current else "  ")
    return fields


def lock_fields(info: dict[str, Any], lock: dict[str, Any], prefix: str) -> list[tuple[str, str]]:
    from .wording import params_text

    fields = []
    if prefix:
        fields.append((f"{prefix}key", lock["key"]))
        if lock.get("prompt") != info["prompt"]:
            fields.append((f"{prefix}prompt", lock.get("prompt", "")))
        if lock.get("params") != info["params"]:
            fields.append((f"{prefix}params", params_text(lock.get("params") or {})))
    fields.append((f"{prefix}original", lock["original"]["path"]))
    if "candidates" in lock:
        last = len(lock["candidates"]) - 1
        pick = f"`assetgen pick {info['name']} N` picks another" if not prefix else "as built"
        fields.append((f"{prefix}selected", f"{lock['selected']} (candidates 0 to {last}; {pick})"))
    for variant in lock["variants"]:
        size = f"{variant['width']}x{variant['height']}"
        fields.append((f"{prefix}variant", f"{variant['path']} ({size})"))
    return fields


# -- gallery and watch ---------------------------------------------------------------


def cmd_gallery(args: argparse.Namespace) -> int:
    from .gallery import write_gallery
    from .project import open_project

    project = open_project(spec_path(args), draft=args.draft)
    output = working_dir(args) / args.output if args.output else None  # -C: relative to DIR
    page = write_gallery(project, output, self_contained=args.self_contained)
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

    path = working_dir(args) / args.spec if args.spec else find_spec(working_dir(args).resolve())
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
    "batch": cmd_batch,
    "show": cmd_show,
    "check": cmd_check,
    "verify": cmd_verify,
    "pick": cmd_pick,
    "gc": cmd_gc,
    "cache": cmd_cache,
    "gallery": cmd_gallery,
    "watch": cmd_watch,
    "models": cmd_models,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
