"""Provider profiles and the structured-output ladder against stand-ins that answer as each provider
documents (tests/fake_openai.py `STAND_INS`), over real HTTP.

What a user of each provider must get: every brief produced, every accepted chunk request either in
a mode the endpoint enforces or carrying the schema in its messages, at most one rejected call per
endpoint for a whole run (none when the provider is known), and the mode in provenance.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fake_openai import STAND_INS, FakeOpenAI, RecordedRequest, error_reply, request_mode, shown_sentences
from llm_helpers import DEFAULT_SECTIONS, fake_server, make_backend, make_doc

from service import pipeline
from service.document import Document, SectionKind
from service.errors import ConfigError, LLMError
from service.extract import chunk_result_schema
from service.ingest import read_path
from service.llm import providers, structured
from service.models import Brief

ONE_CHUNK = [DEFAULT_SECTIONS[0]]
SCHEMA_TEXT = structured.compact_schema(chunk_result_schema())


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


def _brief_all(backend: object, paths: list[Path]) -> list[Brief]:
    docs = [pipeline.analyze(read_path(p)) for p in paths]
    with ThreadPoolExecutor(max_workers=len(docs)) as pool:  # as a batch runs them: all at once
        return list(pool.map(lambda d: pipeline.summarize_document(d, backend), docs))  # type: ignore[arg-type]


def _chunk_requests(fake: FakeOpenAI) -> list[RecordedRequest]:
    return [r for r in fake.chat_requests() if shown_sentences(r)]


# --- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://api.deepseek.com/v1", "deepseek"),
        ("https://api.deepseek.com", "deepseek"),
        ("https://dashscope.aliyuncs.com/compatible-mode/v1", "dashscope"),
        ("https://api.moonshot.cn/v1", "moonshot"),
        ("https://ark.cn-beijing.volces.com/api/v3", "ark"),
        ("https://open.bigmodel.cn/api/paas/v4", "zhipu"),
        ("https://api.siliconflow.cn/v1", "siliconflow"),
        ("http://localhost:11434/v1", "ollama"),
        ("https://api.openai.com/v1", "openai"),
        ("http://10.0.0.5:8000/v1", "generic"),
    ],
)
def test_profiles_are_found_by_host(base_url: str, expected: str) -> None:
    assert providers.resolve(base_url, "m").name == expected


def test_a_named_provider_wins_and_an_unknown_name_is_a_config_error() -> None:
    assert providers.resolve("http://10.0.0.5:8000/v1", "m", "vllm").name == "vllm"
    with pytest.raises(ConfigError, match=r"GOVBRIEF_LLM_PROVIDER 'nope'.*deepseek"):
        providers.resolve(None, "m", "nope")


def test_model_rules_refine_a_profile() -> None:
    o3 = providers.resolve("https://api.openai.com/v1", "o3-mini")
    assert o3.max_tokens_param == "max_completion_tokens" and "temperature" in o3.omit
    assert providers.resolve("https://api.openai.com/v1", "gpt-4o").max_tokens_param == "max_tokens"
    assert providers.resolve("https://api.moonshot.cn/v1", "kimi-k2-0905-preview").temperature == 1.0
    assert providers.resolve("https://dashscope.aliyuncs.com/v1", "qwen-max").modes == ("json_object", "text")


# --- five reports against each documented endpoint ---------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("named", [True, False], ids=["profile", "unknown-host"])
@pytest.mark.parametrize("provider", ["deepseek", "ark", "dashscope", "llamacpp"])
def test_five_reports_against_a_provider(
    fake: FakeOpenAI, tmp_path: Path, seed_paths: list[Path], provider: str, named: bool
) -> None:
    stand_in = STAND_INS[provider]
    fake.route("POST", "/v1/chat/completions", stand_in)
    backend = make_backend(
        fake,
        tmp_path,
        pack_tokens=4000,
        llm_concurrency=8,
        llm_provider=provider if named else None,
        llm_model="qwen-max" if provider == "dashscope" else "fake-model",
    )
    briefs = _brief_all(backend, seed_paths[:5])

    assert all(b.achievements and b.provenance.structured_output for b in briefs)
    rejected = [r for r in fake.chat_requests() if r.status >= 400]
    assert len(rejected) <= (0 if named else 1), [(r.status, request_mode(r.json)) for r in rejected]
    accepted = [r for r in _chunk_requests(fake) if r.status == 200]
    assert accepted
    for request in accepted:
        mode = request_mode(request.json)
        enforced = named and mode in stand_in.enforces
        assert enforced or SCHEMA_TEXT in request.message("system"), mode
    # An unknown host is asked llama.cpp's form first, which the others take and ignore the schema of.
    expected = "json_object_schema" if provider == "llamacpp" or not named else "json_object"
    assert {b.provenance.structured_output for b in briefs} == {expected}


def test_what_an_endpoint_rejected_is_learned_once_and_forgotten_with_refresh(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["deepseek"])
    make_backend(fake, tmp_path, llm_concurrency=8).extract(make_doc())
    assert [r.status for r in fake.chat_requests()].count(400) == 1  # three chunks in parallel, one probe

    structured.forget_all()  # a later run: a new process, the same cache dir
    fake.reset()
    later = make_backend(fake, tmp_path, llm_concurrency=8)
    assert later.current_mode() == "json_object_schema"
    later.extract(_long_doc(9))
    assert fake.chat_requests() and all(r.status == 200 for r in fake.chat_requests())

    structured.forget_all()
    refreshed = make_backend(fake, tmp_path, refresh=True)
    assert refreshed.current_mode() == "json_schema"


# --- "must contain the word json" is a prompt requirement ----------------------------------------


def test_a_prompt_without_the_word_json_is_fixed_not_stepped_down(fake: FakeOpenAI, tmp_path: Path) -> None:
    prompts = tmp_path / "prompts" / "extract"
    prompts.mkdir(parents=True)
    (prompts / "v1.toml").write_text(
        "id = 'extract'\nversion = '1'\nsystem = '''从片段中抽取条目。{% if schema %}{{ schema }}{% endif %}'''\n"
        "user = '''{% for part in parts %}{{ part.sentences }}\n{% endfor %}'''\n",
        encoding="utf-8",
    )
    fake.route("POST", "/v1/chat/completions", STAND_INS["deepseek"])
    backend = make_backend(fake, tmp_path, llm_provider="deepseek", prompts_dir=tmp_path / "prompts")
    extraction = backend.extract(make_doc())
    chunk_calls = _chunk_requests(fake)
    assert len(chunk_calls) == 3 and all(r.status == 200 for r in chunk_calls)
    assert all(request_mode(r.json) == "json_object" for r in chunk_calls)
    assert extraction.usage.structured_output == "json_object" and not extraction.warnings


def test_a_json_word_rejection_is_answered_in_the_same_mode(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.enqueue(error_reply(400, STAND_INS["deepseek"].json_word[1]))  # type: ignore[index]
    backend = make_backend(fake, tmp_path, llm_provider="deepseek")
    assert backend.extract(make_doc(ONE_CHUNK)).drafts
    first, second = fake.chat_requests()[:2]
    assert request_mode(first.json) == request_mode(second.json) == "json_object"
    assert "json" in second.message("user") and backend.last_run.json_word_fixes == 1  # type: ignore[union-attr]
    assert backend.last_run.rejected_modes == []  # type: ignore[union-attr]


def test_settling_on_text_is_a_warning_in_the_brief(fake: FakeOpenAI, tmp_path: Path) -> None:
    def no_json(request: RecordedRequest):  # type: ignore[no-untyped-def]
        if request_mode(request.json) != "text":
            return error_reply(400, "response_format is not supported")
        return STAND_INS["vllm"](request)

    fake.route("POST", "/v1/chat/completions", no_json)
    brief = pipeline.summarize_document(make_doc(ONE_CHUNK), make_backend(fake, tmp_path))
    assert brief.provenance.structured_output == "text"
    assert any("accepted no JSON mode" in w for w in brief.warnings)


# --- request quirks ----------------------------------------------------------------------------


def test_openai_reasoning_models_get_max_completion_tokens_and_no_temperature(
    fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["openai"])
    backend = make_backend(fake, tmp_path, llm_provider="openai", llm_model="o3-mini")
    brief = pipeline.summarize_document(make_doc(), backend)
    assert brief.achievements and all(r.status == 200 for r in fake.chat_requests())
    body = fake.chat_requests()[0].json
    assert "max_tokens" not in body and body["max_completion_tokens"] == 2048 and "temperature" not in body
    # json_schema is enforced by OpenAI: the prompt need not carry the schema.
    assert SCHEMA_TEXT not in fake.chat_requests()[0].message("system")


def test_kimi_k2_is_sent_temperature_1(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["moonshot"])
    backend = make_backend(fake, tmp_path, llm_provider="moonshot", llm_model="kimi-k2-0905-preview")
    assert pipeline.summarize_document(make_doc(), backend).achievements
    assert {r.json["temperature"] for r in fake.chat_requests()} == {1.0}
    assert all(r.status == 200 for r in fake.chat_requests())


def test_qwen3_on_dashscope_is_sent_enable_thinking_false(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["dashscope"])
    backend = make_backend(fake, tmp_path, llm_provider="dashscope", llm_model="qwen3-32b")
    assert pipeline.summarize_document(make_doc(), backend).achievements
    assert all(r.json["enable_thinking"] is False and r.status == 200 for r in fake.chat_requests())


@pytest.mark.parametrize("provider", ["zhipu", "siliconflow", "vllm"])
def test_other_profiles_work_without_a_rejection(fake: FakeOpenAI, tmp_path: Path, provider: str) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS[provider])
    backend = make_backend(fake, tmp_path, llm_provider=provider, llm_concurrency=8)
    assert pipeline.summarize_document(make_doc(), backend).achievements
    assert all(r.status == 200 for r in fake.chat_requests())


# --- context that fits --------------------------------------------------------------------------


def _long_doc(n: int = 400) -> Document:
    sentences = [f"全年办理行政复议案件{i}件，纠错率保持稳定，群众满意度明显提升。" for i in range(1, n)]
    return make_doc([(SectionKind.achievements, "一、主要成效", sentences)])


def test_ollama_profile_packs_to_its_context_and_nothing_is_cut(fake: FakeOpenAI, tmp_path: Path) -> None:
    fake.route("POST", "/v1/chat/completions", STAND_INS["ollama"])
    backend = make_backend(
        fake,
        tmp_path,
        pack_tokens=100_000,
        llm_provider="ollama",
        llm_context_tokens=4096,
        llm_max_tokens=512,
    )
    extraction = backend.extract(_long_doc())
    chunk_calls = _chunk_requests(fake)
    assert len(chunk_calls) > 1  # split to fit 4,096 tokens
    assert {r.json["options"]["num_ctx"] for r in chunk_calls} == {4096}  # the server is told the context
    assert not extraction.failed_chunks
    cited = {sid for d in extraction.drafts for sid in d.sentence_ids}
    assert len(cited) == 400  # every sentence (the heading too) reached the model


def test_a_prompt_the_server_cut_fails_loudly(fake: FakeOpenAI, tmp_path: Path) -> None:
    # Ollama without the profile (behind a proxy): it cuts at its default 2,048 tokens and says nothing.
    fake.route("POST", "/v1/chat/completions", STAND_INS["ollama"])
    backend = make_backend(fake, tmp_path, pack_tokens=100_000)
    with pytest.raises(LLMError) as err:  # its only chunk was cut: no brief rather than a short one
        backend.extract(_long_doc(200))
    assert "read 2048 prompt tokens" in str(err.value) and "GOVBRIEF_LLM_CONTEXT_TOKENS" in str(err.value)


def test_structured_output_is_in_provenance_and_the_schema(fake: FakeOpenAI, tmp_path: Path) -> None:
    brief = pipeline.summarize_document(make_doc(ONE_CHUNK), make_backend(fake, tmp_path))
    assert brief.provenance.structured_output == "json_schema"
    schema = json.loads((Path(__file__).parents[1] / "schemas" / "brief.schema.json").read_text("utf-8"))
    assert "structured_output" in schema["$defs"]["Provenance"]["properties"]
