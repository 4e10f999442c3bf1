"""Validated LLM answers on disk (diskcache), so no answer is paid for twice.

One entry per validated chunk answer (and per overview), keyed by a hash of everything that changes
the answer: endpoint, model, prompt content hash, schema hash, structured-output mode, decoding
parameters and the exact messages (which hold the chunk's text and sentence ids). Only answers that
passed validation are stored; errors, invalid JSON and truncated answers never are.

Beside an answer the cache can hold its metadata (`set_meta`): what it cost when it was made.

`enabled=False` neither reads nor writes (`--no-cache`); `refresh=True` skips reads but writes the
fresh answers (`--refresh`). diskcache is safe across threads and processes, so one cache can be
shared by parallel chunks, the HTTP app's workers and batch runs.

`Cache` is what the backend needs of a cache; with GOVBRIEF_DATABASE_URL set the answers live in
PostgreSQL instead (`service.storage.pg_cache`), so no machine pays for an answer another cached.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

import diskcache

#: Bump when the stored value's shape changes; old entries then simply miss.
FORMAT = 1
#: Default cap on the cache's size on disk; diskcache evicts least-recently-stored entries past it.
SIZE_LIMIT = 2**30


def answer_key(**parts: Any) -> str:
    """A stable key over named parts (order-independent, JSON-serialisable values)."""
    data = json.dumps({"format": FORMAT, **parts}, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(data.encode()).hexdigest()


class Cache(Protocol):
    """Validated answers by key, plus small notes that are read even under `refresh`."""

    enabled: bool
    refresh: bool

    def get(self, key: str) -> Any | None: ...
    def set(self, key: str, value: Any) -> None: ...
    def get_note(self, key: str) -> Any | None: ...
    def set_note(self, key: str, value: Any) -> None: ...
    def __len__(self) -> int: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...


class AnswerCache:
    def __init__(self, directory: Path | str, *, enabled: bool = True, refresh: bool = False) -> None:
        self.directory = Path(directory)
        self.enabled = enabled
        self.refresh = refresh
        self._cache: diskcache.Cache | None = None
        if enabled:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._cache = diskcache.Cache(str(self.directory), size_limit=SIZE_LIMIT)

    def get(self, key: str) -> Any | None:
        if self._cache is None or self.refresh:
            return None
        return self._cache.get(key)

    def set(self, key: str, value: Any) -> None:
        if self._cache is not None:
            self._cache.set(key, value)

    # Small facts that are not answers (which structured-output modes a server accepts): the
    # backend decides whether to read them (`--refresh` forgets them too).
    def get_note(self, key: str) -> Any | None:
        return None if self._cache is None else self._cache.get(("note", key))

    def set_note(self, key: str, value: Any) -> None:
        if self._cache is not None:
            self._cache.set(("note", key), value)

    # What answers cost when they were made (tokens, calls, cost, latency), stored beside them so a
    # run served from the cache can still say what its answers cost. Kept apart from the answers
    # so that their format, and every existing entry, is unchanged.
    def get_meta(self, key: str) -> dict[str, Any] | None:
        value = None if self._cache is None else self._cache.get(("meta", key))
        return value if isinstance(value, dict) else None

    def set_meta(self, key: str, value: dict[str, Any]) -> None:
        if self._cache is not None:
            self._cache.set(("meta", key), value)

    def __len__(self) -> int:
        return 0 if self._cache is None else len(self._cache)

    def clear(self) -> None:
        if self._cache is not None:
            self._cache.clear()

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()


class Note:
    """One small persisted fact in the cache (e.g. an endpoint's structured-output verdicts)."""

    def __init__(self, cache: Cache, key: str) -> None:
        self.cache = cache
        self.key = key

    def load(self) -> Any | None:
        return self.cache.get_note(self.key)

    def save(self, value: Any) -> None:
        self.cache.set_note(self.key, value)
