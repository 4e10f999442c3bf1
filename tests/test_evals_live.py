"""`govbrief eval` against a stand-in OpenAI endpoint (tests/fake_openai.py): live versus cached,
repeats and spread, drift judged against an LLM baseline, --bless guards, --dry-run, --prompts-dir,
-j/-v, the judge, and the JSON summary."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from evals_helpers import make_repo
from fake_openai import FakeOpenAI, RecordedRequest, Reply, auto_responder, chat_reply, extraction_answer
from llm_helpers import API_KEY, fake_server
from typer.testing import CliRunner

from service.cli import app
from service.evals.runner import load_record
from service.prompts import default_prompts_dir
from service.settings import get_settings

runner = CliRunner()


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    for server in fake_server():
        env = {
            "GOVBRIEF_LLM_BASE_URL": server.base_url,
            "GOVBRIEF_LLM_API_KEY": API_KEY,
            "GOVBRIEF_LLM_MODEL": "fake-model",
            "GOVBRIEF_CACHE_DIR": str(tmp_path / "cache"),
            "GOVBRIEF_LLM_PRICE_PROMPT_PER_1K": "0.001",
            "GOVBRIEF_LLM_PRICE_COMPLETION_PER_1K": "0.002",
            "GOVBRIEF_LLM_MAX_RETRIES": "0",
        }
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield server
    get_settings.cache_clear()


def _no_problems(request: RecordedRequest) -> Reply:
    """The endpoint after a bad change: the same answers, without a single problem."""
    reply = auto_responder(request)
    if not reply.json or "问题" not in request.message("user"):
        return reply
    answer = extraction_answer(request)
    answer["items"] = [i for i in answer["items"] if i["section"] != "problems"]
    return chat_reply(json.dumps(answer, ensure_ascii=False), request=request)


def _eval(golden_dir: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        [
            "eval",
            "-b",
            "openai",
            "--golden",
            str(golden_dir),
            "--runs-dir",
            str(golden_dir.parent / "runs"),
            *args,
        ],
    )
    return result.exit_code, result.stdout, result.stderr


def test_live_then_cached_then_drift(fake: FakeOpenAI, tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path, test_split=True)

    code, out, err = _eval(
        golden_dir, "--repeat", "3", "--refresh", "--format", "json", "--label", "v1", "--bless", "llm"
    )
    assert code == 0, err
    live = json.loads(out)  # stdout is the JSON summary alone
    calls = len(fake.chat_requests())
    assert live["repeat"] == 3 and live["live_calls"] == calls > 0
    assert live["cached_reports"] == 0 and live["drift"] == []
    problems = live["overall"]["sections"]["problems"]
    assert (
        set(problems["recall"]) == {"mean", "sd"} and problems["recall"]["sd"] == 0.0
    )  # a deterministic stand-in
    assert problems["golden"] == 6 and problems["predicted"] >= 1
    assert set(live["genres"]) == {"rule_of_law_report"} and set(live["splits"]) == {"dev", "test"}
    assert live["cost_usd"] > 0 and all(r["model_called"] for r in live["reports"])
    first = load_record(golden_dir.parent / "baselines" / "llm.json")
    assert len(first.repeats) == 2 and first.settings.cache == "refresh"
    assert first.settings.prompts[0].id == "extract" and "{{" in first.settings.prompts[0].user  # the text
    assert first.reports[0].llm is not None and first.reports[0].llm.modes

    # The same run again: served from the cache, marked so, at the cost its answers had when made.
    code, out, err = _eval(golden_dir, "--format", "json", "--label", "v1-again")
    assert code == 0, err
    cached = json.loads(out)
    assert len(fake.chat_requests()) == calls  # the model was not called
    assert cached["live_calls"] == 0 and cached["cached_reports"] == 2
    assert [r["model_called"] for r in cached["reports"]] == [False, False]
    again = load_record(next((golden_dir.parent / "runs").glob("*-v1-again.json")))
    assert again.scores.cost_usd == first.scores.cost_usd > 0
    assert again.scores.prompt_tokens == first.scores.prompt_tokens > 0
    assert again.scores.live_calls == 0 and again.scores.calls == first.scores.calls
    code, out, _ = _eval(golden_dir)  # the table says it too
    assert "model not called: all 2 report(s) served from the answer cache" in out
    assert "cached" in out

    # The endpoint now drops every problem. A cached check cannot see it, and says so...
    fake.route("POST", "/v1/chat/completions", _no_problems)
    code, out, err = _eval(golden_dir, "--baseline", "llm")
    assert code == 0
    assert "no drift" in out and "the model was not called" in out
    assert "warning: the model was not called" in err
    # ...a live one fails.
    code, out, err = _eval(golden_dir, "--baseline", "llm", "--refresh", "--format", "json")
    assert code == 1, err
    summary = json.loads(out)
    assert summary["live_calls"] > 0
    keys = {(d["scope"], d["key"]) for d in summary["drift"]}
    assert ("overall", "problems.recall") in keys
    assert "DRIFT" in err


def test_bless_refuses_another_backend_unless_forced(fake: FakeOpenAI, tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    code, _, err = _eval(golden_dir, "--bless", "rules")  # an openai run, no rules baseline yet
    assert code == 0, err
    baseline = golden_dir.parent / "baselines" / "rules.json"
    before = baseline.read_text(encoding="utf-8")
    g = ["--golden", str(golden_dir), "--runs-dir", str(tmp_path / "runs")]
    result = runner.invoke(app, ["eval", "-b", "rules", *g, "--bless", "rules"])
    assert result.exit_code == 2
    assert "not replacing" in result.stderr and "backend openai" in result.stderr
    assert baseline.read_text(encoding="utf-8") == before
    # Another model is refused as well.
    result = runner.invoke(app, ["eval", "-b", "openai", "-m", "other-model", *g, "--bless", "rules"])
    assert result.exit_code == 2 and "model fake-model" in result.stderr
    result = runner.invoke(app, ["eval", "-b", "rules", *g, "--bless", "rules", "--force"])
    assert result.exit_code == 0, result.stderr
    assert load_record(baseline).settings.backend == "rules"


def test_dry_run_prints_the_requests_and_sends_none(fake: FakeOpenAI, tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    code, out, err = _eval(golden_dir, "--dry-run")
    assert code == 0, err
    assert f"POST {fake.base_url}/chat/completions" in out
    assert '"model": "fake-model"' in out and "持续推进法治政府示范创建" in out  # the report's sentences
    code, out, _ = _eval(golden_dir, "--dry-run", "--format", "json")
    requests = json.loads(out)
    assert requests and requests[0]["report"] == "qinghe"
    assert requests[0]["body"]["messages"][0]["role"] == "system"
    assert fake.chat_requests() == []
    assert not (golden_dir.parent / "runs").exists()  # nothing run, nothing written


def test_prompts_dir_reaches_the_requests_and_the_record(fake: FakeOpenAI, tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    mine = tmp_path / "my-prompts"  # only the prompt being changed: the others come from the package
    shutil.copytree(default_prompts_dir() / "extract", mine / "extract")
    for path in (mine / "extract").glob("v*.toml"):  # whichever version is in use
        path.write_text(
            path.read_text(encoding="utf-8").replace("system = '''", "system = '''\n【改动标记】", 1),
            encoding="utf-8",
        )
    code, out, _ = _eval(golden_dir, "--dry-run", "--prompts-dir", str(mine))
    assert code == 0 and "【改动标记】" in out
    code, _, err = _eval(golden_dir, "--prompts-dir", str(mine), "--label", "edited")
    assert code == 0, err
    assert "【改动标记】" in fake.chat_requests()[0].message("system")
    record = load_record(next((golden_dir.parent / "runs").glob("*-edited.json")))
    assert record.settings.prompts_dir == str(mine)
    assert "【改动标记】" in record.settings.prompts[0].system


def test_reasks_and_modes_are_recorded_and_verbose_shows_each_call(fake: FakeOpenAI, tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)

    def answer_the_first_ask(request: RecordedRequest) -> Reply:
        # A re-ask ends with the complaint; the sentences are in the first user message.
        asked = dataclasses.replace(request, json={**request.json, "messages": request.messages[:2]})
        return chat_reply(json.dumps(extraction_answer(asked), ensure_ascii=False), request=request)

    fake.enqueue(chat_reply("这不是 JSON"), answer_the_first_ask)  # one unusable answer: one re-ask
    code, out, err = _eval(golden_dir, "-v", "--label", "v")
    assert code == 0, err
    assert len(re.findall(r"^  call \d+: ", err, flags=re.M)) == len(fake.chat_requests()) == 3
    assert "call 1: sentences s" in err and "json_schema → stop" in err and ", re-ask 1 → stop" in err
    assert API_KEY not in err
    record = load_record(next((golden_dir.parent / "runs").glob("*-v.json")))
    llm = record.reports[0].llm
    assert llm is not None and llm.reasks == 1 and llm.rejected_modes == [] and llm.splits == 0
    assert record.scores.reasks == 1
    assert "re-asks 1" in out


def test_reports_run_concurrently_with_the_same_scores(fake: FakeOpenAI, tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path, test_split=True)
    code, one, _ = _eval(golden_dir, "--no-cache", "--format", "json")
    code2, two, _ = _eval(golden_dir, "--no-cache", "--format", "json", "-j", "2")
    assert code == code2 == 0
    a, b = json.loads(one), json.loads(two)
    assert a["overall"] == b["overall"] and [r["id"] for r in a["reports"]] == [r["id"] for r in b["reports"]]
    assert a["cached_reports"] == b["cached_reports"] == 0  # --no-cache: nothing read


def test_the_judge_is_reported_beside_the_scores(fake: FakeOpenAI, tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)

    def judging(request: RecordedRequest) -> Reply:
        if "核查员" not in request.message("system"):
            return auto_responder(request)
        numbers = [
            int(line[1 : line.index("]")])
            for line in request.message("user").splitlines()
            if line.startswith("[")
        ]
        verdicts = [{"n": n, "faithful": n != 1, "reason": "测试"} for n in numbers]
        return chat_reply(json.dumps({"verdicts": verdicts}, ensure_ascii=False), request=request)

    fake.route("POST", "/v1/chat/completions", judging)
    code, out, err = _eval(golden_dir, "--judge", "--format", "json")
    assert code == 0, err
    summary = json.loads(out)
    judge = summary["judge"]
    assert judge["prompt"]["version"] == "1"
    assert judge["judged"] == judge["items"] > 1 and judge["faithful"] == judge["items"] - 1
    # Beside, never instead of, the scores.
    plain = json.loads(_eval(golden_dir, "--format", "json")[1])
    assert plain["judge"] is None and plain["overall"] == summary["overall"]
