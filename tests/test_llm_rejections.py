"""Which server refusals walk the structured-output ladder, over real HTTP (tests/fake_openai.py).

Only a 400/422/500 whose text names the output mode (response_format, json_schema, schema,
json_object, grammar, structured) steps down a mode. Any other 400 fails its request at once with
the server's own message; a 400 or 404 saying the model is missing stops the report at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, error_reply
from llm_helpers import DEFAULT_SECTIONS, fake_server, make_backend, make_doc

from service.errors import LLMError
from service.llm.errors import AuthFailed, ModeRejected

ONE_CHUNK = [DEFAULT_SECTIONS[0]]


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


@pytest.mark.parametrize(
    "message",
    [
        "max_tokens must be at most 1024",
        "messages: too many messages",
        "This model's maximum context length is 8192 tokens",
    ],
)
def test_a_400_that_is_not_about_the_mode_fails_at_once(
    fake: FakeOpenAI, tmp_path: Path, message: str
) -> None:
    fake.enqueue(*[error_reply(400, message)] * 4)
    backend = make_backend(fake, tmp_path)
    with pytest.raises(LLMError) as err:
        backend.extract(make_doc(ONE_CHUNK))
    assert not isinstance(err.value, ModeRejected)
    assert message in str(err.value)  # the server's own words
    assert "[mode" not in str(err.value)
    assert len(fake.chat_requests()) == 1  # no walk down the ladder
    assert backend.last_run.rejected_modes == []  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "invalid model: gpt-nonexistent"),
        (400, "The model `gpt-nonexistent` does not exist"),
        (400, "model 'gpt-nonexistent' not found, try pulling it first"),
        (404, "model 'gpt-nonexistent' not found"),
    ],
)
def test_a_missing_model_stops_the_report_at_once(
    fake: FakeOpenAI, tmp_path: Path, status: int, message: str
) -> None:
    fake.enqueue(*[error_reply(status, message)] * 8)
    backend = make_backend(fake, tmp_path, llm_concurrency=1)
    with pytest.raises(AuthFailed) as err:
        backend.extract(make_doc())  # three chunks: the first refusal stops the others
    assert message in str(err.value) and "GOVBRIEF_LLM_MODEL" in str(err.value)
    assert len(fake.chat_requests()) == 1


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid schema for response_format 'chunk_result'"),
        (400, "json_schema is not supported by this model"),
        (422, "unsupported: structured outputs"),
        (400, "failed to parse grammar"),
        (500, "1 validation error: ('body', 'response_format', 'type')"),
    ],
)
def test_a_refusal_that_names_the_mode_steps_down(
    fake: FakeOpenAI, tmp_path: Path, status: int, message: str
) -> None:
    fake.enqueue(error_reply(status, message))
    backend = make_backend(fake, tmp_path)
    assert backend.extract(make_doc(ONE_CHUNK)).drafts
    assert backend.last_run.rejected_modes == ["json_schema"]  # type: ignore[union-attr]
    assert len(fake.chat_requests()) == 3  # json_schema, json_object+schema, the overview


def test_a_500_that_does_not_name_the_mode_is_retried(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(error_reply(500, "not supported right now, upstream busy"))
    backend = make_backend(fake, tmp_path)
    assert backend.extract(make_doc(ONE_CHUNK)).drafts
    assert backend.last_run.rejected_modes == []  # type: ignore[union-attr]
    first, second = fake.chat_requests()[:2]
    assert first.response_format == second.response_format  # the same request again
