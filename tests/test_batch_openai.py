"""`govbrief batch --backend openai` against the fake server: one shared backend, tokens and model in
the manifest, a warm rerun that asks nothing, a 429 storm that slows the batch instead of failing it,
and a report whose answers stay invalid recorded as `partial` (and redone next time)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, RecordedRequest, Reply, auto_responder, chat_reply, error_reply
from typer.testing import CliRunner

from service.cli import app
from service.llm import structured
from service.settings import get_settings

runner = CliRunner()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        monkeypatch.setenv("GOVBRIEF_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("GOVBRIEF_LLM_MODEL", "fake-model")
        monkeypatch.setenv("GOVBRIEF_LLM_API_KEY", "sk-test-batch-0000")
        monkeypatch.setenv("GOVBRIEF_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("GOVBRIEF_LLM_MAX_RETRIES", "6")
        get_settings.cache_clear()
        structured.forget_all()
        yield server
    get_settings.cache_clear()
    structured.forget_all()


def corpus(tmp_path: Path, seed_paths: list[Path], copies: int = 1) -> Path:
    root = tmp_path / "in"
    root.mkdir(exist_ok=True)
    for n in range(copies):
        for p in seed_paths:
            shutil.copy(p, root / f"{p.stem}_{n}.txt")
    return root


def run(*args: str | Path) -> Any:
    return runner.invoke(app, ["batch", *map(str, args), "--backend", "openai"])


def inputs(out: Path) -> list[dict[str, Any]]:
    return list(json.loads((out / "manifest.json").read_text(encoding="utf-8"))["inputs"])


def test_openai_batch_direct_and_warm_rerun(fake: FakeOpenAI, tmp_path: Path, seed_paths: list[Path]) -> None:
    src = corpus(tmp_path, seed_paths)
    out = tmp_path / "out"
    result = run(src, "-o", out, "-j", "8")
    assert result.exit_code == 0, result.output
    recs = inputs(out)
    assert all(r["status"] == "ok" for r in recs)
    assert all(r["model"] == "fake-model" and r["prompt_version"] and r["prompt_tokens"] > 0 for r in recs)
    # Every HTTP request the server saw is accounted for in some report's record.
    assert sum(r["llm_calls"] for r in recs) == len(fake.chat_requests())

    asked = len(fake.chat_requests())
    again = run(src, "-o", out)
    assert again.exit_code == 0
    assert len(fake.chat_requests()) == asked  # done reports are not even read
    assert all(r["run"] == old["run"] for r, old in zip(inputs(out), recs, strict=True))


def test_a_429_storm_slows_the_batch_down_instead_of_failing_it(
    fake: FakeOpenAI, tmp_path: Path, seed_paths: list[Path]
) -> None:
    fake.enqueue(*[error_reply(429, "rate limit", headers={"Retry-After": "0.05"}) for _ in range(25)])
    src = corpus(tmp_path, seed_paths, copies=2)
    out = tmp_path / "out"
    result = run(src, "-o", out, "-j", "8", "--no-cache")
    assert result.exit_code == 0, result.output
    assert all(r["status"] == "ok" for r in inputs(out))
    limiter = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["last_run"]["limiter"]
    assert limiter["throttled"] == 25
    assert limiter["lowest"] < 8 and limiter["decreases"] >= 1
    assert "rate-limited" in result.stderr


def test_invalid_answers_make_a_partial_report_that_the_next_run_redoes(
    fake: FakeOpenAI, tmp_path: Path, seed_paths: list[Path]
) -> None:
    bad_text = "行政执法不规范现象仍然存在"  # in one seed's problems chapter only

    def responder(request: RecordedRequest) -> Reply:
        if bad_text in request.message("user"):
            return chat_reply("我无法回答。", request=request)
        return auto_responder(request)

    fake.route("POST", "/v1/chat/completions", responder)
    src = corpus(tmp_path, seed_paths)
    out = tmp_path / "out"
    result = run(src, "-o", out)
    assert result.exit_code == 1
    partial = [r for r in inputs(out) if r["status"] == "partial"]
    assert len(partial) == 1 and partial[0]["failed_chunks"]
    assert "no usable answer" in partial[0]["error"]
    assert (out / f"{partial[0]['name']}.json").is_file()  # the brief of what did work is kept

    fake.route("POST", "/v1/chat/completions", auto_responder)
    again = run(src, "-o", out)
    assert again.exit_code == 0
    assert all(r["status"] == "ok" for r in inputs(out))
    redone = [r for r in inputs(out) if r["run"] != partial[0]["run"]]
    assert [r["input"] for r in redone] == [partial[0]["input"]]


def test_a_chunk_that_gives_up_on_5xx_puts_its_report_back_in_the_queue(
    fake: FakeOpenAI, tmp_path: Path, seed_paths: list[Path]
) -> None:
    down_for = "行政执法不规范现象仍然存在"  # in one seed's problems chapter only
    failures = {"n": 0}

    def responder(request: RecordedRequest) -> Reply:
        # That chunk's first try and its six retries (GOVBRIEF_LLM_MAX_RETRIES=6) all get a 500.
        if down_for in request.message("user") and failures["n"] < 7:
            failures["n"] += 1
            return error_reply(500, "upstream down", headers={"Retry-After": "0"})
        return auto_responder(request)

    fake.route("POST", "/v1/chat/completions", responder)
    src = corpus(tmp_path, seed_paths)
    out = tmp_path / "out"
    result = run(src, "-o", out, "-j", "4")
    assert result.exit_code == 0, result.output
    recs = inputs(out)
    assert all(r["status"] == "ok" and not r["failed_chunks"] for r in recs)
    assert sorted(r["attempts"] for r in recs) == [1] * (len(recs) - 1) + [2]
    assert failures["n"] == 7
