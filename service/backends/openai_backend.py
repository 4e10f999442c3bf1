"""The `openai` backend: any OpenAI-compatible chat endpoint extracts items that cite sentence ids.

Per chunk: render the prompt (numbered sentences) → look up the cache → ask in the structured-output
mode in force → validate and re-ask → split on `finish_reason == "length"` → DraftItems (ids
outside the chunk are dropped with a warning). Chunks run in parallel; one chunk's failure is a
warning (and an entry in `Extraction.failed_chunks`). A last call writes the overview.

This module wires the pieces together; each job lives in its own module:

    service.llm.providers   the endpoint's provider profile (quirks, enforced modes, context)
    service.llm.structured  the structured-output ladder and what an endpoint is known to accept
    service.llm.plan        requests, packing, cache keys, assembling answers (no HTTP; shared
                            with the Batch API path, `service.batch.openai_batch`)
    service.llm.ask         asking: re-asks, the ladder, length splits, truncated prompts
    service.llm.overview    the overview call

The methods the Batch API path uses are public: `plan_requests`, `current_mode`, `chunk_cache_key`,
`cached_answer`, `store_answer`, `assemble`, `fingerprint`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from service.chunk import extractable
from service.document import Document, Extraction, Usage
from service.errors import ConfigError, LLMError
from service.extract import ChunkResult, Pack, chunk_result_schema, pack_chunks
from service.llm import plan, providers, structured
from service.llm.accounting import cost_usd
from service.llm.ask import Asker
from service.llm.cache import AnswerCache, Note
from service.llm.client import ChatClient, ChatRequest, OpenAIChatClient
from service.llm.errors import AuthFailed
from service.llm.overview import write_overview
from service.llm.plan import Answer, Requests, RunStats
from service.llm.transport import RetryBudget, RetryPolicy, Transport
from service.models import schema_hash
from service.prompts import Prompt, load_prompt
from service.settings import Settings

__all__ = ["Answer", "OpenAIBackend", "RunStats"]


class OpenAIBackend:
    name = "openai"

    def __init__(
        self,
        settings: Settings,
        *,
        client: ChatClient | None = None,
        cache: AnswerCache | None = None,
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
        self.cache = (
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
        self.profile = providers.resolve(
            self.client.base_url, self.model, settings.llm_provider
        ).with_context(settings.llm_context_tokens)
        self.context_tokens = self.profile.context_tokens
        self.schema = chunk_result_schema(self.prompt.field_order)
        self.schema_hash = schema_hash(self.schema)
        self.mode_setting: str = settings.llm_structured_output
        # What the endpoint accepted is learned once and kept in the cache dir; --refresh forgets it.
        self._verdicts = Note(self.cache, structured.note_key(self.client.base_url, self.model))
        forget = refresh or self.cache.refresh
        if forget:
            structured.forget(self.client.base_url, self.model)
        self.ladder = structured.Ladder(
            self.mode_setting, self.client.base_url, self.model, self.profile.modes
        )
        if not forget:
            self.ladder.learn(self._verdicts.load())
        self.pack_tokens: int = pack_tokens if pack_tokens is not None else settings.llm_pack_tokens
        self.requests = Requests(
            model=self.model,
            prompt=self.prompt,
            overview_prompt=self.overview_prompt,
            profile=self.profile,
            schema=self.schema,
            temperature=settings.llm_temperature,
            max_tokens=self.prompt.max_tokens or settings.llm_max_tokens,
            overview_max_tokens=settings.llm_overview_max_tokens,
        )
        self.asker = Asker(
            client=self.client,
            transport=self.transport,
            ladder=self.ladder,
            requests=self.requests,
            cache=self.cache,
            notes=self._verdicts,
            cache_key=self._key,
            reasks=settings.llm_reasks,
            context_tokens=self.context_tokens,
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
            cached = self.asker.lookup(run, self.chunk_cache_key(request, mode), mode)
            if cached is None:
                misses.append(pack)
            else:
                answers[pack.id] = cached
        if misses:
            workers = min(self.settings.llm_concurrency, len(misses))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="govbrief-llm") as pool:
                futures = {pool.submit(self._chunk, run, p): p for p in misses}
                for future in as_completed(futures):
                    pack = futures[future]
                    exc = future.exception()
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
        if run.structured_output == "text":
            extraction.warnings.append(
                "structured output: the endpoint accepted no JSON mode; answers were read from plain "
                "text (the schema was in the prompt). Check it with `govbrief doctor`"
            )
        if extraction.drafts:
            try:
                extraction.overview = write_overview(self.asker, run, doc, extraction.drafts)
            except AuthFailed as exc:
                raise AuthFailed(self.client.redact(str(exc)), status=exc.status) from None
            except LLMError as exc:
                extraction.warnings.append(
                    f"overview: no usable answer, using the default ({self.client.redact(str(exc))})"
                )
            extraction.usage = self._usage(run)  # the overview's calls included
        return extraction

    def _chunk(self, run: RunStats, pack: Pack) -> ChunkResult:
        if run.aborted.is_set():
            raise LLMError("not sent: the report was abandoned after an authentication error")
        try:
            return self.asker.answer(run, pack)
        except AuthFailed:
            run.aborted.set()
            raise

    # --- the pieces extract() is made of, public for the Batch API path ------------------------

    def packs(self, doc: Document) -> list[Pack]:
        """The requests' packs, in document order, each small enough for the model's context. The
        page header and the signature hold no items; a report whose outline found no sections at
        all is sent whole rather than not at all."""
        chunks = extractable(doc.chunks) or list(doc.chunks)
        room = (
            plan.context_room(
                self.context_tokens,
                self.requests.overhead_tokens(self.current_mode()),
                self.requests.max_tokens,
            )
            if self.context_tokens
            else None
        )
        budget = self.pack_tokens if room is None or self.pack_tokens <= 0 else min(self.pack_tokens, room)
        return plan.fit_packs(pack_chunks(chunks, budget), room)

    def current_mode(self) -> str:
        """The structured-output mode a request would be sent in now."""
        return self.ladder.current()

    def plan_requests(self, doc: Document, *, mode: str | None = None) -> list[tuple[Pack, ChatRequest]]:
        """One chat request per pack, exactly as `extract()` first sends it: in `mode`, by default
        the structured-output mode now in force (`current_mode()`)."""
        mode = mode if mode is not None else self.current_mode()
        return [(pack, self.requests.chunk(pack, mode)) for pack in self.packs(doc)]

    def chunk_request(self, pack: Pack, mode: str) -> ChatRequest:
        return self.requests.chunk(pack, mode)

    def chunk_cache_key(self, request: ChatRequest, mode: str) -> str:
        """The answer cache's key for a validated answer to the chunk request `request` in `mode`."""
        return self._key(request, mode, "chunk")

    def cached_answer(self, request: ChatRequest, mode: str) -> ChunkResult | None:
        """The validated answer the cache holds for `request` in `mode` (direct path or batch)."""
        return plan.as_result(self.cache.get(self.chunk_cache_key(request, mode)))

    def store_answer(self, request: ChatRequest, mode: str, result: ChunkResult) -> None:
        """Cache a validated answer where `extract()` looks for it."""
        self.cache.set(self.chunk_cache_key(request, mode), result.model_dump(mode="json"))

    def assemble(
        self, doc: Document, answers: Mapping[str, Answer], *, stats: RunStats | None = None
    ) -> Extraction:
        """The Extraction for `doc` from each pack's answer (`plan_requests` ids); see `plan.assemble`."""
        return plan.assemble(
            self.packs(doc),
            answers,
            run=stats if stats is not None else RunStats(),
            redact=self.client.redact,
            usage=self._usage,
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
            "max_tokens": self.requests.max_tokens,
            "structured_output": self.mode_setting,
            "provider": self.profile.name,
            "pack_tokens": self.pack_tokens,
            "context_tokens": self.context_tokens,
        }

    def _key(self, request: ChatRequest, mode: str, kind: str) -> str:
        return plan.chunk_cache_key(
            kind=kind,
            base_url=self.client.base_url,
            model=self.model,
            prompt=self.prompt if kind == "chunk" else self.overview_prompt,
            schema_hash=self.schema_hash,
            mode=mode,
            request=request,
        )

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
            structured_output=run.structured_output,
        )
