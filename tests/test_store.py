"""The store (briefs and jobs) on both engines: what is kept, who may claim what, and leases that
run out on a fake clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.progress import Progress
from service.settings import Settings
from service.storage import open_store
from service.storage.base import BriefFilter, BriefRow, ErrorKind, JobStatus, NewJob, Store, owner_of

LEASE = 30.0


def settings_for(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", cache_dir=tmp_path / "cache", database_url=database_url)


@pytest.fixture
def store(tmp_path: Path, database_url: str | None) -> Iterator[Store]:
    s = open_store(settings_for(tmp_path, database_url))
    yield s
    s.close()


def brief(i: int, owner: str | None, **facts: object) -> BriefRow:
    values: dict[str, object] = {"title": f"报告{i}", "region": "青禾县", "year": 2023, "genre": None}
    values.update(facts)
    return BriefRow(
        id=f"b{i}", sha256="0" * 64, backend=str(values.pop("backend", "rules")),
        body=b'{"id":"b%d"}' % i, full=b"{}", owner=owner, **values,  # type: ignore[arg-type]
    )  # fmt: skip


def job(i: int, owner: str | None = None) -> NewJob:
    return NewJob(id=f"j{i}", data=f"report {i}".encode(), filename=f"r{i}.txt", backend="rules", owner=owner)


def test_briefs_are_kept_byte_for_byte(store: Store) -> None:
    store.put_brief(brief(1, None))
    assert store.body("b1") == b'{"id":"b1"}'
    assert store.full("b1") == b"{}"
    assert store.body("nope") is None and store.full("nope") is None
    assert store.ping()


def test_listing_is_per_owner_filtered_and_paged(store: Store) -> None:
    a, b = owner_of("key-a"), owner_of("key-b")
    assert a != b and "key-a" not in a
    for i in range(5):
        store.put_brief(brief(i, a, year=2022 + i % 2, backend="openai" if i % 2 else "rules"))
    store.put_brief(brief(9, b, region="白河市"))
    store.put_brief(brief(10, None))

    items, total = store.list_briefs(a, BriefFilter(), limit=2, offset=0)
    assert total == 5 and len(items) == 2
    rest, _ = store.list_briefs(a, BriefFilter(), limit=10, offset=2)
    assert {x.id for x in items} | {x.id for x in rest} == {f"b{i}" for i in range(5)}
    assert store.list_briefs(b, BriefFilter(), limit=10, offset=0)[1] == 1
    y2023, n = store.list_briefs(a, BriefFilter(year=2023, backend="openai"), limit=10, offset=0)
    assert n == 2 and {x.id for x in y2023} == {"b1", "b3"}
    assert store.list_briefs(a, BriefFilter(region="白河市"), limit=10, offset=0)[1] == 0
    assert store.list_briefs(b, BriefFilter(region="白河市"), limit=10, offset=0)[1] == 1
    assert store.list_briefs(a, BriefFilter(genre="政府工作报告"), limit=10, offset=0)[1] == 0


def test_a_job_is_stored_claimed_and_ends_with_its_brief(store: Store) -> None:
    queued = store.add_job(job(1, owner="o"), now=100.0)
    assert queued.status is JobStatus.queued and queued.attempts == 0 and queued.owner == "o"
    assert store.job_input("j1") == b"report 1"

    claimed = store.claim("t1", now=101.0, lease=LEASE, max_attempts=3)
    assert claimed is not None and claimed.id == "j1" and claimed.status is JobStatus.running
    assert claimed.attempts == 1 and claimed.lease_until == 101.0 + LEASE
    assert store.claim("t2", now=102.0, lease=LEASE, max_attempts=3) is None  # held

    assert store.heartbeat("j1", "t1", now=110.0, lease=LEASE, progress=Progress(1, 3, 1, 100, 20))
    assert store.heartbeat("j1", "t1", now=111.0, lease=LEASE, progress=Progress(2, 3, 2, 200, 40))
    current = store.job("j1")
    assert current is not None and current.progress == Progress(2, 3, 2, 200, 40)
    reports = store.progress_since("j1", 0)
    assert [p.chunks_done for _, p in reports] == [1, 2]
    assert store.progress_since("j1", reports[0][0]) == reports[1:]

    assert store.succeed("j1", "t1", brief(1, "o"), now=120.0)
    done = store.job("j1")
    assert done is not None and done.status is JobStatus.succeeded and done.brief_id == "b1"
    assert store.body("b1") == b'{"id":"b1"}'
    assert store.claim("t3", now=1e9, lease=LEASE, max_attempts=3) is None  # ended jobs stay ended


def test_jobs_are_claimed_oldest_first(store: Store) -> None:
    for i in (1, 2, 3):
        store.add_job(job(i), now=float(i))
    order = []
    while (claimed := store.claim(f"t{len(order)}", now=10.0, lease=LEASE, max_attempts=3)) is not None:
        order.append(claimed.id)
    assert order == ["j1", "j2", "j3"]


def test_a_dead_workers_job_is_claimed_again_once_its_lease_runs_out(store: Store) -> None:
    store.add_job(job(1), now=0.0)
    first = store.claim("dead", now=0.0, lease=LEASE, max_attempts=3)
    assert first is not None
    assert store.heartbeat("j1", "dead", now=10.0, lease=LEASE)  # lease now runs to 40
    assert store.claim("other", now=39.9, lease=LEASE, max_attempts=3) is None
    again = store.claim("other", now=40.1, lease=LEASE, max_attempts=3)
    assert again is not None and again.id == "j1" and again.attempts == 2
    # The dead worker (had it only stalled) can no longer touch the job.
    assert not store.heartbeat("j1", "dead", now=41.0, lease=LEASE)
    assert not store.succeed("j1", "dead", brief(7, None), now=41.0)
    assert store.body("b7") is None
    assert not store.fail("j1", "dead", ErrorKind.internal, "x", now=41.0)
    assert store.succeed("j1", "other", brief(8, None), now=42.0)


def test_a_job_that_keeps_killing_workers_is_failed(store: Store) -> None:
    store.add_job(job(1), now=0.0)
    for attempt in range(3):
        assert store.claim(f"t{attempt}", now=attempt * 100.0, lease=LEASE, max_attempts=3) is not None
    assert store.claim("t9", now=1000.0, lease=LEASE, max_attempts=3) is None
    failed = store.job("j1")
    assert failed is not None and failed.status is JobStatus.failed
    assert failed.error_kind is ErrorKind.internal and "3 attempts" in (failed.error or "")


def test_cancel_stops_a_queued_or_running_job(store: Store) -> None:
    store.add_job(job(1), now=0.0)
    store.add_job(job(2), now=1.0)
    cancelled = store.cancel("j1", now=2.0)
    assert cancelled is not None and cancelled.status is JobStatus.cancelled
    running = store.claim("t", now=3.0, lease=LEASE, max_attempts=3)
    assert running is not None and running.id == "j2"  # j1 is never run
    assert store.cancel("j2", now=4.0) is not None
    # Its worker learns at the next heartbeat, and can store nothing.
    assert not store.heartbeat("j2", "t", now=5.0, lease=LEASE, progress=Progress(1, 2))
    assert not store.succeed("j2", "t", brief(2, None), now=6.0)
    assert store.cancel("nope", now=7.0) is None


def test_release_puts_a_job_back_without_spending_an_attempt(store: Store) -> None:
    store.add_job(job(1), now=0.0)
    assert store.claim("t", now=1.0, lease=LEASE, max_attempts=1) is not None
    assert store.release("j1", "t", now=2.0)
    again = store.claim("u", now=3.0, lease=LEASE, max_attempts=1)
    assert again is not None and again.attempts == 1


def test_concurrent_claims_never_share_a_job(tmp_path: Path, database_url: str | None) -> None:
    """Many claimers on stores of their own (as separate processes would have): each job once."""
    settings = settings_for(tmp_path, database_url)
    setup = open_store(settings)
    n = 60
    for i in range(n):
        setup.add_job(job(i), now=float(i))
    claimed: list[str] = []
    lock = threading.Lock()

    def claimer(k: int) -> None:
        own = open_store(settings)
        try:
            while (got := own.claim(f"c{k}", now=1000.0, lease=LEASE, max_attempts=3)) is not None:
                with lock:
                    claimed.append(got.id)
        finally:
            own.close()

    threads = [threading.Thread(target=claimer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    setup.close()
    assert sorted(claimed) == sorted(f"j{i}" for i in range(n))


def test_sessions_are_kept_by_digest_with_their_owner_until_they_run_out(store: Store) -> None:
    a, b = owner_of("key-a-0123456789abcdef"), owner_of("key-b-0123456789abcdef")
    store.add_session("d1", a, 1_000.0 + 3600, 1_000.0)
    store.add_session("d2", b, 1_000.0 + 60, 1_000.0)
    assert store.session_owner("d1", 1_030.0) == a and store.session_owner("d2", 1_030.0) == b
    assert store.session_owner("d2", 1_060.0) is None  # run out
    assert store.session_owner("unknown", 1_030.0) is None
    store.drop_session("d1")  # logged out
    assert store.session_owner("d1", 1_030.0) is None
    # sessions that ran out are dropped when the next one is kept
    store.add_session("d3", a, 5_000.0, 2_000.0)
    store.add_session("d2", a, 6_000.0, 2_000.0)  # d2's digest is free again: no conflict
    assert store.session_owner("d2", 2_000.0) == a


def test_an_idempotency_keys_answer_is_kept_for_a_day(store: Store) -> None:
    from service.storage.base import IDEMPOTENCY_TTL

    assert store.created_under("k1", 1_000.0) is None
    store.put_created_under("k1", "fp-1", "b1", 1_000.0)
    assert store.created_under("k1", 1_000.0 + IDEMPOTENCY_TTL - 1) == ("fp-1", "b1")
    assert store.created_under("k1", 1_000.0 + IDEMPOTENCY_TTL) is None
    # a key used again after its day is a new answer, not a conflict
    store.put_created_under("k1", "fp-2", "b2", 1_000.0 + IDEMPOTENCY_TTL + 5)
    assert store.created_under("k1", 1_000.0 + IDEMPOTENCY_TTL + 6) == ("fp-2", "b2")


def test_an_ended_jobs_progress_is_pruned_after_an_hour(store: Store) -> None:
    """Progress reports are for streams; an hour after its job ended nobody reads them, and a busy
    store would otherwise keep one row per chunk of every job forever."""
    from service.storage.base import PROGRESS_KEPT

    for i in (1, 2):
        store.add_job(job(i), now=100.0)
        claimed = store.claim(f"t{i}", now=100.0, lease=LEASE, max_attempts=3)
        assert claimed is not None
        assert store.heartbeat(claimed.id, f"t{i}", now=101.0, lease=LEASE, progress=Progress(1, 2))
    assert store.succeed("j1", "t1", brief(1, None), now=102.0)  # j2 is still running
    store.add_job(job(3), now=102.0 + PROGRESS_KEPT - 1)
    assert len(store.progress_since("j1", 0)) == 1  # not an hour yet
    store.add_job(job(4), now=102.0 + PROGRESS_KEPT + 1)
    assert store.progress_since("j1", 0) == []
    assert len(store.progress_since("j2", 0)) == 1  # a running job's reports stay
    done = store.job("j1")
    assert done is not None and done.progress == Progress(1, 2)  # the job keeps its last figures
