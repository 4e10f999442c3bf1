"""Asking: one chunk's answer from the endpoint, whatever it takes.

answer(pack)   cache → ask in the ladder's current mode → on a rejected mode, the next rung
               (learned once per endpoint, see `structured.Ladder`) → on an answer cut off at
               max_tokens, split the pack in two and ask for each half → cache the answer
ask(request)   send; on an answer `parse` rejects, re-ask with the error (bounded)
send(request)  one call through the transport (the one retry layer), with the probe lock for
               an untried mode, the "json" word a JSON mode may require, token accounting, and
               a loud failure when the server cut the prompt to fit its context
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from service.errors import LLMResponseError
from service.extract import AnswerFormatError, ChunkResult, Pack, split_pack
from service.llm import structured
from service.llm.accounting import count_tokens, estimate_prompt_tokens
from service.llm.cache import AnswerCache, Note
from service.llm.client import ChatClient, ChatRequest, ChatResponse
from service.llm.errors import JsonWordRequired, ModeRejected, PromptTruncated, Truncated
from service.llm.plan import Requests, RunStats, as_result
from service.llm.transport import Transport

log = logging.getLogger("govbrief.llm")

T = TypeVar("T")

_REASK_ECHO_CHARS = 1500  # how much of a bad answer is shown back to the model
#: Context sizes servers fall back to when none is set (Ollama: 2,048, later 4,096): a reply that
#: read exactly this many prompt tokens of a longer prompt was cut there.
_DEFAULT_CONTEXTS = (2048, 4096, 8192)
#: Tokenizers differ (cl100k counts Chinese at up to ~2x what Qwen's or DeepSeek's do); a server
#: that read under this share of our estimate did not read the whole prompt.
_MIN_READ_SHARE = 0.3


class Asker:
    def __init__(
        self,
        *,
        client: ChatClient,
        transport: Transport,
        ladder: structured.Ladder,
        requests: Requests,
        cache: AnswerCache,
        notes: Note,
        cache_key: Callable[[ChatRequest, str, str], str],
        reasks: int,
        context_tokens: int | None,
    ) -> None:
        self.client = client
        self.transport = transport
        self.ladder = ladder
        self.requests = requests
        self.cache = cache
        self.notes = notes
        self.cache_key = cache_key
        self.reasks = reasks
        self.context_tokens = context_tokens

    def _log(self, message: str, *args: Any) -> None:
        # Messages quote server error bodies and model answers, either of which may echo the key.
        if log.isEnabledFor(logging.INFO):
            log.info("%s", self.client.redact(message % args))

    # --- one chunk ----------------------------------------------------------------------------

    def lookup(self, run: RunStats, key: str, mode: str) -> ChunkResult | None:
        result = as_result(self.cache.get(key))
        if result is None:
            return None
        run.meter.cache(True)
        run.note("modes", mode)
        return result

    def answer(self, run: RunStats, pack: Pack) -> ChunkResult:
        while True:
            mode = self.ladder.current()
            request = self.requests.chunk(pack, mode)
            key = self.cache_key(request, mode, "chunk")
            cached = self.lookup(run, key, mode)
            if cached is not None:
                return cached
            run.meter.cache(False)
            try:
                result: ChunkResult = self.ask(run, request, self.requests.parse, f"chunk {pack.id}", mode)
            except ModeRejected as exc:
                # Only a rejection of the output mode steps down; any other one fails at once.
                if self.ladder.lower(mode) is None:
                    hint = (
                        ""
                        if self.ladder.setting == "auto"
                        else " (GOVBRIEF_LLM_STRUCTURED_OUTPUT=auto steps down)"
                    )
                    raise ModeRejected(f"{exc} [mode {mode}]{hint}", status=exc.status) from None
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
                    items=[*self.answer(run, halves[0]).items, *self.answer(run, halves[1]).items]
                )
            self.cache.set(key, result.model_dump(mode="json"))
            run.note("modes", mode)
            return result

    # --- asking, re-asking ----------------------------------------------------------------------

    def ask(
        self, run: RunStats, request: ChatRequest, parse: Callable[[str], T], describe: str, mode: str
    ) -> T:
        """Send `request`; on an answer `parse` rejects, re-ask with the error, at most `reasks` times."""
        messages = request.messages
        last_error: AnswerFormatError | None = None
        for round_ in range(self.reasks + 1):
            if round_:
                run.note("reasks")
            current = replace(request, messages=messages)
            response = self.send(run, current, describe, mode)
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
                    {"role": "user", "content": self.requests.prompt.render_reask(error=str(exc))},
                ]
        raise LLMResponseError(
            f"{describe}: no valid answer after {self.reasks + 1} tries in mode {mode}: {last_error}"
        )

    # --- one call -----------------------------------------------------------------------------

    def send(self, run: RunStats, request: ChatRequest, describe: str, mode: str) -> ChatResponse:
        if mode == "text" or self.ladder.setting != "auto":
            # Nothing to learn: no response_format is sent, or a pinned mode that has no lower rung.
            return self._call_json(run, request, describe)
        ladder = self.ladder
        with ladder.probing(mode) as probing:
            if ladder.setting == "auto" and ladder.is_rejected(mode):
                # Another chunk's probe found this rung rejected while this one waited.
                raise ModeRejected(f"{describe}: mode {mode} is known to be rejected")
            try:
                response = self._call_json(run, request, describe)
            except ModeRejected as exc:
                self._log("%s rejected structured mode %s (%s)", self.client.base_url, mode, exc)
                run.note("rejected_modes", mode)
                ladder.reject(mode)
                self.notes.save(ladder.verdicts.as_note())
                raise
            if ladder.accept(mode) or probing:
                self.notes.save(ladder.verdicts.as_note())
            return response

    def _call_json(self, run: RunStats, request: ChatRequest, describe: str) -> ChatResponse:
        try:
            return self._call(run, request, describe)
        except JsonWordRequired:
            # The server wants the word in a message it reads (some check the user message only):
            # satisfy it and ask again, in the same mode.
            run.note("json_word_fixes")
            last = request.messages[-1]
            fixed = [*request.messages[:-1], {**last, "content": last["content"] + "\n（json）"}]
            return self._call(run, replace(request, messages=fixed), describe)

    def _call(self, run: RunStats, request: ChatRequest, describe: str) -> ChatResponse:
        response = self.transport.call(
            lambda timeout: self.client.complete(request, timeout=timeout),
            on_attempt=run.meter.http_call,
            describe=describe,
        )
        sent = estimate_prompt_tokens(request.messages)
        if request.response_format and "json_schema" in request.response_format:
            sent += count_tokens(self.requests.schema_json)
        prompt_tokens = response.prompt_tokens
        completion_tokens = response.completion_tokens
        estimated = prompt_tokens is None or completion_tokens is None
        run.meter.add_tokens(
            prompt_tokens if prompt_tokens is not None else sent,
            completion_tokens if completion_tokens is not None else count_tokens(response.content),
            estimated=estimated,
        )
        if prompt_tokens is not None and self._prompt_was_cut(prompt_tokens, sent):
            raise PromptTruncated(
                f"{describe}: the server read {prompt_tokens} prompt tokens of about {sent}: it cut the "
                "prompt to fit its context, so items would go missing. Set GOVBRIEF_LLM_CONTEXT_TOKENS "
                "to the model's context (and raise the server's, e.g. Ollama's num_ctx)"
            )
        return response

    def _prompt_was_cut(self, read: int, sent: int) -> bool:
        if read <= 0 or read >= sent * 0.9:  # 0: a server that counts nothing (stand-ins, proxies)
            return False
        if read < sent * _MIN_READ_SHARE:
            return True
        limits = (self.context_tokens,) if self.context_tokens else _DEFAULT_CONTEXTS
        return any(limit - 8 <= read <= limit for limit in limits if limit)
