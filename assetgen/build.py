"""Run a plan: generate what is new, reuse what is known, render variants.

Order of durability for every asset, so an interruption at any point loses
nothing paid for:

1. the provider answers → originals are written to the store and the key
   cache (``Store.put`` + ``Store.remember``) and the lock journal records
   the new entry: the image is safe before anything else can fail;
2. variants are rendered in the process pool and written atomically;
3. the journal records the entry with its variants.

The journal is folded into ``assetgen.lock`` at the end (or, after a crash,
at the next start). A failed asset is reported and the others go on.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from .errors import AssetgenError, ProviderAuthError, ResultPending, SpecError, SpecErrors
from .events import Emit, Event, GeneratedEvent, StartEvent, ignore
from .fsutil import atomic_write_text
from .keyrecords import KeyRecord
from .lockfile import LockEntry, Lockfile, LockInput, LockProvenance, LockVariant
from .plan import AssetStep, Plan, Removal, effective_recipe
from .project import Project, to_request
from .report import AssetOutcome, BuildReport, timestamp
from .secrets import Redactor

if TYPE_CHECKING:
    import asyncio  # imported where a build runs: a no-op needs no event loop
    from concurrent.futures import Executor

    from .providers.base import ImageRequest, ImageResult, Provider


@dataclass(frozen=True)
class BuildOptions:
    jobs: int | None = None
    """Variant rendering processes (``None``: ``[build] jobs`` or one per core)."""
    max_cost: float | None = None
    """Stop starting generations once this many USD are spent (running ones finish)."""


class BudgetReached(Exception):
    """An asset was not generated because the budget was spent."""


class UpstreamFailed(Exception):
    """An asset was not attempted because an asset it is made from failed."""


def preflight(provider: Provider, plan: Plan, *, file: str | None = None) -> None:
    """Refuse, before any money is spent, every request the provider cannot serve.

    ``plan`` and ``build`` both run it before the cost question, with no key
    and no network: all problems at once, each naming ``file`` (the spec).
    """
    problems: list[SpecError] = []
    for step in plan.steps:
        if step.action != "generate" or step.pending:
            continue  # a pending step is checked once its inputs exist
        try:
            provider.check(to_request(step.asset, step.key))
        except AssetgenError as exc:
            where = exc.file or file
            problems.append(SpecError(exc.message, file=where, asset=step.name, field=exc.field))
    SpecErrors.raise_if_any(problems)


class Builder:
    """Executes one plan against one project."""

    def __init__(
        self,
        project: Project,
        plan: Plan,
        provider: Provider | None,
        *,
        emit: Emit = ignore,
        options: BuildOptions | None = None,
    ) -> None:
        self.project = project
        self.spec = project.spec
        self.plan = plan
        self.provider = provider
        self.emit = emit
        self.redactor = Redactor.for_environment(self.spec.provider.api_key_env)
        """The last line of defence for the API key: every message a build reports
        (console, ``last-build.json``, the gallery) goes through it."""
        self.options = options or BuildOptions()
        self.lock: Lockfile = project.lock()
        self.report = BuildReport()
        self.flattened: list[str] = []
        self._pool: Executor | None = None
        self.finished: dict[str, asyncio.Future[bool]] = {}
        """Per asset: resolves to whether it succeeded (dependents wait on it)."""
        self.spent = 0.0
        self.c2pa: dict[str, LockProvenance] = {}
        """C2PA summaries of the originals generated in this build, by content hash."""
        self.signing_material: Any = None
        """``[provenance] c2pa = "sign"``: the chain and key, loaded before any work."""

    @cached_property
    def generation_slots(self) -> asyncio.Semaphore:
        """Generations start through this gate so the budget is checked just before
        each request is sent, not when the build starts."""
        import asyncio

        return asyncio.Semaphore(self.spec.provider.concurrency)

    # -- orchestration ----------------------------------------------------

    def fresh_outcomes(self) -> list[AssetOutcome]:
        return [
            AssetOutcome(s.name, s.action, "fresh", reason=s.reason)
            for s in self.plan.steps
            if s.action == "fresh"
        ]

    def run_fresh(self) -> BuildReport:
        """:meth:`run` for a plan with nothing to do (:attr:`Plan.is_noop`), without a loop."""
        assert self.plan.is_noop, "only a plan with nothing to do runs without a loop"
        started = time.monotonic()
        try:
            self.report.outcomes.extend(self.fresh_outcomes())
        finally:
            self.report.seconds = time.monotonic() - started
            self.finish()
        return self.report

    async def run(self) -> BuildReport:
        import asyncio

        started = time.monotonic()
        self.prepare_provenance()
        todo = [step for step in self.plan.steps if step.action != "fresh"]
        self.report.outcomes.extend(self.fresh_outcomes())
        loop = asyncio.get_running_loop()
        self.finished = {step.name: loop.create_future() for step in self.plan.steps}
        for step in self.plan.steps:
            if step.action == "fresh":
                self.finished[step.name].set_result(True)
        tasks: list[asyncio.Future[None]] = []
        try:
            if self.provider is not None:  # e.g. the Batch API submits here, under the lock
                await self.provider.prepare(
                    [to_request(s.asset, s.key) for s in todo if s.action == "generate" and s.key]
                )
            tasks = [asyncio.ensure_future(self.run_step(step)) for step in todo]
            try:
                await asyncio.gather(*tasks)
            except ProviderAuthError:
                # No request can succeed without a valid key: stop the others now.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            for removal in self.plan.removals:
                self.remove(removal)
            if self.provider is not None:
                await self.provider.finish()
        finally:
            self.report.seconds = time.monotonic() - started
            self.finish()
        return self.report

    def prepare_provenance(self) -> None:
        """Refuse, before anything is paid for, a ``[provenance]`` that cannot work here."""
        provenance = self.spec.provenance
        if not provenance.enabled or self.plan.is_noop:
            return
        from .provenance import require
        from .provenance_keys import load_material

        require(self.spec.display_path)
        if provenance.signs:
            file = self.spec.display_path
            self.signing_material = load_material(provenance, self.spec.root, file=file)

    def finish(self) -> None:
        """Fold the journal into the lock and save the stat cache (also on Ctrl-C)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self.report.outcomes and not self.plan.is_noop:
            self.project.locks.write(self.lock)
        self.project.locks.close()
        self.project.write_manifest(self.lock)
        self.project.hashes.save()
        self.save_report()
        if self.flattened:
            names = ", ".join(sorted(self.flattened))
            self.emit(
                Event(
                    "warning",
                    "transparent originals were flattened onto the background colour for "
                    f"JPEG variants ([build] flatten_background): {names}",
                )
            )

    def save_report(self) -> None:
        """The last build's report, for the gallery (local state, never committed)."""
        data = {"finished_at": timestamp(), "draft": self.project.draft, **self.report.to_json()}
        # Compact: the encoder written in C, a no-op's report of thousands of assets included.
        atomic_write_text(self.project.report_path, json.dumps(data), durable=False)

    async def run_step(self, step: AssetStep) -> None:
        """One asset, after the assets it is made from; records its outcome."""
        outcome = AssetOutcome(step.name, step.action, "failed", reason=step.reason)
        blocked = await self.blocked_by(step)
        started = time.monotonic()
        try:
            if blocked:
                waiting = any(
                    o.status == "pending" for o in self.report.outcomes if o.name == blocked
                )
                raise UpstreamFailed(
                    f"input @{blocked} {'waits in a batch' if waiting else 'failed'}"
                )
            if step.pending:
                step = await self.replan(step)
                outcome.action, outcome.reason = step.action, step.reason
                if step.action == "fresh":
                    outcome.status = "fresh"
                    return
            reason, code = str(step.reason), step.reason.code
            start = StartEvent(
                message=step.action, asset=step.name, reason=reason, reason_code=code
            )
            self.emit(start)
            entry = await self.original_entry(step, outcome)
            await self.render(step, entry)
            outcome.status = {"generate": "generated", "reuse": "reused"}.get(
                step.action, "rendered"
            )
            self.emit(Event("done", outcome.status, asset=step.name))
        except ProviderAuthError:
            raise
        except (BudgetReached, UpstreamFailed) as exc:
            outcome.status, outcome.error = "skipped", f"{step.name}: {exc}"
            self.emit(Event("skipped", str(exc), asset=step.name))
        except ResultPending as exc:  # paid for in a batch still running: the next build has it
            outcome.status, outcome.error = "pending", f"{step.name}: {exc}"
            self.emit(Event("pending", str(exc), asset=step.name))
        except AssetgenError as exc:
            self.fail(outcome, str(exc) if exc.asset else f"{step.name}: {exc}")
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            self.fail(outcome, f"{step.name}: {exc.strerror or exc}{where}")
        except Exception as exc:  # a bug in one asset must not cost the others
            self.fail(outcome, f"{step.name}: internal error: {exc!r} (please report it)")
        finally:
            outcome.seconds = time.monotonic() - started
            self.report.outcomes.append(outcome)
            succeeded = outcome.status not in ("failed", "skipped", "pending")
            if not self.finished[step.name].done():
                self.finished[step.name].set_result(succeeded)

    def fail(self, outcome: AssetOutcome, message: str) -> None:
        message = self.redactor.redact(message)
        outcome.status, outcome.error = "failed", message
        self.emit(Event("failed", message, asset=outcome.name))

    async def blocked_by(self, step: AssetStep) -> str | None:
        """Wait for the assets this one is made from; the first that failed, if any."""
        import asyncio

        for upstream in step.asset.upstreams:
            future = self.finished.get(upstream)
            if future is not None and not await asyncio.shield(future):
                return upstream
        return None

    async def replan(self, step: AssetStep) -> AssetStep:
        """Plan a pending step again now that its ``@inputs`` have originals.

        A generation's key is known only now: the remote cache is asked here,
        off the event loop, and the step planned once more with its answer.
        """
        planner = self.plan.planner
        assert planner is not None, "a plan with pending steps keeps its planner"
        originals = {name: self.lock.assets[name].original for name in step.asset.upstreams}
        replanned = planner.replan(step, originals)
        remote = self.project.remote
        if replanned.action != "generate" or remote is None or not remote.available:
            return replanned
        import asyncio

        found = await asyncio.to_thread(remote.lookup, [replanned.key], fetch=True)
        if not found:
            return replanned
        planner.remote.update(found)
        return planner.replan(step, originals)

    # -- originals ----------------------------------------------------------

    async def original_entry(self, step: AssetStep, outcome: AssetOutcome) -> LockEntry:
        """The asset's lock entry once its original is in the store (paying if needed)."""
        if step.action == "generate":
            record = await self.generate(step)
            outcome.cost_usd = record.cost_usd
            entry = self.entry_for(step, record, selected=0)
            self.commit(step.name, entry)
            return entry
        assert step.known is not None
        for candidate in step.known.candidates:
            if not self.project.store.restore(candidate):
                raise AssetgenError(self.project.store.loss(candidate), asset=step.name)
        entry = self.entry_for(step, step.known, selected=step.selected)
        if step.action == "reuse":
            self.commit(step.name, entry)
        return entry

    async def generate(self, step: AssetStep) -> KeyRecord:
        assert self.provider is not None, "a plan with generations needs a provider"
        request = to_request(step.asset, step.key)
        if self.provider.queued(request):  # paid for in a batch: no slot, no budget check
            result = await self.answer(step, request)
        else:
            async with self.generation_slots:
                budget = self.options.max_cost
                if budget is not None and self.spent >= budget:
                    raise BudgetReached(
                        f"budget reached (${self.spent:.4f} of ${budget:.4f} spent)"
                    )
                result = await self.answer(step, request)
        images, fmt = result.images, result.format
        if request.key_colour is not None:  # transparency = "key": the alpha is made here
            from .chroma import key_by_name, remove_key_png

            key = key_by_name(request.key_colour)
            images, fmt = tuple(remove_key_png(data, key) for data in images), "png"
        originals = tuple(self.project.store.put(data, fmt) for data in images)
        if self.spec.provenance.enabled:  # what the provider returned, before any re-encode
            from .provenance_lock import returned

            self.c2pa.update(returned(result.images, result.format, originals))
        record = KeyRecord(
            key=step.key,
            provider=self.spec.provider.name,
            model=result.model or step.asset.model,
            candidates=originals,
            usage=result.usage.as_dict() if result.usage else None,
            cost_usd=result.cost_usd or 0.0,
            generated_at=timestamp(),
        )
        self.project.store.remember(record)
        self.emit(GeneratedEvent(asset=step.name, cost_usd=record.cost_usd))
        await self.publish(record)
        return record

    async def publish(self, record: KeyRecord) -> None:
        """Upload a paid generation to the remote cache before the asset counts as done."""
        remote = self.project.remote
        if remote is not None and remote.available:
            import asyncio

            await asyncio.to_thread(remote.publish, record)

    async def answer(self, step: AssetStep, request: ImageRequest) -> ImageResult:
        """The provider's result, its warnings reported and its cost counted."""
        assert self.provider is not None
        self.provider.check(request)
        result = await self.provider.generate(request)
        for warning in result.warnings:
            text = self.redactor.redact(f"{step.name}: {warning}")
            self.emit(Event("warning", text, asset=step.name))
        self.spent += result.cost_usd or 0.0
        return result

    def entry_for(self, step: AssetStep, record: KeyRecord, *, selected: int) -> LockEntry:
        """A lock entry holding ``record`` (``selected`` used); variants carried over
        until re-rendered."""
        from .graph import key_params

        assert record.key == step.key, "every tier files a record under its own key"
        old = step.entry
        return LockEntry(
            generation=replace(record, selected=selected),
            prompt=step.asset.prompt,
            params=key_params(step.asset),
            inputs=tuple(LockInput(i.role, i.source, i.sha256) for i in step.asset.inputs),
            variants=old.variants if old is not None else (),
            c2pa=self.candidates_c2pa(record, old),
        )

    def candidates_c2pa(self, record: KeyRecord, old: LockEntry | None) -> tuple[Any, ...]:
        if not self.spec.provenance.enabled:
            return ()
        from .provenance_lock import of_candidates

        old = old if old is not None and old.key == record.key else None
        return of_candidates(self.project.root, record.candidates, self.c2pa, old)

    def commit(self, name: str, entry: LockEntry) -> None:
        """Make the entry durable now (journal) and current (in memory)."""
        self.lock.assets[name] = entry
        self.project.locks.record(name, entry)

    # -- variants -------------------------------------------------------------

    def pool(self) -> Executor:
        if self._pool is None:
            from .variants import make_pool

            jobs = self.options.jobs or self.spec.build.jobs
            renders = sum(1 for s in self.plan.steps if s.action != "fresh")
            self._pool = make_pool(min(jobs or os.cpu_count() or 1, max(renders, 1)))
        return self._pool

    async def render(self, step: AssetStep, entry: LockEntry) -> None:
        from .graph import variant_key
        from .variants import VariantJob, VariantTarget, render_job

        original = entry.original
        size = (original.width, original.height)
        kept = {v.key: v.kept for v in step.variants if v.kept is not None}
        wanted: dict[str, VariantTarget] = {}  # by key: clamped duplicates render once
        for v in step.variants:
            key = variant_key(original.sha256, effective_recipe(v.recipe, size))
            if key not in kept and key not in wanted:
                wanted[key] = VariantTarget(spec=v.spec, key=key, background=v.recipe["background"])
        targets = tuple(wanted.values())
        rendered: list[LockVariant] = []
        if targets:
            self.forget_overwritten(step.name, entry, targets)
            job = VariantJob(
                asset=step.name,
                original=self.project.root / original.path,
                out_dir=self.project.root / self.spec.build.out_dir,
                targets=targets,
                root=self.project.root,
                provenance=self.provenance(step) if self.spec.build.provenance else None,
                signing=self.signing(original.sha256),
            )
            import asyncio

            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.pool(), render_job, job)
            if result.notices:
                self.flattened.append(step.name)
            rendered = list(result.variants)
            for variant in rendered:
                self.project.hashes.record(self.project.root / variant.path, variant.sha256)
        variants = tuple(sorted([*kept.values(), *rendered], key=lambda v: v.path))
        self.drop_outputs(entry.variants, keep={v.path for v in variants})
        final = entry.with_variants(variants)
        if final != self.lock.assets.get(step.name):
            self.commit(step.name, final)

    def forget_overwritten(self, name: str, entry: LockEntry, targets: Iterable[Any]) -> None:
        """Journal the entry without the variants this render is about to overwrite.

        Otherwise a crash mid-render would leave the lock recording the old
        hash of a file that already holds new bytes. Paths are predicted from
        the spec (a ``{hash8}`` name never matches an old one, and needs none).
        """
        from .variants import output_size, variant_filename

        original = entry.original
        paths = set()
        for target in targets:
            try:
                size = output_size((original.width, original.height), target.spec)
                relative = variant_filename(target.spec, name, size, "")
            except AssetgenError:
                continue  # the render reports it
            paths.add((PurePosixPath(self.spec.build.out_dir) / relative).as_posix())
        remaining = tuple(v for v in entry.variants if v.path not in paths)
        if len(remaining) < len(entry.variants):
            self.commit(name, entry.with_variants(remaining))

    def signing(self, original_sha256: str) -> Any:
        if self.signing_material is None:
            return None
        from .variants import VariantSigning

        return VariantSigning(self.signing_material, original_sha256)

    def provenance(self, step: AssetStep) -> dict[str, str]:
        return {"asset": step.name, "model": step.asset.model, "prompt": step.asset.prompt}

    # -- removals -------------------------------------------------------------

    def drop_outputs(self, recorded: Iterable[LockVariant], *, keep: set[str]) -> None:
        """Delete outputs we wrote that are no longer produced, if still as we wrote them.

        Only ever inside out_dir: the lock's paths are checked when it is read,
        and again here, just before the unlink (defence in depth).
        """
        out_dir = self.project.root / self.spec.build.out_dir
        for variant in recorded:
            if variant.path in keep:
                continue
            path = self.project.root / variant.path
            if not owned_output(path, out_dir):
                self.emit(Event("warning", f"left {variant.path} in place: outside out_dir"))
                continue
            if self.project.hashes.sha256_or_none(path) == variant.sha256:
                path.unlink()
                self.project.hashes.forget(path)
            elif path.exists():
                self.emit(Event("warning", f"left {variant.path} in place: changed since written"))

    def remove(self, removal: Removal) -> None:
        self.drop_outputs(removal.entry.variants, keep=set())
        self.lock.assets.pop(removal.name, None)
        self.project.locks.record(removal.name, None)
        self.report.removed.append(removal.name)
        self.emit(Event("removed", asset=removal.name))


def owned_output(path: Path, out_dir: Path) -> bool:
    """Whether ``path`` is a file strictly inside ``out_dir``, symlinks resolved.

    The final component is checked unresolved too: unlinking a symlink there
    would delete a link assetgen never writes.
    """
    if path.is_symlink():
        return False
    resolved, base = Path(os.path.realpath(path)), Path(os.path.realpath(out_dir))
    return resolved != base and resolved.is_relative_to(base)


async def build(
    project: Project,
    plan: Plan,
    provider: Provider | None,
    *,
    emit: Emit = ignore,
    options: BuildOptions | None = None,
) -> BuildReport:
    """Execute ``plan``; the provider is needed only if the plan generates."""
    with project.exclusive():
        if provider is not None:
            preflight(provider, plan, file=project.spec.display_path)
        return await Builder(project, plan, provider, emit=emit, options=options).run()


def build_fresh(project: Project, plan: Plan, *, emit: Emit = ignore) -> BuildReport:
    """:func:`build` for a plan with nothing to do (:attr:`Plan.is_noop`), synchronously.

    A no-op build (CI's, watch's first) costs its ``stat`` calls, not an event
    loop's start: it takes the project lock, cleans leftovers, brings the
    manifest, stat cache and report up to date, as :func:`build` does.
    """
    with project.exclusive():
        return Builder(project, plan, None, emit=emit).run_fresh()
