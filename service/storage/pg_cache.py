"""The LLM answer cache in PostgreSQL: one table shared by every machine using the database, so an
answer paid for once is never paid for again, wherever the next run happens.

Same contract as the diskcache `AnswerCache` (see `service.llm.cache.Cache`). Values are what the
backend stores, all JSON: validated chunk answers, overview texts, notes.
"""

from __future__ import annotations

import json
import time
from typing import Any

from psycopg_pool import ConnectionPool

_SCHEMA = """
CREATE TABLE IF NOT EXISTS llm_answers (
    key     TEXT PRIMARY KEY,
    value   TEXT NOT NULL,
    created DOUBLE PRECISION NOT NULL
)
"""
_NOTE = "note:"
_SCHEMA_LOCK = 0x67_6F_76_63  # "govc"


class PostgresAnswerCache:
    def __init__(self, url: str, *, enabled: bool = True, refresh: bool = False) -> None:
        self.enabled = enabled
        self.refresh = refresh
        self._pool: ConnectionPool | None = None
        if enabled:
            self._pool = ConnectionPool(url, min_size=1, max_size=8, kwargs={"autocommit": True}, open=False)
            self._pool.open(wait=True, timeout=10)
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
                conn.execute(_SCHEMA)

    def _read(self, key: str) -> Any | None:
        if self._pool is None:
            return None
        with self._pool.connection() as conn:
            row = conn.execute("SELECT value FROM llm_answers WHERE key = %s", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def _write(self, key: str, value: Any) -> None:
        if self._pool is None:
            return
        with self._pool.connection() as conn:
            conn.execute(
                "INSERT INTO llm_answers (key, value, created) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, created = excluded.created",
                (key, json.dumps(value, ensure_ascii=False), time.time()),
            )

    def get(self, key: str) -> Any | None:
        return None if self.refresh else self._read(key)

    def set(self, key: str, value: Any) -> None:
        self._write(key, value)

    def get_note(self, key: str) -> Any | None:
        return self._read(_NOTE + key)

    def set_note(self, key: str, value: Any) -> None:
        self._write(_NOTE + key, value)

    def __len__(self) -> int:
        if self._pool is None:
            return 0
        with self._pool.connection() as conn:
            row = conn.execute("SELECT count(*) FROM llm_answers").fetchone()
        return int(row[0]) if row else 0

    def clear(self) -> None:
        if self._pool is not None:
            with self._pool.connection() as conn:
                conn.execute("DELETE FROM llm_answers")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
