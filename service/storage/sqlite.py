"""The embedded store: one SQLite file under `settings.data_dir` holding briefs and jobs.

A brief row keeps the JSON body exactly as `GET /v1/briefs/{id}` serves it (id included), so that
the hot read path is a primary-key lookup and a copy, with no pydantic at all; and the full Brief with
its normalized text, which the page and the Markdown need.

Several processes may share the file (`govbrief serve` and `govbrief worker` on one machine): a
claim runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's one write lock, so two workers
never claim the same job.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.progress import Progress
from service.storage.base import (
    CLAIMABLE,
    IDEMPOTENCY_TTL,
    JOB_COLUMNS,
    PROGRESS_KEPT,
    PRUNE_PROGRESS,
    SERVER_TABLES,
    BriefFilter,
    BriefRow,
    BriefSummary,
    ErrorKind,
    Job,
    JobStatus,
    NewJob,
    gave_up,
    job_from_row,
    listing_where,
    progress_from,
    progress_json,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS briefs (
    id      TEXT PRIMARY KEY,
    created REAL NOT NULL,
    sha256  TEXT NOT NULL,
    backend TEXT NOT NULL,
    body    BLOB NOT NULL,
    full    BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    created     REAL NOT NULL,
    updated     REAL NOT NULL,
    filename    TEXT NOT NULL,
    backend     TEXT,
    with_text   INTEGER NOT NULL,
    owner       TEXT,
    data        BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    claim       TEXT,
    lease_until REAL,
    brief_id    TEXT,
    error       TEXT,
    error_kind  TEXT,
    progress    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, created);
CREATE TABLE IF NOT EXISTS job_progress (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id   TEXT NOT NULL,
    at       REAL NOT NULL,
    progress TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_progress_by_job ON job_progress (job_id, seq);
"""

#: Columns added to `briefs` after its first release: older files get them on open.
_BRIEF_COLUMNS = {"owner": "TEXT", "title": "TEXT", "region": "TEXT", "year": "INTEGER", "genre": "TEXT"}


class SQLiteStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # One connection per thread: the event loop reads on its own, the threadpool and the workers
        # write on theirs, and WAL lets readers and the writer work at the same time.
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        conn = self._conn()
        conn.executescript(_SCHEMA + SERVER_TABLES.format(real="REAL"))
        have = {row[1] for row in conn.execute("PRAGMA table_info(briefs)")}
        for column, kind in _BRIEF_COLUMNS.items():
            if column not in have:
                conn.execute(f"ALTER TABLE briefs ADD COLUMN {column} {kind}")
        conn.execute("CREATE INDEX IF NOT EXISTS briefs_by_owner ON briefs (owner, created)")

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

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that holds the write lock from its first statement."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # --- briefs ---------------------------------------------------------------------------------

    def put_brief(self, row: BriefRow) -> None:
        _insert_brief(self._conn(), row)

    def body(self, brief_id: str) -> bytes | None:
        """The stored response body: microseconds, so callers may run it on the event loop."""
        found = self._conn().execute("SELECT body FROM briefs WHERE id = ?", (brief_id,)).fetchone()
        return bytes(found[0]) if found else None

    def full(self, brief_id: str) -> bytes | None:
        found = self._conn().execute("SELECT full FROM briefs WHERE id = ?", (brief_id,)).fetchone()
        return bytes(found[0]) if found else None

    def list_briefs(
        self, owner: str, filters: BriefFilter, *, limit: int, offset: int
    ) -> tuple[list[BriefSummary], int]:
        where, params = listing_where(owner, filters, "?")
        conn = self._conn()
        total = conn.execute(f"SELECT count(*) FROM briefs WHERE {where}", params).fetchone()[0]
        rows = conn.execute(
            f"SELECT id, created, backend, title, region, year, genre FROM briefs WHERE {where} "
            "ORDER BY created DESC, id LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [BriefSummary(*r) for r in rows], int(total)

    # --- jobs -----------------------------------------------------------------------------------

    def add_job(self, job: NewJob, *, now: float) -> Job:
        self._conn().execute(PRUNE_PROGRESS.format(p="?"), (now - PROGRESS_KEPT,))
        self._conn().execute(
            "INSERT INTO jobs (id, status, created, updated, filename, backend, with_text, owner, data) "
            "VALUES (?, 'queued', ?, ?, ?, ?, ?, ?, ?)",
            (job.id, now, now, job.filename, job.backend, int(job.with_text), job.owner, job.data),
        )
        found = self.job(job.id)
        assert found is not None
        return found

    def job(self, job_id: str) -> Job | None:
        row = self._conn().execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return job_from_row(row) if row else None

    def job_input(self, job_id: str) -> bytes | None:
        row = self._conn().execute("SELECT data FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bytes(row[0]) if row else None

    def claim(self, token: str, *, now: float, lease: float, max_attempts: int) -> Job | None:
        with self._write() as conn:
            while True:
                row = conn.execute(
                    f"SELECT id, attempts FROM jobs WHERE {CLAIMABLE.format(now='?')} "
                    "ORDER BY created, rowid LIMIT 1",
                    (now,),
                ).fetchone()
                if row is None:
                    return None
                job_id, attempts = row
                if attempts >= max_attempts:
                    conn.execute(
                        "UPDATE jobs SET status = 'failed', error_kind = ?, error = ?, claim = NULL, "
                        "lease_until = NULL, updated = ? WHERE id = ?",
                        (ErrorKind.internal.value, gave_up(attempts), now, job_id),
                    )
                    continue
                conn.execute(
                    "UPDATE jobs SET status = 'running', claim = ?, lease_until = ?, "
                    "attempts = attempts + 1, updated = ? WHERE id = ?",
                    (token, now + lease, now, job_id),
                )
                found = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
                return job_from_row(found)

    def heartbeat(
        self, job_id: str, token: str, *, now: float, lease: float, progress: Progress | None = None
    ) -> bool:
        if progress is None:
            cur = self._conn().execute(
                "UPDATE jobs SET lease_until = ?, updated = ? "
                "WHERE id = ? AND claim = ? AND status = 'running'",
                (now + lease, now, job_id, token),
            )
            return cur.rowcount == 1
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE jobs SET lease_until = ?, updated = ?, progress = ? "
                "WHERE id = ? AND claim = ? AND status = 'running'",
                (now + lease, now, progress_json(progress), job_id, token),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "INSERT INTO job_progress (job_id, at, progress) VALUES (?, ?, ?)",
                (job_id, now, progress_json(progress)),
            )
            return True

    def progress_since(self, job_id: str, after: int) -> list[tuple[int, Progress]]:
        rows = (
            self._conn()
            .execute(
                "SELECT seq, progress FROM job_progress WHERE job_id = ? AND seq > ? ORDER BY seq",
                (job_id, after),
            )
            .fetchall()
        )
        return [(int(seq), progress_from(raw)) for seq, raw in rows]

    def release(self, job_id: str, token: str, *, now: float) -> bool:
        cur = self._conn().execute(
            "UPDATE jobs SET status = 'queued', claim = NULL, lease_until = NULL, "
            "attempts = max(attempts - 1, 0), updated = ? WHERE id = ? AND claim = ? AND status = 'running'",
            (now, job_id, token),
        )
        return cur.rowcount == 1

    def succeed(self, job_id: str, token: str, brief: BriefRow, *, now: float) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                # The report's bytes are dropped: the brief holds its text, and only a job that
                # did not succeed can be retried.
                "UPDATE jobs SET status = 'succeeded', brief_id = ?, claim = NULL, lease_until = NULL, "
                "data = x'', updated = ? WHERE id = ? AND claim = ? AND status = 'running'",
                (brief.id, now, job_id, token),
            )
            if cur.rowcount != 1:
                return False
            _insert_brief(conn, brief, now=now)
            return True

    def fail(self, job_id: str, token: str, kind: ErrorKind, error: str, *, now: float) -> bool:
        cur = self._conn().execute(
            "UPDATE jobs SET status = 'failed', error_kind = ?, error = ?, claim = NULL, "
            "lease_until = NULL, updated = ? WHERE id = ? AND claim = ? AND status = 'running'",
            (kind.value, error, now, job_id, token),
        )
        return cur.rowcount == 1

    def cancel(self, job_id: str, *, now: float) -> Job | None:
        self._conn().execute(
            "UPDATE jobs SET status = 'cancelled', claim = NULL, lease_until = NULL, updated = ? "
            "WHERE id = ? AND status IN ('queued', 'running')",
            (now, job_id),
        )
        return self.job(job_id)

    def count_jobs(self, status: JobStatus) -> int:
        return int(
            self._conn().execute("SELECT count(*) FROM jobs WHERE status = ?", (status.value,)).fetchone()[0]
        )

    # --- browser sessions and Idempotency-Key answers ---------------------------------------------

    def add_session(self, digest: str, owner: str, expires: float, now: float) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires <= ?", (now,))
            conn.execute(
                "INSERT INTO sessions (digest, owner, expires) VALUES (?, ?, ?)", (digest, owner, expires)
            )

    def session_owner(self, digest: str, now: float) -> str | None:
        row = (
            self._conn()
            .execute("SELECT owner FROM sessions WHERE digest = ? AND expires > ?", (digest, now))
            .fetchone()
        )
        return str(row[0]) if row else None

    def drop_session(self, digest: str) -> None:
        self._conn().execute("DELETE FROM sessions WHERE digest = ?", (digest,))

    def created_under(self, key: str, now: float) -> tuple[str, str] | None:
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
        with self._write() as conn:
            conn.execute("DELETE FROM idempotency WHERE created <= ?", (now - IDEMPOTENCY_TTL,))
            conn.execute(
                "INSERT OR REPLACE INTO idempotency (key, fingerprint, created, brief_id) VALUES (?, ?, ?, ?)",
                (key, fingerprint, now, brief_id),
            )

    # --- housekeeping ---------------------------------------------------------------------------

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


def _insert_brief(conn: sqlite3.Connection, row: BriefRow, *, now: float | None = None) -> None:
    conn.execute(
        "INSERT INTO briefs (id, created, sha256, backend, body, full, owner, title, region, year, genre) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (row.id, time.time() if now is None else now, row.sha256, row.backend, row.body, row.full,
         row.owner, row.title, row.region, row.year, row.genre),
    )  # fmt: skip
