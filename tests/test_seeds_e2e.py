"""End to end over the five real reports, against the hand-written golden files (evals/golden).

For each report: year and region; every golden problem and plan found by the rules backend in the
right section, one item each, and none taken from the wrong section; the achievement headings as
item titles; every span exact. Then the variants a real user feeds it: GBK bytes, an HTML page, a
DOCX, a PDF (lines broken mid-sentence, page numbers), OCR spaces between characters, a truncated
report (no problems/plans section: empty lists and a warning, never invented items), junk files.

A golden quote is located in the normalized text (after `normalize`, like the pipeline); an item
"covers" the text from the sentence of its first evidence up to the next item of its section (or
its section's end), so a quote from deep inside a plan's paragraph still belongs to that plan.
"""

from __future__ import annotations

import html
import io
import json
import random
import re
from pathlib import Path
from typing import Any

import formats
import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from service.backends.rules import RulesBackend
from service.document import Document, SectionKind
from service.errors import InputError
from service.ingest import read_bytes, read_path
from service.models import Brief, Item
from service.normalize import normalize
from service.pipeline import analyze, summarize_document, summarize_path

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "evals" / "golden"
KINDS = {
    "achievements": SectionKind.achievements,
    "problems": SectionKind.problems,
    "plans": SectionKind.plans,
    "leadership": SectionKind.leadership,
}


def golden(seed: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN_DIR / f"{seed.stem}.json").read_text(encoding="utf-8"))
    return data


def brief_of(data: bytes, name: str) -> tuple[Document, Brief]:
    doc = analyze(read_bytes(data, name))
    return doc, summarize_document(doc, RulesBackend())


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def section_ranges(doc: Document, kind: SectionKind) -> list[tuple[int, int]]:
    return [(n.start, n.end) for n in doc.outline.nodes if n.kind == kind]


def covered(doc: Document, items: list[Item]) -> list[tuple[int, int]]:
    """The stretch of text each item of one section stands for (see the module docstring)."""
    firsts = []
    for item in items:
        sentence = doc.sentence(item.evidence[0].sentence_ids[0])
        assert sentence is not None
        firsts.append(sentence.start)
    out = []
    for i, item in enumerate(items):
        top_end = next(
            (n.end for n in doc.outline.nodes if n.start <= item.evidence[0].start < n.end), len(doc.text)
        )
        nxt = firsts[i + 1] if i + 1 < len(items) else len(doc.text)
        out.append((firsts[i], min(nxt, top_end)))
    return out


def locate(doc: Document, quote: str) -> tuple[int, int]:
    q = normalize(quote)
    start = doc.text.find(q)
    assert start != -1, f"golden quote {quote!r} is not in the normalized text"
    assert doc.text.find(q, start + 1) == -1, f"golden quote {quote!r} is not unique"
    return start, start + len(q)


def check_spans(doc: Document, brief: Brief) -> None:
    for items in brief.sections().values():
        for item in items:
            assert item.evidence
            for span in [*item.evidence, *(m.evidence for m in item.metrics)]:
                assert doc.text[span.start : span.end] == span.quote
                assert span.sentence_ids == [
                    s.id for s in doc.sentences if s.start < span.end and s.end > span.start
                ]


def check_section(doc: Document, brief: Brief, want: dict[str, Any], section: str) -> None:
    """Every golden entry found in an item of its own, in a section of the right kind."""
    items = brief.sections()[section]
    entries = want[section]
    assert len(items) == len(entries), f"{section}: {[it.title for it in items]}"
    ranges = covered(doc, items)
    used: dict[int, str] = {}
    for entry in entries:
        start, end = locate(doc, entry["quote"])
        if section != "leadership":  # leadership may be a part of achievements (002, 003)
            assert any(s <= start and end <= e for s, e in section_ranges(doc, KINDS[section])), entry
        hits = [i for i, (s, e) in enumerate(ranges) if s <= start and end <= e]
        assert hits, f"{section} entry not found: {entry}"
        assert hits[0] not in used, f"{entry} and {used.get(hits[0])} landed in one item"
        used[hits[0]] = entry["quote"]


def check_not_from_the_wrong_section(
    doc: Document, brief: Brief, want: dict[str, Any], *, exact: bool = True
) -> None:
    for section in ("achievements", "problems", "plans"):
        own = section_ranges(doc, KINDS[section])
        for item in brief.sections()[section]:
            for span in item.evidence:
                assert any(s <= span.start and span.end <= e for s, e in own), (
                    section,
                    item.title,
                    span.quote,
                )
    # and no golden entry sits inside an item of another section
    for section in ("achievements", "problems", "plans"):
        for other in ("achievements", "problems", "plans"):
            if other == section:
                continue
            ranges = covered(doc, brief.sections()[other])
            for entry in want[section]:
                if section == "achievements" and not exact and normalize(entry["quote"]) not in doc.text:
                    continue  # a long heading a PDF line break cut in two
                start, end = locate(doc, entry["quote"])
                assert not any(s <= start and end <= e for s, e in ranges), (section, other, entry)


def check_achievement_headings(brief: Brief, want: dict[str, Any], *, exact: bool = True) -> None:
    titles = [squash(item.title) for item in brief.achievements]
    headings = [squash(normalize(entry["heading"])) for entry in want["achievements"]]
    if exact:
        assert titles == headings
    else:  # a heading a PDF line break cut short keeps at least its first line
        assert len(titles) == len(headings)
        for title, heading in zip(titles, headings, strict=True):
            assert heading.startswith(title) and len(title) >= min(len(heading), 20), (title, heading)


def check_report(doc: Document, brief: Brief, want: dict[str, Any], *, exact_headings: bool = True) -> None:
    assert brief.report.year == want["meta"]["year"]
    assert brief.report.region == want["meta"]["region"]
    check_spans(doc, brief)
    for section in ("problems", "plans", "leadership"):
        check_section(doc, brief, want, section)
    check_not_from_the_wrong_section(doc, brief, want, exact=exact_headings)
    check_achievement_headings(brief, want, exact=exact_headings)


# --- the reports as they are ---------------------------------------------------------------------


def test_seed_against_its_golden_file(seed_path: Path) -> None:
    doc, brief = brief_of(seed_path.read_bytes(), seed_path.name)
    want = golden(seed_path)
    check_report(doc, brief, want)
    meta = want["meta"]
    assert brief.report.published == meta["published"]
    assert brief.report.doc_number == meta["doc_number"]
    assert brief.warnings == []
    assert brief.source.chars == len(doc.text)
    # Every achievement item is titled by its heading and cites it.
    for item in brief.achievements:
        assert item.evidence[0].quote == item.title


def test_golden_files_cover_every_checked_in_report(seed_paths: list[Path], gwr_paths: list[Path]) -> None:
    assert sorted(p.stem for p in [*seed_paths, *gwr_paths]) == sorted(
        p.stem for p in GOLDEN_DIR.glob("*.json")
    )


# --- the variants a real user feeds it ------------------------------------------------------------

_CJK_PAIR = re.compile(r"(?<=[\u4e00-\u9fff])(?=[\u4e00-\u9fff])")


def _gbk(text: str) -> bytes:
    # A GBK page cannot hold what GBK cannot encode (NBSP, •): a real one has a space there.
    return "".join(ch if ch.encode("gbk", "ignore") else " " for ch in text).encode("gbk")


def _ocr(text: str) -> bytes:
    rnd = random.Random(7)
    return _CJK_PAIR.sub(lambda _: " " if rnd.random() < 0.3 else "", text).encode("utf-8")


def _spaced(text: str) -> bytes:
    """OCR at its worst: a space between every two characters of every line, digits included."""
    return "\n".join(" ".join(line) for line in text.split("\n")).encode("utf-8")


_SITE_TOP = """<div class="top"><a href="/">首页</a> | <a>政务公开</a> | <a>政务服务</a> | <a>互动交流</a> | <a>走进本区</a></div>"""
_SITE_CRUMB = "您当前位置: 首页 &gt; 政务公开 &gt; 法治政府建设年度报告"
_SITE_TOOLS = """<div class="tools">【字体大小：<a>大</a> <a>中</a> <a>小</a>】【<a>打印</a>】【<a>关闭</a>】 扫一扫在手机打开当前页面</div>"""
_SITE_FOOT = (
    "主办：某区人民政府办公室 版权所有 渝ICP备05003300号 网站标识码5001010001 公安备案号50010102000123"
)


def _table_page(text: str, *, br: bool = False) -> bytes:
    """An old portal page laid out with nested tables (charset=gb2312): nav, breadcrumb, a sidebar
    cell, the report in a cell as `<p>`s (or as `<br>`-separated lines), the footer in a last row."""
    lines = [html.escape(p) for p in formats.paragraphs(text)]
    body = "<br>\n".join(lines) if br else "\n".join(f'<p style="text-indent:2em">{p}</p>' for p in lines)
    page = f"""<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"><title>年度报告</title></head>
<body><table width="100%"><tr><td>{_SITE_TOP}</td></tr>
<tr><td class="crumb">{_SITE_CRUMB}</td></tr>
<tr><td><table><tr><td width="200"><div class="left"><ul><li><a>通知公告</a></li><li><a>政策解读</a></li></ul></div></td>
<td><div id="zoom">{body}</div>
{_SITE_TOOLS}
</td></tr></table></td></tr>
<tr><td class="foot">{_SITE_FOOT}</td></tr></table>
<script>var a="document.write";</script></body></html>"""
    return _gbk(page)


def _div_page(text: str) -> bytes:
    """A GBK portal page laid out with divs, its footer (版权所有, ICP备, 网站标识码) a plain div."""
    body = "\n".join(f'<p style="text-indent:2em">{html.escape(p)}</p>' for p in formats.paragraphs(text))
    page = f"""<!DOCTYPE html><html><head><meta charset="gbk"><title>年度报告</title></head>
<body><div class="header">{_SITE_TOP}</div><div class="crumb">{_SITE_CRUMB}</div>
<div class="left"><ul><li><a>通知公告</a></li><li><a>政策解读</a></li></ul></div>
<div class="article"><div id="zoom">{body}</div></div>
{_SITE_TOOLS}
<div class="foot">{_SITE_FOOT}</div>
<script>var a="document.write";</script></body></html>"""
    return _gbk(page)


RUNNING_HEADER = "某区人民政府文件"


def _pdf_with_running_header(text: str, *, first_page: bool = True) -> bytes:
    """Like formats.to_pdf (36 characters a line), with a running header atop every page (or every
    page but the first): pypdf puts it between the two halves of a sentence cut by the page break."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=True)
    page_h = A4[1]
    lines = [p[i : i + 36] for p in formats.paragraphs(text) for i in range(0, len(p), 36)]
    per_page = 40
    for number, start in enumerate(range(0, len(lines), per_page), start=1):
        pdf.setFont("STSong-Light", 11)
        if first_page or number > 1:
            pdf.drawString(56, page_h - 30, RUNNING_HEADER)
        y = page_h - 56
        for line in lines[start : start + per_page]:
            pdf.drawString(56, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return out.getvalue()


VARIANTS = {
    "gbk": (_gbk, "report.txt"),
    "html": (formats.to_html, "report.html"),
    "html-table-layout": (_table_page, "report.html"),
    "html-table-br": (lambda t: _table_page(t, br=True), "report.html"),
    "html-div-gbk": (_div_page, "report.html"),
    "docx": (formats.to_docx, "report.docx"),
    "pdf": (lambda t: formats.to_pdf(t, page_numbers=True), "report.pdf"),
    "pdf-wide": (lambda t: formats.to_pdf(t, width=45), "report.pdf"),
    "pdf-running-header": (_pdf_with_running_header, "report.pdf"),
    "ocr-spaces": (_ocr, "report.txt"),
    "ocr-every-char": (_spaced, "report.txt"),
}


@pytest.mark.parametrize("variant", VARIANTS, ids=list(VARIANTS))
def test_variant_against_the_golden_file(seed_path: Path, variant: str) -> None:
    build, name = VARIANTS[variant]
    doc, brief = brief_of(build(seed_path.read_text(encoding="utf-8")), name)
    check_report(doc, brief, golden(seed_path), exact_headings=not variant.startswith("pdf"))


def test_gbk_gives_the_same_brief(seed_path: Path) -> None:
    text = seed_path.read_text(encoding="utf-8")
    _, plain = brief_of(text.encode("utf-8"), "report.txt")
    _, gbk = brief_of(_gbk(text), "report.txt")
    assert gbk.sections() == plain.sections()
    assert gbk.report == plain.report


def test_ocr_spaces_give_the_same_items(seed_path: Path) -> None:
    text = seed_path.read_text(encoding="utf-8")
    _, plain = brief_of(text.encode("utf-8"), "report.txt")
    _, ocr = brief_of(_ocr(text), "report.txt")
    for section, items in plain.sections().items():
        assert [(it.title, [s.quote for s in it.evidence]) for it in ocr.sections()[section]] == [
            (it.title, [s.quote for s in it.evidence]) for it in items
        ]


def _items(brief: Brief) -> dict[str, list[tuple[str, list[str]]]]:
    return {
        section: [(it.title, [s.quote for s in it.evidence]) for it in items]
        for section, items in brief.sections().items()
    }


def test_every_character_spaced_gives_the_same_brief(seed_path: Path) -> None:
    """OCR that spaced out every character, digits too: the same text once normalized, so the same
    title, year, region, issuer, items and metrics ("2 0 2 0年度" and "1 5 4 9 6" joined up)."""
    text = seed_path.read_text(encoding="utf-8")
    plain_doc, plain = brief_of(text.encode("utf-8"), "report.txt")
    doc, spaced = brief_of(_spaced(text), "report.txt")
    assert doc.text == plain_doc.text
    assert spaced.report == plain.report
    assert spaced.sections() == plain.sections()


@pytest.mark.parametrize("first_page", [True, False], ids=["every-page", "after-the-first"])
def test_a_running_page_header_is_not_spliced_into_sentences(seed_path: Path, first_page: bool) -> None:
    text = seed_path.read_text(encoding="utf-8")
    doc, brief = brief_of(_pdf_with_running_header(text, first_page=first_page), "report.pdf")
    plain_doc, plain = brief_of(formats.to_pdf(text), "report.pdf")
    raw = read_bytes(_pdf_with_running_header(text, first_page=first_page), "report.pdf").text
    assert raw.count(RUNNING_HEADER) >= 3  # the test is worth something: many pages, one each
    # Kept once at most, as the document's first line (a title printed atop every page stays).
    assert doc.text.count(RUNNING_HEADER) == (1 if first_page else 0)
    assert doc.text.removeprefix(RUNNING_HEADER + "\n") == plain_doc.text
    assert _items(brief) == _items(plain)
    assert brief.report == plain.report


_FOOTER_LINES = [
    "扫一扫在手机打开当前页面",
    "主办单位：某县人民政府办公室  版权所有  某ICP备12345678号-1  网站标识码1234567890  公安备案号 12345678901234",
    "承办单位：某县大数据中心    技术支持：某某网络科技有限公司",
    "地址：某县人民路1号    联系电话：0000-1234567    邮编：000000",
]


def test_site_footer_after_the_signature_is_not_a_plan(seed_path: Path) -> None:
    text = seed_path.read_text(encoding="utf-8")
    _, plain = brief_of(text.encode("utf-8"), "report.txt")
    doc, brief = brief_of((text + "\n" + "\n".join(_FOOTER_LINES) + "\n").encode("utf-8"), "report.txt")
    assert _items(brief) == _items(plain)
    for word in ("版权所有", "ICP备", "网站标识码", "技术支持", "联系电话"):
        assert word not in doc.text


def test_truncated_report_invents_nothing(seed_path: Path) -> None:
    text = seed_path.read_text(encoding="utf-8")
    full_doc, full = brief_of(text.encode("utf-8"), "report.txt")
    doc, brief = brief_of(text[: int(len(text) * 0.6)].encode("utf-8"), "report.txt")
    assert brief.problems == [] and brief.plans == []
    assert any("problems" in w for w in brief.warnings)
    assert any("plans" in w for w in brief.warnings)
    check_spans(doc, brief)
    # Whatever it did find is in the report, and is what the whole report gives.
    full_titles = {it.title for items in full.sections().values() for it in items}
    for items in brief.sections().values():
        for item in items:
            assert all(span.quote in full_doc.text for span in item.evidence)
    assert [it.title for it in brief.achievements][:-1] == [it.title for it in full.achievements][
        : len(brief.achievements) - 1
    ]
    assert {it.title for it in brief.achievements[:-1]} <= full_titles
    assert (brief.report.year, brief.report.region) == (full.report.year, full.report.region)


JUNK = {
    "empty": (b"", "report.txt"),
    "binary": (bytes(range(256)) * 16, "report.txt"),
    "nav-only": ("首页 > 政务公开 > 年度报告\n打印 关闭\n扫一扫在手机打开当前页面\n".encode(), "report.txt"),
    "blank-pdf": (formats.to_blank_pdf(), "scan.pdf"),
    "not-a-docx": (b"PK\x03\x04 broken zip", "report.docx"),
    "script-page": (b"<html><head><script>var x=1;</script></head><body></body></html>", "page.html"),
}


@pytest.mark.parametrize("junk", JUNK, ids=list(JUNK))
def test_junk_files_are_clear_errors(tmp_path: Path, junk: str) -> None:
    data, name = JUNK[junk]
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as raised:
        summarize_path(path, RulesBackend())
    message = str(raised.value)
    assert message.startswith(f"{path}: ") and len(message.splitlines()) == 1
    assert len(message) > len(f"{path}: ") + 5


def test_a_seed_read_from_disk_keeps_its_hash(seed_path: Path) -> None:
    raw = read_path(seed_path)
    brief = summarize_path(seed_path, RulesBackend())
    assert brief.source.sha256 == raw.sha256
    assert brief.source.path == str(seed_path)
