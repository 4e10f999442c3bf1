"""The rules backend's problems and plans: generic sub-headings, lists in prose, lone paragraphs,
closing lines, and the default overview built from them."""

from __future__ import annotations

import pytest

from service.backends.rules import RulesBackend
from service.categorize import is_section_word
from service.document import Document, RawText
from service.merge import default_overview
from service.models import Brief
from service.pipeline import analyze, summarize_document

HEAD = "某县人民政府关于2021年度法治政府建设情况的报告\n一、主要成效\n（一）依法全面履行政府职能。深化“放管服”改革，精简审批事项20项。\n"


def _doc(text: str) -> Document:
    return analyze(RawText(path="report.txt", text=text, format="txt", sha256="0" * 64))


def _brief(body: str) -> Brief:
    return summarize_document(_doc(HEAD + body), RulesBackend())


def _titles(brief: Brief, section: str) -> list[str]:
    return [item.title for item in brief.sections()[section]]


def _quotes(brief: Brief, section: str) -> list[str]:
    return [item.evidence[0].quote for item in brief.sections()[section]]


# --- 1. sub-headings that only name the part --------------------------------------------------------


@pytest.mark.parametrize(
    "title, generic",
    [
        ("存在问题", True),
        ("存在的问题", True),
        ("主要问题", True),
        ("问题和不足", True),
        ("2022年工作打算", True),
        ("下一步工作计划", True),
        ("下步打算。", True),
        ("存在问题及2022年工作打算", True),
        ("基层能力不足", False),
        ("监督不到位", False),
        ("加强学习", False),
        ("深入学习贯彻习近平法治思想", False),
    ],
)
def test_section_words(title: str, generic: bool) -> None:
    assert is_section_word(title) is generic


@pytest.mark.parametrize(
    "body",
    [
        # each sub-heading on a line of its own, its inline list on the next
        "二、存在问题及2022年工作打算\n（一）存在问题\n一是依法行政意识有待提高；二是执法队伍建设有待加强。\n"
        "（二）2022年工作打算\n一是深入学习贯彻习近平法治思想；二是加强执法队伍建设；三是推进法治政府示范创建。\n",
        # run-in sub-headings: "（一）存在问题。一是……"
        "二、存在问题及2022年工作打算\n（一）存在问题。一是依法行政意识有待提高；二是执法队伍建设有待加强。\n"
        "（二）2022年工作打算。一是深入学习贯彻习近平法治思想；二是加强执法队伍建设；三是推进法治政府示范创建。\n",
    ],
    ids=["own-lines", "run-in"],
)
def test_generic_sub_headings_are_opened_up(body: str) -> None:
    brief = _brief(body)
    assert _titles(brief, "problems") == ["依法行政意识有待提高", "执法队伍建设有待加强"]
    assert _titles(brief, "plans") == [
        "深入学习贯彻习近平法治思想",
        "加强执法队伍建设",
        "推进法治政府示范创建",
    ]
    assert "存在问题" not in brief.overview.partition("主要问题包括")[2]
    assert "主要问题包括依法行政意识有待提高" in brief.overview


def test_a_generic_sub_heading_with_numbered_points_and_an_intro() -> None:
    brief = _brief(
        "二、存在问题及2022年工作打算\n（一）存在问题\n我县法治政府建设仍存在一些问题。部分干部法治意识淡薄；执法力量不足。\n"
        "（二）2022年工作打算\n2022年，我县将重点做好以下工作：\n1.加强学习。组织学法12次。\n2.规范执法。开展执法培训。\n"
    )
    assert _titles(brief, "problems") == ["部分干部法治意识淡薄", "执法力量不足"]
    assert _titles(brief, "plans") == ["加强学习", "规范执法"]


def test_a_generic_sub_heading_with_a_colon_list() -> None:
    brief = _brief("二、存在问题\n（一）存在问题：部分干部法治意识淡薄；执法力量不足。\n")
    assert _titles(brief, "problems") == ["部分干部法治意识淡薄", "执法力量不足"]


def test_sub_headings_that_are_problems_stay_one_item_each() -> None:
    """Their own 一是/二是 are details of the problem, not problems of their own."""
    brief = _brief(
        "二、存在问题\n（一）基层能力不足。一是依法行政意识有待提高；二是执法队伍建设有待加强。\n"
        "（二）监督不到位。一是监督手段单一；二是监督力量薄弱。\n"
    )
    assert _titles(brief, "problems") == ["基层能力不足", "监督不到位"]


# --- 2. lists in prose -------------------------------------------------------------------------------


def test_a_bare_semicolon_list_is_a_list() -> None:
    brief = _brief("二、存在问题\n部分干部法治意识淡薄；执法力量不足；普法工作不深入。\n")
    assert _quotes(brief, "problems") == ["部分干部法治意识淡薄", "执法力量不足", "普法工作不深入"]


def test_a_list_goes_on_across_sentences_and_drops_joining_words() -> None:
    brief = _brief(
        "二、存在问题\n主要问题：部分干部法治意识淡薄；执法力量薄弱。同时，复议案件办理质量不高；普法针对性不强。\n"
    )
    assert _quotes(brief, "problems") == [
        "部分干部法治意识淡薄",
        "执法力量薄弱",
        "复议案件办理质量不高",
        "普法针对性不强",
    ]


def test_an_intro_sentence_and_a_wrap_up_are_not_items() -> None:
    brief = _brief(
        "二、存在问题\n我县法治政府建设仍存在一些问题。部分干部法治意识淡薄；执法力量薄弱。这些都需要在今后的工作中加以改进。\n"
    )
    assert _quotes(brief, "problems") == ["部分干部法治意识淡薄", "执法力量薄弱"]


@pytest.mark.parametrize(
    "problems, plans",
    [
        (
            "存在以下问题：①部分干部法治意识淡薄；②执法力量不足；③普法工作不深入。",
            "（1）加强学习培训。（2）规范执法行为。",
        ),
        ("(1)部分干部法治意识淡薄；(2)执法力量不足；(3)普法工作不深入。", "1)加强学习培训；2)规范执法行为。"),
        (
            "（1）部分干部法治意识淡薄。\n（2）执法力量不足。\n（3）普法工作不深入。",
            "①加强学习培训。\n②规范执法行为。",
        ),
    ],
    ids=["circled", "half-width", "one-per-paragraph"],
)
def test_numbered_markers_split_items_and_leave_the_titles(problems: str, plans: str) -> None:
    brief = _brief(f"二、存在问题\n{problems}\n三、下一步工作安排\n{plans}\n")
    assert _titles(brief, "problems") == ["部分干部法治意识淡薄", "执法力量不足", "普法工作不深入"]
    assert _titles(brief, "plans") == ["加强学习培训", "规范执法行为"]
    for item in [*brief.problems, *brief.plans]:
        assert not any(ch in item.evidence[0].quote[:3] for ch in "①②③()（）")


# --- 3. lone paragraphs and closing lines -----------------------------------------------------------


def test_a_lone_generic_plans_paragraph_is_the_plan_even_before_footer_lines() -> None:
    brief = _brief(
        "二、存在问题\n一是法治意识不强；二是执法力量不足。\n三、下一步工作安排\n"
        "2022年，我县将继续深入推进法治政府建设，加强学习，规范执法。\n某县人民政府\n2022年1月5日\n"
        "主办单位：某县人民政府办公室  版权所有  某ICP备12345678号-1\n"
    )
    assert _quotes(brief, "plans") == ["2022年，我县将继续深入推进法治政府建设，加强学习，规范执法。"]


def test_a_generic_intro_is_dropped_when_a_plan_follows() -> None:
    brief = _brief(
        "二、存在问题\n一是法治意识不强；二是执法力量不足。\n三、2022年工作打算\n2022年是“十四五”开局之年。\n"
        "加强学习，规范执法，强化监督。\n"
    )
    assert _quotes(brief, "plans") == ["加强学习，规范执法，强化监督。"]


@pytest.mark.parametrize(
    "closing",
    [
        "某县人民政府\n2022年1月5日\n主办单位：某县人民政府办公室  版权所有  某ICP备12345678号-1\n",
        "中共某县委员会办公室\n2022年1月5日\n（此件公开发布）\n网站标识码1234567890 公安备案号12345678901234\n",
    ],
    ids=["signature-and-site-footer", "party-signature-and-notes"],
)
def test_signature_date_and_footer_lines_are_never_items(closing: str) -> None:
    """The outline cuts closing matter off the last section, so the lone plans paragraph before it is
    the one plan, and no signature, date or footer line becomes an item anywhere."""
    plan = "2022年，我县将继续深入推进法治政府建设，加强学习，规范执法。"
    brief = _brief(
        "二、存在问题\n一是法治意识不强；二是执法力量不足。\n三、下一步工作安排\n" + plan + "\n" + closing
    )
    assert _quotes(brief, "plans") == [plan]
    quoted = " ".join(
        span.quote for items in brief.sections().values() for item in items for span in item.evidence
    )
    for line in closing.strip().splitlines():
        assert line.strip() not in quoted


# --- the default overview ---------------------------------------------------------------------------


def test_the_overview_when_nothing_was_found() -> None:
    doc = _doc(HEAD)
    doc.outline.meta = doc.outline.meta.model_copy(update={"issuer": None, "region": None, "year": None})
    overview = default_overview(doc, {"achievements": [], "problems": [], "plans": [], "leadership": []})
    assert overview == "该法治政府建设报告中未梳理出主要成效、存在问题或下一步安排。"
    assert "该报告法治政府建设报告" not in overview
