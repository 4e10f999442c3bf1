"""`govbrief batch --via openai-batch` against the fake files + batches server: the request JSONL's
shape, submission and polling, results assembled into valid grounded Briefs (the same items as the
direct path), failed lines, and an interrupted poll that resumes the same batch."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai_batch import FakeOpenAIBatch
from typer.testing import CliRunner

from service.backends.registry import build_backend
from service.batch import BatchOptions, collect_inputs
from service.batch.openai_batch import OpenAIBatchRun, parse_results, split_lines
from service.cli import app
from service.llm import structured
from service.models import Brief
from service.settings import Settings, get_settings

runner = CliRunner()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeOpenAIBatch]:
    with FakeOpenAIBatch(polls_to_complete=3) as server:
        monkeypatch.setenv("GOVBRIEF_LLM_BASE_URL", server.base_url)
        monkeypatch.setenv("GOVBRIEF_LLM_MODEL", "fake-model")
        monkeypatch.setenv("GOVBRIEF_LLM_API_KEY", "sk-test-batch-api-0000")
        monkeypatch.setenv("GOVBRIEF_CACHE_DIR", str(tmp_path / "cache"))
        get_settings.cache_clear()
        structured.forget_all()
        yield server
    get_settings.cache_clear()
    structured.forget_all()


@pytest.fixture
def corpus(tmp_path: Path, seed_paths: list[Path]) -> Path:
    root = tmp_path / "in"
    root.mkdir()
    for p in seed_paths:
        shutil.copy(p, root / p.name)
    return root


def via_batch(*args: str | Path) -> Any:
    return runner.invoke(
        app,
        ["batch", *map(str, args), "--backend", "openai", "--via", "openai-batch", "--poll-interval", "0.01"],
    )


def records(out: Path) -> list[dict[str, Any]]:
    return list(json.loads((out / "manifest.json").read_text(encoding="utf-8"))["inputs"])


def items(brief: Brief) -> list[tuple[str, str, str, list[tuple[int, int]]]]:
    return [
        (section, it.title, it.category.value, [(s.start, s.end) for s in it.evidence])
        for section, its in brief.sections().items()
        for it in its
    ]


def test_batch_api_end_to_end(
    fake: FakeOpenAIBatch, corpus: Path, tmp_path: Path, seed_paths: list[Path]
) -> None:
    out = tmp_path / "out"
    result = via_batch(corpus, "-o", out, "--with-text", "--no-cache")
    assert result.exit_code == 0, result.output

    # The requests, as uploaded: the JSONL the Batch API takes.
    lines = fake.uploaded_lines()
    assert lines and all(set(line) == {"custom_id", "method", "url", "body"} for line in lines)
    assert all(line["method"] == "POST" and line["url"] == "/v1/chat/completions" for line in lines)
    assert len({line["custom_id"] for line in lines}) == len(lines)
    body = lines[0]["body"]
    assert body["model"] == "fake-model" and [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["response_format"]["type"] == "json_schema"
    saved = list((out / ".openai-batch").glob("requests-*.jsonl"))
    assert len(saved) == 1 and len(saved[0].read_text(encoding="utf-8").splitlines()) == len(lines)

    # One upload, one batch, polled until done, results downloaded; no chat request sent directly.
    calls = [(r.method, r.path) for r in fake.batch_requests()]
    assert calls.count(("POST", "/v1/files")) == 1 and calls.count(("POST", "/v1/batches")) == 1
    (batch_id,) = fake.batches
    assert fake.polls[batch_id] == 3 and fake.batches[batch_id]["status"] == "completed"
    assert ("GET", f"/v1/files/{fake.batches[batch_id]['output_file_id']}/content") in calls
    assert fake.chat_requests() == []
    state = json.loads((out / ".openai-batch" / "state.json").read_text(encoding="utf-8"))
    assert state["submissions"][0]["batch_id"] == batch_id and state["submissions"][0]["assembled"]

    # Valid, grounded briefs with the batch's token usage.
    recs = records(out)
    assert len(recs) == len(seed_paths) and all(r["status"] == "ok" for r in recs)
    assert sum(r["llm_calls"] for r in recs) == len(lines)
    for r in recs:
        assert r["backend"] == "openai-batch" and r["model"] == "fake-model" and r["prompt_tokens"] > 0
        brief = Brief.model_validate_json((out / f"{r['name']}.json").read_text(encoding="utf-8"))
        assert brief.source.text and brief.achievements
        assert brief.provenance.structured_output == "json_schema"
        for it in [*brief.achievements, *brief.problems, *brief.plans, *brief.leadership]:
            for span in it.evidence:
                assert brief.source.text[span.start : span.end] == span.quote
    assert len((out / "briefs.jsonl").read_text(encoding="utf-8").splitlines()) == len(seed_paths)

    # The direct path, asked the same questions of the same server, makes the same items.
    direct = tmp_path / "direct"
    result = runner.invoke(
        app, ["batch", str(corpus), "-o", str(direct), "--backend", "openai", "--no-cache"]
    )
    assert result.exit_code == 0, result.output
    for r in records(direct):
        a = Brief.model_validate_json((direct / f"{r['name']}.json").read_text(encoding="utf-8"))
        b = Brief.model_validate_json((out / f"{r['name']}.json").read_text(encoding="utf-8"))
        assert items(a) == items(b)

    # Done is done, whichever path did it: a rerun submits nothing.
    again = via_batch(corpus, "-o", out, "--with-text")
    assert again.exit_code == 0 and len(fake.batches) == 1


def test_failed_lines_make_partial_reports_redone_next_time(
    fake: FakeOpenAIBatch, corpus: Path, tmp_path: Path
) -> None:
    settings = get_settings()
    out = tmp_path / "out"
    run = _run(settings, corpus, out)
    # The provider fails the first request of the first report (custom_ids are "r<report>:<pack>").
    first: list[str] = []

    def first_of_first_report(custom_id: str) -> bool:
        if custom_id.startswith("r0:") and not first:
            first.append(custom_id)
        return custom_id in first

    fake.fail_line(first_of_first_report, status=500)
    result = run.run()
    failed = [r for r in result.records if r.status != "ok"]
    assert [Path(r.input).name for r in failed] == [Path(result.records[0].input).name]
    assert failed[0].status == "partial" and "HTTP 500" in (failed[0].error or "")

    fake.clear_failures()
    again = _run(settings, corpus, out).run()
    assert all(r.status == "ok" for r in again.records)
    assert len(fake.batches) == 2
    second = fake.batches[sorted(fake.batches)[-1]]
    assert second["request_counts"]["total"] < len(fake.uploaded_lines())  # only the redone report


def _run(
    settings: Settings, corpus: Path, out: Path, *, use_cache: bool = False, **kw: Any
) -> OpenAIBatchRun:
    backend = build_backend("openai", settings, use_cache=use_cache)
    return OpenAIBatchRun(
        backend,
        collect_inputs([str(corpus)]),
        BatchOptions(outdir=out),
        settings=settings,
        poll_interval=0.0,
        **kw,
    )


def test_interrupted_polling_resumes_the_same_batch(
    fake: FakeOpenAIBatch, corpus: Path, tmp_path: Path
) -> None:
    settings = get_settings()
    out = tmp_path / "out"

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    first = _run(settings, corpus, out, sleep=interrupt).run()
    assert first.interrupted and first.records == []
    (batch_id,) = fake.batches
    state = json.loads((out / ".openai-batch" / "state.json").read_text(encoding="utf-8"))
    assert state["submissions"][0]["batch_id"] == batch_id

    second = _run(settings, corpus, out).run()
    assert not second.interrupted and all(r.status == "ok" for r in second.records)
    assert list(fake.batches) == [batch_id]  # polled the old one; paid for nothing twice


def test_expired_batch_keeps_what_came_back(fake: FakeOpenAIBatch, corpus: Path, tmp_path: Path) -> None:
    fake.expire_after = 3
    result = _run(get_settings(), corpus, tmp_path / "out").run()
    statuses = [r.status for r in result.records]
    assert "ok" in statuses or "partial" in statuses
    assert any(s != "ok" for s in statuses)
    bad = next(r for r in result.records if r.status != "ok")
    assert "expired" in (bad.error or "")


def test_request_file_splitting_and_result_parsing() -> None:
    lines = [json.dumps({"custom_id": str(n)}) for n in range(7)]
    assert [len(p) for p in split_lines(lines, max_requests=3)] == [3, 3, 1]
    assert [len(p) for p in split_lines(lines, max_bytes=40)] == [2, 2, 2, 1]
    text = "\n".join(
        [
            json.dumps(
                {
                    "custom_id": "a",
                    "response": {
                        "status_code": 200,
                        "body": {
                            "choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
                            "usage": {"prompt_tokens": 3, "completion_tokens": 1},
                        },
                    },
                    "error": None,
                }
            ),
            json.dumps(
                {
                    "custom_id": "b",
                    "response": {"status_code": 429, "body": {"error": {"message": "slow"}}},
                    "error": None,
                }
            ),
            json.dumps({"custom_id": "c", "response": None, "error": {"code": "x", "message": "expired"}}),
            "not json",
        ]
    )
    parsed = parse_results(text)
    assert parsed["a"].content == "{}" and parsed["a"].prompt_tokens == 3
    assert parsed["b"].error == "HTTP 429: slow"
    assert parsed["c"].error is not None and "expired" in parsed["c"].error


def test_a_rerun_after_a_partial_batch_pays_only_for_the_failed_chunk(
    fake: FakeOpenAIBatch, corpus: Path, tmp_path: Path
) -> None:
    settings = get_settings()
    out = tmp_path / "out"
    failing: list[str] = []

    def first_line(custom_id: str) -> bool:
        if not failing:
            failing.append(custom_id)
        return custom_id in failing

    fake.fail_line(first_line, status=500)
    first = _run(settings, corpus, out, use_cache=True).run()
    partial = [r for r in first.records if r.status == "partial"]
    assert len(partial) == 1 and partial[0].failed_chunks == [failing[0].split(":", 1)[1]]
    assert partial[0].error == "1 chunk(s) got no usable answer: HTTP 500: scripted failure"

    fake.clear_failures()
    again = _run(settings, corpus, out, use_cache=True).run()
    assert all(r.status == "ok" for r in again.records)
    second = fake.batches[sorted(fake.batches)[-1]]
    assert second["request_counts"]["total"] == 1  # the answered chunks came from the cache
    redone = next(r for r in again.records if r.input == partial[0].input)
    assert redone.llm_calls == 1 and redone.attempts == 1


def test_chunks_the_direct_path_answered_are_not_sent_to_the_batch(
    fake: FakeOpenAIBatch, corpus: Path, tmp_path: Path, seed_paths: list[Path]
) -> None:
    direct = runner.invoke(app, ["batch", str(corpus), "-o", str(tmp_path / "direct"), "--backend", "openai"])
    assert direct.exit_code == 0, direct.output
    asked = len(fake.chat_requests())

    result = _run(get_settings(), corpus, tmp_path / "out", use_cache=True).run()
    assert fake.batches == {} and fake.uploaded_lines() == []  # nothing left to ask
    assert len(fake.chat_requests()) == asked
    assert len(result.records) == len(seed_paths)
    assert all(r.status == "ok" and r.cache_hit and r.llm_calls == 0 for r in result.records)
    for r in result.records:
        a = Brief.model_validate_json((tmp_path / "direct" / f"{r.name}.json").read_text(encoding="utf-8"))
        b = Brief.model_validate_json((tmp_path / "out" / f"{r.name}.json").read_text(encoding="utf-8"))
        assert items(a) == items(b)


def test_the_settings_fingerprint_includes_the_backends(
    fake: FakeOpenAIBatch, corpus: Path, tmp_path: Path
) -> None:
    settings = get_settings()
    run = _run(settings, corpus, tmp_path / "out")
    assert json.loads(run.fingerprint.backend_settings or "{}") == json.loads(
        json.dumps(run.backend.fingerprint())
    )
    hotter = _run(settings.model_copy(update={"llm_temperature": 0.5}), corpus, tmp_path / "out2")
    assert hotter.fingerprint.digest != run.fingerprint.digest
