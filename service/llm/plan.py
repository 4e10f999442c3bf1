"""Planning requests and assembling answers: the half of the openai backend that makes no HTTP call.

The direct path (`service.llm.ask`) and the Batch API path (`service.batch.openai_batch`) both use
it, so they ask exactly the same thing and read the answers the same way:

    Requests.chunk(pack, mode)  the chat request for a pack, in a structured-output mode, shaped
                                for the endpoint's provider profile
    fit_packs(packs, budget)    packs small enough for the model's context
    chunk_cache_key(...)        where a validated answer is cached
    assemble(...)               answers per pack → the Extraction (drafts, warnings, failed chunks)
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from service.document import DraftItem, Extraction, Usage
from service.errors import LLMTransportError
from service.extract import ChunkResult, Pack, parse_chunk_result, render_parts, split_pack, to_drafts
from service.llm import structured
from service.llm.accounting import Meter, count_tokens
from service.llm.cache import answer_key
from service.llm.client import ChatRequest
from service.llm.errors import ExtractionFailed
from service.llm.providers import Profile
from service.prompts import Prompt

#: What `assemble()` takes per pack id: the validated answer, or why there is none.
Answer = ChunkResult | BaseException

#: Room kept free in the context for what the token count of the chunk text does not see: the
#: `[s12]` ids and heading lines each request adds, and the gap between tokenizers.
_CONTEXT_MARGIN = 0.8


@dataclass
class RunStats:
    """What one `extract()` (or one `assemble()`) did, beyond what provenance records (for tests,
    bench and logs). One per call: it is returned on `Extraction.stats`."""

    meter: Meter = field(default_factory=Meter)
    modes: list[str] = field(default_factory=list)  # the mode of every answer that was accepted
    rejected_modes: list[str] = field(default_factory=list)
    json_word_fixes: int = 0
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

    @property
    def structured_output(self) -> str | None:
        """The weakest mode any answer of the run was given in (what the Brief can claim)."""
        used = [m for m in structured.LADDER if m in self.modes]
        return used[-1] if used else None


@dataclass
class Requests:
    """Builds the chat requests of one backend: prompt, schema and the provider's quirks."""

    model: str
    prompt: Prompt
    overview_prompt: Prompt
    profile: Profile
    schema: dict[str, Any]
    temperature: float
    max_tokens: int
    overview_max_tokens: int

    @cached_property
    def schema_json(self) -> str:
        return json.dumps(self.schema, ensure_ascii=False, separators=(",", ":"))

    @cached_property
    def schema_text(self) -> str:
        return structured.compact_schema(self.schema)

    def schema_in_prompt(self, mode: str) -> bool:
        """The model is shown its contract unless the endpoint enforces it in this mode."""
        return mode not in self.profile.enforced

    def parse(self, content: str) -> ChunkResult:
        """A validated chunk answer, with at most the prompt's `max_metrics` metrics per item."""
        result = parse_chunk_result(content)
        cap = self.prompt.max_metrics
        if cap:
            for item in result.items:
                del item.metrics[cap:]
        return result

    def chunk(self, pack: Pack, mode: str) -> ChatRequest:
        rendered = self.prompt.render(
            parts=render_parts(pack), schema=self.schema_text if self.schema_in_prompt(mode) else None
        )
        messages = [
            {"role": "system", "content": rendered.system},
            {"role": "user", "content": rendered.user},
        ]
        response_format, extra_body = structured.request_shape(mode, self.schema)
        return self._request(
            structured.with_json_word(messages, mode), self.max_tokens, response_format, extra_body
        )

    def overview(self, title: str, items: str) -> ChatRequest:
        rendered = self.overview_prompt.render(title=title, items=items)
        messages = [
            {"role": "system", "content": rendered.system},
            {"role": "user", "content": rendered.user},
        ]
        return self._request(messages, self.overview_max_tokens, None, None)

    def overhead_tokens(self, mode: str) -> int:
        """Tokens a chunk request spends besides the chunk's own sentences."""
        rendered = self.prompt.render(
            parts=[], schema=self.schema_text if self.schema_in_prompt(mode) else None
        )
        return count_tokens(rendered.system) + count_tokens(rendered.user) + 16

    def _request(
        self,
        messages: list[dict[str, str]],
        max_tokens: int,
        response_format: dict[str, Any] | None,
        extra_body: dict[str, Any] | None,
    ) -> ChatRequest:
        profile = self.profile
        temperature: float | None = self.temperature
        if profile.temperature is not None:
            temperature = profile.temperature
        if "temperature" in profile.omit:
            temperature = None
        extra = {**profile.extra_body, **(extra_body or {})}
        return ChatRequest(
            model=self.model,
            messages=messages,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
            extra_body=extra or None,
            max_tokens_param=profile.max_tokens_param,
        )


def context_room(context_tokens: int | None, overhead: int, max_tokens: int) -> int | None:
    """The most chunk tokens one request may carry so that the prompt and the largest answer
    (`max_tokens`) fit in the model's context; None when the context is unknown."""
    if not context_tokens:
        return None
    return max(int((context_tokens - overhead - max_tokens) * _CONTEXT_MARGIN), 1)


def fit_packs(packs: list[Pack], limit: int | None) -> list[Pack]:
    """`packs` with every pack over `limit` tokens halved until it fits (a single sentence over the
    limit is sent as it is; the server's usage then shows whether it was cut)."""
    if not limit:
        return packs
    out: list[Pack] = []
    todo = list(reversed(packs))
    while todo:
        pack = todo.pop()
        halves = split_pack(pack) if pack.tokens > limit else None
        if halves is None:
            out.append(pack)
        else:
            todo += [halves[1], halves[0]]
    return out


def chunk_cache_key(
    *, kind: str, base_url: str, model: str, prompt: Prompt, schema_hash: str, mode: str, request: ChatRequest
) -> str:
    return answer_key(
        kind=kind,
        base_url=base_url,
        model=model,
        prompt=[prompt.id, prompt.version, prompt.hash],
        schema=schema_hash,
        mode=mode,
        decoding={"temperature": request.temperature, "max_tokens": request.max_tokens},
        messages=request.messages,
    )


def as_result(cached: Any) -> ChunkResult | None:
    if cached is None:
        return None
    try:
        return ChunkResult.model_validate(cached)
    except ValueError:
        return None  # written by an older, looser version: ask again


def assemble(
    packs: list[Pack],
    answers: Mapping[str, Answer],
    *,
    run: RunStats,
    redact: Callable[[str], str],
    usage: Callable[[RunStats], Usage],
) -> Extraction:
    """The Extraction from each pack's answer, without the overview and without any HTTP: drafts
    checked against what each request showed, a warning and a `failed_chunks` entry per pack
    without a usable answer.

    Raises `ExtractionFailed` when no pack has a usable answer (an empty brief is not a brief).
    """
    drafts: list[DraftItem] = []
    warnings: list[str] = []
    failed: dict[str, str] = {}
    transient = False
    proposed = 0
    for pack in packs:
        answer = answers.get(pack.id)
        if not isinstance(answer, ChunkResult):
            reason = redact(str(answer) if answer is not None else "no answer")
            failed[pack.id] = reason
            transient = transient or isinstance(answer, LLMTransportError)
            run.note("failed_chunks", pack.id)
            warnings.append(f"chunk {pack.id}: no usable answer, its items are missing ({reason})")
            continue
        proposed += len(answer.items)
        chunk_drafts, chunk_warnings = to_drafts(answer, pack)
        for draft in chunk_drafts:
            draft.title = redact(draft.title)
            draft.summary = redact(draft.summary)
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
        warnings=[redact(w) for w in warnings],
        usage=usage(run),
        failed_chunks=failed,
        transient_failure=transient,
        stats=run,
        proposed=proposed,
    )
