"""What a report's extraction spent: HTTP calls (retries included), tokens, cost.

Tokens come from the response's `usage`; servers that omit it (some llama.cpp and Ollama builds,
proxies) get an estimate from `service.tokens`, the one token counter (offline tiktoken).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from service.tokens import count as count_tokens

#: OpenAI's chat format adds a few tokens per message and per reply; counted so estimates don't run low.
_PER_MESSAGE = 4
_PER_REPLY = 3


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    return sum(count_tokens(str(m.get("content") or "")) + _PER_MESSAGE for m in messages) + _PER_REPLY


def cost_usd(
    prompt_tokens: int,
    completion_tokens: int,
    price_prompt_per_1k: float | None,
    price_completion_per_1k: float | None,
) -> float | None:
    """None when no price is configured: an unknown cost is not a zero cost."""
    if price_prompt_per_1k is None and price_completion_per_1k is None:
        return None
    total = prompt_tokens / 1000 * (price_prompt_per_1k or 0.0)
    total += completion_tokens / 1000 * (price_completion_per_1k or 0.0)
    return round(total, 6)


@dataclass
class Meter:
    """Thread-safe counters for one `extract()` (chunks run in parallel)."""

    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_calls: int = 0  # answers whose tokens were estimated, not reported
    cache_hits: int = 0
    cache_misses: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def http_call(self) -> None:
        with self._lock:
            self.calls += 1

    def add_tokens(self, prompt: int, completion: int, *, estimated: bool = False) -> None:
        with self._lock:
            self.prompt_tokens += prompt
            self.completion_tokens += completion
            self.estimated_calls += int(estimated)

    def cache(self, hit: bool) -> None:
        with self._lock:
            if hit:
                self.cache_hits += 1
            else:
                self.cache_misses += 1

    @property
    def all_cached(self) -> bool:
        return self.calls == 0 and self.cache_hits > 0 and self.cache_misses == 0
