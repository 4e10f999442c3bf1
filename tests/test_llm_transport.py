"""Transport over real HTTP: retries (429 + Retry-After, 5xx, timeouts, refused connections), the
per-call time budget, auth failures, and the API key never leaking."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from fake_openai import FakeOpenAI, Reply, chat_reply, error_reply
from llm_helpers import (
    API_KEY,
    DEFAULT_SECTIONS,
    FAST_RETRY,
    answer,
    capture_all_logs,
    fake_server,
    item,
    make_backend,
    make_doc,
    settings_for,
)

from service import pipeline
from service.backends.openai_backend import OpenAIBackend
from service.errors import LLMError
from service.llm.errors import AuthFailed, TransientError
from service.llm.transport import RetryPolicy, Transport, parse_retry_after

ONE_CHUNK = [DEFAULT_SECTIONS[0]]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    return capture_all_logs(caplog)


class Clock:
    """The transport's time, injected: sleeps are recorded (and pass at once), and each HTTP
    attempt is taken to last exactly the timeout it was given when it fails on a timeout."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []
        self.timeouts: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def with_clock(backend: OpenAIBackend) -> Clock:
    clock = Clock()
    backend.transport.clock = clock
    backend.transport.sleep = clock.sleep
    complete = backend.client.complete

    def timed(request: object, *, timeout: float) -> object:
        clock.timeouts.append(timeout)
        try:
            return complete(request, timeout=timeout)  # type: ignore[arg-type]
        except TransientError as exc:
            if "timed out" in str(exc):
                clock.now += timeout
            raise

    backend.client.complete = timed  # type: ignore[method-assign]
    return clock


def test_429_retry_after_is_honoured_and_every_attempt_counted(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(error_reply(429, "slow down", headers={"Retry-After": "1"}), chat_reply(answer(item())))
    backend = make_backend(fake, tmp_path)
    clock = with_clock(backend)
    brief = pipeline.summarize_document(make_doc(ONE_CHUNK), backend)

    assert clock.sleeps == [1.0]  # Retry-After: 1, exactly, not the 10 ms backoff
    assert brief.provenance.llm_calls == 3  # 429 + retry + overview
    assert len(fake.chat_requests()) == 3
    assert [i.title for i in brief.achievements] == ["清理涉企规范性文件"]
    assert not [w for w in brief.warnings if w.startswith("chunk")]


def test_5xx_are_retried_with_backoff(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(error_reply(500), error_reply(502), error_reply(503), chat_reply(answer(item())))
    backend = make_backend(fake, tmp_path)
    clock = with_clock(backend)
    extraction = backend.extract(make_doc(ONE_CHUNK))
    # Exponential backoff with equal jitter: attempt n waits between half and all of 10 ms × 2^(n-1).
    assert len(clock.sleeps) == 3
    for n, waited in enumerate(clock.sleeps, 1):
        ceiling = min(FAST_RETRY.backoff_max, FAST_RETRY.backoff_initial * 2 ** (n - 1))
        assert ceiling / 2 <= waited <= ceiling
    assert extraction.usage.llm_calls == 5  # 3 failures + success + overview
    assert len(extraction.drafts) == 1 and extraction.warnings == []


def test_retries_exhausted_lose_one_chunk_not_the_brief(fake: FakeOpenAI, tmp_path: Path) -> None:
    # Concurrency 1 makes the order deterministic: c1 gets the four 500s (1 try + 3 retries).
    fake.enqueue(*[error_reply(500, "boom")] * 4)
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    brief = pipeline.summarize_document(make_doc(), backend)

    assert brief.provenance.llm_calls == 4 + 2 + 1  # c1's attempts, c2, c3, overview
    failed = [w for w in brief.warnings if w.startswith("chunk c1:")]
    assert len(failed) == 1 and "HTTP 500" in failed[0] and "4 attempts" in failed[0]
    assert brief.problems and brief.plans and not brief.achievements
    assert backend.last_run is not None and backend.last_run.failed_chunks == ["c1"]


def test_a_hung_response_times_out_and_is_retried(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(chat_reply(answer(item()), delay=5.0), chat_reply(answer(item())))
    backend = make_backend(
        fake, tmp_path, retry=RetryPolicy(max_retries=2, timeout=0.4, backoff_initial=0.01)
    )
    clock = with_clock(backend)
    extraction = backend.extract(make_doc(ONE_CHUNK))
    assert clock.timeouts == [0.4, 0.4, 0.4]  # the hung try, its retry, the overview
    assert len(clock.sleeps) == 1
    assert extraction.usage.llm_calls == 3
    assert len(extraction.drafts) == 1


def test_total_time_per_call_is_bounded(fake: FakeOpenAI, tmp_path: Path) -> None:
    # The server asks for 30 s; the budget is 1 s: give up now rather than sleep past it.
    fake.enqueue(error_reply(429, headers={"Retry-After": "30"}))
    backend = make_backend(
        fake, tmp_path, retry=RetryPolicy(max_retries=5, max_call_seconds=1.0, timeout=0.5)
    )
    clock = with_clock(backend)
    with pytest.raises(LLMError, match="429"):
        backend.extract(make_doc(ONE_CHUNK))
    assert clock.sleeps == []  # no wait at all: 30 s could never fit in the budget
    assert backend.last_run is not None and backend.last_run.meter.calls == 1


def test_hung_attempts_share_one_budget(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(*[chat_reply("{}", delay=3.0)] * 5)
    backend = make_backend(
        fake,
        tmp_path,
        retry=RetryPolicy(max_retries=10, max_call_seconds=1.0, timeout=0.4, backoff_initial=0.01),
    )
    clock = with_clock(backend)
    with pytest.raises(LLMError, match="timed out"):
        backend.extract(make_doc(ONE_CHUNK))
    # Two full attempts, then the third gets what is left of the 1 s budget, and no fourth.
    assert clock.timeouts[:2] == [0.4, 0.4] and len(clock.timeouts) == 3
    assert sum(clock.timeouts) + sum(clock.sleeps) == pytest.approx(1.0)
    assert backend.last_run.meter.calls == 3  # type: ignore[union-attr]


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings_for(SimpleNamespace(base_url=f"http://127.0.0.1:{port}/v1"), tmp_path)  # type: ignore[arg-type]
    backend = OpenAIBackend(settings, retry=FAST_RETRY)
    with pytest.raises(LLMError, match="connection error") as err:
        backend.extract(make_doc(ONE_CHUNK))
    assert "4 attempts" in str(err.value)
    assert backend.last_run is not None and backend.last_run.meter.calls == 4


def test_auth_failure_stops_the_report_and_hides_the_key(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(error_reply(401, f"Incorrect API key provided: {API_KEY}"))
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    with pytest.raises(AuthFailed) as err:
        backend.extract(make_doc())
    assert API_KEY not in str(err.value) and "***" in str(err.value)
    assert "GOVBRIEF_LLM_API_KEY" in str(err.value)
    assert len(fake.chat_requests()) == 1  # no retries, no other chunks, no overview


def test_the_key_never_appears_in_warnings_logs_or_the_brief(
    fake: FakeOpenAI, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    # A hostile or careless server echoes the key in every error body.
    echo = f"your key {API_KEY} is throttled"
    fake.enqueue(
        error_reply(500, echo),
        error_reply(429, echo, headers={"Retry-After": "0"}),
        chat_reply("not json " + echo),  # invalid answer: the re-ask echoes the answer back
        chat_reply(answer(item())),
    )
    fake.enqueue(*[error_reply(503, echo)] * 4)  # the second chunk fails for good
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    doc = make_doc(DEFAULT_SECTIONS[:2])
    brief = pipeline.summarize_document(doc, backend)

    assert any("503" in w for w in brief.warnings)
    assert API_KEY not in brief.model_dump_json()
    assert API_KEY not in all_logs.text
    assert all(API_KEY not in r.getMessage() for r in all_logs.records)
    assert API_KEY not in repr(backend.client) and API_KEY not in repr(backend.settings)
    # It was sent where it belongs, and only there.
    assert {r.headers["authorization"] for r in fake.chat_requests()} == {f"Bearer {API_KEY}"}


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after({"Retry-After": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_transport_counts_attempts_and_reraises_non_transient() -> None:
    calls: list[float] = []

    def flaky(timeout: float) -> str:
        calls.append(timeout)
        if len(calls) < 3:
            raise TransientError("blip", status=503)
        return "ok"

    transport = Transport(RetryPolicy(max_retries=5, timeout=1.5, backoff_initial=0.001))
    attempts: list[int] = []
    assert transport.call(flaky, on_attempt=lambda: attempts.append(1)) == "ok"
    assert len(attempts) == 3 and calls[0] == 1.5

    def broken(timeout: float) -> str:
        raise ValueError("not retried")

    with pytest.raises(ValueError):
        transport.call(broken)


def test_fake_server_records_and_routes() -> None:
    with FakeOpenAI() as server:
        server.route(
            "POST", "/v1/batches/{batch_id}/cancel", lambda r: Reply(json={"id": r.params["batch_id"]})
        )
        got = httpx.post(server.base_url + "/batches/b1/cancel", json={"x": 1}).json()
        assert got == {"id": "b1"}
        assert httpx.get(server.base_url + "/models").json()["data"][0]["id"] == "fake-model"
        assert httpx.get(server.base_url + "/nope").status_code == 404
        assert [r.path for r in server.requests] == ["/v1/batches/b1/cancel", "/v1/models", "/v1/nope"]
        assert server.requests[0].json == {"x": 1}
        assert json.loads(server.requests[0].body) == {"x": 1}
