"""Property tests: for generated report-like texts, every offset maps back to the normalized text.

The generator writes what real reports look like before cleaning — headings in every form, prose of
CJK characters, digits and punctuation, PDF line breaks (with blank lines and page numbers between
the halves), OCR spaces between characters, web chrome lines — and the properties are the ones the
pipeline promises by design:

* normalize is idempotent and its output has no blank lines and no edge spaces;
* every sentence maps back (text[s.start:s.end] == s.text), sentences are in order, do not overlap,
  and only whitespace lies outside them;
* the outline's titles are exact and its nodes nest;
* chunks partition the sentences in order (each chunk a contiguous run), never cross a top-level
  section, and stay under the budget unless one sentence alone is over it;
* every Span of the Brief is exact, and its sentence_ids are exactly the sentences it touches.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import chunk, normalize, outline, segment, tokens
from service.backends.rules import RulesBackend
from service.document import Document, Node, RawText
from service.errors import NotAReportError
from service.models import Span
from service.pipeline import analyze, summarize_document

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CJK = "法治政府建设推进依法行政执法监督规范性文件重大决策复议应诉纠纷化解普法宣传数字营商环境审批服务我区县市年度工作情况报告成效问题不足计划安排打算"
DIGITS = "0123456789"
NUMERALS = "一二三四五六七八九十"
END = ["。", "。", "。", "；", "！", "？", "", "”。", "）。"]
MID = ["，", "、", "：", "“", "”", "（", "）", "《", "》", ",", ";", ":", "(", ")", '"', "%", "．"]
CHROME = [
    "扫一扫在手机打开当前页面",
    "打印",
    "关闭",
    "字体大小：大 中 小",
    "信息来源：县司法局",
    "网络编辑：张三",
    "首页 > 政务公开 > 年度报告",
    "— 3 —",
    "- 12 -",
    "第3页",
    "语音播报",
]
SECTION_TITLES = [
    "法治政府建设主要成效",
    "2022年法治政府建设基本情况",
    "党政主要负责人履行推进法治建设第一责任人职责情况",
    "存在问题及2023年工作打算",
    "工作不足及2023年工作主要安排",
    "存在问题和下一步工作打算",
    "存在的问题",
    "2023年工作打算",
    "下一步工作重点",
]

words = st.text(alphabet=CJK + CJK + DIGITS, min_size=1, max_size=12)


@st.composite
def sentence(draw: st.DrawFn) -> str:
    parts = draw(st.lists(words, min_size=1, max_size=4))
    glue = [draw(st.sampled_from(MID)) for _ in parts[1:]]
    body = parts[0] + "".join(g + p for g, p in zip(glue, parts[1:], strict=True))
    if draw(st.booleans()):
        body += f"{draw(st.integers(0, 99999))}{draw(st.sampled_from(['件', '人次', '%', '万元', '项']))}"
    return body + draw(st.sampled_from(END))


@st.composite
def paragraph(draw: st.DrawFn) -> str:
    sentences = draw(st.lists(sentence(), min_size=1, max_size=4))
    if draw(st.integers(0, 4)) == 0:  # an inline enumeration
        n = draw(st.integers(2, 4))
        lead = draw(st.sampled_from(["", "我县", "主要体现在："]))
        items = [f"{NUMERALS[i]}是{draw(words)}{draw(st.sampled_from(['；', '。', '，']))}" for i in range(n)]
        sentences = [lead + "".join(items), *sentences[:1]]
    return "".join(sentences)


def _marker(level: int, n: int, form: int) -> str:
    numeral = NUMERALS[n - 1] if n <= 10 else "十" + NUMERALS[n - 11]
    if level == 1:
        return f"{numeral}、"
    if level == 2:
        return ["（{}）", "({})", "- ({})", "( {} )"][form % 4].format(numeral)
    return [f"{n}.", f"{n}、", f"{n}．", f"{n}. "][form % 4]


@st.composite
def report(draw: st.DrawFn) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(f"某县人民政府关于{draw(st.integers(2015, 2030))}年度法治政府建设情况的报告")
    if draw(st.booleans()):
        lines.append(
            f"发布日期：{draw(st.integers(2016, 2031))}-0{draw(st.integers(1, 9))}-1{draw(st.integers(0, 9))}"
        )
    lines.append(draw(paragraph()))
    for i in range(1, draw(st.integers(1, 4)) + 1):
        title = draw(st.one_of(st.sampled_from(SECTION_TITLES), words))
        lines.append(_marker(1, i, 0) + title)
        lines += draw(st.lists(paragraph(), max_size=2))
        for j in range(1, draw(st.integers(0, 3)) + 1):
            form = draw(st.integers(0, 3))
            run_in = draw(st.booleans())  # "（一）标题。正文…" or a heading line of its own
            head = _marker(2, j, form) + draw(words)
            lines.append(head + "。" + draw(paragraph()) if run_in else head)
            for k in range(1, draw(st.integers(0, 3)) + 1):
                lines.append(_marker(3, k, draw(st.integers(0, 3))) + draw(words) + "。" + draw(paragraph()))
            lines += draw(st.lists(paragraph(), max_size=1))
    if draw(st.booleans()):
        lines += ["某县人民政府", f"{draw(st.integers(2016, 2031))}年3月5日"]
    return _mess_up(lines, draw(st.randoms(use_true_random=False)))


def _mess_up(lines: list[str], rnd: random.Random) -> str:
    """PDF breaks (maybe with blank lines or a page number between the halves), OCR spaces, chrome."""
    out: list[str] = []
    for line in lines:
        if rnd.random() < 0.15:
            out.append(rnd.choice(CHROME))
        if rnd.random() < 0.3:  # spaces between characters
            line = "".join(ch + (" " if rnd.random() < 0.2 else "") for ch in line)
        while len(line) > 8 and rnd.random() < 0.4:  # a PDF line break mid-sentence
            cut = rnd.randrange(4, len(line) - 2)
            out.append(line[:cut])
            out.extend(rnd.choice([[], [""], ["", ""], [rnd.choice(CHROME[7:])]]))
            line = line[cut:]
        out.append(line)
        if rnd.random() < 0.2:
            out.append("")
    return rnd.choice(["\n", "\r\n"]).join(out)


# --- checks ---------------------------------------------------------------------------------------


def _check_sentences(text: str, sentences: list[segment.Sentence]) -> None:
    assert [s.id for s in sentences] == [f"s{i}" for i in range(1, len(sentences) + 1)]
    pos = 0
    for s in sentences:
        assert text[s.start : s.end] == s.text and s.text.strip() == s.text != ""
        assert s.start >= pos and not text[pos : s.start].strip()
        pos = s.end
    assert not text[pos:].strip()


def _check_nodes(text: str, nodes: list[Node], lo: int, hi: int) -> None:
    prev = lo
    for n in nodes:
        assert text[n.title_start : n.title_end] == n.title
        assert lo <= n.start <= n.end <= hi and n.start >= prev
        if n.marker:
            assert n.start <= n.title_start <= n.title_end <= n.end
        prev = n.end
        _check_nodes(text, n.children, n.start, n.end)


def _check_span(doc: Document, span: Span) -> None:
    assert doc.text[span.start : span.end] == span.quote
    assert span.quote.strip()
    touched = [s.id for s in doc.sentences if s.start < span.end and s.end > span.start]
    assert span.sentence_ids == touched and touched


# --- properties -----------------------------------------------------------------------------------


@SETTINGS
@given(report())
def test_normalize_is_idempotent_and_tidy(raw: str) -> None:
    text = normalize.normalize(raw)
    assert normalize.normalize(text) == text
    assert "\r" not in text and "\n\n" not in text
    assert all(line == line.strip() for line in text.split("\n"))


@SETTINGS
@given(
    st.text(alphabet=CJK[:20] + "一二三、是（）()-—.，,。;；:： \n\u3000第页12345打印关闭扫", max_size=200)
)
def test_normalize_is_idempotent_on_any_text(raw: str) -> None:
    text = normalize.normalize(raw)
    assert normalize.normalize(text) == text


@SETTINGS
@given(report(), st.sampled_from([40, 120, 1500]))
def test_offsets_map_back_through_outline_segment_and_chunk(raw: str, budget: int) -> None:
    text = normalize.normalize(raw)
    tree = outline.parse(text)
    _check_nodes(text, tree.nodes, 0, len(text))
    sentences = segment.split(text)
    _check_sentences(text, sentences)
    # The one-sweep section lookup the chunker uses agrees with Outline.path_at.
    assert chunk._block_keys(tree, sentences) == [chunk._block_key(tree, s) for s in sentences]
    chunks = chunk.make_chunks(text, tree, sentences, max_tokens=budget)
    assert [s for c in chunks for s in c.sentences] == sentences
    for c in chunks:
        tops = {tuple(n.start for n in tree.path_at(s.start)[:1]) for s in c.sentences}
        assert len(tops) == 1
        assert c.tokens == sum(tokens.count(s.text) + 1 for s in c.sentences)
        assert c.tokens <= budget or len(c.sentences) == 1


@SETTINGS
@given(report())
def test_every_span_of_the_brief_is_exact(raw: str) -> None:
    try:
        doc = analyze(RawText(path="r.txt", text=raw, format="txt", sha256="0"))
    except NotAReportError:
        return
    brief = summarize_document(doc, RulesBackend())
    for items in brief.sections().values():
        for item in items:
            assert item.evidence
            for span in item.evidence:
                _check_span(doc, span)
            for metric in item.metrics:
                _check_span(doc, metric.evidence)
                assert metric.evidence.quote.endswith(metric.unit) or metric.unit == "%"
