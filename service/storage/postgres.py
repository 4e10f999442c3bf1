"""The shared store: briefs and jobs in PostgreSQL (GOVBRIEF_DATABASE_URL=postgresql://…).

Any number of `govbrief serve` and `govbrief worker` processes, on any number of machines, use one
database. Workers claim with `SELECT … FOR UPDATE SKIP LOCKED`: a row one transaction has locked is
skipped by the others, so two workers never claim the same job and none waits on another.
Connections come from a psycopg pool, shared by the request threads and the in-process workers.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg_pool import ConnectionPool

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
    created DOUBLE PRECISION NOT NULL,
    sha256  TEXT NOT NULL,
    backend TEXT NOT NULL,
    body    BYTEA NOT NULL,
    "full"  BYTEA NOT NULL,
    owner   TEXT,
    title   TEXT,
    region  TEXT,
    year    INTEGER,
    genre   TEXT
);
CREATE INDEX IF NOT EXISTS briefs_by_owner ON briefs (owner, created);
CREATE TABLE IF NOT EXISTS jobs (
    seq         BIGSERIAL,
    id          TEXT PRIMARY KEY,
    status      TEXT NOT NULL,
    created     DOUBLE PRECISION NOT NULL,
    updated     DOUBLE PRECISION NOT NULL,
    filename    TEXT NOT NULL,
    backend     TEXT,
    with_text   BOOLEAN NOT NULL,
    owner       TEXT,
    data        BYTEA NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    claim       TEXT,
    lease_until DOUBLE PRECISION,
    brief_id    TEXT,
    error       TEXT,
    error_kind  TEXT,
    progress    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_open ON jobs (created, seq) WHERE status IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS job_progress (
    seq      BIGSERIAL PRIMARY KEY,
    job_id   TEXT NOT NULL,
    at       DOUBLE PRECISION NOT NULL,
    progress TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS job_progress_by_job ON job_progress (job_id, seq);
"""

#: Serialises schema creation: `CREATE … IF NOT EXISTS` races with itself across processes.
_SCHEMA_LOCK = 0x67_6F_76_62  # "govb"


class PostgresStore:
    def __init__(self, url: str, *, max_connections: int = 16) -> None:
        self.url = url
        # Connections are opened on first use; `open(wait=True)` fails now, with the server's
        # message, when the database cannot be reached.
        self._pool = ConnectionPool(
            url, min_size=1, max_size=max_connections, kwargs={"autocommit": True}, open=False
        )
        self._pool.open(wait=True, timeout=10)
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
            conn.execute(_SCHEMA + SERVER_TABLES.format(real="DOUBLE PRECISION"))

    def _one(self, sql: str, params: Any = ()) -> Any:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).fetchone()

    def _count(self, sql: str, params: Any = ()) -> int:
        with self._pool.connection() as conn:
            return conn.execute(sql, params).rowcount

    # --- briefs ---------------------------------------------------------------------------------

    def put_brief(self, row: BriefRow) -> None:
        with self._pool.connection() as conn:
            _insert_brief(conn, row, time.time())

    def body(self, brief_id: str) -> bytes | None:
        row = self._one("SELECT body FROM briefs WHERE id = %s", (brief_id,))
        return bytes(row[0]) if row else None

    def full(self, brief_id: str) -> bytes | None:
        row = self._one('SELECT "full" FROM briefs WHERE id = %s', (brief_id,))
        return bytes(row[0]) if row else None

    def list_briefs(
        self, owner: str, filters: BriefFilter, *, limit: int, offset: int
    ) -> tuple[list[BriefSummary], int]:
        where, params = listing_where(owner, filters, "%s")
        with self._pool.connection() as conn:
            total = conn.execute(f"SELECT count(*) FROM briefs WHERE {where}", params).fetchone()
            rows = conn.execute(
                f"SELECT id, created, backend, title, region, year, genre FROM briefs WHERE {where} "
                "ORDER BY created DESC, id LIMIT %s OFFSET %s",
                [*params, limit, offset],
            ).fetchall()
        return [BriefSummary(*r) for r in rows], int(total[0] if total else 0)

    # --- jobs -----------------------------------------------------------------------------------

    def add_job(self, job: NewJob, *, now: float) -> Job:
        self._count(PRUNE_PROGRESS.format(p="%s"), (now - PROGRESS_KEPT,))
        row = self._one(
            "INSERT INTO jobs (id, status, created, updated, filename, backend, with_text, owner, data) "
            f"VALUES (%s, 'queued', %s, %s, %s, %s, %s, %s, %s) RETURNING {JOB_COLUMNS}",
            (job.id, now, now, job.filename, job.backend, job.with_text, job.owner, job.data),
        )
        return job_from_row(row)

    def job(self, job_id: str) -> Job | None:
        row = self._one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,))
        return job_from_row(row) if row else None

    def job_input(self, job_id: str) -> bytes | None:
        row = self._one("SELECT data FROM jobs WHERE id = %s", (job_id,))
        return bytes(row[0]) if row else None

    def claim(self, token: str, *, now: float, lease: float, max_attempts: int) -> Job | None:
        with self._pool.connection() as conn:
            while True:
                with conn.transaction():
                    row = conn.execute(
                        f"SELECT id, attempts FROM jobs WHERE {CLAIMABLE.format(now='%s')} "
                        "ORDER BY created, seq LIMIT 1 FOR UPDATE SKIP LOCKED",
                        (now,),
                    ).fetchone()
                    if row is None:
                        return None
                    job_id, attempts = row
                    if attempts >= max_attempts:
                        conn.execute(
                            "UPDATE jobs SET status = 'failed', error_kind = %s, error = %s, claim = NULL, "
                            "lease_until = NULL, updated = %s WHERE id = %s",
                            (ErrorKind.internal.value, gave_up(attempts), now, job_id),
                        )
                        continue
                    found = conn.execute(
                        "UPDATE jobs SET status = 'running', claim = %s, lease_until = %s, "
                        f"attempts = attempts + 1, updated = %s WHERE id = %s RETURNING {JOB_COLUMNS}",
                        (token, now + lease, now, job_id),
                    ).fetchone()
                    return job_from_row(found)

    def heartbeat(
        self, job_id: str, token: str, *, now: float, lease: float, progress: Progress | None = None
    ) -> bool:
        if progress is None:
            return (
                self._count(
                    "UPDATE jobs SET lease_until = %s, updated = %s "
                    "WHERE id = %s AND claim = %s AND status = 'running'",
                    (now + lease, now, job_id, token),
                )
                == 1
            )
        with self._pool.connection() as conn, conn.transaction():
            cur = conn.execute(
                "UPDATE jobs SET lease_until = %s, updated = %s, progress = %s "
                "WHERE id = %s AND claim = %s AND status = 'running'",
                (now + lease, now, progress_json(progress), job_id, token),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "INSERT INTO job_progress (job_id, at, progress) VALUES (%s, %s, %s)",
                (job_id, now, progress_json(progress)),
            )
            return True

    def progress_since(self, job_id: str, after: int) -> list[tuple[int, Progress]]:
        with self._pool.connection() as conn:
            rows = conn.execute(
                "SELECT seq, progress FROM job_progress WHERE job_id = %s AND seq > %s ORDER BY seq",
                (job_id, after),
            ).fetchall()
        return [(int(seq), progress_from(raw)) for seq, raw in rows]

    def release(self, job_id: str, token: str, *, now: float) -> bool:
        return (
            self._count(
                "UPDATE jobs SET status = 'queued', claim = NULL, lease_until = NULL, "
                "attempts = greatest(attempts - 1, 0), updated = %s "
                "WHERE id = %s AND claim = %s AND status = 'running'",
                (now, job_id, token),
            )
            == 1
        )

    def succeed(self, job_id: str, token: str, brief: BriefRow, *, now: float) -> bool:
        with self._pool.connection() as conn, conn.transaction():
            cur = conn.execute(
                # The report's bytes are dropped (see sqlite.py).
                "UPDATE jobs SET status = 'succeeded', brief_id = %s, claim = NULL, lease_until = NULL, "
                "data = ''::bytea, updated = %s WHERE id = %s AND claim = %s AND status = 'running'",
                (brief.id, now, job_id, token),
            )
            if cur.rowcount != 1:
                return False
            _insert_brief(conn, brief, now)
            return True

    def fail(self, job_id: str, token: str, kind: ErrorKind, error: str, *, now: float) -> bool:
        return (
            self._count(
                "UPDATE jobs SET status = 'failed', error_kind = %s, error = %s, claim = NULL, "
                "lease_until = NULL, updated = %s WHERE id = %s AND claim = %s AND status = 'running'",
                (kind.value, error, now, job_id, token),
            )
            == 1
        )

    def cancel(self, job_id: str, *, now: float) -> Job | None:
        row = self._one(
            "UPDATE jobs SET status = 'cancelled', claim = NULL, lease_until = NULL, updated = %s "
            f"WHERE id = %s AND status IN ('queued', 'running') RETURNING {JOB_COLUMNS}",
            (now, job_id),
        )
        return job_from_row(row) if row else self.job(job_id)

    def count_jobs(self, status: JobStatus) -> int:
        row = self._one("SELECT count(*) FROM jobs WHERE status = %s", (status.value,))
        return int(row[0])

    # --- housekeeping ---------------------------------------------------------------------------

    # --- browser sessions and Idempotency-Key answers ---------------------------------------------

    def add_session(self, digest: str, owner: str, expires: float, now: float) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM sessions WHERE expires <= %s", (now,))
            conn.execute(
                "INSERT INTO sessions (digest, owner, expires) VALUES (%s, %s, %s)", (digest, owner, expires)
            )

    def session_owner(self, digest: str, now: float) -> str | None:
        row = self._one("SELECT owner FROM sessions WHERE digest = %s AND expires > %s", (digest, now))
        return str(row[0]) if row else None

    def drop_session(self, digest: str) -> None:
        self._count("DELETE FROM sessions WHERE digest = %s", (digest,))

    def created_under(self, key: str, now: float) -> tuple[str, str] | None:
        row = self._one(
            "SELECT fingerprint, brief_id FROM idempotency WHERE key = %s AND created > %s",
            (key, now - IDEMPOTENCY_TTL),
        )
        return (row[0], row[1]) if row else None

    def put_created_under(self, key: str, fingerprint: str, brief_id: str, now: float) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("DELETE FROM idempotency WHERE created <= %s", (now - IDEMPOTENCY_TTL,))
            conn.execute(
                "INSERT INTO idempotency (key, fingerprint, created, brief_id) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
                "created = EXCLUDED.created, brief_id = EXCLUDED.brief_id",
                (key, fingerprint, now, brief_id),
            )

    def ping(self) -> bool:
        try:
            self._one("SELECT 1")
        except Exception:
            return False
        return True

    def close(self) -> None:
        self._pool.close()


def _insert_brief(conn: Any, row: BriefRow, now: float) -> None:
    conn.execute(
        'INSERT INTO briefs (id, created, sha256, backend, body, "full", owner, title, region, year, genre) '
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (row.id, now, row.sha256, row.backend, row.body, row.full, row.owner, row.title, row.region,
         row.year, row.genre),
    )  # fmt: skip
