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


# --- cost: linear in the number of items ---------------------------------------------------------


def _counting_same(monkeypatch) -> list[int]:
    from service import merge as merge_module

    calls = [0]
    real = merge_module._same

    def counted(a, b: Item) -> bool:  # type: ignore[no-untyped-def]
        calls[0] += 1
        return real(a, b)

    monkeypatch.setattr(merge_module, "_same", counted)
    return calls


def test_each_item_is_compared_with_a_bounded_number_of_kept_items(monkeypatch) -> None:
    """5,000 distinct items: the old merge compared each with every kept one (12.5 million
    comparisons); now each meets its neighbours and the items whose evidence lies where its does."""
    from service.merge import NEIGHBOURS

    calls = _counting_same(monkeypatch)
    n = 5000
    items = [
        ("achievements", _item(f"第{i}项工作{i * 7919 % 10007}", (i * 100, i * 100 + 60))) for i in range(n)
    ]
    [kept] = [merge(items)["achievements"]]
    assert len(kept) == n
    assert calls[0] <= (NEIGHBOURS + 2) * n


def test_overlapping_evidence_far_from_the_last_kept_items_is_still_found(monkeypatch) -> None:
    """The position index finds a twin anywhere in the report, not just among the last few kept."""
    items = [("plans", _item(f"计划{i}号{i * 31 % 97}", (i * 1000, i * 1000 + 50))) for i in range(200)]
    twin = _item("完全不同的说法", (5010, 5050))  # inside item 5's evidence, 195 items back
    calls = _counting_same(monkeypatch)
    sections = merge([*items, ("plans", twin)])
    assert len(sections["plans"]) == 200
    [five] = [it for it in sections["plans"] if it.evidence[0].start == 5000]
    assert [(s.start, s.end) for s in five.evidence] == [(5000, 5050), (5010, 5050)]
    assert calls[0] <= (16 + 2) * 201


def test_overlap_is_the_share_of_the_shorter_evidence_covered() -> None:
    from service.merge import _overlap

    a = [_span(0, 10), _span(20, 30), _span(40, 50)]
    b = [_span(5, 25), _span(45, 100)]
    # covered: 5-10, 20-25, 45-50 = 15 of a's 30 characters (b has 75)
    assert _overlap(a, b) == 0.5 == _overlap(b, a)
    assert _overlap([_span(0, 10)], [_span(10, 20)]) == 0.0
    # evidence that overlaps itself is counted once
    assert _overlap([_span(0, 10), _span(0, 10)], [_span(0, 10)]) == 1.0


def test_an_item_that_absorbs_many_twins_keeps_every_piece_of_evidence_once() -> None:
    items = [("problems", _item("执法力量薄弱", (i * 100, i * 100 + 10))) for i in range(1000)]
    items.append(("problems", _item("另一件事", (50_005, 50_008))))  # inside twin 500's evidence
    [kept] = merge(items)["problems"]
    expected = sorted([(i * 100, i * 100 + 10) for i in range(1000)] + [(50_005, 50_008)])
    assert sorted((s.start, s.end) for s in kept.evidence) == expected
