"""`kill -9` of `govbrief serve` in the middle of a job, then a restart: the job finishes without
being sent again, and the LLM (the fake server, 1 s per answer) is never asked again for a chunk
whose answer had come back and been cached. On both engines.

The kill happens at a chosen point, not at a time: the server has one chunk answered (and cached)
and the next request held open by the fake server. Waits are bounds only.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_openai import FakeOpenAI, RecordedRequest, Reply, auto_responder, shown_sentences
from llm_helpers import fake_server
from servers import start_serve

from service.ingest import sample_path

pytestmark = pytest.mark.slow

ANSWER_SECONDS = 1.0


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


class Stand_in:
    """Answers like the model after 1 s; holds the second chunk request open until let go; notes
    when each distinct request was first answered."""

    def __init__(self) -> None:
        self.answered: dict[str, float] = {}  # request content → when its first answer went out
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._chunks_seen = 0

    def __call__(self, request: RecordedRequest) -> Reply:
        key = request.message("user")
        hold = False
        if shown_sentences(request):
            with self._lock:
                self._chunks_seen += 1
                hold = self._chunks_seen == 2
        if hold:
            self.held.set()
            self.release.wait(120)
            return Reply(status=503, json={"error": {"message": "gone"}})  # to a dead client
        time.sleep(ANSWER_SECONDS)
        reply = auto_responder(request)
        with self._lock:
            self.answered.setdefault(key, time.monotonic())
        return reply


def serve_env(fake: FakeOpenAI, tmp_path: Path, database_url: str | None) -> dict[str, str]:
    env = {
        "GOVBRIEF_BACKEND": "openai",
        "GOVBRIEF_LLM_BASE_URL": fake.base_url,
        "GOVBRIEF_LLM_MODEL": "fake-model",
        "GOVBRIEF_LLM_API_KEY": "sk-test-restart",
        "GOVBRIEF_LLM_PACK_TOKENS": "0",
        "GOVBRIEF_LLM_CONCURRENCY": "1",
        "GOVBRIEF_CACHE_DIR": str(tmp_path / "cache"),
        "GOVBRIEF_WORKERS": "1",
        "GOVBRIEF_JOB_LEASE_SECONDS": "2",
        "GOVBRIEF_JOB_POLL_SECONDS": "0.05",
    }
    if database_url:
        env["GOVBRIEF_DATABASE_URL"] = database_url
    return env


def job_state(base: str, job_id: str) -> dict[str, Any]:
    state: dict[str, Any] = httpx.get(f"{base}/v1/jobs/{job_id}", timeout=10).json()
    return state


def test_a_killed_servers_job_finishes_after_a_restart_without_paying_twice(
    tmp_path: Path, fake: FakeOpenAI, database_url: str | None
) -> None:
    stand_in = Stand_in()
    fake.route("POST", "/v1/chat/completions", stand_in)
    env = serve_env(fake, tmp_path, database_url)
    proc, base = start_serve(tmp_path / "data", env=env, timeout=60)
    try:
        r = httpx.post(
            f"{base}/v1/briefs",
            files={"file": ("qinghe.txt", sample_path().read_bytes(), "text/plain")},
            headers={"Prefer": "respond-async"},
            timeout=30,
        )
        assert r.status_code == 202, r.text
        job_id = r.json()["id"]
        assert stand_in.held.wait(120), "the second chunk request never came"
        # The first chunk's answer is in the cache (its progress report is stored after it).
        deadline = time.monotonic() + 60
        while job_state(base, job_id)["progress"]["chunks_done"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        stand_in.release.set()
    killed_at = time.monotonic()
    assert job_state_after_kill_is_running(tmp_path, database_url, job_id)

    proc, base = start_serve(tmp_path / "data", env=env, timeout=60)
    try:
        deadline = time.monotonic() + 240
        while (state := job_state(base, job_id))["status"] in ("queued", "running"):
            assert time.monotonic() < deadline, state
            time.sleep(0.1)
        assert state["status"] == "succeeded", state
        assert state["attempts"] == 2  # taken up again, not resubmitted
        brief = httpx.get(f"{base}/v1/briefs/{state['brief_id']}", timeout=10).json()
        assert brief["problems"] and brief["provenance"]["backend"] == "openai"
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    chunk_requests = [q for q in fake.chat_requests() if shown_sentences(q)]
    asked_again = [
        q for q in chunk_requests if q.message("user") in stand_in.answered
        and q.received_at > stand_in.answered[q.message("user")]
    ]  # fmt: skip
    assert asked_again == [], f"{len(asked_again)} chunk(s) asked again after their answer was cached"
    # The restart asked for what was never answered: the held chunk and the ones after it.
    assert any(q.received_at > killed_at for q in chunk_requests)
    distinct = {q.message("user") for q in chunk_requests}
    assert len(chunk_requests) == len(distinct) + 1  # only the held one was asked twice


def job_state_after_kill_is_running(tmp_path: Path, database_url: str | None, job_id: str) -> bool:
    """Straight from the store: the killed server left the job running, under a lease."""
    from service.settings import Settings
    from service.storage import open_store

    store = open_store(Settings(data_dir=tmp_path / "data", database_url=database_url))
    try:
        job = store.job(job_id)
        return job is not None and job.status.value == "running" and job.attempts == 1
    finally:
        store.close()
