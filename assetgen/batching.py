"""Builds whose generations go through the Batch API: submit, resume, poll, collect.

:class:`BatchedProvider` wraps the ``openai`` provider for one build. The
build calls :meth:`~BatchedProvider.prepare` (under the project lock, before
any request) with every generation of the plan; there

* a key already waiting in a recorded batch (``.assetgen/batches/``, see
  :mod:`assetgen.batch_state`) is attached to it, never sent again, whatever
  the batch mode: only ``batch cancel`` (or deleting the record) releases it;
* a record whose batch id was never written is recovered by listing batches
  for its submission id (or, if the batch was never created, created from
  the uploaded file, never uploaded again);
* the other batchable generations (not edits; models whose profile allows it)
  are submitted, one batch per model, when batches are on.

Each batched request is then :meth:`~BatchedProvider.queued`: the build
awaits its result without a concurrency slot, while one task per batch polls
every ``[provider] batch_poll`` seconds for at most ``batch_wait``. A finished
batch's output lines become ordinary results (the build stores, journals and
locks them as direct answers); error-file lines, and the requests an expired
or cancelled batch never ran, fail their assets with the provider's message
(their keys are released: the next build sends them again). A batch still
running when the wait ends (or at once, with ``--no-wait``) leaves its assets
:class:`~assetgen.errors.ResultPending`, and the next build resumes it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .batch_options import BatchOptions
from .batch_state import BatchStates, Submission
from .errors import AssetgenError, ProviderAuthError, ProviderError, ResultPending
from .events import BatchEvent, Emit, Event, ignore
from .providers.base import ImageRequest, ImageResult, Provider

if TYPE_CHECKING:
    import asyncio

    from .plan import Plan
    from .project import Project
    from .providers.openai.batch import BatchClient, BatchInfo, Line
    from .store import Store

MAX_POLL_FAILURES = 10
"""Polls in a row that may fail (network, 5xx) before the build stops waiting."""
LINE_SLACK = 64 * 1024
"""Bytes of an output line beyond the largest answer the provider reads."""
UNRUN = {
    "expired": "not done before batch {id} expired (its 24 h window)",
    "cancelled": "batch {id} was cancelled before this request ran",
    "completed": "batch {id} finished without a result for this request",
}
"""Why a request of a finished batch has no result; the next build sends it again."""


def batchable(request: ImageRequest) -> bool:
    """Generations (never edits) of a model the Batch API takes."""
    from .providers.openai.models import profile_for

    return request.operation == "generate" and profile_for(request.model).batchable


def with_batches(
    provider: Provider, project: Project, options: BatchOptions, *, emit: Emit = ignore
) -> Provider:
    """``provider`` wrapped when this build may submit or collect batches.

    Only the ``openai`` provider has a Batch API; a project with batch records
    is always wrapped, so their keys are never sent direct.
    """
    if provider.name != "openai":
        return provider
    states = BatchStates(project.spec.state_dir)
    if not options.use and not states.load():
        return provider
    return BatchedProvider(provider, project, options, emit=emit)


@dataclass
class _Run:
    """One batch this build follows."""

    submission: Submission
    keys: list[str]
    """Its keys this build waits for."""
    info: BatchInfo | None = None
    collected: bool = False
    released: set[str] = field(default_factory=set)
    """Keys whose result failed: the record lets go of them."""
    task: asyncio.Task[None] | None = None


class BatchedProvider(Provider):
    """The ``openai`` provider, with the plan's generations sent as batches."""

    name = "openai"  # only the openai provider is wrapped (see with_batches)

    def __init__(
        self, inner: Provider, project: Project, options: BatchOptions, *, emit: Emit = ignore
    ) -> None:
        super().__init__(emit)
        self.inner = inner
        self.options = options
        self.states = BatchStates(project.spec.state_dir)
        self.store: Store = project.store
        self.base_url: str = getattr(inner, "base_url", "")
        self.max_line = int(getattr(inner, "max_response_bytes", 0)) + LINE_SLACK
        self.requests: dict[str, ImageRequest] = {}
        self.waiters: dict[str, asyncio.Future[ImageResult]] = {}
        self.runs: list[_Run] = []
        self._client: BatchClient | None = None

    # -- the Provider interface -------------------------------------------------------

    def check(self, request: ImageRequest) -> None:
        self.inner.check(request)

    def estimate_cost(self, request: ImageRequest) -> float | None:
        """Half the direct estimate for what goes by batch (tokens are billed at half)."""
        from .providers.openai.models import BATCH_PRICE_FACTOR

        cost = self.inner.estimate_cost(request)
        if cost is None or not (self.options.use and batchable(request)):
            return cost
        return round(cost * BATCH_PRICE_FACTOR, 6)

    def queued(self, request: ImageRequest) -> bool:
        return request.key in self.waiters

    async def generate(self, request: ImageRequest) -> ImageResult:
        import asyncio

        future = self.waiters.get(request.key)
        if future is None:
            return await self.inner.generate(request)
        return await asyncio.shield(future)

    async def prepare(self, requests: Sequence[ImageRequest]) -> None:
        """Attach keys to recorded batches, submit the new ones, start following."""
        import asyncio

        self.requests = {request.key: request for request in requests}
        for record in self.states.load():
            self._attach(record)
        fresh = [
            r for r in requests if r.key not in self.waiters and self.options.use and batchable(r)
        ]
        if fresh:
            await self._submit(fresh)
        for run in self.runs:
            run.task = asyncio.create_task(self._follow(run))

    async def finish(self) -> None:
        """Let records go of the keys now stored or failed; drop records left empty."""
        for run in self.runs:
            if not run.collected:
                continue
            keys = {
                key: name
                for key, name in run.submission.keys.items()
                if key not in run.released and self.store.recall(key) is None
            }
            if not keys:
                self.states.remove(run.submission)
            elif keys != run.submission.keys:
                self.states.save(replace(run.submission, keys=keys))

    async def aclose(self) -> None:
        import asyncio

        tasks = [run.task for run in self.runs if run.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for future in self.waiters.values():
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: no "never retrieved" noise for skipped steps
        await self.inner.aclose()

    # -- reports --------------------------------------------------------------------------

    def batches_json(self) -> list[dict[str, Any]]:
        """``build --json``: every batch this build followed, with its counts."""
        found = []
        for run in self.runs:
            entry: dict[str, Any] = {"id": run.submission.batch_id, "status": None}
            if run.info is not None:
                entry.update(run.info.to_json())
            entry["submission"] = run.submission.id
            entry["assets"] = sorted(run.submission.keys[key] for key in run.keys)
            found.append(entry)
        return found

    # -- submitting --------------------------------------------------------------------------

    def client(self) -> BatchClient:
        if self._client is None:
            from .providers.openai.batch import BatchClient
            from .providers.openai.provider import OpenAIProvider

            assert isinstance(self.inner, OpenAIProvider), "only the openai provider batches"
            self._client = BatchClient(self.inner)
        return self._client

    def _waiter(self, key: str) -> asyncio.Future[ImageResult]:
        import asyncio

        future = self.waiters.get(key)
        if future is None:
            future = self.waiters[key] = asyncio.get_running_loop().create_future()
        return future

    def _fail(self, keys: Sequence[str], error: BaseException) -> None:
        for key in keys:
            future = self._waiter(key)
            if not future.done():
                future.set_exception(error)

    def _attach(self, record: Submission) -> None:
        wanted = [key for key in record.keys if key in self.requests]
        if not wanted:
            return
        if record.input_file_id is None:  # killed before the upload answered: nothing billable
            self.states.remove(record)
            return
        if record.base_url != self.base_url:
            error = ProviderError(
                f"waits in batch {record.batch_id or record.id} at {record.base_url}, not this "
                "base URL",
                hint="build with that base_url, or `assetgen batch cancel` there",
            )
            self._fail(wanted, error)
            return
        for key in wanted:
            self._waiter(key)
        self.runs.append(_Run(record, wanted))

    async def _submit(self, requests: list[ImageRequest]) -> None:
        from .providers.openai.batch import NO_BATCH_API, input_files

        keys = [r.key for r in requests]
        try:
            available = await self.client().available()
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            self._fail(keys, exc)
            return
        if not available:
            self.emit(Event("warning", f"{NO_BATCH_API} ({self.base_url}): GET /batches is a 404"))
            confirm = self.options.confirm_direct
            if confirm is not None and confirm(len(requests)):
                return  # not waiters: they go direct
            hint = "`assetgen build --no-batch` sends them direct, at the full price"
            self._fail(keys, ProviderError(f"not generated: {NO_BATCH_API}", hint=hint))
            return
        by_model: dict[str, list[ImageRequest]] = {}
        for request in requests:
            by_model.setdefault(request.model, []).append(request)
        for model, group in by_model.items():
            for chunk in input_files(group):
                await self._submit_one(model, chunk)

    async def _submit_one(self, model: str, chunk: list[tuple[ImageRequest, bytes]]) -> None:
        names = {request.key: request.asset for request, _ in chunk}
        record = Submission.new(self.base_url, model, names, int(time.time()))
        self.states.save(record)  # the submission id is durable before anything is sent
        for key in names:
            self._waiter(key)
        client = self.client()
        try:
            data = b"".join(line for _, line in chunk)
            file_id = await client.upload(data, f"assetgen-{record.id}.jsonl")
            record = replace(record, input_file_id=file_id)
            self.states.save(record)
            info = await client.create(file_id, record.id)
        except ProviderAuthError:
            raise
        except ProviderError as exc:
            if record.input_file_id is None or not exc.retryable:
                self.states.remove(record)  # no batch was made: the keys may be sent again
            self._fail(list(names), exc)
            return
        record = replace(record, batch_id=info.id)
        self.states.save(record)
        run = _Run(record, list(names), info)
        self.runs.append(run)
        self._progress(run, info)

    # -- following ------------------------------------------------------------------------------

    async def _follow(self, run: _Run) -> None:
        from .providers.openai.batch import BatchGone

        try:
            if run.submission.batch_id is None:
                await self._recover(run)
            info = await self._wait(run)
            if info is not None:
                await self._collect(run, info)
        except ProviderAuthError as exc:
            self._fail(run.keys, exc)
        except BatchGone as exc:
            gone = f"batch {run.submission.batch_id} is not at {self.base_url}: {exc.message}"
            self._fail(run.keys, ProviderError(gone, hint="`assetgen batch cancel` forgets it"))
        except ProviderError as exc:
            self._defer(run, f"batch {run.submission.batch_id}: {exc.message}")
        except Exception as exc:  # a bug must not leave the build waiting forever
            self._fail(run.keys, AssetgenError(f"internal error following a batch: {exc!r}"))
        finally:
            self._defer(run, "the build stopped following it")

    async def _recover(self, run: _Run) -> None:
        """A record with an input file but no batch id: find the batch, or create it."""
        record = run.submission
        assert record.input_file_id is not None
        client = self.client()
        info = await client.find(record.id, since=record.created_at)
        if info is None:
            info = await client.create(record.input_file_id, record.id)
        run.submission = replace(record, batch_id=info.id)
        self.states.save(run.submission)

    async def _wait(self, run: _Run) -> BatchInfo | None:
        """Poll until the batch is done (its info), or until the wait ends (None)."""
        import asyncio

        assert run.submission.batch_id is not None
        started = time.monotonic()
        failures = 0
        while True:
            try:
                info = await self.client().retrieve(run.submission.batch_id)
            except ProviderError as exc:
                from .providers.openai.batch import BatchGone

                if isinstance(exc, ProviderAuthError | BatchGone) or failures >= MAX_POLL_FAILURES:
                    raise
                failures += 1
                self.emit(Event("info", f"batch {run.submission.batch_id}: {exc.message}"))
            else:
                failures = 0
                self._progress(run, info)
                if info.done:
                    return info
            if not self.options.wait or time.monotonic() - started >= self.options.max_wait:
                self._defer(run, "")
                return None
            await asyncio.sleep(self.options.poll_seconds)

    def _progress(self, run: _Run, info: BatchInfo) -> None:
        run.info = info
        counts = f"{info.completed}/{info.total}" if info.total else ""
        self.emit(
            BatchEvent(
                message=f"batch {info.id}: {info.status} {counts}".strip(),
                id=info.id,
                status=info.status,
                total=info.total,
                completed=info.completed,
                failed=info.failed,
                assets=tuple(sorted(run.submission.keys[k] for k in run.keys)),
            )
        )

    def _defer(self, run: _Run, why: str) -> None:
        """Every unresolved key of the run: still paid for in the batch, collected later."""
        info = run.info
        state = f" ({info.status} {info.completed}/{info.total})" if info else ""
        text = f"waits in batch {run.submission.batch_id}{state}"
        if why:
            text += f": {why}"
        hint = (
            "the next `assetgen build` or `assetgen batch wait` collects it, without paying again"
        )
        self._fail(run.keys, ResultPending(text, hint=hint))

    # -- results ---------------------------------------------------------------------------------

    async def _collect(self, run: _Run, info: BatchInfo) -> None:
        if info.status == "failed":
            why = "; ".join(info.errors) or "no reason given"
            run.released.update(run.keys)
            run.collected = True
            self._fail(run.keys, ProviderError(f"the Batch API refused batch {info.id}: {why}"))
            return
        for file_id in (info.output_file_id, info.error_file_id):
            if file_id is not None:
                await self._read(run, info, file_id)
        unrun = [key for key in run.keys if not self.waiters[key].done()]
        message = UNRUN.get(info.status, UNRUN["completed"]).format(id=info.id)
        message += "; the next build sends it again"
        code = f"batch_{info.status}" if info.status != "completed" else None
        run.released.update(unrun)
        run.collected = True
        self._fail(unrun, ProviderError(message, code=code))

    async def _read(self, run: _Run, info: BatchInfo, file_id: str) -> None:
        from .providers.openai.batch import read_lines

        path = self.states.folder / f"{run.submission.id}.{file_id}.jsonl"
        limit = (len(run.submission.keys) + 1) * self.max_line
        await self.client().download(file_id, path, limit)
        try:
            problems = 0
            for line in read_lines(path, self.max_line):
                if isinstance(line, str):
                    problems += 1
                    if problems == 1:
                        self.emit(Event("warning", f"batch {info.id}: {line} (skipped)"))
                    continue
                await self._deliver(run, info, line)
        finally:
            path.unlink(missing_ok=True)

    async def _deliver(self, run: _Run, info: BatchInfo, line: Line) -> None:
        """One line's result to the asset waiting for it (the first line of a key wins)."""
        future = self.waiters.get(line.custom_id)
        if line.custom_id not in run.keys or future is None or future.done():
            return
        request = self.requests[line.custom_id]
        try:
            result = await self.client().result(request, line, f"batch {info.id}")
        except ProviderError as exc:
            run.released.add(line.custom_id)
            future.set_exception(exc)
            return
        future.set_result(result)


# -- plan, status and cancel -------------------------------------------------------------------


def batches_json(provider: Provider | None) -> list[dict[str, Any]]:
    """The batches a build followed (``build --json``); none for a direct build."""
    return provider.batches_json() if isinstance(provider, BatchedProvider) else []


def plan_routes(provider: Provider, plan: Plan) -> dict[str, str]:
    """Asset → how its generation goes when not direct: ``batch``, or ``in batch ID``."""
    if not isinstance(provider, BatchedProvider):
        return {}
    from .project import to_request

    waiting = {
        key: record.batch_id or "being submitted"
        for record in provider.states.load()
        for key in record.keys
    }
    routes = {}
    for step in plan.steps:
        if step.action != "generate" or step.pending:
            continue
        if step.key in waiting:
            routes[step.name] = f"in batch {waiting[step.key]}"
        elif provider.options.use and batchable(to_request(step.asset, step.key)):
            routes[step.name] = "batch"
    return routes


async def statuses(provider: Provider, project: Project) -> list[dict[str, Any]]:
    """Every recorded batch with its state at the API (``batch status``)."""
    wrapped = BatchedProvider(provider, project, BatchOptions())
    found = []
    for record in wrapped.states.load():
        entry: dict[str, Any] = {
            "submission": record.id,
            "id": record.batch_id,
            "model": record.model,
            "assets": sorted(record.keys.values()),
            "status": "being submitted" if record.batch_id is None else None,
            "error": None,
        }
        if record.batch_id is not None and record.base_url != wrapped.base_url:
            entry["error"] = f"submitted to {record.base_url}, not this base URL"
        elif record.batch_id is not None:
            try:
                entry.update((await wrapped.client().retrieve(record.batch_id)).to_json())
            except ProviderAuthError:
                raise
            except ProviderError as exc:
                entry["error"] = exc.message
        found.append(entry)
    return found


async def cancel(provider: Provider, project: Project) -> list[str]:
    """Cancel every recorded batch still running; forget those the API no longer has."""
    from .providers.openai.batch import BatchGone

    wrapped = BatchedProvider(provider, project, BatchOptions())
    said = []
    for record in wrapped.states.load():
        if record.batch_id is None:
            found = None
            if record.input_file_id is not None:
                found = await wrapped.client().find(record.id, since=record.created_at)
            if found is None:  # no batch was ever made of it: nothing runs, nothing is lost
                wrapped.states.remove(record)
                said.append(f"submission {record.id}: no batch was created; forgotten")
                continue
            record = replace(record, batch_id=found.id)
            wrapped.states.save(record)
        assert record.batch_id is not None
        try:
            info = await wrapped.client().retrieve(record.batch_id)
            if not info.done:
                info = await wrapped.client().cancel(record.batch_id)
        except BatchGone:
            wrapped.states.remove(record)
            said.append(f"batch {record.batch_id}: not at this base URL; forgotten")
            continue
        said.append(
            f"batch {info.id}: {info.status} ({info.completed} of {info.total} done); "
            "`assetgen batch wait` collects what was done, the next build sends the rest"
        )
    return said
