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
);
-- Browser sessions: the sha256 of each session id (a copy of the database opens no session).
CREATE TABLE IF NOT EXISTS sessions (
    digest  TEXT PRIMARY KEY,
    expires REAL NOT NULL
);
-- Answers to POST /v1/briefs under an Idempotency-Key, per caller, kept for a day.
CREATE TABLE IF NOT EXISTS idempotency (
    key         TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    created     REAL NOT NULL,
    brief_id    TEXT NOT NULL
)
"""

#: How long an Idempotency-Key's answer is kept: longer than any client retries.
IDEMPOTENCY_TTL = 24 * 3600


class BriefStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection per thread: the event loop reads on its own, the threadpool writes on
        # theirs, and WAL lets readers and the writer work at the same time without a lock of ours.
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._conn().executescript(_SCHEMA)

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

    # --- browser sessions ---------------------------------------------------------------------

    def add_session(self, digest: str, expires: float, now: float) -> None:
        conn = self._conn()
        conn.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
        conn.execute("INSERT INTO sessions (digest, expires) VALUES (?, ?)", (digest, expires))

    def session_valid(self, digest: str, now: float) -> bool:
        row = self._conn().execute("SELECT expires FROM sessions WHERE digest = ?", (digest,)).fetchone()
        return row is not None and row[0] > now

    def drop_session(self, digest: str) -> None:
        self._conn().execute("DELETE FROM sessions WHERE digest = ?", (digest,))

    # --- idempotent creation -------------------------------------------------------------------

    def created_under(self, key: str, now: float) -> tuple[str, str] | None:
        """(request fingerprint, brief id) of the brief created under `key`, if it is still kept."""
        row = (
            self._conn()
            .execute(
                "SELECT fingerprint, brief_id FROM idempotency WHERE key = ? AND created > ?",
                (key, now - IDEMPOTENCY_TTL),
            )
            .fetchone()
        )
        return (row[0], row[1]) if row else None

    def put_created_under(self, key: str, fingerprint: str, brief_id: str, now: float) -> None:
        conn = self._conn()
        conn.execute("DELETE FROM idempotency WHERE created <= ?", (now - IDEMPOTENCY_TTL,))
        conn.execute(
            "INSERT OR REPLACE INTO idempotency (key, fingerprint, created, brief_id) VALUES (?, ?, ?, ?)",
            (key, fingerprint, now, brief_id),
        )

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
