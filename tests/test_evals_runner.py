"""The runner with an LLM-like backend: settings, prompt hash, tokens, calls and cost reach the record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from evals_helpers import make_repo
from typer.testing import CliRunner

from service.backends.rules import RulesBackend
from service.cli import app
from service.cli import evals as cli_evals
from service.document import Document, Extraction, Usage
from service.evals.golden import load_golden_dir
from service.evals.runner import load_record, rescore, run_golden, run_settings
from service.settings import Settings


class CountingBackend:
    """Rules extraction, reported as if an LLM had done it."""

    name = "fake"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def extract(self, doc: Document) -> Extraction:
        extraction = RulesBackend().extract(doc)
        extraction.usage = Usage(
            model=self.settings.llm_model,
            prompt_id="extract",
            prompt_version=self.settings.prompt_version,
            prompt_hash="feedc0ffee",
            llm_calls=3,
            prompt_tokens=1200,
            completion_tokens=300,
            cost_usd=0.0042,
        )
        return extraction


def test_usage_and_prompt_reach_the_record(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    goldens = load_golden_dir(golden_dir)
    settings = Settings(llm_model="m1", prompt_version="2")
    backend = CountingBackend(settings)
    record = run_golden(goldens, backend, run_settings(backend, settings, golden_dir, goldens), label="x")
    s = record.scores
    assert (s.calls, s.prompt_tokens, s.completion_tokens, s.cost_usd) == (3, 1200, 300, 0.0042)
    assert s.latency_ms >= 0 and s.items.f1 == 1.0
    assert record.settings.model == "m1"
    assert (record.settings.prompt_version, record.settings.prompt_hash) == ("2", "feedc0ffee")
    # Re-scoring changes no score when nothing changed.
    assert rescore(record, goldens).scores == record.scores


def test_model_and_prompt_version_options_reach_the_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    golden_dir = make_repo(tmp_path)
    seen: dict[str, Any] = {}

    def fake_backend(name: str | None, settings: Settings, **kw: Any) -> CountingBackend:
        seen.update(name=name, model=settings.llm_model, version=settings.prompt_version)
        return CountingBackend(settings)

    monkeypatch.setattr(cli_evals, "backend_from_options", fake_backend)
    runs = tmp_path / "runs"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            "-b",
            "openai",
            "--model",
            "m1",
            "--prompt-version",
            "2",
            "--golden",
            str(golden_dir),
            "--runs-dir",
            str(runs),
        ],
    )
    assert result.exit_code == 0, result.output
    assert seen == {"name": "openai", "model": "m1", "version": "2"}
    (run_file,) = runs.glob("*-fake-m1-p2.json")
    assert load_record(run_file).scores.cost_usd == 0.0042
