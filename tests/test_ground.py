"""ground: every Span that leaves it is exact; what cannot be grounded is dropped with a warning."""

from __future__ import annotations

import pytest

from service.document import Document, DraftItem, DraftMetric, RawText
from service.ground import ground
from service.pipeline import analyze

TEXT = (
    "某县人民政府关于2022年度法治政府建设情况的报告\n"
    "一、主要成效\n"
    "（一）依法全面履行政府职能\n"
    "全年办理审批事项1,361件，网上可办率98.6%。清理规范性文件46件，废止128件。\n"
    "（二）强化监督\n"
    "整改资金32604.23万元，办理建议98件。\n"
    "二、存在问题\n"
    "一是执法力量薄弱；二是普法针对性不强。\n"
)


@pytest.fixture(scope="module")
def doc() -> Document:
    return analyze(RawText(path="r.txt", text=TEXT, format="txt", sha256="0"))


def _sid(doc: Document, fragment: str) -> str:
    return next(s.id for s in doc.sentences if fragment in s.text)


def _draft(**kw: object) -> DraftItem:
    base: dict[str, object] = {"section": "achievements", "title": "依法履职", "summary": "摘要"}
    return DraftItem(**{**base, **kw})  # type: ignore[arg-type]


def _exact(doc: Document, quote: str, start: int, end: int) -> bool:
    return doc.text[start:end] == quote


def test_ranges_become_exact_spans_with_the_sentences_they_touch(doc: Document) -> None:
    start = doc.text.index("网上可办率")
    end = doc.text.index("废止")
    [(section, item)], warnings = ground(doc, [_draft(ranges=[(start, end)])])
    assert section == "achievements" and warnings == []
    [span] = item.evidence
    assert _exact(doc, span.quote, span.start, span.end)
    touched = [s.id for s in doc.sentences if s.start < end and s.end > start]
    assert span.sentence_ids == touched and len(touched) == 2


def test_overlapping_ranges_are_merged(doc: Document) -> None:
    a = doc.text.index("全年")
    [(_, item)], _ = ground(doc, [_draft(ranges=[(a + 5, a + 15), (a, a + 8), (a + 30, a + 34)])])
    assert [(s.start, s.end) for s in item.evidence] == [(a, a + 15), (a + 30, a + 34)]


def test_sentence_ids_become_spans(doc: Document) -> None:
    sid = _sid(doc, "办理建议98件")
    [(_, item)], warnings = ground(doc, [_draft(sentence_ids=[sid])])
    sentence = doc.sentence(sid)
    assert sentence is not None and warnings == []
    assert [(s.quote, s.sentence_ids) for s in item.evidence] == [(sentence.text, [sid])]


@pytest.mark.parametrize(
    "kw",
    [
        {},  # no evidence at all
        {"ranges": [(10_000, 10_010)]},  # past the end of the text
        {"ranges": [(5, 5)]},  # empty
        {"ranges": [(-3, 4)]},
        {"sentence_ids": ["s9999", "x"]},  # no such sentences
    ],
    ids=["none", "out-of-text", "empty", "negative", "unknown-ids"],
)
def test_an_ungroundable_draft_is_dropped_with_a_warning(doc: Document, kw: dict[str, object]) -> None:
    items, warnings = ground(doc, [_draft(title="无据可查", **kw), _draft(title="有据", ranges=[(0, 4)])])
    assert [item.title for _, item in items] == ["有据"]
    assert any("dropped" in w and "无据可查" in w for w in warnings)


def test_ids_outside_the_chunk_are_ignored_with_a_warning(doc: Document) -> None:
    inside, outside = _sid(doc, "办理建议98件"), _sid(doc, "执法力量薄弱")
    allowed = {"c1": {inside}}
    items, warnings = ground(
        doc, [_draft(sentence_ids=[inside, outside], chunk_id="c1")], chunk_sentence_ids=allowed
    )
    [(_, item)] = items
    assert [sid for span in item.evidence for sid in span.sentence_ids] == [inside]
    assert any(outside in w and "outside its chunk" in w for w in warnings)
    # Only ids outside the chunk: nothing is left, the draft is dropped.
    items, warnings = ground(doc, [_draft(sentence_ids=[outside], chunk_id="c1")], chunk_sentence_ids=allowed)
    assert items == [] and any("dropped" in w for w in warnings)


@pytest.mark.parametrize(
    "metric, quote",
    [
        (DraftMetric(label="网上可办率", value=98.6, unit="%", sentence_id=None), "98.6%"),
        (DraftMetric(label="办理审批事项", value=1361, unit="件"), "1,361件"),
        (DraftMetric(label="清理规范性文件", value=46, unit="件"), "46件"),
        (DraftMetric(label="整改资金", value=32604.23, unit="万元"), "32604.23万元"),
        (DraftMetric(label="整改资金", value=32604.23, unit="元"), "32604.23"),
        (DraftMetric(label="废止", value=128, unit="件", quote="128件"), "128件"),
    ],
)
def test_a_metric_is_found_in_its_sentence(doc: Document, metric: DraftMetric, quote: str) -> None:
    metric.sentence_id = _sid(doc, quote)
    [(_, item)], warnings = ground(doc, [_draft(ranges=[(0, 4)], metrics=[metric])])
    assert warnings == []
    [m] = item.metrics
    assert m.evidence.quote == quote and _exact(doc, m.evidence.quote, m.evidence.start, m.evidence.end)
    assert m.evidence.sentence_ids == [metric.sentence_id]


@pytest.mark.parametrize(
    "metric, where",
    [
        (DraftMetric(label="清理规范性文件", value=47, unit="件"), "清理规范性文件46件"),  # wrong number
        (DraftMetric(label="废止", value=28, unit="件"), "废止128件"),  # 28 is not 128
        (DraftMetric(label="整改资金", value=32604.2, unit="万元"), "32604.23万元"),  # nor 32604.2
        (DraftMetric(label="办理建议", value=98, unit="件"), "清理规范性文件46件"),  # not in that sentence
        (DraftMetric(label="办理建议", value=98, unit="件"), None),  # no sentence
    ],
)
def test_a_metric_not_in_its_sentence_is_dropped(
    doc: Document, metric: DraftMetric, where: str | None
) -> None:
    metric.sentence_id = _sid(doc, where) if where else "s999"
    [(_, item)], warnings = ground(doc, [_draft(ranges=[(0, 4)], metrics=[metric])])
    assert item.metrics == []
    assert any(metric.label in w and "not found" in w for w in warnings)


def test_a_metric_range_outside_the_text_is_dropped(doc: Document) -> None:
    metric = DraftMetric(label="x", value=1, unit="件", start=len(doc.text) - 2, end=len(doc.text) + 5)
    [(_, item)], warnings = ground(doc, [_draft(ranges=[(0, 4)], metrics=[metric])])
    assert item.metrics == [] and warnings


def test_draft_order_is_kept(doc: Document) -> None:
    drafts = [_draft(title=f"t{i}", ranges=[(i * 3, i * 3 + 2)]) for i in (4, 1, 3)]
    items, _ = ground(doc, drafts)
    assert [item.title for _, item in items] == ["t4", "t1", "t3"]
