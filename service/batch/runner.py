"""The batch run: plan (what is already done), brief the rest concurrently, record each as it ends.

Reports run on a thread pool, `concurrency` at a time, all through ONE backend instance, so an LLM
backend's HTTP client, answer cache and request limiter are shared by the whole batch (the openai
backend also runs each report's chunks in parallel behind that same limiter).

Never lose work:
- every report ends in a record, whatever happens to it: an `InputError`, a backend failure, a bug
  in a stage (recorded with its traceback, and the run goes on);
- a report whose LLM calls gave up on rate limits or outages (transport errors after the retries)
  is put back at the end of the queue once more (`report_retries`) instead of failing at once: by
  then the adaptive limiter has slowed the batch down, and the answer cache makes the chunks that
  did get answers free;
- errors that will fail every report alike (bad credentials, a wrong model, a broken prompt) stop
  the batch instead of burning through the inputs; the rest stays to do for the next run.
"""

from __future__ import annotations

import json
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service import render
from service.backends.base import Backend
from service.batch.inputs import BatchInput
from service.batch.limiter import AdaptiveLimiter
from service.batch.manifest import (
    BRIEFS,
    DONE,
    Fingerprint,
    Journal,
    Names,
    Record,
    Status,
    now_iso,
    sha256_file,
    write_atomic,
    write_manifest,
)
from service.batch.progress import BatchProgress, Counters, QuietProgress
from service.errors import ConfigError, GovbriefError, LLMTransportError, PromptError
from service.llm.errors import AuthFailed, ExtractionFailed
from service.models import SECTION_NAMES, Brief
from service.pipeline import RunOptions, RunResult
from service.pipeline import run as run_pipeline

#: Seconds between rewrites of manifest.json during a run (the journal is written per report).
MANIFEST_EVERY = 5.0


class StoreClosed(Exception):
    """A report finished after its batch was stopped and summed up; the next run redoes it."""


class StopBatch(BaseException):
    """Raised in the main thread (e.g. by a SIGTERM handler) to stop at once, in-flight or not."""


@dataclass(frozen=True)
class BatchOptions:
    outdir: Path
    concurrency: int = 4
    force: bool = False
    with_text: bool = False
    chunk_max_tokens: int = 1500
    report_retries: int = 1
    time_limit: float | None = None  # seconds per report (GOVBRIEF_RUN_TIME_LIMIT)
    clock: Callable[[], float] = time.monotonic


@dataclass
class BatchResult:
    records: list[Record]  # this run's inputs, in input order (done earlier ones included)
    counters: Counters
    interrupted: bool = False
    stopped: str | None = None  # why the batch stopped early, if it did
    abandoned: int = 0  # in-flight reports left behind by a hard stop
    limiter: dict[str, Any] | None = None

    @property
    def failed(self) -> list[Record]:
        return [r for r in self.records if r.status != "ok"]


@dataclass
class _Outcome:
    record: Record | None  # None: put back in the queue
    fatal: str | None = None


@dataclass
class Job:
    input: BatchInput
    name: str
    attempt: int = 1


# --- what a report's run said about its chunks ---------------------------------------------------


@dataclass(frozen=True)
class ChunkFailures:
    """The chunks of a report's run without a usable answer."""

    failed: list[tuple[str, str]]  # (chunk id, why), in the backend's order
    transient: bool = False  # some of them gave up on transport errors

    @classmethod
    def of(cls, result: RunResult | None) -> ChunkFailures:
        if result is None:
            return cls([])
        return cls(list(result.failed_chunks.items()), result.transient_failure)


def _transient(exc: BaseException | None, failures: ChunkFailures) -> bool:
    """Would the same report likely succeed later? Rate limits and outages, not bad answers."""
    if isinstance(exc, LLMTransportError):
        return True
    if isinstance(exc, ExtractionFailed):  # every chunk failed: was any of them an outage?
        return exc.transient
    return failures.transient


def _fatal(exc: BaseException) -> bool:
    """Errors that every other report would hit too."""
    return isinstance(exc, AuthFailed | ConfigError | PromptError)


# --- the output folder --------------------------------------------------------------------------


def run_info(
    store: OutputStore, c: Counters, started_at: str, inputs: int, interrupted: bool, **extra: Any
) -> dict[str, Any]:
    """The manifest's `last_run`: what every way of running a batch reports, plus its own `extra`."""
    return {
        "id": store.run_id,
        "started_at": started_at,
        "updated_at": now_iso(),
        "inputs": inputs,
        "cached": c.cached,
        "ok": c.ok,
        "partial": c.partial,
        "failed": c.failed,
        "tokens": c.tokens,
        "elapsed_s": round(c.elapsed(), 3),
        "interrupted": interrupted,
        **extra,
    }


class OutputStore:
    """The batch's output folder: plans resumes, writes briefs and records, rebuilds the summaries."""

    def __init__(self, outdir: Path, fingerprint: Fingerprint, *, run_id: str | None = None) -> None:
        self.outdir = outdir
        self.fingerprint = fingerprint
        self.run_id = run_id or uuid.uuid4().hex[:12]
        # Temp files of a killed run's atomic writes: no writer is alive (the CLI holds the outdir lock).
        for stale in outdir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        self.journal = Journal(outdir)
        self.records: dict[str, Record] = self.journal.load()
        self.names = Names({key: r.name for key, r in self.records.items()})
        self._lock = threading.RLock()
        self._changed = False
        self._closed = False

    def plan(self, inputs: list[BatchInput], *, force: bool) -> tuple[list[Job], list[Record]]:
        """(to do, already done). Done = same input bytes, same fingerprint, files still there."""
        todo: list[Job] = []
        done: list[Record] = []
        for inp in inputs:
            name = self.names.name_for(inp.key, inp.path.stem)
            known = self.records.get(inp.key)
            if not force and known is not None and self._is_done(known, inp):
                done.append(known)
            else:
                todo.append(Job(inp, name))
        return todo, done

    def _is_done(self, record: Record, inp: BatchInput) -> bool:
        return (
            record.status in DONE
            and record.fingerprint == self.fingerprint.digest
            and record.sha256 is not None
            and all((self.outdir / f).is_file() for f in record.outputs().values())
            and sha256_file(inp.path) == record.sha256
        )

    def save_brief(
        self,
        inp: BatchInput,
        name: str,
        brief: Brief,
        *,
        failed: Sequence[tuple[str, str]] = (),
        attempts: int = 1,
        elapsed_ms: int | None = None,
    ) -> Record:
        """Files first, then the journal line: a record in the journal always has its files."""
        write_atomic(self.outdir / f"{name}.json", render.to_json(brief) + "\n")
        write_atomic(self.outdir / f"{name}.md", render.to_markdown(brief))
        p = brief.provenance
        status: Status = "partial" if failed else "ok"
        record = Record(
            input=inp.key,
            given=inp.given,
            name=name,
            status=status,
            sha256=brief.source.sha256,
            error=(f"{len(failed)} chunk(s) got no usable answer: {failed[0][1]}" if failed else None),
            fingerprint=self.fingerprint.digest,
            backend=p.backend,
            model=p.model,
            prompt_id=p.prompt_id,
            prompt_version=p.prompt_version,
            schema_hash=p.schema_hash,
            chunks=p.chunks,
            llm_calls=p.llm_calls,
            prompt_tokens=p.prompt_tokens,
            completion_tokens=p.completion_tokens,
            cost_usd=p.cost_usd,
            cache_hit=p.cache_hit,
            items={s: len(brief.sections()[s]) for s in SECTION_NAMES},
            warnings=len(brief.warnings),
            failed_chunks=[cid for cid, _ in failed],
            elapsed_ms=p.elapsed_ms if elapsed_ms is None else elapsed_ms,
            finished_at=now_iso(),
            run=self.run_id,
            attempts=attempts,
        )
        self._commit(record)
        return record

    def save_failure(
        self, inp: BatchInput, name: str, exc: BaseException, *, attempts: int = 1, elapsed_ms: int = 0
    ) -> Record:
        bug = not isinstance(exc, GovbriefError)
        fp = self.fingerprint
        record = Record(
            input=inp.key,
            given=inp.given,
            name=name,
            status="failed",
            sha256=sha256_file(inp.path),
            error=(f"internal error: {type(exc).__name__}: {exc}" if bug else str(exc)),
            error_type=type(exc).__name__,
            fingerprint=fp.digest,
            backend=fp.backend,
            model=fp.model,
            prompt_id=fp.prompt_id,
            prompt_version=fp.prompt_version,
            schema_hash=fp.schema_hash,
            elapsed_ms=elapsed_ms,
            finished_at=now_iso(),
            run=self.run_id,
            attempts=attempts,
            traceback="".join(traceback.format_exception(exc)) if bug else None,
        )
        self._commit(record)
        return record

    def _commit(self, record: Record) -> None:
        # Under the store's lock, so that after `finish()` (a hard stop leaves workers running) no
        # record lands in the journal behind the manifest's back: those reports are redone instead.
        with self._lock:
            if self._closed:
                raise StoreClosed(record.input)
            self.journal.append(record)
            self.records[record.input] = record
            self._changed = True

    def ordered(self, inputs: list[BatchInput]) -> list[Record]:
        """This run's inputs in order, then whatever else the folder holds from earlier runs."""
        with self._lock:
            first = [self.records[i.key] for i in inputs if i.key in self.records]
            keys = {i.key for i in inputs}
            rest = sorted((r for k, r in self.records.items() if k not in keys), key=lambda r: r.name)
        return first + rest

    def write_manifest(self, inputs: list[BatchInput], run: dict[str, Any]) -> None:
        write_manifest(self.outdir, self.ordered(inputs), fingerprint=self.fingerprint, run=run)

    def finish(self, inputs: list[BatchInput], run: dict[str, Any]) -> None:
        with self._lock:
            self._closed = True
            records = self.ordered(inputs)
            self.journal.compact(records)
        write_manifest(self.outdir, records, fingerprint=self.fingerprint, run=run)
        if self._changed or not (self.outdir / BRIEFS).exists():
            self._write_briefs_jsonl(records)

    def _write_briefs_jsonl(self, records: list[Record]) -> None:
        lines = []
        for r in records:
            if r.status == "failed":
                continue
            try:
                data = json.loads((self.outdir / f"{r.name}.json").read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # deleted by hand since: the next run redoes it
            lines.append(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
        write_atomic(self.outdir / BRIEFS, "".join(lines))

    def close(self) -> None:
        self.journal.close()


# --- the run ------------------------------------------------------------------------------------


class BatchRunner:
    def __init__(
        self,
        backend: Backend,
        inputs: list[BatchInput],
        options: BatchOptions,
        *,
        progress: BatchProgress | None = None,
        counters: Counters | None = None,
        limiter: AdaptiveLimiter | None = None,
    ) -> None:
        self.backend = backend
        self.inputs = inputs
        self.options = options
        self.counters = counters or Counters()
        self.progress = progress or QuietProgress()
        self.limiter = limiter
        self.fingerprint = Fingerprint.of(
            backend, chunk_max_tokens=options.chunk_max_tokens, with_text=options.with_text
        )
        options.outdir.mkdir(parents=True, exist_ok=True)
        self.store = OutputStore(options.outdir, self.fingerprint)
        self._started_at = now_iso()

    # One report, on a worker thread. Never raises: every way a report can end becomes an outcome.
    def _work(self, job: Job) -> _Outcome:
        started = time.perf_counter()
        exc: BaseException | None = None
        result: RunResult | None = None
        try:
            result = run_pipeline(
                job.input.path,
                self.backend,
                RunOptions(
                    self.options.with_text,
                    self.options.chunk_max_tokens,
                    time_limit=self.options.time_limit,
                    clock=self.options.clock,
                ),
            )
        except Exception as e:
            exc = e
        brief: Brief | None = result.brief if result is not None else None
        failures = ChunkFailures.of(result)
        failed = failures.failed
        elapsed = round((time.perf_counter() - started) * 1000)
        if (
            (exc is not None or failed)
            and job.attempt <= self.options.report_retries
            and _transient(exc, failures)
        ):
            return _Outcome(None)
        try:
            if brief is not None:
                record = self.store.save_brief(
                    job.input, job.name, brief, failed=failed, attempts=job.attempt, elapsed_ms=elapsed
                )
            else:
                assert exc is not None
                record = self.store.save_failure(
                    job.input, job.name, exc, attempts=job.attempt, elapsed_ms=elapsed
                )
        except StoreClosed:
            return _Outcome(None)
        except OSError as e:  # the output folder itself failed (disk full…): nothing else will work
            return _Outcome(None, fatal=f"cannot write to {self.options.outdir}: {e}")
        fatal = None
        if exc is not None and _fatal(exc):
            fatal = str(exc)
        return _Outcome(record, fatal=fatal)

    def run(self) -> BatchResult:
        todo, done = self.store.plan(self.inputs, force=self.options.force)
        self.counters.start(total=len(self.inputs), cached=len(done))
        self.progress.start(len(self.inputs), len(done))
        queue: deque[Job] = deque(todo)
        workers = max(1, min(self.options.concurrency, len(todo) or 1))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="govbrief-batch")
        pending: dict[Future[_Outcome], Job] = {}
        interrupted = False
        stopped: str | None = None
        abandoned = 0
        last_manifest = time.monotonic()
        try:
            try:
                while queue or pending:
                    while queue and len(pending) < workers and stopped is None and not interrupted:
                        job = queue.popleft()
                        pending[pool.submit(self._work, job)] = job
                    if not pending:
                        break
                    finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        job = pending.pop(future)
                        outcome = future.result()
                        if outcome.record is None and outcome.fatal is None:
                            queue.append(Job(job.input, job.name, job.attempt + 1))
                            continue
                        if outcome.record is not None:
                            self.counters.add(outcome.record)
                            self.progress.finished(outcome.record)
                        if outcome.fatal is not None and stopped is None:
                            stopped = outcome.fatal
                            self.progress.note(f"stopping the batch: {outcome.fatal}")
                    if time.monotonic() - last_manifest > MANIFEST_EVERY:
                        self.store.write_manifest(self.inputs, self._run_info(interrupted, stopped, 0))
                        last_manifest = time.monotonic()
            except KeyboardInterrupt:
                # First Ctrl-C: stop starting reports, let the in-flight ones finish and be recorded.
                interrupted = True
                self.progress.note(
                    f"interrupted: finishing {len(pending)} report(s) in flight; Ctrl-C again to stop now "
                    "(run the same command again to resume)"
                )
                while pending:
                    finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                    for future in finished:
                        pending.pop(future)
                        outcome = future.result()
                        if outcome.record is not None:
                            self.counters.add(outcome.record)
                            self.progress.finished(outcome.record)
        except (KeyboardInterrupt, StopBatch):
            interrupted = True
            abandoned = len(pending)
        finally:
            pool.shutdown(wait=abandoned == 0, cancel_futures=True)
            self.progress.close()
            self.store.finish(self.inputs, self._run_info(interrupted, stopped, abandoned))
            self.store.close()
        records = [self.store.records[i.key] for i in self.inputs if i.key in self.store.records]
        return BatchResult(
            records=records,
            counters=self.counters,
            interrupted=interrupted,
            stopped=stopped,
            abandoned=abandoned,
            limiter=self._limiter_info(),
        )

    def _limiter_info(self) -> dict[str, Any] | None:
        if self.limiter is None:
            return None
        st = self.limiter.stats()
        return {
            "ceiling": st.ceiling,
            "final": round(st.limit, 2),
            "lowest": round(st.lowest, 2),
            "throttled": st.throttled,
            "decreases": st.decreases,
        }

    def _run_info(self, interrupted: bool, stopped: str | None, abandoned: int) -> dict[str, Any]:
        return run_info(
            self.store,
            self.counters,
            self._started_at,
            len(self.inputs),
            interrupted,
            concurrency=self.options.concurrency,
            stopped=stopped,
            abandoned=abandoned,
            limiter=self._limiter_info(),
        )
