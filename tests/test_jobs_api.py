"""Jobs over HTTP, on both engines: `Prefer: respond-async` → 202 and a job that ends with the
same brief as the synchronous answer; its events (one per answered chunk) until it ends; cancelling;
keys that never see each other's jobs or briefs; the library; the web form's job page, its Chinese
error and its retry. The LLM is the fake OpenAI-compatible server, over real HTTP."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, error_reply
from fastapi.testclient import TestClient
from llm_helpers import fake_server, settings_for

from service.api import create_app
from service.ingest import sample_path
from service.settings import Settings

SAMPLE = sample_path().read_text("utf-8")
ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


KEY_A = "key-a-0123456789abcdef"  # keys are at least 16 characters
KEY_B = "key-b-0123456789abcdef"


def make_client(tmp_path: Path, fake: FakeOpenAI, database_url: str | None, **kw: Any) -> TestClient:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "backend": "openai",
        "api_keys": None,
        "cors_origins": None,
        "llm_pack_tokens": 0,  # one request per chunk: several progress reports per report
        "llm_concurrency": 1,
        "workers": 1,
        "job_poll_seconds": 0.05,
    }
    values.update(kw)
    return TestClient(create_app(settings_for(fake, tmp_path, **values)))


@pytest.fixture
def client(tmp_path: Path, fake: FakeOpenAI, database_url: str | None) -> Iterator[TestClient]:
    with make_client(tmp_path, fake, database_url) as c:
        yield c


def wait_for(client: TestClient, job_id: str, *, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The job once it has ended (a bound, not a speed: it fails only if the job never ends)."""
    deadline = time.monotonic() + 120
    while True:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}", headers=headers).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        assert time.monotonic() < deadline, f"job {job_id} did not end: {job}"
        time.sleep(0.05)


def content(brief: dict[str, Any]) -> dict[str, Any]:
    return {k: brief[k] for k in ("report", "overview", "achievements", "problems", "plans", "leadership")}


def test_respond_async_is_a_job_that_ends_with_the_synchronous_brief(client: TestClient) -> None:
    r = client.post("/v1/briefs", json={"text": SAMPLE, "filename": "qinghe.txt"}, headers=ASYNC)
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    assert r.headers["preference-applied"] == "respond-async"
    assert job["status"] in ("queued", "running") and job["brief_id"] is None
    assert set(job["progress"]) == {
        "chunks_done",
        "chunks_total",
        "calls",
        "prompt_tokens",
        "completion_tokens",
    }

    done = wait_for(client, job["id"])
    assert done["status"] == "succeeded" and done["error"] is None and done["attempts"] == 1
    assert done["progress"]["chunks_done"] == done["progress"]["chunks_total"] > 1
    assert done["progress"]["calls"] > done["progress"]["chunks_total"] - 1
    brief = client.get(f"/v1/briefs/{done['brief_id']}").json()
    assert brief["id"] == done["brief_id"] and brief["source"]["text"] is None

    sync = client.post("/v1/briefs", json={"text": SAMPLE, "filename": "qinghe.txt"})
    assert sync.status_code == 201
    assert content(sync.json()) == content(brief)
    assert sync.json()["provenance"]["cache_hit"] is True  # the job's answers were cached


def test_without_the_header_the_api_stays_synchronous(client: TestClient) -> None:
    r = client.post("/v1/briefs", json={"text": SAMPLE}, headers={"Prefer": "return=minimal"})
    assert r.status_code == 201 and r.json()["problems"]


def test_events_report_every_chunk_and_end_with_the_job(client: TestClient, fake: FakeOpenAI) -> None:
    job = client.post("/v1/briefs", json={"text": SAMPLE}, headers=ASYNC).json()
    with client.stream("GET", f"/v1/jobs/{job['id']}/events") as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[5:]) for line in r.iter_lines() if line.startswith("data:")]
    last = events[-1]
    assert last["status"] == "succeeded" and last["brief_id"]
    total = last["progress"]["chunks_total"]
    seen = {e["progress"]["chunks_done"] for e in events}
    chunk_requests = len(fake.chat_requests()) - 1  # the overview is the last call
    # One report per answered request: each count of chunks done is announced on the way.
    done_counts = [e["progress"]["chunks_done"] for e in events if e["status"] == "running"]
    assert len([c for c in done_counts if c > 0]) >= chunk_requests
    assert seen >= {0, total}
    assert all(e["id"] == job["id"] for e in events)


def test_delete_cancels_a_job(tmp_path: Path, fake: FakeOpenAI, database_url: str | None) -> None:
    with make_client(tmp_path, fake, database_url, workers=0) as client:  # nobody runs it
        job = client.post("/v1/briefs", json={"text": SAMPLE}, headers=ASYNC).json()
        assert client.get(f"/v1/jobs/{job['id']}").json()["status"] == "queued"
        assert "\ngovbrief_jobs_queued 1.0\n" in client.get("/metrics").text
        r = client.delete(f"/v1/jobs/{job['id']}")
        assert r.status_code == 200 and r.json()["status"] == "cancelled"
        assert client.delete(f"/v1/jobs/{job['id']}").json()["status"] == "cancelled"
        with client.stream("GET", f"/v1/jobs/{job['id']}/events") as s:
            events = [json.loads(line[5:]) for line in s.iter_lines() if line.startswith("data:")]
        assert events[-1]["status"] == "cancelled"
        assert "\ngovbrief_jobs_queued 0.0\n" in client.get("/metrics").text
        assert client.get("/v1/jobs/nope").status_code == 404
        assert client.delete("/v1/jobs/nope").status_code == 404
    assert fake.chat_requests() == []


def test_an_ended_job_cannot_be_cancelled(client: TestClient) -> None:
    job = client.post("/v1/briefs", json={"text": SAMPLE}, headers=ASYNC).json()
    assert wait_for(client, job["id"])["status"] == "succeeded"
    r = client.delete(f"/v1/jobs/{job['id']}")
    assert r.status_code == 409 and "already ended" in r.json()["detail"]


def test_an_unconfigured_backend_is_refused_before_queueing(tmp_path: Path, database_url: str | None) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        backend="rules",
        llm_model=None,
        llm_base_url=None,
        database_url=database_url,
    )
    with TestClient(create_app(settings)) as client:
        r = client.post("/v1/briefs", json={"text": SAMPLE, "backend": "openai"}, headers=ASYNC)
        assert r.status_code == 400 and "not configured" in r.json()["detail"]


def test_keys_never_see_each_others_jobs_or_briefs(
    tmp_path: Path, fake: FakeOpenAI, database_url: str | None
) -> None:
    a, b = {"Authorization": f"Bearer {KEY_A}"}, {"Authorization": f"Bearer {KEY_B}"}
    with make_client(tmp_path, fake, database_url, api_keys=f"{KEY_A},{KEY_B}") as client:
        job = client.post("/v1/briefs", json={"text": SAMPLE}, headers={**ASYNC, **a}).json()
        assert client.get(f"/v1/jobs/{job['id']}", headers=b).status_code == 404
        assert client.delete(f"/v1/jobs/{job['id']}", headers=b).status_code == 404
        assert client.get(f"/v1/jobs/{job['id']}/events", headers=b).status_code == 404
        done = wait_for(client, job["id"], headers=a)
        sync = client.post("/v1/briefs", json={"text": SAMPLE, "backend": "rules"}, headers=a).json()

        mine = client.get("/v1/briefs", headers=a).json()
        assert {x["id"] for x in mine["items"]} == {done["brief_id"], sync["id"]} and mine["total"] == 2
        assert client.get("/v1/briefs", headers=b).json() == {
            "items": [], "total": 0, "page": 1, "per_page": 20, "next": None,
        }  # fmt: skip
        assert client.get("/v1/briefs").status_code == 401


def test_a_browser_session_acts_for_the_key_that_opened_it(
    tmp_path: Path, fake: FakeOpenAI, database_url: str | None
) -> None:
    """The session cookie holds no key, yet what a signed-in browser makes belongs to the key it
    signed in with, and it sees that key's briefs and jobs, and only those."""
    a, b = {"Authorization": f"Bearer {KEY_A}"}, {"Authorization": f"Bearer {KEY_B}"}
    with make_client(tmp_path, fake, database_url, api_keys=f"{KEY_A},{KEY_B}", workers=0) as client:
        by_b = client.post("/v1/briefs", json={"text": SAMPLE, "backend": "rules"}, headers=b).json()["id"]
        signed_in = client.post("/session", data={"key": KEY_A, "next": "/"}, follow_redirects=False)
        assert signed_in.status_code == 303 and KEY_A not in signed_in.headers["set-cookie"]
        made = client.post("/v1/briefs", json={"text": SAMPLE, "backend": "rules"}).json()["id"]
        job = client.post("/v1/briefs", json={"text": SAMPLE}, headers=ASYNC).json()
        assert {x["id"] for x in client.get("/v1/briefs").json()["items"]} == {made}
        assert {x["id"] for x in client.get("/v1/briefs", headers=a).json()["items"]} == {made}
        assert by_b not in client.get("/library").text and made in client.get("/library").text
        assert client.get(f"/v1/jobs/{job['id']}", headers=a).status_code == 200
        assert client.get(f"/v1/jobs/{job['id']}", headers=b).status_code == 404
        client.post("/logout")
        assert client.get("/v1/briefs").status_code == 401


def test_the_library_filters_and_pages(tmp_path: Path, fake: FakeOpenAI, database_url: str | None) -> None:
    key = {"Authorization": f"Bearer {KEY_A}"}
    with make_client(tmp_path, fake, database_url, api_keys=KEY_A, workers=0) as client:
        ids = [client.post("/v1/briefs", json={"text": SAMPLE, "backend": "rules"}, headers=key).json()["id"]]
        ids += [
            client.post("/v1/briefs", json={"text": SAMPLE, "backend": "rules"}, headers=key).json()["id"]
        ]
        ids += [client.post("/v1/briefs", json={"text": SAMPLE}, headers=key).json()["id"]]  # openai
        first = client.get("/v1/briefs?per_page=2", headers=key).json()
        assert first["total"] == 3 and len(first["items"]) == 2 and first["next"]
        second = client.get(first["next"], headers=key).json()
        assert len(second["items"]) == 1 and second["next"] is None
        assert {x["id"] for x in first["items"] + second["items"]} == set(ids)
        item = first["items"][0]
        assert item["title"] and item["region"] and item["year"] == 2023
        assert client.get("/v1/briefs?backend=openai", headers=key).json()["total"] == 1
        assert client.get(f"/v1/briefs?region={item['region']}&year=2023", headers=key).json()["total"] == 3
        assert client.get("/v1/briefs?year=2020", headers=key).json()["total"] == 0
        assert client.get("/v1/briefs?genre=anything", headers=key).json()["total"] == 0
        assert item["genre"] == "rule_of_law_report"  # report.genre, stored with the brief
        assert client.get("/v1/briefs?genre=rule_of_law_report", headers=key).json()["total"] == 3
        assert client.get("/v1/briefs?per_page=1000", headers=key).status_code == 422
        page = client.get("/library", headers=key)
        assert page.status_code == 200 and "我的简报" in page.text and ids[0] in page.text


def test_no_listing_without_keys(client: TestClient) -> None:
    r = client.get("/v1/briefs")
    assert r.status_code == 404 and "no listing" in r.json()["detail"]
    page = client.get("/library")
    assert page.status_code == 404 and "未启用 API 密钥" in page.text


def test_the_web_form_goes_to_a_job_page_that_becomes_the_brief(client: TestClient) -> None:
    r = client.post(
        "/briefs", files={"file": ("qinghe.txt", SAMPLE.encode(), "text/plain")}, follow_redirects=False
    )
    assert r.status_code == 303
    job_page = r.headers["location"]
    assert re.fullmatch(r"/jobs/[A-Za-z0-9_-]{22}", job_page)
    job_id = job_page.rsplit("/", 1)[1]
    done = wait_for(client, job_id)
    assert done["status"] == "succeeded"
    page = client.get(job_page, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == f"/briefs/{done['brief_id']}"
    assert "主要成效" in client.get(page.headers["location"]).text


def test_the_job_page_shows_progress_while_queued(
    tmp_path: Path, fake: FakeOpenAI, database_url: str | None
) -> None:
    with make_client(tmp_path, fake, database_url, workers=0) as client:
        r = client.post("/briefs", files={"file": ("qinghe.txt", SAMPLE.encode(), "text/plain")})
        assert r.status_code == 200 and "正在生成简报" in r.text and "排队中" in r.text
        assert '<script src="/static/job.js"' in r.text and 'id="job-progress"' in r.text
        assert "EventSource" in client.get("/static/job.js").text


def test_a_failed_job_says_why_in_chinese_and_retries(client: TestClient, fake: FakeOpenAI) -> None:
    r = client.post(
        "/briefs",
        files={"file": ("diary.txt", "今天天气很好。".encode(), "text/plain")},
        follow_redirects=False,
    )
    job_id = r.headers["location"].rsplit("/", 1)[1]
    assert wait_for(client, job_id)["status"] == "failed"
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and "未能生成简报" in page.text
    assert "这份文件无法生成简报：diary.txt" in page.text and "重试" in page.text
    again = client.post(f"/jobs/{job_id}/retry", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] != f"/jobs/{job_id}"
    assert wait_for(client, again.headers["location"].rsplit("/", 1)[1])["status"] == "failed"

    # An LLM outage: the page says so in Chinese, without the server's message.
    fake.enqueue(error_reply(401, "invalid api key sk-live-XYZ for host 10.0.0.7"))
    r = client.post(
        "/briefs", files={"file": ("qinghe.txt", SAMPLE.encode(), "text/plain")}, follow_redirects=False
    )
    job_id = r.headers["location"].rsplit("/", 1)[1]
    job = wait_for(client, job_id)
    assert job["status"] == "failed" and job["error_kind"] == "backend"
    assert "大模型未能生成简报" in client.get(f"/jobs/{job_id}").text


def test_job_pages_need_the_key(tmp_path: Path, fake: FakeOpenAI, database_url: str | None) -> None:
    key = {"Authorization": f"Bearer {KEY_A}"}
    with make_client(tmp_path, fake, database_url, api_keys=KEY_A, workers=0) as client:
        job = client.post("/v1/briefs", json={"text": SAMPLE}, headers={**ASYNC, **key}).json()
        assert client.get(f"/jobs/{job['id']}").status_code == 401
        assert client.get(f"/jobs/{job['id']}", headers=key).status_code == 200
