"""The rules backend: one item per sub-section / enumerated problem / enumerated plan, from the outline."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_metrics import label_is_grounded
from test_outline import HEAD, MIXED, REPORT, TAIL

from service.backends.rules import RulesBackend
from service.document import Document, DraftItem, RawText, SectionKind
from service.metrics import FoundMetric
from service.models import Brief, Category
from service.pipeline import analyze, summarize_document


def _doc(text: str) -> Document:
    return analyze(RawText(path="report.txt", text=text, format="txt", sha256="0" * 64))


def _brief(text: str) -> Brief:
    return summarize_document(_doc(text), RulesBackend())


def _titles(brief: Brief, section: str) -> list[str]:
    return [item.title for item in brief.sections()[section]]


@pytest.fixture(scope="module")
def report() -> tuple[Document, list[DraftItem]]:
    doc = _doc(REPORT)
    return doc, RulesBackend().extract(doc).drafts


def test_drafts_come_from_the_sections_of_their_kind(report: tuple[Document, list[DraftItem]]) -> None:
    doc, drafts = report
    kinds = {
        "achievements": SectionKind.achievements,
        "problems": SectionKind.problems,
        "plans": SectionKind.plans,
    }
    for draft in drafts:
        assert draft.ranges and not draft.sentence_ids
        for start, end in draft.ranges:
            assert 0 <= start < end <= len(doc.text)
            if draft.section in kinds:
                assert doc.outline.kind_at(start) == kinds[draft.section]
        for m in draft.metrics:
            assert m.start is not None and m.end is not None
            assert label_is_grounded(doc.text, FoundMetric(m.label, m.value, m.unit, m.start, m.end))
            assert doc.text[m.start : m.end].endswith(m.unit if m.unit != "%" else ("%", "％"))


def test_one_achievement_per_sub_section_titled_by_its_heading(
    report: tuple[Document, list[DraftItem]],
) -> None:
    _, drafts = report
    achievements = [d for d in drafts if d.section == "achievements"]
    assert [d.title for d in achievements] == [
        "依法全面履行政府职能",
        "完善依法行政制度体系",
        "强化行政权力制约和监督",
    ]
    # A sub-section of numbered points is summarised by the points' own titles.
    assert achievements[0].summary == "深化放管服改革；优化营商环境"
    assert achievements[0].category == Category.functions_business
    assert achievements[1].category == Category.rule_making
    assert achievements[2].category == Category.oversight_transparency


def test_leadership_from_its_chapter(report: tuple[Document, list[DraftItem]]) -> None:
    _, drafts = report
    leadership = [d for d in drafts if d.section == "leadership"]
    assert [d.title for d in leadership] == ["坚持统筹谋划", "带头尊法学法"]
    assert {d.category for d in leadership} == {Category.party_leadership}


def test_problems_from_an_inline_list_and_plans_from_sub_headings(
    report: tuple[Document, list[DraftItem]],
) -> None:
    doc, drafts = report
    problems = [d for d in drafts if d.section == "problems"]
    plans = [d for d in drafts if d.section == "plans"]
    assert [d.title for d in problems] == ["领导干部法治思维有待提升", "基层执法力量薄弱", "普法针对性不强"]
    assert [doc.text[s:e] for d in problems for s, e in d.ranges] == [d.title for d in problems]
    # The intro "2023年，我县将重点做好以下工作：" is not a plan.
    assert [d.title for d in plans] == ["深入学习贯彻习近平法治思想", "持续优化营商环境"]


def test_metrics_with_thousands_separators(report: tuple[Document, list[DraftItem]]) -> None:
    _, drafts = report
    metrics = {(m.label, m.value, m.unit) for d in drafts for m in d.metrics}
    assert ("办理审批事项", 1361.0, "件") in metrics
    assert ("网上可办率", 98.6, "%") in metrics
    assert ("审查合同", 137.0, "份") in metrics


@pytest.mark.parametrize(
    "case, problems, plans",
    [
        ("same-line", ["少数干部法治意识不够牢固", "基层执法力量较为薄弱"], 1),
        ("inline-lists", ["执法规范化水平有待提升", "复议体制有待完善"], 3),
        # "（一）存在问题" only names the part: its paragraph is the problem, not the heading.
        ("sub-headings", ["执法规范化水平有待提升"], 1),
        ("enumerated-plans", None, 2),
    ],
)
def test_mixed_sections(case: str, problems: list[str] | None, plans: int) -> None:
    brief = _brief(HEAD + MIXED[case][0] + TAIL)
    if problems is not None:
        assert _titles(brief, "problems") == problems
    else:
        assert len(brief.problems) == 1
    assert len(brief.plans) == plans
    assert not [w for w in brief.warnings if "plans" in w or "problems" in w]


def test_a_semicolon_list_after_an_opener_gives_one_problem_per_clause() -> None:
    body = (
        "二、存在问题和下一步工作打算\n我县法治政府建设还存在一些问题，主要体现在：执法规范化水平有待提升；"
        "复议体制有待完善；普法宣传针对性不强等。\n下一步，我县将持续深化改革，加强执法监督，强化普法宣传。\n"
    )
    brief = _brief(HEAD + body + TAIL)
    assert _titles(brief, "problems") == ["执法规范化水平有待提升", "复议体制有待完善", "普法宣传针对性不强"]
    # The single un-enumerated plans paragraph is one plan.
    assert [item.evidence[0].quote for item in brief.plans] == [
        "下一步，我县将持续深化改革，加强执法监督，强化普法宣传。"
    ]


def test_a_short_single_plans_paragraph_is_kept() -> None:
    """The only paragraph of a plans section is its content, even when it reads like an intro."""
    brief = _brief(HEAD + MIXED["same-line"][0] + TAIL)
    assert [item.evidence[0].quote for item in brief.plans] == [
        "2022年，我县将深入学习贯彻习近平法治思想，努力建设更高水平的法治政府。"
    ]


def test_an_intro_only_plans_section_gives_no_plan() -> None:
    brief = _brief(
        HEAD
        + "二、存在问题\n一是执法力量薄弱；二是普法针对性不强。\n三、2022年工作打算\n2022年，我县将重点做好以下工作：\n"
        + TAIL
    )
    assert brief.plans == []
    assert any("plans" in w for w in brief.warnings)


def test_leadership_inside_achievements_when_there_is_no_chapter() -> None:
    text = (
        "某区人民政府关于2020年度法治政府建设情况的报告\n一、法治政府建设基本情况\n"
        "（一）加强党对法治政府建设的领导\n区委书记、区长坚决履行法治政府建设第一责任人职责。\n"
        "一是深入学习贯彻习近平法治思想。组织学习12次。\n二是统筹推进专项工作。制定工作要点。\n"
        "（二）优化法治化营商环境\n深化放管服改革，办理审批事项1361件。\n"
        "二、存在问题和下一步工作打算\n比如：执法力量薄弱；普法针对性不强。\n下一步，我区将持续深化改革。\n"
    )
    brief = _brief(text)
    assert _titles(brief, "leadership") == ["深入学习贯彻习近平法治思想", "统筹推进专项工作"]
    assert _titles(brief, "achievements") == ["加强党对法治政府建设的领导", "优化法治化营商环境"]


def test_no_leadership_when_nothing_names_the_duty() -> None:
    text = REPORT.replace(
        "二、党政主要负责人履行推进法治建设第一责任人职责情况\n1.坚持统筹谋划。县委书记带头研究部署。\n2.带头尊法学法。全年学法12次。\n",
        "",
    )
    assert _brief(text).leadership == []


def test_the_sample(sample_report_path: Path) -> None:
    brief = summarize_document(
        analyze(RawText(path="s", text=sample_report_path.read_text("utf-8"), format="txt", sha256="0")),
        RulesBackend(),
    )
    # The counts and titles the sample README documents.
    assert _titles(brief, "achievements") == [
        "依法全面履行政府职能，持续优化法治化营商环境",
        "完善依法行政制度体系，提升制度建设质量",
        "推进重大行政决策科学化、民主化、法治化",
        "坚持严格规范公正文明执法",
        "强化行政权力制约和监督",
        "依法有效化解社会矛盾纠纷",
    ]
    assert _titles(brief, "leadership") == ["坚持统筹谋划", "带头尊法学法守法用法", "强化考核督导"]
    problems = [item.evidence[0].quote for item in brief.problems]
    assert problems == [
        "部分领导干部运用法治思维和法治方式推动工作的能力还有待提升",
        "基层综合行政执法力量较为薄弱，执法人员专业素质参差不齐",
        "重大行政决策后评估工作开展不够普遍，决策质量还需进一步提高",
        "法治宣传教育的针对性和实效性不够强，群众办事依法、遇事找法的意识仍需增强",
    ]
    assert _titles(brief, "plans") == [
        "深入学习贯彻习近平法治思想",
        "持续优化法治化营商环境",
        "提升行政执法质量和效能",
        "健全依法决策机制",
        "加强矛盾纠纷预防化解",
    ]
    assert brief.warnings == []
    for section in brief.sections().values():
        for item in section:
            assert item.category in Category
