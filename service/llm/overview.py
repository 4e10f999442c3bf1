"""The overview: one call per report after extraction, written only from the extracted items."""

from __future__ import annotations

from typing import Any

from service.document import Document, DraftItem
from service.errors import LLMResponseError
from service.extract import AnswerFormatError, extract_json, strip_reasoning
from service.llm.ask import Asker
from service.llm.errors import Truncated
from service.llm.plan import RunStats
from service.models import SECTION_NAMES

SECTION_ZH = {section.value: section.short_zh for section in SECTION_NAMES}
OVERVIEW_MAX_CHARS = 400
_TITLES_PER_SECTION = 12
_TITLE_CHARS = 24


def items_text(drafts: list[DraftItem]) -> str:
    """One line per section: `成效：标题；标题…` (titles only: the overview is paid for per report)."""
    lines = []
    for section, label in SECTION_ZH.items():
        titles = list(dict.fromkeys(d.title for d in drafts if d.section == section))
        if titles:
            lines.append(f"{label}：" + "；".join(t[:_TITLE_CHARS] for t in titles[:_TITLES_PER_SECTION]))
    return "\n".join(lines)


def write_overview(asker: Asker, run: RunStats, doc: Document, drafts: list[DraftItem]) -> str:
    request = asker.requests.overview(doc.meta.title or "", items_text(drafts))
    key = asker.cache_key(request, "text", "overview")
    cached = asker.cache.get(key)
    if isinstance(cached, str) and cached:
        run.meter.cache(True)
        return cached
    run.meter.cache(False)
    try:
        text = asker.ask(run, request, parse_overview, "overview", "text")
    except Truncated as exc:
        raise LLMResponseError(str(exc)) from None
    text = asker.client.redact(text)
    asker.cache.set(key, text)
    return text


def parse_overview(content: str) -> str:
    text = " ".join(strip_reasoning(content).split())
    if text.startswith("{") or text.startswith("["):
        # A model stuck in JSON mode: take the longest string it wrote.
        try:
            value = extract_json(text)
        except AnswerFormatError:
            value = None
        strings = _strings(value)
        text = max(strings, key=len) if strings else ""
    if len(text) < 8:
        raise AnswerFormatError("概述为空或过短，请用 2 至 3 句中文写出概述正文")
    return text[:OVERVIEW_MAX_CHARS]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []
