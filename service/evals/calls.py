"""`govbrief eval -v`: one line on stderr per call to the model, as it returns.

A chat client that wraps the real one (the backend is built with it), so every request the backend
sends is shown: which sentences it carried, the structured-output mode, what came back, the tokens
and the time. Never the key, nor the prompt text (`--dry-run` prints that).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from service.llm.client import ChatClient, ChatRequest, ChatResponse

_SENTENCE_ID = re.compile(r"^\[(s\d+)\]", re.MULTILINE)


class VerboseClient:
    def __init__(self, inner: ChatClient, echo: Callable[[str], None]) -> None:
        self.inner = inner
        self.base_url = inner.base_url
        self.echo = echo
        self._lock = threading.Lock()
        self.calls = 0

    def __getattr__(self, name: str) -> Any:  # anything else the backend asks of its client
        return getattr(self.inner, name)

    def redact(self, text: str) -> str:
        return self.inner.redact(text)

    def complete(self, request: ChatRequest, *, timeout: float) -> ChatResponse:
        user = next((m["content"] for m in reversed(request.messages) if m.get("role") == "user"), "")
        ids = _SENTENCE_ID.findall(request.messages[1]["content"] if len(request.messages) > 1 else user)
        what = f"sentences {ids[0]}–{ids[-1]}" if ids else "no sentences (overview or judge)"
        mode = (request.response_format or {}).get("type", "text")
        turn = f", re-ask {(len(request.messages) - 2) // 2}" if len(request.messages) > 2 else ""
        with self._lock:
            self.calls += 1
            n = self.calls
        started = time.perf_counter()
        try:
            response = self.inner.complete(request, timeout=timeout)
        except Exception as exc:
            ms = round((time.perf_counter() - started) * 1000)
            self.echo(
                f"  call {n}: {what}, {mode}{turn} → {type(exc).__name__} after {ms} ms: {self.redact(str(exc))[:160]}"
            )
            raise
        ms = round((time.perf_counter() - started) * 1000)
        self.echo(
            f"  call {n}: {what}, {mode}{turn} → {response.finish_reason}, "
            f"{response.prompt_tokens}+{response.completion_tokens} tokens, {ms} ms"
        )
        return response
