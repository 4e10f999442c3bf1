"""The `openai` backend: any OpenAI-compatible chat endpoint extracts items that cite sentence ids.

Per chunk: render the prompt (numbered sentences) → look up the cache → ask, with the structured
output mode in force → validate, re-asking with the error a bounded number of times → on
`finish_reason == "length"` split the chunk in two and ask for each half → turn the answer into
DraftItems (ids outside the chunk are dropped with a warning) → cache the validated answer. Chunks
run in parallel; one chunk's failure is a warning (and an entry in `Extraction.failed_chunks`), and
the Brief is built from the others. A last call writes the overview from the extracted items.

The pieces are public so the Batch API path (`service.batch.openai_batch`) asks exactly what this
path asks and reads answers exactly as it reads them:

    plan_requests(doc)        [(pack, request)]: the packing, structured mode and prompt in force
    chunk_cache_key(req, m)   where a validated answer to `req` in mode `m` is cached
    cached_answer / store_answer   read and write that cache entry
    assemble(doc, answers)    answers (or errors) per pack → the Extraction: drafts, warnings,
                              failed chunks, usage; no HTTP
    fingerprint()             everything in the settings that changes the answers

`extract()` is those pieces plus asking (re-asks, length splits, the structured-output ladder) and
the overview. Its per-call `RunStats` ride on `Extraction.stats`; `last_run` is the calling
thread's latest run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from service import progress
from service.chunk import extractable
from service.document import Document, DraftItem, Extraction, Usage
from service.errors import ConfigError, LLMError, LLMResponseError, LLMTransportError
from service.extract import (
    AnswerFormatError,
    ChunkResult,
    Pack,
    chunk_result_schema,
    chunk_result_schema_json,
    extract_json,
    pack_chunks,
    parse_chunk_result,
    render_parts,
    split_pack,
    strip_reasoning,
    to_drafts,
)
from service.llm import structured
from service.llm.accounting import Meter, cost_usd, count_tokens, estimate_prompt_tokens
from service.llm.cache import AnswerCache, Cache, answer_key
from service.llm.client import ChatClient, ChatRequest, ChatResponse, OpenAIChatClient
from service.llm.errors import AuthFailed, ExtractionFailed, ModeRejected, Truncated
from service.llm.transport import RetryBudget, RetryPolicy, Transport
from service.models import schema_hash
from service.progress import Progress
from service.prompts import Prompt, load_prompt
from service.settings import Settings

log = logging.getLogger("govbrief.llm")

SECTION_ZH = {"achievements": "成效", "problems": "问题", "plans": "计划", "leadership": "第一责任人"}

DEFAULT_PACK_TOKENS = 4000
OVERVIEW_MAX_TOKENS = 512
OVERVIEW_MAX_CHARS = 400
_OVERVIEW_TITLES_PER_SECTION = 12
_OVERVIEW_TITLE_CHARS = 24
_REASK_ECHO_CHARS = 1500  # how much of a bad answer is shown back to the model


#: What `assemble()` takes per pack id: the validated answer, or why there is none.
Answer = ChunkResult | BaseException


@dataclass
class RunStats:
    """What one `extract()` (or one `assemble()`) did, beyond what provenance records (for tests,
    bench and logs). One per call: it is returned on `Extraction.stats`."""

    meter: Meter = field(default_factory=Meter)
    modes: list[str] = field(default_factory=list)  # the mode of every answer that was accepted
    rejected_modes: list[str] = field(default_factory=list)
    splits: int = 0
    reasks: int = 0
    failed_chunks: list[str] = field(default_factory=list)
    aborted: threading.Event = field(default_factory=threading.Event, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, attr: str, value: Any = 1) -> None:
        with self._lock:
            current = getattr(self, attr)
            if isinstance(current, list):
                current.append(value)
            else:
                setattr(self, attr, current + value)


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        settings: Settings,
        *,
        client: ChatClient | None = None,
        cache: Cache | None = None,
        use_cache: bool = True,
        refresh: bool = False,
        retry: RetryPolicy | None = None,
        limiter: AbstractContextManager[Any] | None = None,
        prompts_dir: Path | None = None,
        pack_tokens: int | None = None,
        retry_budget: RetryBudget | None = None,
    ) -> None:
        if not settings.llm_model:
            raise ConfigError("the openai backend needs a model: set GOVBRIEF_LLM_MODEL")
        self.settings = settings
        self.model: str = settings.llm_model
        self.client: ChatClient = client if client is not None else OpenAIChatClient.from_settings(settings)
        self.cache: Cache = (
            cache
            if cache is not None
            else AnswerCache(Path(settings.cache_dir) / "llm", enabled=use_cache, refresh=refresh)
        )
        # One semaphore bounds in-flight requests for everything sharing this backend (the HTTP app's
        # threads, batch), not just the chunks of one report; one retry budget bounds their retries.
        self.transport = Transport(
            retry or RetryPolicy.from_settings(settings),
            limiter if limiter is not None else threading.BoundedSemaphore(settings.llm_concurrency),
            retry_budget if retry_budget is not None else RetryBudget.from_settings(settings),
        )
        prompts_dir = prompts_dir or settings.prompts_dir
        self.prompt: Prompt = load_prompt(settings.prompt_id, settings.prompt_version, prompts_dir)
        self.overview_prompt: Prompt = load_prompt("overview", None, prompts_dir)
        self.schema = chunk_result_schema()
        self.schema_hash = schema_hash(self.schema)
        self.mode_setting: str = settings.llm_structured_output
        structured.rungs(self.mode_setting)  # fail at construction on an unknown mode
        # Chunks are packed into requests of up to this many tokens (see extract.Pack).
        self.pack_tokens: int = (
            pack_tokens
            if pack_tokens is not None
            else getattr(settings, "llm_pack_tokens", DEFAULT_PACK_TOKENS)
        )
        # Per-run stats: each thread's latest run, and the latest of all for callers on other threads.
        self._runs = threading.local()
        self._latest_run: RunStats | None = None
        self._runs_lock = threading.Lock()

    @property
    def last_run(self) -> RunStats | None:
        """The stats of the latest `extract()` on the calling thread (else the latest on any thread).
        Concurrent callers should read `Extraction.stats` of the extraction they got instead."""
        own: RunStats | None = getattr(self._runs, "run", None)
        if own is not None:
            return own
        with self._runs_lock:
            return self._latest_run

    def _start_run(self) -> RunStats:
        run = RunStats()
        self._runs.run = run
        with self._runs_lock:
            self._latest_run = run
        return run

    # --- the Backend protocol ---------------------------------------------------------------

    def extract(self, doc: Document) -> Extraction:
        run = self._start_run()
        mode = self.current_mode()
        planned = self.plan_requests(doc, mode=mode)
        answers: dict[str, Answer] = {}
        # Cached answers are read here, in the caller's thread: a fully cached report starts no threads.
        misses = []
        for pack, request in planned:
            cached = self._lookup(run, self.chunk_cache_key(request, mode), mode)
            if cached is None:
                misses.append(pack)
            else:
                answers[pack.id] = cached
        total = sum(len(pack.parts) for pack, _ in planned)
        done = total - sum(len(pack.parts) for pack in misses)
        if done:
            self._progress(run, done, total)
        if misses:
            workers = min(self.settings.llm_concurrency, len(misses))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="govbrief-llm") as pool:
                futures = {pool.submit(self._chunk, run, p): p for p in misses}
                for future in as_completed(futures):
                    pack = futures[future]
                    exc = future.exception()
                    done += len(pack.parts)
                    try:
                        self._progress(run, done, total)
                    except BaseException:
                        # The listener stopped the run (a cancelled job): send nothing more.
                        for other in futures:
                            other.cancel()
                        raise
                    if exc is None:
                        answers[pack.id] = future.result()
                    elif isinstance(exc, AuthFailed):
                        # No other chunk can succeed either: don't spend calls finding out.
                        for other in futures:
                            other.cancel()
                        raise AuthFailed(self.client.redact(str(exc)), status=exc.status) from None
                    elif isinstance(exc, LLMError):
                        answers[pack.id] = exc
                    else:
                        raise exc

        extraction = self.assemble(doc, answers, stats=run)
        if extraction.drafts:
            try:
                extraction.overview = self._overview(run, doc, extraction.drafts)
            except AuthFailed as exc:
                raise AuthFailed(self.client.redact(str(exc)), status=exc.status) from None
            except LLMError as exc:
                extraction.warnings.append(
                    f"overview: no usable answer, using the default ({self.client.redact(str(exc))})"
                )
            extraction.usage = self._usage(run)  # the overview's calls included
        return extraction

    def _progress(self, run: RunStats, done: int, total: int) -> None:
        """Chunks answered so far (cached or not) and what they cost, to `pipeline.run`'s listener."""
        if progress.active():
            meter = run.meter
            progress.report(Progress(done, total, meter.calls, meter.prompt_tokens, meter.completion_tokens))

    # --- the pieces extract() is made of, public for the Batch API path ------------------------

    def packs(self, doc: Document) -> list[Pack]:
        """The requests' packs, in document order. The page header and the signature hold no items;
        a report whose outline found no sections at all is sent whole rather than not at all."""
        return pack_chunks(extractable(doc.chunks) or list(doc.chunks), self.pack_tokens)

    def plan_requests(self, doc: Document, *, mode: str | None = None) -> list[tuple[Pack, ChatRequest]]:
        """One chat request per pack, exactly as `extract()` first sends it: in `mode`, by default
        the structured-output mode now in force (`current_mode()`)."""
        mode = mode if mode is not None else self.current_mode()
        return [(pack, self.chunk_request(pack, mode)) for pack in self.packs(doc)]

    def chunk_cache_key(self, request: ChatRequest, mode: str) -> str:
        """The answer cache's key for a validated answer to the chunk request `request` in `mode`."""
        return self._key("chunk", mode, request, self.prompt)

    def cached_answer(self, request: ChatRequest, mode: str) -> ChunkResult | None:
        """The validated answer the cache holds for `request` in `mode` (direct path or batch)."""
        return _as_result(self.cache.get(self.chunk_cache_key(request, mode)))

    def store_answer(self, request: ChatRequest, mode: str, result: ChunkResult) -> None:
        """Cache a validated answer where `extract()` looks for it."""
        self.cache.set(self.chunk_cache_key(request, mode), result.model_dump(mode="json"))

    def assemble(
        self, doc: Document, answers: Mapping[str, Answer], *, stats: RunStats | None = None
    ) -> Extraction:
        """The Extraction for `doc` from each pack's answer (`plan_requests` ids), without the
        overview and without any HTTP: drafts checked against what each request showed, a warning
        and a `failed_chunks` entry per pack without a usable answer, usage from `stats.meter`.

        Raises `ExtractionFailed` when no pack has a usable answer (an empty brief is not a brief).
        """
        run = stats if stats is not None else RunStats()
        packs = self.packs(doc)
        drafts: list[DraftItem] = []
        warnings: list[str] = []
        failed: dict[str, str] = {}
        transient = False
        for pack in packs:
            answer = answers.get(pack.id)
            if not isinstance(answer, ChunkResult):
                reason = self.client.redact(str(answer) if answer is not None else "no answer")
                failed[pack.id] = reason
                transient = transient or isinstance(answer, LLMTransportError)
                run.note("failed_chunks", pack.id)
                warnings.append(f"chunk {pack.id}: no usable answer, its items are missing ({reason})")
                continue
            chunk_drafts, chunk_warnings = self._drafts(answer, pack)
            drafts += chunk_drafts
            warnings += chunk_warnings
        if packs and len(failed) == len(packs):
            raise ExtractionFailed(
                f"the LLM gave no usable answer for any of {len(packs)} requests: {next(iter(failed.values()))}",
                failed_chunks=failed,
                transient=transient,
            )
        return Extraction(
            drafts=drafts,
            overview=None,
            warnings=[self.client.redact(w) for w in warnings],
            usage=self._usage(run),
            failed_chunks=failed,
            transient_failure=transient,
            stats=run,
        )

    def fingerprint(self) -> dict[str, Any]:
        """Everything in this backend's settings that changes its answers (and so the briefs): batch
        folds it into its settings fingerprint, so changing any of it redoes the reports."""
        return {
            "model": self.model,
            "prompt": [self.prompt.id, self.prompt.version, self.prompt.hash],
            "overview_prompt": [
                self.overview_prompt.id,
                self.overview_prompt.version,
                self.overview_prompt.hash,
            ],
            "schema_hash": self.schema_hash,
            "temperature": self.settings.llm_temperature,
            "max_tokens": self.settings.llm_max_tokens,
            "structured_output": self.mode_setting,
            "pack_tokens": self.pack_tokens,
        }

    def _usage(self, run: RunStats) -> Usage:
        meter = run.meter
        return Usage(
            model=self.model,
            prompt_id=self.prompt.id,
            prompt_version=self.prompt.version,
            prompt_hash=self.prompt.hash,
            cache_hit=meter.all_cached,
            llm_calls=meter.calls,
            prompt_tokens=meter.prompt_tokens,
            completion_tokens=meter.completion_tokens,
            cost_usd=cost_usd(
                meter.prompt_tokens,
                meter.completion_tokens,
                self.settings.llm_price_prompt_per_1k,
                self.settings.llm_price_completion_per_1k,
            ),
        )

    # --- one chunk ----------------------------------------------------------------------------

    def _log(self, message: str, *args: Any) -> None:
        # Messages quote server error bodies and model answers, either of which may echo the key.
        if log.isEnabledFor(logging.INFO):
            log.info("%s", self.client.redact(message % args))

    def _chunk(self, run: RunStats, pack: Pack) -> ChunkResult:
        if run.aborted.is_set():
            raise LLMError("not sent: the report was abandoned after an authentication error")
        try:
            return self._answer(run, pack)
        except AuthFailed:
            run.aborted.set()
            raise

    def _drafts(self, result: ChunkResult, pack: Pack) -> tuple[list[DraftItem], list[str]]:
        drafts, warnings = to_drafts(result, pack)
        for draft in drafts:
            draft.title = self.client.redact(draft.title)
            draft.summary = self.client.redact(draft.summary)
        return drafts, warnings

    def _mode_note_key(self) -> str:
        return answer_key(kind="structured-mode", base_url=self.client.base_url, model=self.model)

    def current_mode(self) -> str:
        """The structured-output mode a request would be sent in now."""
        persisted = self.cache.get_note(self._mode_note_key()) if self.mode_setting == "auto" else None
        return structured.start_mode(self.mode_setting, self.client.base_url, self.model, persisted)

    def _lower_mode(self, mode: str) -> None:
        """Record `mode` as where to start, unless another chunk already went lower."""
        known = structured.remembered(self.client.base_url, self.model)
        if known is None or structured.LADDER.index(known) < structured.LADDER.index(mode):
            structured.remember(self.client.base_url, self.model, mode)

    def chunk_request(self, pack: Pack, mode: str) -> ChatRequest:
        rendered = self.prompt.render(
            parts=render_parts(pack),
            schema=chunk_result_schema_json() if structured.schema_in_prompt(mode) else None,
        )
        response_format, extra_body = structured.request_shape(mode, self.schema)
        return ChatRequest(
            model=self.model,
            messages=[
                {"role": "system", "content": rendered.system},
                {"role": "user", "content": rendered.user},
            ],
            temperature=self.settings.llm_temperature,
            max_tokens=self.settings.llm_max_tokens,
            response_format=response_format,
            extra_body=extra_body,
        )

    def _key(self, kind: str, mode: str, request: ChatRequest, prompt: Prompt) -> str:
        return answer_key(
            kind=kind,
            base_url=self.client.base_url,
            model=self.model,
            prompt=[prompt.id, prompt.version, prompt.hash],
            schema=self.schema_hash,
            mode=mode,
            decoding={"temperature": request.temperature, "max_tokens": request.max_tokens},
            messages=request.messages,
        )

    def _lookup(self, run: RunStats, key: str, mode: str) -> ChunkResult | None:
        result = _as_result(self.cache.get(key))
        if result is None:
            return None
        run.meter.cache(True)
        run.note("modes", mode)
        return result

    def _answer(self, run: RunStats, pack: Pack) -> ChunkResult:
        while True:
            mode = self.current_mode()
            request = self.chunk_request(pack, mode)
            key = self.chunk_cache_key(request, mode)
            cached = self._lookup(run, key, mode)
            if cached is not None:
                return cached
            run.meter.cache(False)
            try:
                result = self._ask(run, request, parse_chunk_result, f"chunk {pack.id}", mode)
            except ModeRejected as exc:
                # Only a rejection of the output mode steps down; any other one fails at once.
                lower = structured.next_mode(self.mode_setting, mode)
                if lower is None:
                    hint = (
                        ""
                        if self.mode_setting == "auto"
                        else " (GOVBRIEF_LLM_STRUCTURED_OUTPUT=auto steps down)"
                    )
                    raise ModeRejected(f"{exc} [mode {mode}]{hint}", status=exc.status) from None
                self._log(
                    "%s rejected structured mode %s (%s); trying %s", self.client.base_url, mode, exc, lower
                )
                run.note("rejected_modes", mode)
                self._lower_mode(lower)
                continue
            except Truncated:
                halves = split_pack(pack)
                if halves is None:
                    raise LLMResponseError(
                        f"chunk {pack.id}: answer cut off at max_tokens={request.max_tokens} even for one sentence"
                    ) from None
                run.note("splits")
                self._log(
                    "chunk %s: answer cut off at max_tokens; splitting into %s and %s",
                    pack.id,
                    *(h.id for h in halves),
                )
                result = ChunkResult(
                    items=[*self._answer(run, halves[0]).items, *self._answer(run, halves[1]).items]
                )
            self._lower_mode(mode)
            if self.mode_setting == "auto":
                self.cache.set_note(self._mode_note_key(), mode)
            self.cache.set(key, result.model_dump(mode="json"))
            run.note("modes", mode)
            return result

    # --- asking, re-asking, accounting --------------------------------------------------------

    def _send(self, run: RunStats, request: ChatRequest, describe: str) -> ChatResponse:
        response = self.transport.call(
            lambda timeout: self.client.complete(request, timeout=timeout),
            on_attempt=run.meter.http_call,
            describe=describe,
        )
        prompt_tokens = response.prompt_tokens
        completion_tokens = response.completion_tokens
        estimated = prompt_tokens is None or completion_tokens is None
        if prompt_tokens is None:
            prompt_tokens = estimate_prompt_tokens(request.messages)
            if request.response_format and "json_schema" in request.response_format:
                prompt_tokens += count_tokens(chunk_result_schema_json())
        if completion_tokens is None:
            completion_tokens = count_tokens(response.content)
        run.meter.add_tokens(prompt_tokens, completion_tokens, estimated=estimated)
        return response

    def _ask(self, run: RunStats, request: ChatRequest, parse: Any, describe: str, mode: str) -> Any:
        """Send `request`; on an answer `parse` rejects, re-ask with the error, at most `llm_reasks` times."""
        messages = request.messages
        last_error: AnswerFormatError | None = None
        for round_ in range(self.settings.llm_reasks + 1):
            if round_:
                run.note("reasks")
            current = replace(request, messages=messages)
            response = self._send(run, current, describe)
            if response.finish_reason == "length":
                raise Truncated(f"{describe}: answer cut off at max_tokens={request.max_tokens}")
            try:
                return parse(response.content)
            except AnswerFormatError as exc:
                last_error = exc
                self._log("%s: invalid answer in mode %s (%s); re-asking", describe, mode, exc)
                messages = [
                    *request.messages,
                    {"role": "assistant", "content": response.content[:_REASK_ECHO_CHARS]},
                    {"role": "user", "content": self._reask_text(str(exc))},
                ]
        raise LLMResponseError(
            f"{describe}: no valid answer after {self.settings.llm_reasks + 1} tries in mode {mode}: {last_error}"
        )

    def _reask_text(self, error: str) -> str:
        return self.prompt.render_reask(error=error)

    # --- overview -----------------------------------------------------------------------------

    def _overview(self, run: RunStats, doc: Document, drafts: list[DraftItem]) -> str:
        lines = []
        for section, label in SECTION_ZH.items():
            titles = list(dict.fromkeys(d.title for d in drafts if d.section == section))
            if titles:
                lines.append(
                    f"{label}："
                    + "；".join(t[:_OVERVIEW_TITLE_CHARS] for t in titles[:_OVERVIEW_TITLES_PER_SECTION])
                )
        rendered = self.overview_prompt.render(title=doc.meta.title or "", items="\n".join(lines))
        request = ChatRequest(
            model=self.model,
            messages=[
                {"role": "system", "content": rendered.system},
                {"role": "user", "content": rendered.user},
            ],
            temperature=self.settings.llm_temperature,
            max_tokens=OVERVIEW_MAX_TOKENS,
        )
        key = self._key("overview", "text", request, self.overview_prompt)
        cached = self.cache.get(key)
        if isinstance(cached, str) and cached:
            run.meter.cache(True)
            return cached
        run.meter.cache(False)
        try:
            text: str = self._ask(run, request, _parse_overview, "overview", "text")
        except Truncated as exc:
            raise LLMResponseError(str(exc)) from None
        text = self.client.redact(text)
        self.cache.set(key, text)
        return text


def _as_result(cached: Any) -> ChunkResult | None:
    if cached is None:
        return None
    try:
        return ChunkResult.model_validate(cached)
    except ValueError:
        return None  # written by an older, looser version: ask again


def _parse_overview(content: str) -> str:
    text = " ".join(strip_reasoning(content).split())
    if text.startswith("{") or text.startswith("["):
        # A model stuck in JSON mode: take the longest string it wrote.
        try:
            value = extract_json(text)
        except AnswerFormatError:
            value = None
        strings = _strings(value)
        text = max(strings, key=len) if strings else ""
    if len(text) < 8:
        raise AnswerFormatError("概述为空或过短，请用 2 至 3 句中文写出概述正文")
    return text[:OVERVIEW_MAX_CHARS]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
