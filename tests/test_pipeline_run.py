"""`pipeline.run`: the one entry point, its options given once and its progress reported through a
callback: by the pipeline (the chunk count, the end) and by the openai backend's chunk loop (one
report per answered request, with calls and tokens so far), over real HTTP to the fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, RecordedRequest, Reply, auto_responder
from llm_helpers import fake_server, make_backend

from service import pipeline
from service.backends.rules import RulesBackend
from service.errors import RunTimeLimitError
from service.ingest import read_path, sample_path
from service.pipeline import RunOptions
from service.progress import Progress


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


def test_run_with_rules_reports_the_start_and_the_end() -> None:
    seen: list[Progress] = []
    result = pipeline.run(sample_path(), RulesBackend(), RunOptions(with_text=True), on_progress=seen.append)
    total = seen[0].chunks_total
    assert total > 0 and seen[0].chunks_done == 0
    assert seen[-1] == Progress(total, total, 0, 0, 0)
    assert result.brief.source.text is not None and result.failed_chunks == {}
    plain = pipeline.summarize_path(sample_path(), RulesBackend())
    assert result.brief.problems == plain.problems and result.brief.plans == plain.plans


def test_the_llm_backend_reports_every_answered_chunk(fake: FakeOpenAI, tmp_path: Path) -> None:
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    seen: list[Progress] = []
    result = pipeline.run(read_path(sample_path()), backend, on_progress=seen.append)
    requests = len(fake.chat_requests())
    chunk_requests = requests - 1  # the overview is the last call
    total = seen[0].chunks_total
    assert chunk_requests >= 2, "the sample should need several requests with packing off"
    # The pipeline's first report, one per chunk request from the backend, the pipeline's last.
    assert len(seen) == 1 + chunk_requests + 1
    done = [p.chunks_done for p in seen]
    assert done == sorted(done) and done[0] == 0 and done[-1] == total
    # Calls so far: at least the answers reported (the next request may already be on the wire).
    calls = [p.calls for p in seen]
    assert calls == sorted(calls) and all(c >= i for i, c in enumerate(calls[1:-1], 1))
    tokens = [p.prompt_tokens for p in seen]
    assert tokens == sorted(tokens) and tokens[1] > 0
    assert seen[-1].calls == result.brief.provenance.llm_calls == requests
    assert seen[-1].prompt_tokens == result.brief.provenance.prompt_tokens

    # Again, every answer cached: straight to the end, no calls.
    again: list[Progress] = []
    pipeline.run(read_path(sample_path()), make_backend(fake, tmp_path), on_progress=again.append)
    assert len(fake.chat_requests()) == requests
    assert again[1] == Progress(total, total, 0, 0, 0)


def test_a_listener_that_raises_stops_the_run(fake: FakeOpenAI, tmp_path: Path) -> None:
    """How a cancelled job ends: the exception from the callback ends the run and nothing more is
    asked (no overview, no further chunks)."""

    class Stop(BaseException):
        pass

    def stop_after_first_answer(p: Progress) -> None:
        if p.calls >= 1:
            raise Stop()

    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    with pytest.raises(Stop):
        pipeline.run(read_path(sample_path()), backend, on_progress=stop_after_first_answer)
    # The one answered, plus at most the one already on the wire when it was reported.
    assert 1 <= len(fake.chat_requests()) <= 2


class SteppingClock:
    """A clock that moves `step` seconds each time it is read: a run's checkpoints, counted."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_run_over_its_time_limit_is_stopped_naming_the_file() -> None:
    """Checkpoints lie between the stages: a run whose clock passes the limit stops at the next one
    with the one-line error the CLI and the API print."""
    options = RunOptions(time_limit=150, clock=SteppingClock(60))
    with pytest.raises(RunTimeLimitError) as caught:
        pipeline.run(sample_path(), RulesBackend(), options)
    assert str(caught.value) == (
        f"{sample_path()}: stopped after the run-time limit of 150 s (GOVBRIEF_RUN_TIME_LIMIT)"
    )
    # The same clock with room enough, and no limit at all, both run to the end.
    assert pipeline.run(sample_path(), RulesBackend(), RunOptions(time_limit=10_000, clock=SteppingClock(60)))
    assert pipeline.run(sample_path(), RulesBackend(), RunOptions(clock=SteppingClock(10_000)))


def test_an_llm_run_over_its_time_stops_within_one_request(fake: FakeOpenAI, tmp_path: Path) -> None:
    """Each answer is a checkpoint: with every request taking 100 s (on the run's clock), a 250 s
    limit stops the run at the third answer; nothing more is asked (but the request already on the
    wire when it was reported), not even the overview."""
    clock = SteppingClock(0)

    def slow(request: RecordedRequest) -> Reply:
        clock.now += 100
        return auto_responder(request)

    fake.route("POST", "/v1/chat/completions", slow)
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    with pytest.raises(RunTimeLimitError, match="250 s"):
        pipeline.run(read_path(sample_path()), backend, RunOptions(time_limit=250, clock=clock))
    assert 3 <= len(fake.chat_requests()) <= 4
