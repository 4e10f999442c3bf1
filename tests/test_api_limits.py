"""The HTTP service under abuse: runs stopped at their time limit, a bounded queue, an event loop that
only waits, SIGTERM, throttled wrong keys, browser sessions, start-up checks, self-hosted docs under a
CSP, and Idempotency-Key. No test measures speed: waits are bounds, never assertions."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_openai import FakeOpenAI
from fastapi.testclient import TestClient
from llm_helpers import API_KEY
from servers import start_serve
from test_api import SAMPLE, Always, GatedBackend, make_client, make_settings, metric
from typer.testing import CliRunner

from service import render
from service.api import create_app, view
from service.api.auth import SESSION_COOKIE, FailureThrottle
from service.backends.rules import RulesBackend
from service.cli import app as cli_app
from service.document import Document, Extraction
from service.errors import ConfigError
from service.models import Brief
from service.settings import get_settings
from service.storage.sqlite import SQLiteStore

KEY = "a-key-of-twenty-chars"
AUTH = {"Authorization": f"Bearer {KEY}"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def _asgi(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client on the app without its lifespan, so the worker pools are stopped here at the end."""
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            yield c
    finally:
        app.state.briefer.close()
        app.state.renderer.close()


# --- runs: time limit, queue, SIGTERM ----------------------------------------------------------


@pytest.fixture
def slow_llm() -> Iterator[FakeOpenAI]:
    """An LLM endpoint that takes 30 s to answer anything."""
    with FakeOpenAI(latency=30.0) as fake:
        yield fake


def _llm_env(fake: FakeOpenAI, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "GOVBRIEF_BACKEND": "openai",
        "GOVBRIEF_LLM_BASE_URL": fake.base_url,
        "GOVBRIEF_LLM_API_KEY": API_KEY,
        "GOVBRIEF_LLM_MODEL": "fake-model",
        "GOVBRIEF_LLM_TIMEOUT": "60",
        "GOVBRIEF_CACHE_DIR": str(tmp_path / "cache"),
        "GOVBRIEF_MAX_RUNS": "1",
        **extra,
    }


def _stop(proc: Any, wait: float) -> str:
    """SIGTERM, then the server's output once it has exited (within `wait`, a bound). A clean exit:
    the app's shutdown ran to its end, with no traceback; uvicorn then re-raises the SIGTERM it
    caught, so the exit status is that signal's (or 0)."""
    proc.send_signal(signal.SIGTERM)
    out: str = proc.communicate(timeout=wait)[0].decode()
    assert proc.returncode in (0, -signal.SIGTERM), out
    assert "Application shutdown complete." in out, out
    assert "Traceback" not in out, out
    return out


@pytest.mark.slow
def test_a_run_over_its_time_limit_is_stopped_with_the_limit_named(
    tmp_path: Path, slow_llm: FakeOpenAI
) -> None:
    env = _llm_env(slow_llm, tmp_path, GOVBRIEF_RUN_TIME_LIMIT="1")
    proc, base = start_serve(tmp_path / "data", timeout=60, capture=True, env=env)
    try:
        # The bound is the LLM's 30 s: an answer before it means the run was stopped, not waited out.
        r = httpx.post(f"{base}/v1/briefs", json={"text": SAMPLE, "filename": "slow.txt"}, timeout=25)
        assert r.status_code == 422
        [line] = r.json()["detail"].splitlines()
        assert line == "slow.txt: stopped after the run-time limit of 1 s (GOVBRIEF_RUN_TIME_LIMIT)"
        text = httpx.get(f"{base}/metrics", timeout=5).text
        assert metric(text, "govbrief_pipeline_runs_total", backend="openai", outcome="stopped") == 1
        # The worker was ended and replaced: the next run gets one.
        again = httpx.post(f"{base}/v1/briefs", json={"text": SAMPLE, "filename": "b.txt"}, timeout=25)
        assert again.status_code == 422
    finally:
        _stop(proc, 30)


@pytest.mark.slow
def test_sigterm_stops_runs_in_flight_after_the_grace_period(tmp_path: Path, slow_llm: FakeOpenAI) -> None:
    env = _llm_env(slow_llm, tmp_path, GOVBRIEF_RUN_TIME_LIMIT="600", GOVBRIEF_SHUTDOWN_GRACE="1")
    proc, base = start_serve(tmp_path / "data", timeout=60, capture=True, env=env)
    answers: list[httpx.Response | Exception] = []

    def post() -> None:
        try:
            answers.append(httpx.post(f"{base}/v1/briefs", json={"text": SAMPLE}, timeout=60))
        except httpx.HTTPError as e:
            answers.append(e)

    client = threading.Thread(target=post)
    client.start()
    try:
        for _ in range(600):  # until the run has reached the LLM (a bound, not a timing)
            if slow_llm.chat_requests():
                break
            threading.Event().wait(0.05)
        assert slow_llm.chat_requests(), "the run never reached the LLM"
    finally:
        # Bound: far below the LLM's 30 s and the run's 600 s limit; the process must not wait them out.
        out = _stop(proc, 25)
    client.join(timeout=30)
    # The request in flight was answered, not cut off.
    [answer] = answers
    assert isinstance(answer, httpx.Response), answer
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert "shutting down" in answer.json()["detail"]
    assert "timeout graceful shutdown exceeded" not in out


def _post_scope(*, content_length: int) -> dict[str, Any]:
    """The ASGI scope of a JSON `POST /v1/briefs`, for tests that play the client's side by hand."""
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/briefs", "raw_path": b"/v1/briefs", "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 5000), "server": ("test", 80),
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(content_length).encode())],
    }  # fmt: skip


def test_past_the_workers_and_queue_new_runs_get_503_with_retry_after(tmp_path: Path) -> None:
    gate = tmp_path / "go"
    settings = make_settings(tmp_path, max_runs=1, run_queue=1)
    app = create_app(settings, backend_factory=Always(GatedBackend(gate)))

    async def main() -> list[httpx.Response]:
        async with _asgi(app) as c:
            held = [
                asyncio.create_task(c.post("/v1/briefs", json={"text": SAMPLE, "filename": f"{i}.txt"}))
                for i in range(2)
            ]
            while metric(app.state.metrics.render(), "govbrief_pipeline_runs_in_flight") < 2:
                await asyncio.sleep(0.01)
            refused = await c.post("/v1/briefs", json={"text": SAMPLE, "filename": "third.txt"})
            # An identical request joins a run already under way: no new run, no refusal.
            joined = asyncio.create_task(c.post("/v1/briefs", json={"text": SAMPLE, "filename": "0.txt"}))
            while metric(app.state.metrics.render(), "govbrief_requests_coalesced_total") < 1:
                await asyncio.sleep(0.01)
            gate.touch()
            return [refused, *await asyncio.gather(*held, joined)]

    refused, *done = asyncio.run(main())
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "5"
    assert "busy" in refused.json()["detail"]
    assert [r.status_code for r in done] == [201, 201, 201]
    assert metric(app.state.metrics.render(), "govbrief_runs_refused_total") == 1


class GatedByName:
    """Rules, held until a file named like the report appears in `gates`."""

    name = "rules"

    def __init__(self, gates: Path) -> None:
        self.gates = gates

    def extract(self, doc: Document) -> Extraction:
        deadline = time.monotonic() + 60  # a bound, so a broken test ends
        while not (self.gates / doc.path).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return RulesBackend().extract(doc)


def test_a_run_is_stopped_once_every_client_waiting_on_it_has_hung_up(tmp_path: Path) -> None:
    gates = tmp_path / "gates"
    gates.mkdir()
    app = create_app(make_settings(tmp_path, max_runs=1), backend_factory=Always(GatedByName(gates)))
    body = json.dumps({"text": SAMPLE, "filename": "abandoned.txt"}).encode()

    async def main() -> list[dict[str, Any]]:
        hang_up = asyncio.Event()
        sent: list[dict[str, Any]] = []
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await hang_up.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = _post_scope(content_length=len(body))
        call = asyncio.create_task(app(scope, receive, send))
        while metric(app.state.metrics.render(), "govbrief_pipeline_runs_in_flight") < 1:
            await asyncio.sleep(0.01)
        hang_up.set()
        await asyncio.wait_for(call, 30)
        # The only worker was freed: the next report is briefed although the first one's gate
        # never opens (bounded by the gate's 60 s, the test's 30 s).
        (gates / "next.txt").touch()
        async with _asgi(app) as c:
            nxt = await asyncio.wait_for(
                c.post("/v1/briefs", json={"text": SAMPLE, "filename": "next.txt"}), 30
            )
        assert nxt.status_code == 201
        return sent

    sent = asyncio.run(main())
    assert sent[0]["status"] == 499
    text = app.state.metrics.render()
    assert metric(text, "govbrief_pipeline_runs_total", backend="rules", outcome="abandoned") == 1
    assert metric(text, "govbrief_pipeline_runs_in_flight") == 0


def test_a_body_not_received_in_time_is_408(tmp_path: Path) -> None:
    """A client that sends half its body and stops holds the connection only GOVBRIEF_BODY_TIMEOUT."""
    app = create_app(make_settings(tmp_path, body_timeout=0.2))

    async def main() -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        parts = [{"type": "http.request", "body": b'{"text": "', "more_body": True}]

        async def receive() -> dict[str, Any]:
            if parts:
                return parts.pop()
            await asyncio.Event().wait()  # the rest never comes
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = _post_scope(content_length=100_000)
        await asyncio.wait_for(app(scope, receive, send), 30)  # a bound; the body never completes
        return sent

    sent = asyncio.run(main())
    assert sent[0]["status"] == 408
    assert (
        json.loads(sent[1]["body"])["detail"]
        == "request body not received within 0.2 s (GOVBRIEF_BODY_TIMEOUT)"
    )


# --- an event loop that only waits ------------------------------------------------------------


def _blocking(
    monkeypatch: pytest.MonkeyPatch, target: Any, name: str
) -> tuple[threading.Event, threading.Event]:
    """Replace `target.name` with a wrapper that says when it is entered and waits to be let go."""
    entered, release = threading.Event(), threading.Event()
    real = getattr(target, name)

    def held(*a: Any, **kw: Any) -> Any:
        entered.set()
        release.wait(10)  # a bound, so that a failing test ends
        return real(*a, **kw)

    monkeypatch.setattr(target, name, held)
    return entered, release


def test_healthz_answers_while_a_stored_brief_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The blob read of GET /v1/briefs/{id} is held; /healthz must still answer. If the read ran on
    the event loop, /healthz could only answer after it, when the GET is already done."""
    app = create_app(make_settings(tmp_path))
    with TestClient(app) as c:
        brief_id = c.post("/v1/briefs", json={"text": SAMPLE, "with_text": True}).json()["id"]
    entered, release = _blocking(monkeypatch, SQLiteStore, "body")

    async def main() -> None:
        async with _asgi(app) as c:
            slow = asyncio.create_task(c.get(f"/v1/briefs/{brief_id}"))
            while not entered.is_set():
                await asyncio.sleep(0.005)
            assert (await c.get("/healthz")).status_code == 200
            assert not slow.done()
            release.set()
            assert (await slow).status_code == 200

    try:
        asyncio.run(main())
    finally:
        release.set()


def test_markdown_and_pages_are_parsed_and_rendered_outside_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parsing a brief of tens of MB holds the GIL for a second (one pydantic-core call): in any thread
    of the server it would stall the event loop. So the server process must never do it."""
    with make_client(tmp_path) as c:
        created = c.post("/v1/briefs", json={"text": SAMPLE, "with_text": True}).json()
        expected_md = render.to_markdown(
            Brief.model_validate({k: v for k, v in created.items() if k != "id"})
        )

        def not_here(*a: Any, **kw: Any) -> Any:
            raise AssertionError("parsed or rendered in the server process")

        monkeypatch.setattr(Brief, "model_validate_json", not_here)
        monkeypatch.setattr(render, "to_markdown", not_here)
        monkeypatch.setattr(view, "brief_view", not_here)
        md = c.get(f"/v1/briefs/{created['id']}.md")
        assert md.status_code == 200 and md.text == expected_md
        page = c.get(f"/briefs/{created['id']}")
        assert page.status_code == 200 and 'data-k="' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'none'")
        assert c.get("/v1/briefs/nope.md").status_code == 404
        assert c.get("/briefs/nope").status_code == 404


# --- keys at start-up ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (" , ", "lists no key"),
        ("", "lists no key"),
        ("short", "shorter than 16"),
        (f"{KEY},x", "shorter than 16"),
    ],
)
def test_keys_that_would_leave_the_server_open_or_guessable_are_refused(
    tmp_path: Path, keys: str, problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        create_app(make_settings(tmp_path, api_keys=keys))


def test_serve_refuses_an_empty_key_list_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBRIEF_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GOVBRIEF_API_KEYS", " , ")
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(cli_app, ["serve", "--port", "0"])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 2
    [line] = res.stderr.splitlines()
    assert line.startswith("govbrief: error: cannot start: GOVBRIEF_API_KEYS is set but lists no key")


# --- wrong keys are throttled per client ---------------------------------------------------------


def test_wrong_keys_are_throttled_with_retry_after_then_earned_back(tmp_path: Path) -> None:
    clock = Clock()
    settings = make_settings(tmp_path, api_keys=KEY, auth_failures_burst=3, auth_failures_per_second=0.5)
    with TestClient(create_app(settings, clock=clock)) as c:
        for _ in range(3):
            assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        # The bucket is empty: even the right key waits, or guessing could go on at full speed.
        r = c.get("/metrics", headers=AUTH)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "2"  # one try back at 0.5 per second
        assert "too many wrong API keys" in r.json()["detail"]
        page = c.post("/session", data={"key": KEY, "next": "/"}, follow_redirects=False)
        assert page.status_code == 429 and page.headers["retry-after"] == "2"
        clock.now += 2
        text = c.get("/metrics", headers=AUTH).text
        assert metric(text, "govbrief_auth_throttled_total") == 2
        # No key at all is not a wrong key: it costs nothing.
        for _ in range(5):
            assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers=AUTH).status_code == 200


def test_the_throttle_is_per_client_and_bounded() -> None:
    clock = Clock()
    throttle = FailureThrottle(burst=2, per_second=1.0, clock=clock, max_clients=3)
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.wait("a") == pytest.approx(1.0)
    assert throttle.wait("b") == 0
    clock.now += 0.5
    assert throttle.wait("a") == pytest.approx(0.5)
    for client in ("b", "c", "d"):
        throttle.failed(client)
    assert throttle.wait("a") == 0  # forgotten first, being the least recently wrong


# --- browser sessions ------------------------------------------------------------------------------


def _home_with(c: TestClient, cookie: str) -> int:
    """GET / with only this session cookie."""
    c.cookies.clear()
    c.cookies.set(SESSION_COOKIE, cookie)
    return c.get("/").status_code


def _login(c: TestClient) -> str:
    r = c.post("/session", data={"key": KEY, "next": "/"}, follow_redirects=False)
    assert r.status_code == 303
    return r.cookies[SESSION_COOKIE]


def test_the_session_cookie_is_a_signed_random_id_never_the_key(tmp_path: Path) -> None:
    with make_client(tmp_path, api_keys=KEY) as c:
        first = _login(c)
        cookie = c.post("/session", data={"key": KEY, "next": "/"}, follow_redirects=False).headers[
            "set-cookie"
        ]
        assert KEY not in cookie and "Max-Age=43200" in cookie and "HttpOnly" in cookie
        second = _login(c)
        assert first != second  # random per login
        assert _home_with(c, second) == 200
        session_id, _, signature = second.rpartition(".")
        assert _home_with(c, f"{session_id}.{signature[::-1]}") == 401
        assert _home_with(c, KEY) == 401  # the old cookie scheme


def test_sessions_expire(tmp_path: Path) -> None:
    clock = Clock()
    with TestClient(create_app(make_settings(tmp_path, api_keys=KEY, session_ttl=600), clock=clock)) as c:
        _login(c)
        assert c.get("/").status_code == 200
        clock.now += 599
        assert c.get("/").status_code == 200
        clock.now += 2
        assert c.get("/").status_code == 401


def test_logout_ends_the_session_even_for_a_copied_cookie(tmp_path: Path) -> None:
    with make_client(tmp_path, api_keys=KEY) as c:
        cookie = _login(c)
        home = c.get("/")
        assert home.status_code == 200 and 'action="/logout"' in home.text
        brief_id = c.post("/v1/briefs", json={"text": SAMPLE}).json()["id"]
        assert 'action="/logout"' in c.get(f"/briefs/{brief_id}").text
        out = c.post("/logout", follow_redirects=False)
        assert out.status_code == 303
        assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
        c.cookies.clear()
        assert _home_with(c, cookie) == 401


def test_changing_the_keys_signs_everyone_out(tmp_path: Path) -> None:
    with make_client(tmp_path, api_keys=KEY) as c:
        cookie = _login(c)
    with make_client(tmp_path, api_keys="another-key-of-twenty") as c:
        assert _home_with(c, cookie) == 401


# --- /docs: assets from the package, under a CSP -----------------------------------------------------


def test_docs_load_nothing_from_another_origin(tmp_path: Path) -> None:
    with make_client(tmp_path) as c:
        r = c.get("/docs")
        assert r.status_code == 200
        csp = r.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", csp)
        assert script_src and script_src.group(1).strip() == "'self'"  # no inline script, no CDN
        assert "default-src 'none'" in csp
        html = r.text
        assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html)
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
        assert scripts and all(body.strip() == "" for _, body in scripts)  # no inline script
        for src in re.findall(r"(?:src|href)=\"([^\"]+)\"", html):
            assert c.get(src).status_code == 200, src
        assert "SwaggerUIBundle" in c.get("/docs/assets/swagger-ui-bundle.js").text
        # Only the files the page needs: not the bundle's demo page, which points at another origin.
        assert c.get("/docs/assets/index.html").status_code == 404
        assert c.get("/docs/assets/swagger-initializer.js").status_code == 404


# --- Idempotency-Key ---------------------------------------------------------------------------------


def test_a_retried_post_with_the_same_idempotency_key_gets_the_same_brief(tmp_path: Path) -> None:
    with make_client(tmp_path) as c:
        key = {"Idempotency-Key": "upload-7f3a"}
        first = c.post("/v1/briefs", files={"file": ("q.txt", SAMPLE.encode())}, headers=key)
        # A retry sends a new multipart boundary: still the same request.
        again = c.post("/v1/briefs", files={"file": ("q.txt", SAMPLE.encode())}, headers=key)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["location"] == first.headers["location"]
        assert again.headers["idempotent-replayed"] == "true"
        other = c.post("/v1/briefs", files={"file": ("other.txt", SAMPLE.encode())}, headers=key)
        assert other.status_code == 422 and "different request" in other.json()["detail"]
        fresh = c.post(
            "/v1/briefs", files={"file": ("q.txt", SAMPLE.encode())}, headers={"Idempotency-Key": "k2"}
        )
        assert fresh.status_code == 201 and fresh.json()["id"] != first.json()["id"]
        md = c.post("/v1/briefs", json={"text": SAMPLE, "format": "md"}, headers={"Idempotency-Key": "k3"})
        md_again = c.post(
            "/v1/briefs", json={"text": SAMPLE, "format": "md"}, headers={"Idempotency-Key": "k3"}
        )
        assert md_again.text == md.text and md_again.headers["x-brief-id"] == md.headers["x-brief-id"]
        bad = c.post("/v1/briefs", json={"text": SAMPLE}, headers={"Idempotency-Key": "a b"})
        assert bad.status_code == 422
        text = c.get("/metrics").text
    assert metric(text, "govbrief_pipeline_runs_total", backend="rules", outcome="ok") == 3  # 1st, k2, k3
    assert metric(text, "govbrief_briefs_created_total", backend="rules") == 3
    # and they survive a restart
    with make_client(tmp_path) as c:
        replay = c.post("/v1/briefs", files={"file": ("q.txt", SAMPLE.encode())}, headers=key)
        assert replay.json()["id"] == first.json()["id"]


def test_idempotency_keys_are_per_caller_and_busy_while_answered(tmp_path: Path) -> None:
    gate = tmp_path / "go"
    other = "other-key-of-twenty-c"
    settings = make_settings(tmp_path, api_keys=f"{KEY},{other}")
    app = create_app(settings, backend_factory=Always(GatedBackend(gate)))
    body = {"text": SAMPLE}

    async def main() -> tuple[httpx.Response, ...]:
        async with _asgi(app) as c:
            headers = {**AUTH, "Idempotency-Key": "same"}
            first = asyncio.create_task(c.post("/v1/briefs", json=body, headers=headers))
            while metric(app.state.metrics.render(), "govbrief_pipeline_runs_in_flight") < 1:
                await asyncio.sleep(0.01)
            busy = await c.post("/v1/briefs", json=body, headers=headers)
            theirs = asyncio.create_task(
                c.post(
                    "/v1/briefs",
                    json=body,
                    headers={"Authorization": f"Bearer {other}", "Idempotency-Key": "same"},
                )
            )
            gate.touch()
            return busy, await first, await theirs

    busy, first, theirs = asyncio.run(main())
    assert busy.status_code == 409
    assert first.status_code == theirs.status_code == 201
    assert first.json()["id"] != theirs.json()["id"]  # another caller's key is another key
