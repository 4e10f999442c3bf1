"""Shared helpers for the LLM tests: hand-built Documents, settings pointed at a fake server, answers."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI

from service.backends.openai_backend import OpenAIBackend
from service.document import Chunk, Document, Outline, SectionKind, Sentence
from service.llm import structured
from service.llm.transport import RetryPolicy
from service.models import ReportMeta
from service.settings import Settings

API_KEY = "sk-test-SECRET-4f9a2c7e1b"

#: Tiny waits so retry tests take milliseconds, not seconds (Retry-After is still honoured exactly).
FAST_RETRY = RetryPolicy(
    max_retries=3, max_call_seconds=10.0, timeout=2.0, backoff_initial=0.01, backoff_max=0.05
)

DEFAULT_SECTIONS: list[tuple[SectionKind, str, list[str]]] = [
    (
        SectionKind.achievements,
        "一、法治政府建设开展情况",
        [
            "开展涉企规范性文件定期清理，废止涉企规范性文件28件。",
            "服务企业337家、重点项目51个，开展涉企法治宣讲236场。",
            "全面推行行政执法公示制度，执法全过程记录制度和重大执法决定法制审核制度。",
        ],
    ),
    (
        SectionKind.problems,
        "二、存在的问题",
        [
            "一是少数干部法治意识不够牢固，违法行为仍有发生。",
            "二是行政执法监督力度广度深度不够，部门间协同协作需增强。",
        ],
    ),
    (
        SectionKind.plans,
        "三、2021年工作安排",
        ["2021年，我区将持续深化法治政府建设，加强行政执法监督。"],
    ),
]


def make_doc(
    sections: list[tuple[SectionKind, str, list[str]]] | None = None,
    *,
    title: str = "某区2020年法治政府建设年度报告",
) -> Document:
    """A Document with one chunk per section; sentence ids s1… and offsets into the joined text."""
    sections = sections if sections is not None else DEFAULT_SECTIONS
    text = ""
    sentences: list[Sentence] = []
    chunks: list[Chunk] = []
    for kind, heading, lines in sections:
        chunk_sentences = []
        for line in [heading, *lines]:
            if text:
                text += "\n"
            start = len(text)
            text += line
            sentence = Sentence(id=f"s{len(sentences) + 1}", start=start, end=len(text), text=line)
            sentences.append(sentence)
            chunk_sentences.append(sentence)
        chunks.append(
            Chunk(
                id=f"c{len(chunks) + 1}",
                heading_path=[heading],
                kind=kind,
                sentences=chunk_sentences,
                tokens=sum(len(s.text) for s in chunk_sentences),
            )
        )
    return Document(
        path="report.txt",
        sha256="0" * 64,
        text=text,
        outline=Outline([], ReportMeta(title=title)),
        sentences=sentences,
        chunks=chunks,
    )


def settings_for(fake: FakeOpenAI, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_base_url": fake.base_url,
        "llm_api_key": API_KEY,
        "llm_model": "fake-model",
        "llm_timeout": 2.0,
        "llm_concurrency": 4,
        "llm_reasks": 2,
        "llm_structured_output": "auto",
        "cache_dir": tmp_path / "cache",
    }
    values.update(overrides)
    return Settings(**values)


def make_backend(fake: FakeOpenAI, tmp_path: Path, *, pack_tokens: int = 0, **kw: Any) -> OpenAIBackend:
    """A backend on the fake server; `pack_tokens=0` sends each chunk alone (one request per chunk)."""
    settings_kw = {
        k: kw.pop(k) for k in list(kw) if k.startswith("llm_") or k in ("cache_dir", "prompt_version")
    }
    kw.setdefault("retry", FAST_RETRY)
    return OpenAIBackend(settings_for(fake, tmp_path, **settings_kw), pack_tokens=pack_tokens, **kw)


def answer(*items: dict[str, Any]) -> str:
    return json.dumps({"items": list(items)}, ensure_ascii=False)


def item(
    section: str = "achievements", ids: list[str] | None = None, title: str = "清理涉企规范性文件", **kw: Any
) -> dict[str, Any]:
    return {
        "section": section,
        "title": title,
        "summary": kw.pop("summary", title + "。"),
        "category": kw.pop("category", "rule_making"),
        "sentence_ids": ids if ids is not None else ["s2"],
        "metrics": kw.pop("metrics", []),
        **kw,
    }


def fake_server(**kw: Any) -> Iterator[FakeOpenAI]:
    """Body of each test module's `fake` fixture: a fresh server, and a process with no memory of
    which structured-output mode earlier servers accepted."""
    structured.forget_all()
    with FakeOpenAI(**kw) as server:
        yield server
    structured.forget_all()


def capture_all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at DEBUG, the openai SDK's and httpx's included."""
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2", "govbrief"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    return caplog
