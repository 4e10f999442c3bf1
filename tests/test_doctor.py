"""`govbrief doctor` against emulated endpoints (tests/fake_openai.py stand-ins), over real HTTP, and
the CLI's refusal to print a silently empty brief."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import STAND_INS, FakeOpenAI, Reply, chat_reply, error_reply, shown_sentences
from llm_helpers import fake_server
from typer.testing import CliRunner, Result

from service.cli import app
from service.settings import get_settings


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("GOVBRIEF_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GOVBRIEF_CACHE_DIR", str(tmp_path / "cache"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _doctor(fake: FakeOpenAI, **env: str) -> Result:
    values = {"GOVBRIEF_LLM_BASE_URL": fake.base_url, "GOVBRIEF_LLM_MODEL": "fake-model"} | env
    return CliRunner().invoke(app, ["doctor"], env=values)


def _modes(output: str) -> dict[str, str]:
    out = {}
    for line in output.splitlines():
        body = line[11:]
        for mode in ("json_schema", "json_object_schema", "json_object", "text"):
            if body.startswith(mode + ":"):
                out[mode] = body[len(mode) + 1 :].strip()
    return out


def test_doctor_on_llama_cpp_python(fake: FakeOpenAI) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["llamacpp"])
    res = _doctor(fake)
    assert res.exit_code == 0, res.output
    modes = _modes(res.stdout)
    assert modes["json_schema"].startswith("rejected (HTTP 500")
    assert modes["json_object_schema"] == "accepted, enforced"
    assert modes["json_object"].startswith("accepted, NOT enforced")
    assert modes["text"].startswith("accepted, NOT enforced")
    assert "GOVBRIEF_LLM_STRUCTURED_OUTPUT=json_object_schema" in res.stdout
    assert "verdict    briefs will work" in res.stdout


def test_doctor_on_deepseek_finds_nothing_enforced(fake: FakeOpenAI) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["deepseek"])
    res = _doctor(fake)
    assert res.exit_code == 0, res.output
    modes = _modes(res.stdout)
    assert modes["json_schema"] == "rejected (HTTP 400: This response_format type is unavailable now)"
    assert not any(v == "accepted, enforced" for v in modes.values())
    assert "GOVBRIEF_LLM_STRUCTURED_OUTPUT" not in res.stdout


def test_doctor_on_vllm_reads_the_context_from_models(fake: FakeOpenAI) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["vllm"])
    fake.route(
        "GET",
        "/v1/models",
        lambda r: Reply(json={"object": "list", "data": [{"id": "fake-model", "max_model_len": 32768}]}),
    )
    res = _doctor(fake)
    assert res.exit_code == 0, res.output
    assert _modes(res.stdout)["json_schema"] == "accepted, enforced"
    assert "context    32768 tokens (from /models)" in res.stdout
    assert "GOVBRIEF_LLM_CONTEXT_TOKENS=32768" in res.stdout


def test_doctor_saves_its_verdicts_for_briefs(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["ark"])
    assert _doctor(fake).exit_code == 0
    from llm_helpers import make_backend

    from service.llm import structured

    structured.forget_all()
    assert make_backend(fake, tmp_path).current_mode() == "json_object_schema"  # no rejection to pay


def test_doctor_with_a_refused_key_exits_1(fake: FakeOpenAI) -> None:
    fake.route("GET", "/v1/models", lambda r: error_reply(401, "Incorrect API key provided"))
    fake.route("POST", "/v1/chat/completions", lambda r: error_reply(401, "Incorrect API key provided"))
    res = _doctor(fake, GOVBRIEF_LLM_API_KEY="sk-wrong-key-123")
    assert res.exit_code == 1
    assert "key was refused (HTTP 401)" in res.stdout and "briefs will NOT work" in res.stdout
    assert "sk-wrong-key-123" not in res.output


def test_doctor_on_an_unreachable_endpoint_exits_1() -> None:
    env = {"GOVBRIEF_LLM_BASE_URL": "http://127.0.0.1:9/v1", "GOVBRIEF_LLM_MODEL": "m"}
    res = CliRunner().invoke(app, ["doctor"], env=env)
    assert res.exit_code == 1
    assert "reachable  no" in res.stdout and "problem    unreachable" in res.stdout


def test_doctor_on_a_missing_model_exits_1(fake: FakeOpenAI) -> None:
    fake.route("POST", "/v1/chat/completions", lambda r: error_reply(404, "model 'nope' not found"))
    res = _doctor(fake, GOVBRIEF_LLM_MODEL="nope")
    assert res.exit_code == 1
    assert "nope: NOT listed" in res.stdout and "model 'nope' not found" in res.stdout


# --- no silent empty briefs ------------------------------------------------------------------------


def test_a_brief_whose_every_item_was_dropped_is_an_error(fake: FakeOpenAI, tmp_path: Path) -> None:
    def cites_unseen_ids(request):  # type: ignore[no-untyped-def]
        if not shown_sentences(request):
            return STAND_INS["vllm"](request)
        item = {"section": "achievements", "title": "某项工作", "summary": "。", "category": "other",
                "sentence_ids": ["s9999"], "metrics": []}  # fmt: skip
        return chat_reply(json.dumps({"items": [item]}, ensure_ascii=False), request=request)

    fake.route("POST", "/v1/chat/completions", cites_unseen_ids)
    report = Path(__file__).resolve().parents[1] / "service" / "samples" / "qinghe_2023.txt"
    env = {"GOVBRIEF_LLM_BASE_URL": fake.base_url, "GOVBRIEF_LLM_MODEL": "fake-model"}
    res = CliRunner().invoke(app, ["summarize", str(report), "-b", "openai"], env=env)
    assert res.exit_code == 1, res.output
    assert res.stdout == ""
    assert "items the LLM proposed was dropped" in res.stderr and "s9999" in res.stderr


def test_the_cli_prints_a_briefs_warnings_to_stderr(fake: FakeOpenAI) -> None:
    fake.enqueue(error_reply(400, "messages: too many messages"))  # one chunk fails, the others don't
    report = Path(__file__).resolve().parents[1] / "service" / "samples" / "qinghe_2023.txt"
    env = {
        "GOVBRIEF_LLM_BASE_URL": fake.base_url,
        "GOVBRIEF_LLM_MODEL": "fake-model",
        "GOVBRIEF_LLM_PACK_TOKENS": "0",
        "GOVBRIEF_LLM_CONCURRENCY": "1",
    }
    res = CliRunner().invoke(app, ["summarize", str(report), "-b", "openai"], env=env)
    assert res.exit_code == 0, res.output
    assert f"govbrief: warning: {report}: chunk " in res.stderr
    assert "no usable answer" in res.stderr and "too many messages" in res.stderr


def test_the_api_answers_an_all_dropped_brief_with_502_naming_why(fake: FakeOpenAI, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from llm_helpers import settings_for

    from service.api import create_app

    def cites_unseen_ids(request):  # type: ignore[no-untyped-def]
        item = {"section": "problems", "title": "某项不足", "summary": "。", "category": "other",
                "sentence_ids": ["s9999"], "metrics": []}  # fmt: skip
        return chat_reply(json.dumps({"items": [item]}, ensure_ascii=False), request=request)

    fake.route("POST", "/v1/chat/completions", cites_unseen_ids)
    report = Path(__file__).resolve().parents[1] / "service" / "samples" / "qinghe_2023.txt"
    settings = settings_for(fake, tmp_path, data_dir=tmp_path / "data", backend="openai", api_keys=None)
    with TestClient(create_app(settings)) as c:
        res = c.post("/v1/briefs", json={"text": report.read_text("utf-8"), "filename": "q.txt"})
    assert res.status_code == 502
    assert "dropped" in res.json()["detail"] and "s9999" in res.json()["detail"]
