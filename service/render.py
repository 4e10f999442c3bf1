"""Render a Brief as JSON or as a Markdown brief in Chinese, every item with its citation."""

from __future__ import annotations

from service.metrics import format_number
from service.models import CATEGORY_LABELS_ZH, Brief, Genre, Item, ReportMeta, Section, Span


def _md(text: str) -> str:
    """Report text as Markdown text: no raw HTML (a report may contain `<script>`), no line breaks
    that would end a list item, and Markdown's emphasis/link characters taken literally."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = " ".join(text.split())
    return "".join("\\" + ch if ch in "*_`[]" else ch for ch in text)


def to_json(brief: Brief, *, indent: int | None = 2) -> str:
    return brief.model_dump_json(indent=indent, exclude_none=False)


def _cite(span: Span) -> str:
    quote = span.quote if len(span.quote) <= 80 else span.quote[:80] + "…"
    ids = ",".join(span.sentence_ids[:3]) + ("…" if len(span.sentence_ids) > 3 else "")
    return f"> 「{_md(quote)}」 〔{ids}，字符 {span.start}–{span.end}〕"


def _item(n: int, item: Item) -> list[str]:
    lines = [f"{n}. **{_md(item.title)}**（{CATEGORY_LABELS_ZH[item.category]}）"]
    if item.summary and item.summary != item.title:
        lines.append(f"   {_md(item.summary)}")
    for m in item.metrics:
        lines.append(f"   - {_md(m.label)}：{format_number(m.value)}{_md(m.unit)}")
    lines += ["", *("   " + _cite(span) for span in item.evidence), ""]
    return lines


def brief_title(r: ReportMeta) -> str:
    """The report's own title, else what kind of report it is ("政府工作报告简报")."""
    return r.title or (f"{r.genre.label_zh}简报" if r.genre != Genre.unknown else "年度报告简报")


def report_facts(r: ReportMeta) -> list[tuple[str, str]]:
    """The report's metadata as (label, value) rows, the ones that are known."""
    facts = [
        ("报告类型", r.genre.label_zh if r.genre != Genre.unknown else None),
        ("发布机关", r.issuer),
        ("地区", r.region),
        ("报告年度", f"{r.year}年" if r.year else None),
        ("发布日期", r.published),
        ("文号", r.doc_number),
        ("会议", r.meeting),
    ]
    return [(k, v) for k, v in facts if v]


def to_markdown(brief: Brief) -> str:
    r = brief.report
    lines = [f"# {_md(brief_title(r))}", ""]
    lines += [f"- {k}：{_md(v)}" for k, v in report_facts(r)]
    lines += ["", "## 概览", "", _md(brief.overview) or "（无）", ""]
    sections = brief.sections()
    for section in Section:
        items = sections[section]
        if section == Section.leadership and not items:
            continue
        lines += [f"## {section.label_zh}", ""]
        if not items:
            lines += ["（报告中未找到）", ""]
        for i, item in enumerate(items, 1):
            lines += _item(i, item)
    if brief.warnings:
        lines += ["## 提示", "", *(f"- {_md(w)}" for w in brief.warnings), ""]
    p = brief.provenance
    lines += [
        "---",
        f"来源：`{brief.source.path}`（sha256 {brief.source.sha256[:12]}，{brief.source.chars} 字）；"
        f"后端 {p.backend}"
        + (f"，模型 {p.model}" if p.model else "")
        + (f"，提示词 {p.prompt_id}@{p.prompt_version}" if p.prompt_id else ""),
        "",
    ]
    # One blank line between blocks, however the pieces were joined.
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text
