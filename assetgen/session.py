"""One build session of a project: what the CLI, watch mode and Python callers share.

A :class:`Session` owns the provider's lifecycle (made on first use, wrapped
for the Batch API as the options say, closed once), plans with the provider's
estimates, runs every local check before any cost question (``preflight``),
asks that question through a callback, builds, and verifies (``check``,
``build --locked``) and picks candidates. Printing stays with the caller: a
session reports through events (``emit``) and return values only.

Example, from a build script or a static site generator plugin::

    from assetgen import Session

    with Session.open("site/assetgen.toml", emit=print) as session:
        plan = session.plan()
        session.approve(plan, ask=lambda question: False)  # never spend unasked
        report = session.build(plan)
    print(report.summary())

The CLI and watch mode are shells over it: each command opens a session,
prints what it returns and turns errors into exit codes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .budget import check_cost
from .errors import BudgetError, SpecError, UsageError
from .events import Emit, Event, PlanEvent, ignore
from .plan import Plan, select
from .project import Project, open_project, to_request

if TYPE_CHECKING:
    from types import TracebackType

    from .batch_options import BatchOptions
    from .build import BuildOptions
    from .providers.base import Provider
    from .report import BuildReport
    from .shards import Shard
    from .verify import Verdict

Ask = Callable[[str], bool]
"""A yes/no question to the user; ``None`` where nobody can answer (CI, watch)."""


def find_spec_path(start: Path | str = ".") -> Path:
    """``start`` itself when it is a file, else the nearest ``assetgen.toml`` at or above it."""
    from .spec import find_spec

    path = Path(start)
    if path.is_file():
        return path
    if not path.is_dir():
        raise UsageError(f"spec file or folder not found: {start}")
    found = find_spec(path.resolve())
    if found is None:
        raise UsageError(
            f"no assetgen.toml in {start} or any parent folder",
            hint="run `assetgen init` to create one",
        )
    return found


@dataclass
class CheckResult:
    """What ``check`` (and ``build --locked``) found."""

    plan: Plan
    verdict: Verdict
    problems: list[str]
    """One line per drift; empty when the project is up to date."""
    write: bool = False
    """Whether missing variants may be re-rendered (then they are not problems)."""

    @property
    def repairable(self) -> set[str]:
        """Assets whose only drift is missing variant files, when writing is allowed."""
        if not self.write:
            return set()
        return {step.name for step in self.verdict.rerender}


@dataclass
class Session:
    """A project with its provider, from the first plan to the last build."""

    project: Project
    emit: Emit = ignore
    batching: BatchOptions | None = None
    """How generations use the Batch API; ``None``: as ``[provider] batch`` says."""
    _direct: Provider | None = field(default=None, init=False, repr=False)
    _provider: Provider | None = field(default=None, init=False, repr=False)
    provider_used: Provider | None = field(default=None, init=False, repr=False)
    """The provider the last build went through (its batches, for ``build --json``)."""

    @classmethod
    def open(
        cls,
        path: Path | str = ".",
        *,
        provider: str | None = None,
        draft: bool = False,
        emit: Emit = ignore,
        batching: BatchOptions | None = None,
        require_remote: bool = False,
    ) -> Session:
        """The session of the spec at ``path`` (a spec file, or a folder searched upward).

        A ``[cache] remote`` is attached as the CLI does: when it cannot be reached,
        a warning event and local builds, or an error with ``require_remote``.
        """
        project = open_project(find_spec_path(path), provider=provider, draft=draft)
        if project.spec.cache.remote is None:
            return cls(project, emit=emit, batching=batching)
        from .cache_tiers import open_remote

        def warn(message: str) -> None:
            emit(Event("warning", message))

        project.remote = open_remote(
            project.store, project.spec.cache, warn=warn, require=require_remote
        )
        return cls(project, emit=emit, batching=batching)

    # -- the provider ---------------------------------------------------------------

    @property
    def direct(self) -> Provider:
        """The project's provider itself, made on first use (no network until a request)."""
        if self._direct is None:
            from .providers import create_provider

            try:
                self._direct = create_provider(self.project.spec.provider, emit=self.emit)
            except SpecError as exc:  # the provider checks [provider] values of its own
                exc.file = exc.file or self.project.spec.display_path
                raise
        return self._direct

    @property
    def provider(self) -> Provider:
        """:attr:`direct`, wrapped for the Batch API where the options and records say so."""
        if self._provider is None:
            direct = self.direct
            if direct.name != "openai":  # only openai has a Batch API: skip the client's import
                self._provider = direct
                return direct
            from .batch_options import batch_options
            from .batching import with_batches

            options = self.batching or batch_options(self.project.spec.provider)
            self._provider = with_batches(direct, self.project, options, emit=self.emit)
        return self._provider

    def batch_routes(self, plan: Plan) -> dict[str, str]:
        """Asset → ``batch`` or ``in batch ID`` for generations that do not go direct."""
        if not plan.api_calls or self.provider is self.direct:  # nothing goes by batch
            return {}
        from .batching import plan_routes

        return plan_routes(self.provider, plan)

    def use_batching(self, options: BatchOptions) -> None:
        """Change how generations use the Batch API (plan again afterwards)."""
        self.close()
        self.batching = options

    async def aclose(self) -> None:
        """Close the provider's connections; a later use makes a new provider."""
        outer, direct = self._provider, self._direct
        self._provider = self._direct = None
        if outer is not None:
            await outer.aclose()  # a wrapper closes what it wraps
        if direct is not None and outer is not direct:
            await direct.aclose()

    def close(self) -> None:
        if self._provider is not None or self._direct is not None:
            import asyncio

            asyncio.run(self.aclose())

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- plan, approve, build -----------------------------------------------------------

    def plan(
        self,
        names: Sequence[str] = (),
        *,
        refresh: Sequence[str] = (),
        rerender: bool = False,
        checked: bool = True,
        shard: Shard | None = None,
    ) -> Plan:
        """The plan with the provider's estimates, for ``names`` (globs) and their inputs.

        ``shard``: only that shard's assets (``build --shard K/N``, see :mod:`assetgen.shards`).

        ``checked``: every local check the provider knows (sizes, transparency,
        inputs, ...) has passed, all problems at once, before anything is asked
        or spent; a spec problem is a :class:`~assetgen.errors.SpecError`.
        """
        # The provider is made only when a step needs its estimate or its checks:
        # a no-op imports no provider code (for openai: no httpx).
        plan = self.project.plan(
            estimate=lambda asset: self.provider.estimate_cost(to_request(asset, "")),
            refresh=list(refresh),
            rerender=rerender,
        )
        if names:
            plan = select(plan, list(names))
        if shard is not None:
            from .shards import shard_plan

            plan = shard_plan(plan, shard)
        if checked and plan.api_calls:
            from .build import preflight

            preflight(self.provider, plan, file=self.project.spec.display_path)
        return plan

    def budget(self, override: float | None = None) -> float | None:
        """The build's budget: ``override`` (``--max-cost``), else ``[build] max_cost``."""
        return override if override is not None else self.project.spec.build.max_cost

    def approve(
        self, plan: Plan, *, budget: float | None = None, yes: bool = False, ask: Ask | None = None
    ) -> None:
        """Refuse a plan over budget; above ``[build] confirm_above`` ask, or refuse if nobody can.

        Raises :class:`~assetgen.errors.BudgetError` when the plan may not run.
        """
        build = self.project.spec.build
        check = check_cost(plan, self.budget(budget), build.confirm_above, yes=yes)
        if check.verdict == "refuse" or (check.verdict == "ask" and ask is None):
            raise BudgetError(check.message, hint=check.hint)
        if check.verdict == "ask" and ask is not None and not ask(f"{check.message}. Go ahead?"):
            raise BudgetError("stopped: nothing was generated")

    async def run(self, plan: Plan, options: BuildOptions | None = None) -> BuildReport:
        """Execute ``plan`` in the running event loop (the provider's client lives in it)."""
        from .build import build

        self.emit(PlanEvent(total=sum(1 for s in plan.steps if s.action != "fresh")))
        for note in plan.notes:
            self.emit(Event("note", note))
        used = self.provider if plan.api_calls else None
        self.provider_used = used
        return await build(self.project, plan, used, emit=self.emit, options=options)

    def build(self, plan: Plan, options: BuildOptions | None = None) -> BuildReport:
        """Execute ``plan`` in an event loop of its own, closing the provider afterwards.

        A plan with nothing to do runs without any event loop (a no-op stays fast).
        """
        if plan.is_noop:
            from .build import build_fresh

            self.emit(PlanEvent(total=0))
            for note in plan.notes:
                self.emit(Event("note", note))
            # Planning sends nothing, so a provider holds no connection yet: let it go
            # without an event loop (a no-op stays at the speed of stat).
            self._provider = self._direct = None
            return build_fresh(self.project, plan, emit=self.emit)
        import asyncio

        async def run() -> BuildReport:
            try:
                return await self.run(plan, options)
            finally:
                await self.aclose()

        return asyncio.run(run())

    # -- check and pick ---------------------------------------------------------------

    def check(self, names: Sequence[str] = (), *, write: bool = False) -> CheckResult:
        """Is everything committed what the spec asks for? Never calls a provider.

        ``write``: variants missing while their original is present are
        re-rendered locally (``build --locked``); otherwise they are problems too.
        """
        from .verify import missing_outputs, verify

        project = self.project
        project.frozen = not write
        plan = project.plan()
        if names:
            plan = select(plan, list(names))
        verdict = verify(plan)
        problems = list(verdict.out_of_date)
        if not write:
            problems += missing_outputs(verdict.rerender)
            if not project.manifest_current(project.lock()):
                problems.append(f"manifest out of date: {project.spec.build.manifest}")
        return CheckResult(plan, verdict, problems, write=write)

    def assemble(self, names: Sequence[str] = ()) -> BuildReport | None:
        """The lock and outputs from the remote cache alone (``build --locked --pull``).

        After ``build --shard`` jobs published every generation, each asset is
        reused from the project's remote (no provider is ever made). Nothing is
        built, and ``None`` returned, when anything would have to be generated.
        """
        plan = self.project.plan()
        if names:
            plan = select(plan, list(names))
        if plan.api_calls:
            return None
        return self._render_only(plan)

    def repair(self, result: CheckResult) -> BuildReport:
        """Re-render the variants a ``check(write=True)`` found missing (no API call)."""
        if not result.repairable:
            raise UsageError("nothing to repair: check with write=True found no missing variant")
        return self._render_only(Plan(steps=result.verdict.rerender))

    def pick(self, name: str, index: int) -> BuildReport:
        """Make candidate ``index`` the asset's original; re-render its variants (no API call)."""
        project = self.project
        steps = select(project.plan(), [name]).steps  # an unknown name: "did you mean"
        entry = project.lock().assets.get(name)
        if entry is None:
            raise UsageError(
                f"{name} is not built yet: it has no candidates to pick from",
                hint=f"run `assetgen build {name}` first",
            )
        count = len(entry.candidates)
        if not 0 <= index < count:
            raise UsageError(f"{name} has {count} candidate(s): pick 0 to {count - 1}")
        stale = [s for s in steps if s.action in ("generate", "reuse")]
        if stale:
            raise UsageError(
                f"{stale[0].name} is out of date ({stale[0].reason}); pick needs a current asset",
                hint=f"run `assetgen build {name}` first",
            )
        with project.exclusive():
            project.select_candidate(name, entry, index)
            return self._render_only(select(project.plan(), [name]))

    def _render_only(self, plan: Plan) -> BuildReport:
        """Build a plan that generates nothing, without ever making a provider."""
        assert plan.api_calls == 0  # so no provider is ever made
        return self.build(plan)
