"""merge: near-duplicates from overlapping chunks become one item; order by position; gap warnings."""

from __future__ import annotations

from service.document import RawText
from service.merge import default_overview, merge, missing_section_warnings
from service.models import Category, Item, Metric, Span
from service.pipeline import analyze


def _span(start: int, end: int) -> Span:
    return Span(quote="x" * (end - start), start=start, end=end, sentence_ids=[])


def _item(
    title: str, *ranges: tuple[int, int], summary: str = "", metrics: list[Metric] | None = None
) -> Item:
    return Item(
        title=title,
        summary=summary or title,
        evidence=[_span(s, e) for s, e in ranges],
        metrics=metrics or [],
    )


def test_items_with_overlapping_evidence_are_merged() -> None:
    a = _item("深化放管服改革", (100, 140))
    b = _item("优化审批服务流程", (110, 150), (300, 310))  # 30 chars shared: 75% of the shorter
    sections = merge([("achievements", a), ("achievements", b)])
    [kept] = sections["achievements"]
    assert kept.title == "深化放管服改革"
    assert [(s.start, s.end) for s in kept.evidence] == [(100, 140), (110, 150), (300, 310)]


def test_items_with_the_same_words_are_merged() -> None:
    a = _item("加强行政执法监督", (100, 110), summary="充分发挥法治监督员作用")
    b = _item("加强行政执法监督", (500, 510), summary="充分发挥法治监督员的作用")
    [kept] = merge([("plans", a), ("plans", b)])["plans"]
    assert [(s.start, s.end) for s in kept.evidence] == [(100, 110), (500, 510)]


def test_metrics_are_absorbed_once() -> None:
    m1 = Metric(label="审查合同", value=137, unit="份", evidence=_span(120, 127))
    m2 = Metric(label="清理文件", value=46, unit="件", evidence=_span(130, 136))
    a = _item("合法性审查", (100, 140), metrics=[m1])
    b = _item("合法性审查", (100, 140), metrics=[m1, m2])
    [kept] = merge([("achievements", a), ("achievements", b)])["achievements"]
    assert [m.label for m in kept.metrics] == ["审查合同", "清理文件"]


def test_distinct_items_are_kept_and_ordered_by_position() -> None:
    items = [
        ("problems", _item("普法针对性不强", (300, 310))),
        ("problems", _item("执法力量薄弱", (100, 110))),
        ("problems", _item("复议体制有待完善", (200, 210))),
    ]
    assert [it.title for it in merge(items)["problems"]] == [
        "执法力量薄弱",
        "复议体制有待完善",
        "普法针对性不强",
    ]


def test_sections_are_never_merged_across() -> None:
    same = _item("加强行政执法监督", (100, 110))
    sections = merge([("problems", same), ("plans", same.model_copy(deep=True))])
    assert len(sections["problems"]) == len(sections["plans"]) == 1
    assert sections["achievements"] == [] and sections["leadership"] == []


REPORT = "某县人民政府关于2022年度法治政府建设情况的报告\n一、主要成效\n（一）依法全面履行政府职能\n深化放管服改革，全面推进依法行政工作取得新进展。\n二、存在问题\n执法力量薄弱。\n"


def test_missing_section_warnings() -> None:
    doc = analyze(RawText(path="r.txt", text=REPORT, format="txt", sha256="0"))
    achievements = [_item("依法全面履行政府职能", (10, 20))]
    warnings = missing_section_warnings(
        doc, {"achievements": achievements, "problems": [], "plans": [], "leadership": []}
    )
    assert len(warnings) == 2
    problems_warning, plans_warning = warnings
    assert "has a problems section" in problems_warning  # the section is there, nothing came out of it
    assert "no plans section" in plans_warning  # no such section at all
    assert (
        missing_section_warnings(
            doc,
            {"achievements": achievements, "problems": achievements, "plans": achievements, "leadership": []},
        )
        == []
    )


def test_default_overview_states_counts_and_areas() -> None:
    doc = analyze(RawText(path="r.txt", text=REPORT, format="txt", sha256="0"))
    achievements = [
        _item("依法全面履行政府职能", (10, 20)).model_copy(update={"category": Category.functions_business})
    ]
    problems = [_item("执法力量薄弱", (60, 66))]
    overview = default_overview(
        doc, {"achievements": achievements, "problems": problems, "plans": [], "leadership": []}
    )
    assert overview.startswith("某县人民政府2022年度法治政府建设报告")
    assert "主要成效1项" in overview and "存在问题1项" in overview and "下一步安排" not in overview
    assert "政府职能与营商环境" in overview and "执法力量薄弱" in overview
