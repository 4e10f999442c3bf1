"""Prompts ship inside the package; a prompts folder overrides them prompt by prompt; the library face."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from llm_helpers import fake_server, make_backend
from typer.testing import CliRunner

import service
from service.cli import app
from service.errors import PromptError
from service.prompts import default_prompts_dir, load_prompt
from service.settings import get_settings

SAMPLE = Path(service.__file__).parent / "samples" / "qinghe_2023.txt"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from fake_server()


def _override_extract(root: Path) -> Path:
    folder = root / "extract"
    folder.mkdir(parents=True)
    v1 = default_prompts_dir() / "extract" / "v1.toml"
    (folder / "v1.toml").write_text(v1.read_text("utf-8").replace("你从", "请你从"), encoding="utf-8")
    return root


def test_prompts_live_in_the_package() -> None:
    assert default_prompts_dir().parent == Path(service.__file__).parent
    assert load_prompt("extract", "1").id == "extract" and load_prompt("overview").id == "overview"


def test_a_prompts_folder_overrides_prompt_by_prompt(tmp_path: Path) -> None:
    root = _override_extract(tmp_path / "prompts")
    extract = load_prompt("extract", "1", root)
    assert extract.path.startswith(str(root)) and "请你从" in extract.system
    overview = load_prompt("overview", None, root)  # not in the folder: the packaged one
    assert overview.path.startswith(str(default_prompts_dir()))


def test_a_missing_prompts_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="does not exist"):
        load_prompt("extract", None, tmp_path / "nope")


def test_prompts_dir_flag_reaches_the_backend(
    fake: FakeOpenAI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("GOVBRIEF_"):
            monkeypatch.delenv(name)
    root = _override_extract(tmp_path / "prompts")
    env = {
        "GOVBRIEF_LLM_BASE_URL": fake.base_url,
        "GOVBRIEF_LLM_MODEL": "fake-model",
        "GOVBRIEF_CACHE_DIR": str(tmp_path / "cache"),
        "GOVBRIEF_PROMPT_VERSION": "1",
    }
    get_settings.cache_clear()
    try:
        res = CliRunner().invoke(app, ["summarize", str(SAMPLE), "--prompts-dir", str(root)], env=env)
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 0, res.output
    expected = make_backend(fake, tmp_path, prompts_dir=root, prompt_version="1").prompt.hash
    assert json.loads(res.stdout)["provenance"]["prompt_hash"] == expected
    assert all("请你从" in r.message("system") for r in fake.chat_requests()[:-1])
    shutil.rmtree(root)


def test_the_library_face() -> None:
    assert service.__version__ == "0.1.0"
    rules = service.get_backend("rules")
    from_file = service.brief_file(SAMPLE, backend=rules)
    from_text = service.brief_text(SAMPLE.read_text("utf-8"), filename="q.txt", backend=rules)
    assert isinstance(from_file, service.Brief) and from_file.problems
    assert from_text.problems == from_file.problems and from_text.source.path == "q.txt"


def test_prompt_v2_evidence_first_glossed_and_capped(fake: FakeOpenAI, tmp_path: Path) -> None:
    from fake_openai import chat_reply
    from llm_helpers import DEFAULT_SECTIONS, answer, item, make_doc

    from service.models import CATEGORY_LABELS_ZH

    metric = {"label": "废止文件", "value": 28, "unit": "件", "sentence_id": "s2", "quote": "28件"}
    fake.enqueue(chat_reply(answer(item(metrics=[metric] * 5))))
    backend = make_backend(fake, tmp_path, prompt_version="2")
    extraction = backend.extract(make_doc([DEFAULT_SECTIONS[0]]))

    request = fake.chat_requests()[0]
    fields = list(
        request.response_format["json_schema"]["schema"]["properties"]["items"]["items"]["properties"]
    )
    assert fields[:3] == ["section", "sentence_ids", "title"]  # evidence before words
    assert request.json["max_tokens"] == 2048 == backend.prompt.max_tokens
    system = request.message("system")
    assert all(f"{code.value} {label}" in system for code, label in CATEGORY_LABELS_ZH.items())
    assert "sentence_ids:string[],title:string" in system  # the prompt's schema in the same order
    assert [len(d.metrics) for d in extraction.drafts] == [3]  # capped at the prompt's max_metrics
    assert backend.prompt.version == "2" and make_backend(fake, tmp_path).prompt.version == "1"
