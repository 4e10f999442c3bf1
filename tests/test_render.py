"""render: the Brief as JSON (round-trips) and as a Chinese Markdown brief with a citation per item."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from contract import BRIEF_FIELDS

from service import render
from service.backends.rules import RulesBackend
from service.models import Brief, Metric
from service.pipeline import summarize_path


@pytest.fixture(scope="module")
def brief(sample_report_path: Path) -> Brief:
    return summarize_path(sample_report_path, RulesBackend())


def test_json_round_trips(brief: Brief) -> None:
    text = render.to_json(brief)
    assert Brief.model_validate_json(text) == brief
    data = json.loads(text)
    assert list(data) == BRIEF_FIELDS
    assert data["source"]["text"] is None  # only with --with-text
    assert "青禾县" in text  # not \\u-escaped


def test_markdown_sections_in_order(brief: Brief) -> None:
    md = render.to_markdown(brief)
    headings = re.findall(r"^## (.+)$", md, flags=re.M)
    assert headings == ["概览", "主要成效", "第一责任人履职", "存在问题", "下一步安排"]
    assert md.startswith("# 青禾县人民政府关于2023年度法治政府建设情况的报告\n")
    for fact in (
        "- 地区：临川市青禾县",
        "- 报告年度：2023年",
        "- 发布日期：2024-03-08",
        "- 文号：青政发〔2024〕5号",
    ):
        assert fact in md
    assert brief.overview in md


def test_every_item_is_listed_with_its_citations(brief: Brief) -> None:
    md = render.to_markdown(brief)
    for section in brief.sections().values():
        for item in section:
            assert f"**{item.title}**" in md
            for span in item.evidence:
                quote = span.quote if len(span.quote) <= 80 else span.quote[:80] + "…"
                cite = f"「{quote}」 〔{','.join(span.sentence_ids[:3])}"
                assert cite in md
                assert f"字符 {span.start}–{span.end}〕" in md
    citations = re.findall(r"^   > 「", md, flags=re.M)
    assert len(citations) == sum(len(item.evidence) for s in brief.sections().values() for item in s)


def test_metrics_are_printed_as_written(brief: Brief) -> None:
    md = render.to_markdown(brief)
    assert "- 县级政务服务事项网上可办率：98.6%" in md
    first = brief.achievements[0]
    span = first.evidence[0]
    extra = [
        Metric(label="整改资金", value=32604.23, unit="万元", evidence=span),
        Metric(label="办理事项", value=1_200_000, unit="件", evidence=span),
    ]
    item = first.model_copy(update={"metrics": extra})
    md = render.to_markdown(brief.model_copy(update={"achievements": [item]}))
    assert "- 整改资金：32604.23万元" in md  # not 32604.2
    assert "- 办理事项：1200000件" in md  # not 1.2e+06


def test_empty_sections_and_warnings_are_shown(brief: Brief) -> None:
    empty = brief.model_copy(
        update={"problems": [], "plans": [], "leadership": [], "warnings": ["没有找到存在问题部分"]}
    )
    md = render.to_markdown(empty)
    assert "## 第一责任人履职" not in md  # leadership is left out when empty …
    assert md.count("（报告中未找到）") == 2  # … problems and plans say so
    assert "## 提示\n\n- 没有找到存在问题部分" in md


def test_markdown_takes_report_text_literally(sample_report_path) -> None:
    """A report's own `<script>` or `*` must not become HTML or emphasis in the Markdown brief."""
    from service.backends.rules import RulesBackend
    from service.ingest import read_path
    from service.pipeline import summarize_raw
    from service.render import to_markdown

    raw = read_path(sample_report_path)
    hostile = raw.text.replace("深化“放管服”改革", "深化<script>alert(1)</script>*放管服*改革", 1)
    brief = summarize_raw(type(raw)(raw.path, hostile, raw.format, raw.sha256), RulesBackend())
    md = to_markdown(brief)
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert "\\*放管服\\*" in md
    assert "\n\n\n" not in md


# --- Markdown that is text: outside strings cannot become markup ------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from markdown_it import MarkdownIt  # noqa: E402

_COMMONMARK = MarkdownIt("commonmark")  # raw HTML allowed, as the most permissive renderer would
_HOSTILE = [
    "`",
    "``",
    "```",
    "~~~",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<a href='javascript:x'>",
    "&lt;",
    "&amp;",
    "&#60;img&#62;",
    "&#x3C;",
    "[",
    "]",
    "(",
    ")",
    "[x](javascript:alert(1))",
    "![i](x)",
    "<http://evil>",
    "<mailto:a@b>",
    "\n",
    "\n\n",
    "\r\n",
    "*",
    "**",
    "_",
    "\\",
    "\\<",
    "#",
    "# ",
    "- ",
    "+ ",
    "1. ",
    "1) ",
    "> ",
    "---",
    "===",
    "|",
    "    ",
    "\t",
    "<!--",
    "-->",
    "<![CDATA[",
    "<?php",
    "</p>",
    "&",
]
# Any text but NUL (CommonMark turns it into U+FFFD) and lone surrogates (not text).
_CHARS = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
_STRINGS = st.lists(st.one_of(st.sampled_from(_HOSTILE), st.text(_CHARS, max_size=8)), max_size=12).map(
    "".join
)
_ALLOWED_TAGS = {"h1", "h2", "p", "ul", "ol", "li", "strong", "blockquote", "hr"}
_MARKUP_TOKENS = {
    "html_block",
    "html_inline",
    "code_inline",
    "code_block",
    "fence",
    "link_open",
    "image",
    "em_open",
}


def _tokens(md: str):  # type: ignore[no-untyped-def]
    for token in _COMMONMARK.parse(md):
        yield token
        yield from token.children or []


def _plain(md: str) -> str:
    """The text a reader sees: every inline's text, escapes and entities resolved."""
    return "\n".join(
        "".join(c.content if c.type in ("text", "text_special") else "\n" for c in t.children or [])
        for t in _COMMONMARK.parse(md)
        if t.type == "inline"
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _hostile_brief(brief: Brief, s: list[str]) -> Brief:
    item = brief.achievements[0]
    span = item.evidence[0].model_copy(update={"quote": s[5]})
    metric = item.metrics[0].model_copy(update={"label": s[6], "unit": s[7]}) if item.metrics else None
    bad_item = item.model_copy(
        update={"title": s[3], "summary": s[4], "evidence": [span], "metrics": [metric] if metric else []}
    )
    return brief.model_copy(
        update={
            "source": brief.source.model_copy(update={"path": s[0]}),
            "report": brief.report.model_copy(update={"title": s[1], "issuer": s[2], "doc_number": s[8]}),
            "overview": s[9],
            "achievements": [bad_item],
            "warnings": [s[10]],
            "provenance": brief.provenance.model_copy(
                update={"model": s[11], "prompt_id": s[12], "prompt_version": s[13]}
            ),
        }
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(strings=st.lists(_STRINGS, min_size=14, max_size=14))
def test_hostile_strings_render_as_text_never_as_html(brief: Brief, strings: list[str]) -> None:
    md = render.to_markdown(_hostile_brief(brief, strings))
    kinds = {t.type for t in _tokens(md)}
    assert not kinds & _MARKUP_TOKENS, kinds & _MARKUP_TOKENS
    html = _COMMONMARK.render(md)
    assert set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html)) <= _ALLOWED_TAGS
    text = _plain(md)
    shown = [strings[0], strings[2]]  # path, issuer: shown whole, as written
    if strings[4] != strings[3]:
        shown.append(strings[4])  # the summary (left out when it only repeats the title)
    for s in shown:
        assert _one_line(s) in text
    if _one_line(strings[1]):
        assert _plain(md.split("\n", 1)[0]) == _one_line(strings[1])  # the title is the heading, whole


def test_a_file_name_with_backticks_and_html_stays_text(brief: Brief) -> None:
    path = "reports/a`b``<img src=x onerror=alert(1)>`.txt"
    md = render.to_markdown(
        brief.model_copy(update={"source": brief.source.model_copy(update={"path": path})})
    )
    assert "<img" not in _COMMONMARK.render(md)
    assert f"来源：{path}（sha256" in _plain(md)
