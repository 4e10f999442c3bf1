"""The openai backend's hooks for the Batch API path and for batch, over the fake server: failed chunks
as data, the cache key, planned requests and assembly, the settings fingerprint, the shared retry
budget, and per-call run stats under concurrent extractions."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_openai import FakeOpenAI, RecordedRequest, Reply, chat_reply, error_reply
from llm_helpers import DEFAULT_SECTIONS, answer, fake_server, item, make_backend, make_doc

from service import pipeline
from service.backends.openai_backend import RunStats
from service.batch.manifest import Fingerprint
from service.document import Document, Extraction, SectionKind
from service.errors import LLMError
from service.extract import ChunkResult, parse_chunk_result
from service.llm.errors import ExtractionFailed, TransientError
from service.llm.transport import (
    DEFAULT_RETRY_BUDGET,
    DEFAULT_RETRY_REFILL,
    RetryBudget,
    RetryPolicy,
    Transport,
)
from service.prompts import default_prompts_dir
from service.settings import Settings

ONE_CHUNK = [DEFAULT_SECTIONS[0]]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


def _always(status: int):  # type: ignore[no-untyped-def]
    def responder(request: RecordedRequest) -> Reply:
        return error_reply(status, "upstream is down")

    return responder


# --- 1. failed chunks and transient failures as data --------------------------------------------


def test_a_chunk_that_gave_up_on_retries_is_a_transient_failed_chunk(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.enqueue(*[error_reply(500, "boom")] * 4)  # c1: the first try and 3 retries
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    extraction = backend.extract(make_doc())

    assert list(extraction.failed_chunks) == ["c1"]
    reason = extraction.failed_chunks["c1"]
    assert "HTTP 500" in reason and "4 attempts" in reason
    assert extraction.transient_failure is True
    assert extraction.drafts and all(d.chunk_id != "c1" for d in extraction.drafts)
    # The warning is still there for people; batch no longer reads it.
    assert any(w.startswith("chunk c1: no usable answer") for w in extraction.warnings)


def test_invalid_answers_fail_a_chunk_but_not_transiently(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(*[chat_reply("我无法完成。")] * 3)  # c1: first try + 2 re-asks
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    extraction = backend.extract(make_doc())
    assert list(extraction.failed_chunks) == ["c1"] and "3 tries" in extraction.failed_chunks["c1"]
    assert extraction.transient_failure is False


def test_a_clean_run_has_no_failed_chunks(fake: FakeOpenAI, tmp_path: Path) -> None:
    extraction = make_backend(fake, tmp_path).extract(make_doc())
    assert extraction.failed_chunks == {} and extraction.transient_failure is False


@pytest.mark.parametrize(("reply", "transient"), [(error_reply(503), True), (chat_reply("no"), False)])
def test_no_usable_answer_at_all_raises_with_the_reasons(
    fake: FakeOpenAI, tmp_path: Path, reply: Reply, transient: bool
) -> None:
    fake.enqueue(*[reply] * 4)
    with pytest.raises(ExtractionFailed, match="no usable answer for any of 1 requests") as err:
        make_backend(fake, tmp_path).extract(make_doc(ONE_CHUNK))
    assert list(err.value.failed_chunks) == ["c1"] and err.value.transient is transient
    assert isinstance(err.value, LLMError)  # what callers caught before


# --- 2 and 3. planned requests, the cache key, assembly -------------------------------------------


def test_planned_requests_are_exactly_what_extract_sends(fake: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    doc = make_doc()
    planned = backend.plan_requests(doc)
    assert [pack.id for pack, _ in planned] == ["c1", "c2", "c3"]  # pack_tokens=0: one chunk each
    backend.extract(doc)
    sent = [r.json for r in fake.chat_requests()[:-1]]  # the last one is the overview
    assert sent == [request.body() for _, request in planned]

    # Packing follows the backend's pack_tokens, as extract() does.
    packed = make_backend(fake, tmp_path, pack_tokens=4000).plan_requests(doc)
    assert [pack.id for pack, _ in packed] == ["c1+c2+c3"]
    # A given mode is used as asked (the Batch API path picks one mode for its whole run).
    (_, text_request), *_ = backend.plan_requests(doc, mode="text")
    assert (
        text_request.response_format is None
        and "sentence_ids:string[]" in text_request.messages[0]["content"]
    )


def test_extract_reads_and_writes_answers_under_chunk_cache_key(fake: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(fake, tmp_path)
    doc = make_doc(ONE_CHUNK)
    mode = backend.current_mode()
    ((_, request),) = backend.plan_requests(doc)
    key = backend.chunk_cache_key(request, mode)
    assert key == make_backend(fake, tmp_path).chunk_cache_key(request, mode)  # stable across instances
    assert key != backend.chunk_cache_key(request, "json_object")
    assert backend.cached_answer(request, mode) is None

    # An answer stored under the key (as the Batch API path does) is what extract() uses: no chunk call.
    stored = ChunkResult.model_validate(json.loads(answer(item(title="批量接口的答案"))))
    backend.store_answer(request, mode, stored)
    extraction = backend.extract(doc)
    assert [d.title for d in extraction.drafts] == ["批量接口的答案"]
    assert len(fake.chat_requests()) == 1 and fake.chat_requests()[0].response_format is None  # overview

    # And what extract() asks and validates lands under the same key.
    other = make_doc([(SectionKind.problems, "二、存在的问题", ["一是执法监督不够。"])])
    ((_, other_request),) = backend.plan_requests(other)
    backend.extract(other)
    cached = backend.cached_answer(other_request, mode)
    assert cached is not None and cached.items


def test_assemble_builds_the_same_extraction_without_http(fake: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(fake, tmp_path)
    doc = make_doc()
    direct = backend.extract(doc)
    mode = backend.current_mode()
    answers = {pack.id: backend.cached_answer(request, mode) for pack, request in backend.plan_requests(doc)}
    assert all(isinstance(a, ChunkResult) for a in answers.values())
    fake.reset()

    stats = RunStats()
    assembled = backend.assemble(doc, answers, stats=stats)  # type: ignore[arg-type]
    assert fake.requests == []
    assert assembled.drafts == direct.drafts and assembled.warnings == direct.warnings
    assert assembled.overview is None  # the overview is extract()'s own second round trip
    assert assembled.stats is stats and assembled.usage.llm_calls == 0

    # Errors (or nothing) in place of an answer: failed chunks with their reasons, the rest kept.
    partial = backend.assemble(
        doc,
        {"c1": answers["c1"], "c2": TransientError("HTTP 503: down")},  # type: ignore[dict-item]
    )
    assert partial.failed_chunks == {"c2": "HTTP 503: down", "c3": "no answer"}
    assert partial.transient_failure is True
    assert {d.chunk_id for d in partial.drafts} == {"c1"}
    with pytest.raises(ExtractionFailed) as err:
        backend.assemble(doc, {"c1": LLMError("bad answer")})
    assert err.value.transient is False and set(err.value.failed_chunks) == {"c1", "c2", "c3"}


def test_assemble_checks_ids_and_redacts_like_extract(fake: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(fake, tmp_path)
    doc = make_doc(ONE_CHUNK)
    secret = backend.settings.llm_api_key.get_secret_value()  # type: ignore[union-attr]
    result = parse_chunk_result(answer(item(title=f"泄露 {secret}"), item(ids=["s99"], title="编造")))
    extraction = backend.assemble(doc, {"c1": result})
    assert [d.title for d in extraction.drafts] == ["泄露 ***"]
    assert len(extraction.warnings) == 1 and "s99" in extraction.warnings[0]


# --- 4. the settings fingerprint ------------------------------------------------------------------


def test_fingerprint_covers_what_changes_answers(fake: FakeOpenAI, tmp_path: Path) -> None:
    base = make_backend(fake, tmp_path).fingerprint()
    json.dumps(base)  # plain data
    assert base == make_backend(fake, tmp_path).fingerprint()
    assert set(base) >= {
        "model",
        "prompt",
        "schema_hash",
        "temperature",
        "max_tokens",
        "structured_output",
        "pack_tokens",
    }
    variants = [
        make_backend(fake, tmp_path, llm_model="other-model"),
        make_backend(fake, tmp_path, llm_temperature=0.7),
        make_backend(fake, tmp_path, llm_max_tokens=1024),
        make_backend(fake, tmp_path, llm_structured_output="json_object"),
        make_backend(fake, tmp_path, pack_tokens=4000),
    ]
    prompts = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), prompts)
    v1 = prompts / "extract" / "v1.toml"
    v1.write_text(v1.read_text(encoding="utf-8").replace("你从", "请你从"), encoding="utf-8")
    variants.append(make_backend(fake, tmp_path, prompts_dir=prompts))
    prints = [b.fingerprint() for b in variants]
    assert all(p != base for p in prints)
    assert len({json.dumps(p, sort_keys=True) for p in prints}) == len(prints)

    # Things that don't change answers don't change it.
    assert make_backend(fake, tmp_path, llm_concurrency=9, llm_timeout=30.0).fingerprint() == base

    # Batch folds it into the settings fingerprint: each variant is a different digest.
    digests = {
        Fingerprint.of(b, chunk_max_tokens=1500, with_text=False).digest
        for b in [make_backend(fake, tmp_path), *variants]
    }
    assert len(digests) == len(variants) + 1
    fp = Fingerprint.of(make_backend(fake, tmp_path), chunk_max_tokens=1500, with_text=False)
    assert json.loads(fp.backend_settings or "{}") == json.loads(json.dumps(base))


# --- 5. the shared retry budget -------------------------------------------------------------------


def test_retry_budget_spends_refills_and_caps() -> None:
    budget = RetryBudget(capacity=3, refill=0.5)
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    assert (budget.spent, budget.denied) == (3, 1)
    budget.succeeded()
    assert not budget.try_spend()  # half a token is not a retry
    budget.succeeded()
    assert budget.try_spend()
    for _ in range(100):
        budget.succeeded()
    assert budget.tokens == 3  # never above capacity
    with pytest.raises(ValueError):
        RetryBudget(capacity=0)
    with pytest.raises(ValueError):
        RetryBudget(capacity=5, refill=-1)


def test_retry_budget_is_thread_safe() -> None:
    budget = RetryBudget(capacity=100, refill=0.0)
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(budget.try_spend() for _ in range(500))
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 100 and budget.spent == 100 and budget.denied == 8 * 500 - 100


def test_retry_budget_from_settings() -> None:
    default = RetryBudget.from_settings(Settings())
    assert default is not None
    assert (default.capacity, default.refill) == (DEFAULT_RETRY_BUDGET, DEFAULT_RETRY_REFILL)
    configured = RetryBudget.from_settings(SimpleNamespace(llm_retry_budget=7, llm_retry_budget_refill=0.25))
    assert configured is not None and (configured.capacity, configured.refill) == (7, 0.25)
    assert RetryBudget.from_settings(SimpleNamespace(llm_retry_budget=0)) is None  # 0: no shared cap


def test_transport_calls_share_one_budget() -> None:
    budget = RetryBudget(capacity=2, refill=0.5)
    transport = Transport(RetryPolicy(max_retries=5, backoff_initial=0.001, backoff_max=0.001), budget=budget)
    attempts: list[int] = []

    def down(timeout: float) -> str:
        raise TransientError("HTTP 503: down", status=503)

    with pytest.raises(TransientError, match="gave up after 3 attempts") as first:
        transport.call(down, on_attempt=lambda: attempts.append(1))
    assert "retry budget" in str(first.value)
    assert len(attempts) == 3  # the first try and the budget's two retries, not 1 + 5
    with pytest.raises(TransientError, match="gave up after 1 attempt"):
        transport.call(down, on_attempt=lambda: attempts.append(1))
    assert len(attempts) == 4 and budget.denied == 2

    # Successes earn retries back.
    transport.call(lambda timeout: "ok")
    transport.call(lambda timeout: "ok")
    assert budget.tokens == 1.0
    with pytest.raises(TransientError, match="gave up after 2 attempts"):
        transport.call(down)


def test_a_5xx_storm_does_not_multiply_retries_across_chunks(fake: FakeOpenAI, tmp_path: Path) -> None:
    sections = [
        (SectionKind.achievements, f"（{n}）第{n}项工作", [f"开展第{n}项工作{n}次。"]) for n in range(1, 7)
    ]
    fake.route("POST", "/v1/chat/completions", _always(502))
    budget = RetryBudget(capacity=4, refill=0.1)
    backend = make_backend(fake, tmp_path, llm_concurrency=3, retry_budget=budget)
    with pytest.raises(ExtractionFailed) as err:
        backend.extract(make_doc(sections))
    assert err.value.transient is True
    # Six chunks, one try each, plus the four retries the whole backend had: not 6 × (1 + 3).
    assert len(fake.chat_requests()) == 6 + 4
    assert backend.transport.budget is budget and budget.spent == 4

    # The same budget serves the next report: it starts without retries until successes refill it.
    fake.route("POST", "/v1/chat/completions", _always(503))
    with pytest.raises(ExtractionFailed):
        backend.extract(make_doc(ONE_CHUNK))
    assert len(fake.chat_requests()) == 6 + 4 + 1


def test_without_a_budget_every_call_retries_fully(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.route("POST", "/v1/chat/completions", _always(502))
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    backend.transport.budget = None
    with pytest.raises(ExtractionFailed):
        backend.extract(make_doc(DEFAULT_SECTIONS[:2]))
    assert len(fake.chat_requests()) == 2 * 4


# --- 6. per-call stats ------------------------------------------------------------------------------


@pytest.fixture
def slow_fake() -> Iterator[FakeOpenAI]:
    yield from fake_server(latency=0.1)


def test_concurrent_extractions_keep_their_own_stats(slow_fake: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(slow_fake, tmp_path, llm_concurrency=8)
    barrier = threading.Barrier(2)
    seen: dict[str, tuple[Extraction, RunStats | None]] = {}

    def work(name: str, doc: Document) -> None:
        barrier.wait()  # both reports in flight at once
        extraction = backend.extract(doc)
        seen[name] = (extraction, backend.last_run)

    threads = [
        threading.Thread(target=work, args=a) for a in (("small", make_doc(ONE_CHUNK)), ("big", make_doc()))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    (small_x, small_last), (big_x, big_last) = seen["small"], seen["big"]
    assert small_x.stats is small_last and big_x.stats is big_last
    assert small_last is not big_last
    assert small_x.stats.meter.calls == small_x.usage.llm_calls == 2
    assert big_x.stats.meter.calls == big_x.usage.llm_calls == 4
    assert len(slow_fake.chat_requests()) == 6
    # From a thread that ran nothing, last_run is the latest run of any thread.
    assert backend.last_run in (small_last, big_last)


def test_last_run_is_the_extractions_stats(fake: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(fake, tmp_path)
    assert backend.last_run is None
    brief_backend_run = pipeline.summarize_document(make_doc(ONE_CHUNK), backend)
    assert brief_backend_run.provenance.llm_calls == backend.last_run.meter.calls  # type: ignore[union-attr]
    extraction = backend.extract(make_doc(ONE_CHUNK))
    assert extraction.stats is backend.last_run and extraction.usage.cache_hit
