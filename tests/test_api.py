"""The HTTP service through its public surface: every endpoint, every error, and the promises made
about storage, auth, limits, metrics and concurrency."""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import formats
import httpx
import pytest
from fake_openai import FakeOpenAI
from fastapi import FastAPI
from fastapi.testclient import TestClient
from llm_helpers import fake_server, settings_for
from servers import start_serve
from typer.testing import CliRunner

from service.api import create_app
from service.api.middleware import BodyTooLarge
from service.api.view import segments
from service.backends.rules import RulesBackend
from service.cli import app as cli_app
from service.document import Document, Extraction, Usage
from service.errors import LLMTransportError
from service.ingest import sample_path
from service.models import Span
from service.settings import Settings, get_settings

SAMPLE = sample_path().read_text("utf-8")
SAMPLE_TITLE = "青禾县人民政府关于2023年度法治政府建设情况的报告"
KEY = "k3y-0ne-k3y-0ne-k3y"
OTHER = "other-key-other-key"


def make_settings(tmp_path: Path, **kw: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "cache_dir": tmp_path / "cache",
        "backend": "rules",
        "api_keys": None,
        "cors_origins": None,
        "llm_model": None,
        "llm_base_url": None,
    }
    values.update(kw)
    return Settings(**values)


@dataclass(frozen=True)
class Always:
    """A backend factory that answers every name with one backend. Runs happen in worker processes,
    so the factory and its backend must pickle: a lambda would not."""

    backend: Any

    def __call__(self, name: str, settings: Settings) -> Any:
        return self.backend


def make_client(tmp_path: Path, backend: Any = None, **kw: Any) -> TestClient:
    factory = Always(backend) if backend is not None else None
    return TestClient(create_app(make_settings(tmp_path, **kw), backend_factory=factory))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path) as c:
        yield c


class GatedBackend:
    """Rules, held until a file appears: a run that lasts exactly as long as the test wants, in
    whichever process it runs. The gate is a file because runs happen in worker processes."""

    name = "rules"

    def __init__(self, gate: Path) -> None:
        self.gate = gate

    def extract(self, doc: Document) -> Extraction:
        deadline = time.monotonic() + 60  # a bound, so a broken test ends; never reached when it passes
        while not self.gate.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return RulesBackend().extract(doc)


class FailingBackend:
    name = "rules"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def extract(self, doc: Document) -> Extraction:
        raise self.exc


class MeteredBackend:
    """Rules output with the usage an LLM backend would report."""

    name = "openai"

    def extract(self, doc: Document) -> Extraction:
        out = RulesBackend().extract(doc)
        out.usage = Usage(model="m", llm_calls=3, prompt_tokens=1200, completion_tokens=340, cache_hit=True)
        return out


def post_text(client: TestClient, text: str = SAMPLE, **options: Any) -> httpx.Response:
    return client.post("/v1/briefs", json={"text": text, **options})


def upload(client: TestClient, name: str, data: bytes, **fields: str) -> httpx.Response:
    return client.post("/v1/briefs", files={"file": (name, data)}, data=fields)


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text, 0 when absent."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = "^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$"
    found = re.search(pattern, text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


# --- creating and reading briefs ---------------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "backend": "rules"}


def test_post_json_creates_a_stored_brief(client: TestClient) -> None:
    r = post_text(client, filename="qinghe_2023.txt")
    assert r.status_code == 201, r.text
    brief = r.json()
    assert next(iter(brief)) == "id"
    assert len(brief["id"]) >= 22  # 128 random bits
    assert r.headers["location"] == f"/v1/briefs/{brief['id']}"
    assert r.headers["x-brief-id"] == brief["id"]
    assert brief["report"]["title"] == SAMPLE_TITLE
    assert brief["source"]["path"] == "qinghe_2023.txt"
    assert brief["source"]["text"] is None
    assert brief["achievements"] and brief["problems"] and brief["plans"]
    got = client.get(f"/v1/briefs/{brief['id']}")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert got.content == r.content


def test_ids_are_unguessable_and_distinct(client: TestClient) -> None:
    ids = {post_text(client).json()["id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids)


def test_with_text_returns_the_text_the_spans_index(client: TestClient) -> None:
    brief = post_text(client, with_text=True).json()
    text = brief["source"]["text"]
    assert text and len(text) == brief["source"]["chars"]
    for section in ("achievements", "problems", "plans", "leadership"):
        for item in brief[section]:
            for span in item["evidence"]:
                assert text[span["start"] : span["end"]] == span["quote"]
    assert client.get(f"/v1/briefs/{brief['id']}").json()["source"]["text"] == text


def test_format_md_answers_markdown_and_md_endpoint_serves_it(client: TestClient) -> None:
    r = post_text(client, format="md")
    assert r.status_code == 201
    assert r.headers["content-type"].startswith("text/markdown")
    assert r.text.startswith(f"# {SAMPLE_TITLE}")
    assert "## 主要成效" in r.text and "## 存在问题" in r.text and "## 下一步安排" in r.text
    brief_id = r.headers["x-brief-id"]
    md = client.get(f"/v1/briefs/{brief_id}.md")
    assert md.status_code == 200
    assert md.headers["content-type"].startswith("text/markdown")
    assert md.text == r.text
    assert client.get(f"/v1/briefs/{brief_id}").json()["id"] == brief_id


UPLOADS = {
    "txt": ("qinghe.txt", lambda: SAMPLE.encode("utf-8")),
    "gbk": ("qinghe-gbk.txt", lambda: formats.to_gbk(SAMPLE)),
    "html": ("qinghe.html", lambda: formats.to_html(SAMPLE)),
    "html-gbk": ("qinghe.htm", lambda: formats.to_html(SAMPLE, charset="gbk")),
    "docx": ("qinghe.docx", lambda: formats.to_docx(SAMPLE)),
    "pdf": ("qinghe.pdf", lambda: formats.to_pdf(SAMPLE)),
}


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_file_upload_in_every_format(client: TestClient, kind: str) -> None:
    name, build = UPLOADS[kind]
    r = upload(client, name, build())
    assert r.status_code == 201, r.text
    brief = r.json()
    assert brief["source"]["path"] == name
    assert brief["report"]["year"] == 2023
    assert len(brief["achievements"]) >= 3 and brief["problems"] and brief["plans"]
    assert not any(chrome in json.dumps(brief, ensure_ascii=False) for chrome in formats.CHROME)


def test_upload_options_as_form_fields(client: TestClient) -> None:
    r = upload(client, "qinghe.txt", SAMPLE.encode(), with_text="true", format="md", backend="rules")
    assert r.status_code == 201
    assert r.headers["content-type"].startswith("text/markdown")
    stored = client.get(r.headers["location"]).json()
    assert stored["source"]["text"]


def test_every_seed_report_briefs_and_renders(client: TestClient, seed_path: Path) -> None:
    r = upload(client, seed_path.name, seed_path.read_bytes())
    assert r.status_code == 201, r.text
    brief = r.json()
    assert brief["achievements"]
    page = client.get(f"/briefs/{brief['id']}")
    assert page.status_code == 200
    assert 'class="ev"' in page.text


# --- auth ---------------------------------------------------------------------------------------


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path, api_keys=f"{OTHER}, {KEY}") as c:
        yield c


PROTECTED = [
    ("POST", "/v1/briefs"),
    ("GET", "/v1/briefs/abc"),
    ("GET", "/v1/briefs/abc.md"),
    ("GET", "/metrics"),
    ("GET", "/"),
    ("GET", "/briefs/abc"),
    ("POST", "/briefs"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/static/style.css"),
    ("GET", "/static/brief.js"),
    ("GET", "/static/no-such-file.css"),  # 401 before 404: nothing about the files leaks
]
#: Paths a browser opens: their 401 is the key form, not JSON.
PAGES = {"/", "/briefs/abc", "/briefs", "/docs"}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("auth", [None, "Bearer wrong", f"Basic {KEY}", "Bearer ", f"Bearer {KEY}x"])
def test_keys_required_everywhere_but_healthz(
    keyed: TestClient, method: str, path: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    r = keyed.request(method, path, headers=headers, json={"text": SAMPLE})
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    if path in PAGES:
        assert 'name="key"' in r.text  # the page asks for the key
    else:
        assert "API key" in r.json()["detail"]


def test_healthz_is_open_with_keys(keyed: TestClient) -> None:
    assert keyed.get("/healthz").status_code == 200


def test_a_valid_key_opens_every_endpoint(keyed: TestClient) -> None:
    for key in (KEY, OTHER):
        auth = {"Authorization": f"Bearer {key}"}
        r = keyed.post("/v1/briefs", json={"text": SAMPLE}, headers=auth)
        assert r.status_code == 201
        brief_id = r.json()["id"]
        for path in (
            f"/v1/briefs/{brief_id}",
            f"/v1/briefs/{brief_id}.md",
            f"/briefs/{brief_id}",
            "/",
            "/metrics",
            "/docs",
            "/openapi.json",
            "/static/style.css",
            "/static/brief.js",
        ):
            assert keyed.get(path, headers=auth).status_code == 200, path
    assert keyed.get("/static/no-such-file.css", headers=auth).status_code == 404


def test_keys_are_compared_in_constant_time(keyed: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert keyed.get("/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
    # every configured key is compared, even after a match would have been found
    assert calls == [(b"nope", OTHER.encode()), (b"nope", KEY.encode())]


def test_browser_key_form_sets_a_strict_cookie(keyed: TestClient) -> None:
    page = keyed.get("/briefs/abc")
    assert page.status_code == 401 and 'action="/session"' in page.text
    bad = keyed.post("/session", data={"key": "wrong", "next": "/"}, follow_redirects=False)
    assert bad.status_code == 401
    good = keyed.post("/session", data={"key": KEY, "next": "//evil.example/"}, follow_redirects=False)
    assert good.status_code == 303
    assert good.headers["location"] == "/"  # never off-site
    cookie = good.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert keyed.get("/").status_code == 200  # the client keeps the cookie
    # The cookie opens what a browser loads besides the pages: the docs, their spec, the assets.
    for path in ("/docs", "/openapi.json", "/static/style.css", "/static/brief.js"):
        assert keyed.get(path).status_code == 200, path


def test_docs_ask_a_browser_for_the_key_and_come_back(keyed: TestClient) -> None:
    page = keyed.get("/docs")
    assert page.status_code == 401 and 'name="next" value="/docs"' in page.text
    done = keyed.post("/session", data={"key": KEY, "next": "/docs"})  # follows the redirect
    assert done.status_code == 200 and "swagger-ui" in done.text
    assert "/openapi.json" in done.text
    assert keyed.get("/openapi.json").json()["info"]["title"] == "govbrief"


def test_docs_and_static_are_open_without_keys(client: TestClient) -> None:
    for path in ("/docs", "/openapi.json", "/static/style.css"):
        assert client.get(path).status_code == 200, path


# --- limits and input errors ---------------------------------------------------------------------


@pytest.fixture
def small(tmp_path: Path) -> Iterator[TestClient]:
    with make_client(tmp_path, max_upload_bytes=4096) as c:
        yield c


def test_body_over_the_limit_is_413(small: TestClient) -> None:
    r = post_text(small)
    assert r.status_code == 413
    assert r.json()["detail"] == "request body too large: the limit is 4 KiB (4096 bytes)"


def test_the_413_size_reads_well(tmp_path: Path) -> None:
    with make_client(tmp_path, max_upload_bytes=10000) as c:
        r = post_text(c, "法" * 5000)
    assert r.status_code == 413
    assert r.json()["detail"] == "request body too large: the limit is 9.8 KiB (10000 bytes)"


@pytest.mark.parametrize(
    ("limit", "shown"),
    [
        (1536 * 1024, "1.5 MiB (1572864 bytes)"),
        (20 * 1024 * 1024, "20 MiB (20971520 bytes)"),
        (123456789, "118 MiB (123456789 bytes)"),
        (3 << 30, "3 GiB (3221225472 bytes)"),
        (500, "500 bytes"),
    ],
)
def test_413_sizes(limit: int, shown: str) -> None:
    assert BodyTooLarge(limit).detail == f"request body too large: the limit is {shown}"


def test_body_limit_holds_without_content_length(small: TestClient) -> None:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(64):
            sent += 1024
            yield b"x" * 1024

    r = small.post("/v1/briefs", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert "too large" in r.json()["detail"]


def test_upload_over_the_limit_is_413(small: TestClient) -> None:
    assert upload(small, "big.txt", SAMPLE.encode()).status_code == 413
    page = small.post("/briefs", files={"file": ("big.txt", SAMPLE.encode())})
    assert page.status_code == 413
    assert page.headers["content-type"].startswith("text/html")
    assert "too large" in page.text


def test_unsupported_media_type_is_415(client: TestClient) -> None:
    r = client.post("/v1/briefs", content=SAMPLE.encode(), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    assert "application/json or multipart/form-data" in r.json()["detail"]
    assert client.post("/v1/briefs", content=b"").status_code == 415


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("report.zip", b"PK\x03\x04" + b"\0" * 64, "zip archive is not a report"),
        ("report.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "legacy Word .doc"),
        ("report.exe", "青禾县".encode() * 30, "unsupported file type '.exe'"),
    ],
)
def test_unsupported_file_types_are_415(client: TestClient, name: str, data: bytes, problem: str) -> None:
    r = upload(client, name, data)
    assert r.status_code == 415
    assert r.json()["detail"].startswith(f"{name}: {problem}")


BAD_REPORTS = [
    ("empty.txt", b"", 422),
    ("nav.txt", "首页 > 政务公开 > 年度报告\n网站地图\n".encode(), 422),  # readable, but no report
    ("broken.pdf", b"%PDF-1.4\n not really a pdf", 422),
    ("scan.pdf", formats.to_blank_pdf(), 422),
    ("broken.docx", b"not a zip at all", 422),
    ("binary.txt", bytes(range(256)) * 8, 422),  # a .txt that does not decode: the issue says 422
]


@pytest.mark.parametrize(("name", "data", "status"), BAD_REPORTS, ids=[b[0] for b in BAD_REPORTS])
def test_unreadable_reports_get_the_clis_message(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, data: bytes, status: int
) -> None:
    (tmp_path / name).write_bytes(data)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GOVBRIEF_BACKEND", "rules")
    get_settings.cache_clear()
    try:
        cli = CliRunner().invoke(cli_app, ["summarize", name])
    finally:
        get_settings.cache_clear()
    assert cli.exit_code == 2
    cli_message = cli.stderr.strip().removeprefix("govbrief: error: ")
    r = upload(client, name, data)
    assert r.status_code == status
    assert r.json()["detail"] == cli_message
    assert "\n" not in cli_message and cli_message.startswith(f"{name}: ")


def test_empty_json_text_is_422(client: TestClient) -> None:
    r = post_text(client, text="")
    assert r.status_code == 422
    assert r.json()["detail"] == "<upload>: empty file (0 bytes)"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"{}",
        b'{"text": 5}',
        b'{"text": "x", "backend": "gpt"}',
        b'{"text": "x", "format": "pdf"}',
        b'{"text": "x", "surprise": 1}',
        b'{"text": "\\ud800 lone surrogate"}',
        b"[]",
    ],
)
def test_invalid_json_bodies_are_422_without_echo(client: TestClient, body: bytes) -> None:
    r = client.post("/v1/briefs", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all("input" not in err for err in detail)


def test_multipart_without_a_report_is_422(client: TestClient) -> None:
    r = client.post("/v1/briefs", files={"other": ("x.txt", b"abc")}, data={"format": "md"})
    assert r.status_code == 422
    assert "no report in the form" in r.json()["detail"]
    bad_option = upload(client, "q.txt", SAMPLE.encode(), with_text="maybe")
    assert bad_option.status_code == 422


def test_openai_backend_unconfigured_is_400(client: TestClient) -> None:
    r = post_text(client, backend="openai")
    assert r.status_code == 400
    assert "not configured" in r.json()["detail"]


def test_unknown_ids_are_404(client: TestClient) -> None:
    for path in ("/v1/briefs/nope", "/v1/briefs/nope.md"):
        r = client.get(path)
        assert r.status_code == 404
        assert r.json() == {"detail": "no brief with id 'nope'"}
    page = client.get("/briefs/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")


# --- storage ------------------------------------------------------------------------------------


def test_briefs_survive_a_restart(tmp_path: Path) -> None:
    with make_client(tmp_path) as first:
        created = post_text(first, with_text=True)
    brief_id = created.json()["id"]
    with make_client(tmp_path) as second:
        assert second.get(f"/v1/briefs/{brief_id}").content == created.content
        assert second.get(f"/v1/briefs/{brief_id}.md").status_code == 200
        assert SAMPLE_TITLE in second.get(f"/briefs/{brief_id}").text
    assert (tmp_path / "data" / "briefs.sqlite3").is_file()


# --- pages --------------------------------------------------------------------------------------


def test_brief_page_shows_brief_beside_marked_text(client: TestClient) -> None:
    brief = post_text(client).json()
    r = client.get(f"/briefs/{brief['id']}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    html = r.text
    assert f"<h1>{SAMPLE_TITLE}</h1>" in html
    for heading in ("主要成效", "存在问题", "下一步安排"):
        assert heading in html
    assert 'data-ev="a1"' in html and 'data-ev="a1m1"' in html
    assert re.search(r'<span class="ev" data-k="[^"]*\ba1\b', html)
    assert "<script>" not in html  # scripts only from /static (the CSP forbids inline ones)
    assert client.get("/static/brief.js").status_code == 200
    assert client.get("/static/style.css").status_code == 200


def test_pages_escape_report_text_and_filenames(client: TestClient) -> None:
    evil = "<script>alert('x')</script>"
    text = SAMPLE.replace("一、2023年法治政府建设主要成效", f"一、2023年法治政府建设主要成效{evil}", 1)
    r = client.post(
        "/v1/briefs", json={"text": text, "filename": f'"><img src=x onerror=alert(1)>{evil}.txt'}
    )
    assert r.status_code == 201
    html = client.get(f"/briefs/{r.json()['id']}").text
    assert evil not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html


def test_upload_form_on_index_creates_and_redirects(client: TestClient) -> None:
    index = client.get("/")
    assert index.status_code == 200
    assert 'action="/briefs"' in index.text and 'enctype="multipart/form-data"' in index.text
    r = client.post(
        "/briefs", files={"file": ("qinghe.docx", formats.to_docx(SAMPLE))}, follow_redirects=False
    )
    assert r.status_code == 303
    assert re.fullmatch(r"/briefs/[A-Za-z0-9_-]{22}", r.headers["location"])
    assert SAMPLE_TITLE in client.get(r.headers["location"]).text
    # pasted text, with the empty file part a browser sends when no file was chosen
    pasted = client.post("/briefs", files={"file": ("", b"")}, data={"text": SAMPLE}, follow_redirects=False)
    assert pasted.status_code == 303


def test_form_errors_are_pages(client: TestClient) -> None:
    r = client.post("/briefs", files={"file": ("empty.txt", b"")})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "empty.txt: empty file (0 bytes)" in r.text
    nothing = client.post("/briefs", files={"file": ("", b"")}, data={"text": "  "})
    assert nothing.status_code == 422 and "no report in the form" in nothing.text


def test_segments_follow_overlapping_spans() -> None:
    text = "0123456789"
    marks = [("a1", Span(quote="1234", start=1, end=5)), ("a1m1", Span(quote="34", start=3, end=5)),
             ("p1", Span(quote="89", start=8, end=10)), ("bad", Span(quote="x", start=9, end=99))]  # fmt: skip
    got = [(s.text, s.keys) for s in segments(text, marks)]
    assert got == [("0", ""), ("12", "a1"), ("34", "a1 a1m1"), ("567", ""), ("89", "p1")]
    assert "".join(t for t, _ in got) == text


# --- metrics ------------------------------------------------------------------------------------


def test_metrics_count_requests_runs_and_latency(client: TestClient) -> None:
    before = client.get("/metrics").text
    assert metric(before, "govbrief_briefs_created_total", backend="rules") == 0
    brief_id = post_text(client).json()["id"]
    client.get(f"/v1/briefs/{brief_id}")
    client.get("/v1/briefs/missing")
    r = client.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    assert metric(text, "govbrief_http_requests_total", method="POST", route="/v1/briefs", status="201") == 1
    assert (
        metric(
            text, "govbrief_http_requests_total", method="GET", route="/v1/briefs/{brief_id}", status="200"
        )
        == 1
    )
    assert (
        metric(
            text, "govbrief_http_requests_total", method="GET", route="/v1/briefs/{brief_id}", status="404"
        )
        == 1
    )
    assert metric(text, "govbrief_briefs_created_total", backend="rules") == 1
    assert metric(text, "govbrief_pipeline_runs_total", backend="rules", outcome="ok") == 1
    assert metric(text, "govbrief_http_request_duration_seconds_count", route="/v1/briefs") == 1
    assert metric(text, "govbrief_http_request_duration_seconds_bucket", le="+Inf", route="/v1/briefs") == 1
    post_text(client)
    again = client.get("/metrics").text
    assert metric(again, "govbrief_briefs_created_total", backend="rules") == 2
    assert metric(again, "govbrief_pipeline_runs_total", backend="rules", outcome="ok") == 2


def test_metrics_count_llm_calls_tokens_and_cache_hits(tmp_path: Path) -> None:
    with make_client(tmp_path, backend=MeteredBackend()) as c:
        assert post_text(c).status_code == 201
        text = c.get("/metrics").text
    assert metric(text, "govbrief_llm_calls_total", backend="openai") == 3
    assert metric(text, "govbrief_llm_tokens_total", backend="openai", kind="prompt") == 1200
    assert metric(text, "govbrief_llm_tokens_total", backend="openai", kind="completion") == 340
    assert metric(text, "govbrief_llm_cache_hits_total", backend="openai") == 1


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


def test_openai_backend_end_to_end_counts_llm_calls_and_cache_hits(tmp_path: Path, fake: FakeOpenAI) -> None:
    """The real openai backend against a fake OpenAI-compatible server (tests/fake_openai.py)."""
    settings = settings_for(fake, tmp_path, data_dir=tmp_path / "data", backend="auto", api_keys=None)
    with TestClient(create_app(settings)) as c:
        first = post_text(c, filename="q.txt")
        assert first.status_code == 201, first.text
        p = first.json()["provenance"]
        assert p["backend"] == "openai" and p["llm_calls"] >= 1 and p["prompt_tokens"] > 0
        assert first.json()["achievements"]
        second = post_text(c, filename="q.txt")  # same report later: answered from the LLM cache
        assert second.json()["provenance"]["cache_hit"] is True
        text = c.get("/metrics").text
    assert (
        metric(text, "govbrief_llm_calls_total", backend="openai")
        == p["llm_calls"]
        == len(fake.chat_requests())
    )
    assert metric(text, "govbrief_llm_tokens_total", backend="openai", kind="prompt") == p["prompt_tokens"]
    assert metric(text, "govbrief_llm_cache_hits_total", backend="openai") == 1


# --- concurrency and failures --------------------------------------------------------------------


def _asgi_client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def test_identical_concurrent_requests_run_once(tmp_path: Path) -> None:
    gate = tmp_path / "go"
    app = create_app(make_settings(tmp_path), backend_factory=Always(GatedBackend(gate)))

    async def main() -> list[httpx.Response]:
        async with _asgi_client(app) as c:
            same = [
                asyncio.create_task(c.post("/v1/briefs", json={"text": SAMPLE, "filename": "q.txt"}))
                for _ in range(6)
            ]
            other = asyncio.create_task(c.post("/v1/briefs", json={"text": SAMPLE, "filename": "other.txt"}))
            # Both runs are held at the gate until every request has arrived.
            while metric(app.state.metrics.render(), "govbrief_requests_coalesced_total") < 5:
                await asyncio.sleep(0.01)
            gate.touch()
            return await asyncio.gather(*same, other)

    responses = asyncio.run(main())
    assert [r.status_code for r in responses] == [201] * 7
    assert len({r.json()["id"] for r in responses}) == 7  # each request still gets its own brief
    assert len({json.dumps(r.json()["achievements"]) for r in responses[:6]}) == 1
    text = app.state.metrics.render()
    # one run for the six identical requests, one for the other filename
    assert metric(text, "govbrief_pipeline_runs_total", backend="rules", outcome="ok") == 2
    assert metric(text, "govbrief_requests_coalesced_total") == 5
    assert metric(text, "govbrief_briefs_created_total", backend="rules") == 7
    assert metric(text, "govbrief_pipeline_runs_in_flight") == 0
    # later identical requests are new work: only requests in flight are shared
    with TestClient(app) as c:
        assert post_text(c, filename="q.txt").status_code == 201
    assert (
        metric(app.state.metrics.render(), "govbrief_pipeline_runs_total", backend="rules", outcome="ok") == 3
    )


def test_pipeline_work_does_not_block_the_event_loop(tmp_path: Path) -> None:
    """While a run is held (in its worker), the server still answers: no timing is measured, the run
    simply cannot finish before /healthz has answered."""
    gate = tmp_path / "go"
    app = create_app(make_settings(tmp_path), backend_factory=Always(GatedBackend(gate)))

    async def main() -> None:
        async with _asgi_client(app) as c:
            slow = asyncio.create_task(c.post("/v1/briefs", json={"text": SAMPLE}))
            while metric(app.state.metrics.render(), "govbrief_pipeline_runs_in_flight") < 1:
                await asyncio.sleep(0.01)
            assert (await c.get("/healthz")).status_code == 200
            assert not slow.done()
            gate.touch()
            assert (await slow).status_code == 201

    asyncio.run(main())


def test_unexpected_errors_are_a_bare_500(tmp_path: Path) -> None:
    backend = FailingBackend(RuntimeError("secret internals at /srv/govbrief/db.py line 42"))
    app = create_app(make_settings(tmp_path), backend_factory=Always(backend))
    with TestClient(app, raise_server_exceptions=False) as c:
        r = post_text(c)
        assert r.status_code == 500
        assert r.json() == {"detail": "internal server error"}
        assert "Traceback" not in r.text and "secret" not in r.text
        page = c.post("/briefs", files={"file": ("q.txt", SAMPLE.encode())})
        assert page.status_code == 500 and "secret" not in page.text
        text = c.get("/metrics").text
    assert metric(text, "govbrief_http_requests_total", method="POST", route="/v1/briefs", status="500") == 1
    assert metric(text, "govbrief_pipeline_runs_total", backend="rules", outcome="error") == 2


def test_backend_failures_are_502_without_details(tmp_path: Path) -> None:
    backend = FailingBackend(LLMTransportError("connect to http://10.0.0.7:8080 refused"))
    with make_client(tmp_path, backend=backend) as c:
        r = post_text(c)
    assert r.status_code == 502
    assert "10.0.0.7" not in r.text and "backend could not produce a brief" in r.json()["detail"]


# --- headers, CORS, OpenAPI ----------------------------------------------------------------------


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/healthz", "/v1/briefs/nope", "/"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"


def test_cors_is_off_unless_configured(client: TestClient, tmp_path: Path) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in client.options("/v1/briefs", headers=preflight).headers
    assert (
        "access-control-allow-origin"
        not in client.get("/healthz", headers={"Origin": "https://app.example"}).headers
    )
    with make_client(tmp_path / "cors", cors_origins="https://app.example") as c:
        r = c.options("/v1/briefs", headers=preflight)
        assert r.headers["access-control-allow-origin"] == "https://app.example"
        other = c.options("/v1/briefs", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


def test_openapi_describes_the_api_with_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/v1/briefs", "/v1/briefs/{brief_id}", "/v1/briefs/{brief_id}.md", "/healthz", "/metrics"):
        assert path in paths
    post = paths["/v1/briefs"]["post"]
    content = post["requestBody"]["content"]
    assert set(content) == {"application/json", "multipart/form-data"}
    assert content["application/json"]["examples"]["report"]["value"]["text"]
    assert content["multipart/form-data"]["schema"]["properties"]["file"]["format"] == "binary"
    created = post["responses"]["201"]["content"]
    assert created["application/json"]["example"]["id"]
    assert {"401", "413", "415", "422"} <= set(post["responses"])
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


# --- the serve command ---------------------------------------------------------------------------


def test_serve_command_runs_the_app(tmp_path: Path) -> None:
    proc, base = start_serve(tmp_path, timeout=20, capture=True)
    try:
        r = httpx.post(f"{base}/v1/briefs", json={"text": SAMPLE}, timeout=5)
        assert r.status_code == 201
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0].decode()
    assert "serving on http://127.0.0.1:" in out
    assert "Traceback" not in out


def test_serve_on_a_busy_port_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBRIEF_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            res = CliRunner().invoke(cli_app, ["serve", "--port", str(port)])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)
    [line] = res.stderr.splitlines()
    assert line.startswith(f"govbrief: error: cannot listen on 127.0.0.1:{port}: ")
    assert "in use" in line
    assert "serving on" not in res.output


def test_serve_says_where_it_listens_once_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    bound: list[int] = []

    def run(self: uvicorn.Server, sockets: list[socket.socket]) -> None:
        bound.extend(s.getsockname()[1] for s in sockets)

    monkeypatch.setattr(uvicorn.Server, "run", run)
    monkeypatch.setenv("GOVBRIEF_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(cli_app, ["serve", "--port", "0"])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    [port] = bound
    assert port != 0
    assert f"govbrief: serving on http://127.0.0.1:{port}/ (backend " in res.stderr
