"""`govbrief batch --via openai-batch`: the chunk requests go through OpenAI's Batch API (or a
compatible provider's) instead of being sent one by one: half the price, results within 24 hours.

    prepare   read + analyze every report (the pipeline's own stages); a report that cannot be read
              fails here, in the manifest, like on the direct path. The backend plans the requests
              (`plan_requests`: packing, structured mode, prompt) and the chunks whose answers its
              cache already holds (`cached_answer`) are not sent again
    write     one JSONL line per chunk request, exactly the request the direct path would send:
              {"custom_id", "method": "POST", "url": "/v1/chat/completions", "body": {...}}
              (kept under OUTDIR/.openai-batch/ for inspection), split at 50,000 lines / ~190 MB
    submit    upload the file (files API, purpose=batch), create the batch, and record its id in
              OUTDIR/.openai-batch/state.json BEFORE polling, so an interrupted run resumes polling
              the same batch instead of paying for a second one
    poll      until the batch is completed, failed, expired or cancelled
    assemble  each answer → `parse_chunk_result`, cached where the direct path looks (`store_answer`),
              then the backend's own `assemble` (drafts, failed chunks, usage) → the pipeline's
              grounding and merge (`summarize_document`), so a brief from the Batch API passes
              through exactly the validation and grounding of a direct one

What the Batch API cannot do that the direct path does: re-ask after an invalid answer, split a
chunk whose answer was cut off, write the overview from the extracted items (a second round trip of
up to 24 h). Such chunks are recorded as failed chunks (status `partial`, redone by the next run,
which sends only them: the answered ones are in the cache); the overview is the pipeline's default
one.

This module is an edge: it imports the openai client. The pipeline never imports it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

import openai

from service.backends.base import Backend
from service.backends.openai_backend import Answer, OpenAIBackend, RunStats
from service.batch.inputs import BatchInput
from service.batch.manifest import Fingerprint, now_iso, write_atomic
from service.batch.progress import BatchProgress, Counters, QuietProgress
from service.batch.runner import BatchOptions, BatchResult, Job, OutputStore, StopBatch, run_info
from service.document import Document, Extraction
from service.errors import ConfigError, GovbriefError, LLMError, LLMResponseError
from service.extract import AnswerFormatError, ChunkResult, Pack, parse_chunk_result
from service.ingest import read_path
from service.llm.client import ChatRequest
from service.llm.errors import ExtractionFailed
from service.pipeline import analyze, summarize_document
from service.settings import Settings

STATE_DIR = ".openai-batch"
ENDPOINT: Final = "/v1/chat/completions"
#: OpenAI's limits per batch input file: 50,000 requests and 200 MB; stay clear of the byte limit.
MAX_REQUESTS = 50_000
MAX_BYTES = 190 * 1024 * 1024
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


@dataclass
class _Prepared:
    job: Job
    doc: Document
    requests: list[tuple[Pack, ChatRequest]]  # the backend's plan: exactly what the direct path asks
    cached: dict[str, ChunkResult] = field(default_factory=dict)  # pack id → answer from the cache


@dataclass
class _Answer:
    content: str | None = None
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    error: str | None = None


class _Assembled:
    """A backend that answers with an extraction made earlier: the pipeline grounds and merges it."""

    name = "openai-batch"

    def __init__(self, extraction: Extraction) -> None:
        self._extraction = extraction

    def extract(self, doc: Document) -> Extraction:
        return self._extraction


# --- the SDK client for files and batches --------------------------------------------------------


def batch_client(settings: Settings) -> openai.OpenAI:
    """Uploads, polls and downloads are idempotent and cheap, so the SDK's own retries are fine here
    (chat requests go through the backend's transport, the one retry layer for them)."""
    if not settings.llm_base_url and settings.llm_api_key is None:
        raise ConfigError("--via openai-batch needs GOVBRIEF_LLM_BASE_URL or an API key")
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key is not None else "not-needed"
    return openai.OpenAI(
        api_key=key, base_url=settings.llm_base_url or None, timeout=settings.llm_timeout, max_retries=3
    )


# --- requests -----------------------------------------------------------------------------------


def request_line(custom_id: str, body: dict[str, Any]) -> str:
    return json.dumps(
        {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}, ensure_ascii=False
    )


def split_lines(
    lines: list[str], *, max_requests: int = MAX_REQUESTS, max_bytes: int = MAX_BYTES
) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    size = 0
    for line in lines:
        n = len(line.encode()) + 1
        if parts[-1] and (len(parts[-1]) >= max_requests or size + n > max_bytes):
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += n
    return [p for p in parts if p]


def parse_results(text: str) -> dict[str, _Answer]:
    """custom_id → answer, from an output or error file of the Batch API."""
    out: dict[str, _Answer] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        cid = str(row.get("custom_id"))
        response = row.get("response") or {}
        error = row.get("error")
        body = response.get("body") if isinstance(response, dict) else None
        status = response.get("status_code") if isinstance(response, dict) else None
        if error or status != 200 or not isinstance(body, dict):
            message = (error or {}).get("message") if isinstance(error, dict) else None
            if message is None and isinstance(body, dict):
                inner = body.get("error")
                message = inner.get("message") if isinstance(inner, dict) else None
            out[cid] = _Answer(error=f"HTTP {status}: {message or error or 'no answer'}")
            continue
        choices = body.get("choices") or []
        usage = body.get("usage") or {}
        if not choices:
            out[cid] = _Answer(error="response has no choices")
            continue
        message = choices[0].get("message") or {}
        out[cid] = _Answer(
            content=message.get("content") or "",
            finish_reason=choices[0].get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )
    return out


# --- the run ------------------------------------------------------------------------------------


class OpenAIBatchRun:
    def __init__(
        self,
        backend: Backend,
        inputs: list[BatchInput],
        options: BatchOptions,
        *,
        settings: Settings,
        client: Any = None,
        progress: BatchProgress | None = None,
        counters: Counters | None = None,
        poll_interval: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not isinstance(backend, OpenAIBackend):
            raise ConfigError("--via openai-batch needs the openai backend")
        self.backend: OpenAIBackend = backend
        self.inputs = inputs
        self.options = options
        self.settings = settings
        self.client = client or batch_client(settings)
        self.progress = progress or QuietProgress()
        self.counters = counters or Counters()
        self.poll_interval = poll_interval
        self.sleep = sleep
        self.fingerprint = Fingerprint.of(
            backend, chunk_max_tokens=options.chunk_max_tokens, with_text=options.with_text
        )
        options.outdir.mkdir(parents=True, exist_ok=True)
        self.store = OutputStore(options.outdir, self.fingerprint)
        self.state_dir = options.outdir / STATE_DIR
        self.state_path = self.state_dir / "state.json"
        # One mode for the whole run (the Batch API cannot step down the ladder mid-batch): the one the
        # direct path would start in now, so both ask the same requests and share cache entries.
        self.mode = self.backend.current_mode()
        self._started_at = now_iso()

    # --- state: which batches are out there, and which reports they carry ------------------------

    def _load_state(self) -> dict[str, Any]:
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"submissions": []}
        if state.get("fingerprint") != self.fingerprint.digest:
            # Other settings: those answers don't fit these reports. Their ids stay on record (a
            # batch that is still running is still billed) but nothing waits for them.
            stale = [s for s in state.get("submissions", []) if not s.get("assembled")]
            if stale:
                self.progress.note(
                    f"not waiting for batch(es) {', '.join(s['batch_id'] for s in stale)}: "
                    "submitted with other settings"
                )
            return {"submissions": [], "stale_submissions": [*state.get("stale_submissions", []), *stale]}
        return dict(state)

    def _save_state(self, state: dict[str, Any]) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        state["fingerprint"] = self.fingerprint.digest
        state["updated_at"] = now_iso()
        write_atomic(self.state_path, json.dumps(state, ensure_ascii=False, indent=2) + "\n")

    # --- steps ----------------------------------------------------------------------------------

    def _prepare(self, job: Job) -> _Prepared | None:
        """Read and analyze one report, and pick up the chunk answers the cache already holds."""
        try:
            doc = analyze(read_path(job.input.path), chunk_max_tokens=self.options.chunk_max_tokens)
        except GovbriefError as e:
            self._done(self.store.save_failure(job.input, job.name, e))
            return None
        prep = _Prepared(job, doc, self.backend.plan_requests(doc, mode=self.mode))
        for pack, request in prep.requests:
            # Answered already, by the direct path or an earlier batch: not paid for twice.
            cached = self.backend.cached_answer(request, self.mode)
            if cached is not None:
                prep.cached[pack.id] = cached
        return prep

    def _submit(self, prepared: list[_Prepared], state: dict[str, Any]) -> None:
        lines: list[str] = []
        jobs: dict[str, dict[str, Any]] = {}
        for n, prep in enumerate(prepared):
            jid = f"r{n}"
            jobs[jid] = {"input": prep.job.input.key, "name": prep.job.name, "sha256": prep.doc.sha256}
            for pack, request in prep.requests:
                if pack.id not in prep.cached:
                    lines.append(request_line(f"{jid}:{pack.id}", request.body()))
        if not lines:
            return
        self.state_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for part, chunk_lines in enumerate(split_lines(lines)):
            # Each submission carries only the reports whose requests it holds.
            ids = {line_id.split(":", 1)[0] for line_id in (json.loads(x)["custom_id"] for x in chunk_lines)}
            path = self.state_dir / f"requests-{stamp}-{part}.jsonl"
            data = ("\n".join(chunk_lines) + "\n").encode()
            write_atomic(path, data)
            uploaded = self.client.files.create(file=(path.name, data, "application/jsonl"), purpose="batch")
            created = self.client.batches.create(
                input_file_id=uploaded.id,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"tool": "govbrief", "requests_file": path.name},
            )
            state.setdefault("submissions", []).append(
                {
                    "batch_id": created.id,
                    "input_file_id": uploaded.id,
                    "requests_file": path.name,
                    "requests": len(chunk_lines),
                    "jobs": {jid: jobs[jid] for jid in sorted(ids)},
                    "submitted_at": now_iso(),
                }
            )
            self._save_state(state)  # before any polling: a kill now must not lose the batch id
            self.progress.note(f"submitted batch {created.id}: {len(chunk_lines)} requests ({path.name})")

    def _poll(self, batch_id: str) -> Any:
        last = None
        while True:
            batch = self.client.batches.retrieve(batch_id)
            counts = getattr(batch, "request_counts", None)
            seen = (batch.status, getattr(counts, "completed", None), getattr(counts, "failed", None))
            if seen != last:
                done = (
                    f" {counts.completed}/{counts.total} done, {counts.failed} failed"
                    if counts is not None
                    else ""
                )
                self.progress.note(f"batch {batch_id}: {batch.status}{done}")
                last = seen
            if batch.status in TERMINAL:
                return batch
            self.sleep(self.poll_interval)

    def _download(self, file_id: str | None) -> dict[str, _Answer]:
        if not file_id:
            return {}
        content = self.client.files.content(file_id)
        text = content.text if hasattr(content, "text") else content.read().decode()
        return parse_results(text)

    def _assemble(self, prep: _Prepared, jid: str, answers: dict[str, _Answer], batch_status: str) -> None:
        stats = RunStats()
        results: dict[str, Answer] = {}
        for pack, request in prep.requests:
            cached = prep.cached.get(pack.id)
            if cached is not None:
                stats.meter.cache(True)
                stats.note("modes", self.mode)  # provenance.structured_output
                results[pack.id] = cached
                continue
            answer = answers.get(f"{jid}:{pack.id}") or _Answer(
                error=f"no answer in the batch ({batch_status})"
            )
            if answer.error is None:  # a line the provider answered (and billed)
                stats.meter.http_call()
                stats.meter.cache(False)
            stats.meter.add_tokens(answer.prompt_tokens, answer.completion_tokens)
            try:
                result = self._result(answer)
            except (AnswerFormatError, LLMError) as e:
                results[pack.id] = e
                continue
            self.backend.store_answer(request, self.mode, result)
            stats.note("modes", self.mode)
            results[pack.id] = result
        job = prep.job
        try:
            extraction = self.backend.assemble(prep.doc, results, stats=stats)
        except ExtractionFailed as e:  # no usable answer for any of its requests
            self._done(self.store.save_failure(job.input, job.name, e))
            return
        # The configured prices are the direct path's; the Batch API bills differently.
        extraction.usage = replace(extraction.usage, cost_usd=None)
        started = time.perf_counter()
        try:
            brief = summarize_document(prep.doc, _Assembled(extraction), with_text=self.options.with_text)
        except Exception as e:  # a bug in grounding must not lose the other reports' answers
            self._done(self.store.save_failure(job.input, job.name, e))
            return
        record = self.store.save_brief(
            job.input,
            job.name,
            brief,
            failed=list(extraction.failed_chunks.items()),
            elapsed_ms=round((time.perf_counter() - started) * 1000),
        )
        self._done(record)

    @staticmethod
    def _result(answer: _Answer) -> ChunkResult:
        if answer.error is not None:
            raise LLMError(answer.error)
        if answer.finish_reason == "length":
            raise LLMResponseError("answer cut off at max_tokens (the Batch API cannot split the chunk)")
        return parse_chunk_result(answer.content or "")

    def _done(self, record: Any) -> None:
        self.counters.add(record)
        self.progress.finished(record)

    # --- the whole run --------------------------------------------------------------------------

    def run(self) -> BatchResult:
        todo, done = self.store.plan(self.inputs, force=self.options.force)
        self.counters.start(total=len(self.inputs), cached=len(done))
        self.progress.start(len(self.inputs), len(done))
        state = self._load_state()
        interrupted = False
        try:
            by_key = {job.input.key: job for job in todo}
            # Reports already out in an unfinished batch (same bytes) wait for it, not for a new one.
            out_there = {
                j["input"]
                for s in state.get("submissions", [])
                if not s.get("assembled")
                for j in s["jobs"].values()
                if j["input"] in by_key
            }
            fresh = [job for job in todo if job.input.key not in out_there]
            prepared = [p for p in map(self._prepare, fresh) if p is not None]
            ready = [p for p in prepared if len(p.cached) == len(p.requests)]
            for prep in ready:  # every chunk answered from the cache: nothing to send
                self._assemble(prep, "", {}, "cached")
            self._submit([p for p in prepared if p not in ready], state)
            self._collect(state, by_key)
        except (KeyboardInterrupt, StopBatch):
            interrupted = True
            pending = [s["batch_id"] for s in state.get("submissions", []) if not s.get("assembled")]
            if pending:
                self.progress.note(
                    f"interrupted: batch(es) {', '.join(pending)} keep running at the provider; "
                    "run the same command again to collect their results"
                )
        finally:
            self.progress.close()
            self.store.finish(self.inputs, self._run_info(interrupted))
            self.store.close()
        records = [self.store.records[i.key] for i in self.inputs if i.key in self.store.records]
        return BatchResult(records=records, counters=self.counters, interrupted=interrupted)

    def _collect(self, state: dict[str, Any], by_key: dict[str, Job]) -> None:
        for submission in state.get("submissions", []):
            if submission.get("assembled"):
                continue
            batch = self._poll(submission["batch_id"])
            answers = self._download(getattr(batch, "output_file_id", None))
            for cid, answer in self._download(getattr(batch, "error_file_id", None)).items():
                answers.setdefault(cid, answer)
            status = _describe(batch)
            for jid, meta in submission["jobs"].items():
                job = by_key.get(meta["input"])
                if job is None:
                    continue  # done since, or no longer among the inputs
                prep = self._prepare(job)
                if prep is None:
                    continue
                if prep.doc.sha256 != meta["sha256"]:
                    # The file changed while its batch ran: those answers are for other text.
                    self.progress.note(
                        f"{job.input.given}: changed since it was submitted; run again to redo it"
                    )
                    continue
                self._assemble(prep, jid, answers, status)
            submission["assembled"] = True
            submission["status"] = batch.status
            self._save_state(state)

    def _run_info(self, interrupted: bool) -> dict[str, Any]:
        return run_info(
            self.store, self.counters, self._started_at, len(self.inputs), interrupted, via="openai-batch"
        )


def _describe(batch: Any) -> str:
    """The batch's status, with the provider's first error when it failed as a whole."""
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    first = getattr(errors[0], "message", None) if errors else None
    return f"{batch.status}: {first}" if first else str(batch.status)


def run_openai_batch(
    backend: Backend,
    inputs: list[BatchInput],
    options: BatchOptions,
    *,
    settings: Settings,
    progress: BatchProgress | None = None,
    counters: Counters | None = None,
    poll_interval: float = 30.0,
    client: Any = None,
) -> BatchResult:
    return OpenAIBatchRun(
        backend,
        inputs,
        options,
        settings=settings,
        client=client,
        progress=progress,
        counters=counters,
        poll_interval=poll_interval,
    ).run()
