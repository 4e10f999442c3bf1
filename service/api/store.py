"""Briefs on disk: one SQLite file under `settings.data_dir`, so that briefs survive a restart.

A row keeps the JSON body exactly as `GET /v1/briefs/{id}` serves it (id included), so that the
hot read path is a primary-key lookup and a copy, with no pydantic at all; and the full Brief with
its normalized text, which the page and the Markdown need.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS briefs (
    id      TEXT PRIMARY KEY,
    created REAL NOT NULL,
    sha256  TEXT NOT NULL,
    backend TEXT NOT NULL,
    body    BLOB NOT NULL,
    full    BLOB NOT NULL
)
"""


class BriefStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection per thread: the event loop reads on its own, the threadpool writes on
        # theirs, and WAL lets readers and the writer work at the same time without a lock of ours.
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._conn().execute(_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode loses at most the last commits on power loss, never the database.
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
            with self._all_lock:
                self._all.append(conn)
        return conn

    def put(self, brief_id: str, *, sha256: str, backend: str, body: bytes, full: bytes) -> None:
        self._conn().execute(
            "INSERT INTO briefs (id, created, sha256, backend, body, full) VALUES (?, ?, ?, ?, ?, ?)",
            (brief_id, time.time(), sha256, backend, body, full),
        )

    def body(self, brief_id: str) -> bytes | None:
        """The stored response body: microseconds, so callers may run it on the event loop."""
        row = self._conn().execute("SELECT body FROM briefs WHERE id = ?", (brief_id,)).fetchone()
        return bytes(row[0]) if row else None

    def full(self, brief_id: str) -> bytes | None:
        row = self._conn().execute("SELECT full FROM briefs WHERE id = ?", (brief_id,)).fetchone()
        return bytes(row[0]) if row else None

    def ping(self) -> bool:
        try:
            self._conn().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()
        self._local = threading.local()
