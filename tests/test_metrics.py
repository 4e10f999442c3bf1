"""metrics: stated numbers with their unit and what they count, each with an exact evidence range."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.metrics import FoundMetric, find_metrics
from service.normalize import normalize


def _found(text: str) -> list[tuple[str, float, str]]:
    return [(m.label, m.value, m.unit) for m in find_metrics(text)]


def label_is_grounded(text: str, m: FoundMetric) -> bool:
    """The label's words are the text's, in order, around the evidence: the words before the number
    (the evidence starts with them), and for a noun that follows the unit, that noun right after.
    `…` marks words of the text left out of the label."""
    pieces = m.label.split("…")
    window = text[m.start : m.end + 16]
    pos = 0
    for piece in pieces:
        found = window.find(piece, pos)
        if found == -1:
            return False
        pos = found + len(piece)
    return window.startswith(pieces[0]) or text.startswith(pieces[-1], m.end)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("开展涉企规范性文件定期清理，废止涉企规范性文件28件。", [("废止涉企规范性文件", 28, "件")]),
        ("为企业挽回经济损失1361万元。", [("为企业挽回经济损失", 1361, "万元")]),
        ("偿还拖欠账款1.36亿元。", [("偿还拖欠账款", 1.36, "亿元")]),
        (
            "新设市场主体4127户，网上可办率达98.6%。",
            [("新设市场主体", 4127, "户"), ("网上可办率", 98.6, "%")],
        ),
        ("其中疫情防控类272件，占比39.6％。", [("疫情防控类", 272, "件"), ("占比", 39.6, "%")]),
        (
            "全年共办理执法证件812件，收回执法证件905件。",
            [("办理执法证件", 812, "件"), ("收回执法证件", 905, "件")],
        ),
        # "余" (more than) stays in the unit, as written: the evidence ends with the unit
        ("2020年共办结事项12万余件。", [("办结事项", 120_000, "余件")]),
        ("累计培训200余人次。", [("培训", 200, "余人次")]),
        ("兑现资金1.2万余元。", [("兑现资金", 1.2, "万余元")]),
        ("行政机关负责人出庭应诉率66.67%。", [("行政机关负责人出庭应诉率", 66.67, "%")]),
        ("审查合同137份，涉及金额12.8亿元。", [("审查合同", 137, "份"), ("涉及金额", 12.8, "亿元")]),
        ("政府投资项目审批时限压缩至90个工作日。", [("政府投资项目审批时限压缩至", 90, "个工作日")]),
    ],
)
def test_metrics(text: str, expected: list[tuple[str, float, str]]) -> None:
    assert _found(text) == [(label, float(value), unit) for label, value, unit in expected]


@pytest.mark.parametrize(
    "text",
    [
        "印发《工作要点》（遂安法委发〔2020〕4号）。",  # a 文号
        "发布时间：2022-01-28 10:01",  # a date
        "2021年1月至12月",  # years and months are not counts
        "共计28件",  # a label without words of its own
        "全面推进依法行政工作。",  # no number at all
    ],
)
def test_not_metrics(text: str) -> None:
    assert _found(text) == []


def test_labels_stop_at_a_clause_break_and_are_trimmed() -> None:
    [m] = find_metrics("深入开展专项行动，其中共计查处违法案件36起。")
    assert m.label == "查处违法案件"
    # "跑动次数由" ends on "由": the number after it is where a change started, not a count
    assert 5.0 not in [x.value for x in find_metrics("跑动次数由5次减少至1次。")]


def test_evidence_offsets_are_absolute_and_exact() -> None:
    text = "一、主要成效\n全年办理行政复议案件132件，直接纠错17件。\n二、存在问题"
    start = text.index("全年")
    end = text.index("\n二")
    found = find_metrics(text, start, end)
    assert [(m.label, m.value) for m in found] == [("办理行政复议案件", 132.0), ("直接纠错", 17.0)]
    for m in found:
        assert start <= m.start < m.end <= end
        span = text[m.start : m.end]
        assert label_is_grounded(text, m) and span.endswith(m.unit)
        assert f"{m.value:g}" in span
    # Nothing outside the window is read.
    assert find_metrics(text, 0, start) == []


def test_every_metric_of_the_sample_is_exact(sample_report_path: Path) -> None:
    text = normalize(sample_report_path.read_text(encoding="utf-8"))
    found = find_metrics(text)
    assert len(found) > 30
    for m in found:
        span = text[m.start : m.end]
        assert label_is_grounded(text, m), m
        assert span.endswith(m.unit if m.unit != "%" else ("%", "％"))
    by_label = {m.label: (m.value, m.unit) for m in found}
    # Figures the sample README lists verbatim.
    assert by_label["县级政务服务事项网上可办率"] == (98.6, "%")
    assert by_label["办理行政复议案件"] == (132.0, "件")
    assert by_label["偿还拖欠账款"] == (1.36, "亿元")
    assert any("执法培训" in label and v == (2800.0, "人次") for label, v in by_label.items())


# --- labels that say what is counted ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        # only a verb before the number: the noun after the unit is what is counted
        ("组织55名新提任区管干部参与法治理论考试。", [("组织…新提任区管干部", 55, "名")]),
        ("组织124名领导干部向宪法宣誓。", [("组织…领导干部", 124, "名")]),
        ("2020年共开展了1次全面督察，1次专项督察。", [("开展…全面督察", 1, "次"), ("专项督察", 1, "次")]),
        ("已举办80余次宣传活动。", [("举办…宣传活动", 80, "余次")]),
        ("现有8名工作人员负责行政复议工作。", [("工作人员", 8, "名")]),
        # a subject, a preposition or a phrase tail before the number: the noun after it
        ("将法治建设成效作为554名科级领导干部年度考核的重要依据。", [("科级领导干部", 554, "名")]),
        ("全年对区本级21件合作协议或行政合同进行了合法性审核。", [("合作协议", 21, "件")]),
        (
            "我区4家市场、66家企业、29家商户分别被授予称号。",
            [("市场", 4, "家"), ("企业", 66, "家"), ("商户", 29, "家")],
        ),
        ("全年对312件轻微违法行为依法不予处罚。", [("轻微违法行为", 312, "件")]),
        ("精准制定27个方面232条优化营商环境提升举措。", [("优化营商环境提升举措", 232, "条")]),
        # book titles and quoted names before the number
        ("区委常委会学习《宪法》《条例》等法律法规27次。", [("区委常委会学习…法律法规", 27, "次")]),
        ("开展“法治体检进企业”活动126场次。", [("开展“法治体检进企业”活动", 126, "场次")]),
        # compound measure words; an enumeration the number totals
        ("将企业开办压缩为1个环节。", [("企业开办压缩", 1, "个环节")]),
        ("将“互联网+政务服务”向东禅、保石、白马3个镇延伸。", [("东禅、保石、白马", 3, "个镇")]),
        # a verb with a unit that says what is measured
        ("高标准打造3300㎡的综合性中心。", [("高标准打造", 3300, "㎡")]),
    ],
)
def test_labels_name_what_is_counted(text: str, expected: list[tuple[str, float, str]]) -> None:
    assert _found(text) == [(label, float(value), unit) for label, value, unit in expected]
    for m in find_metrics(text):
        assert label_is_grounded(text, m) and text[m.start : m.end].endswith(m.unit)


@pytest.mark.parametrize(
    "text",
    [
        "已完成36个镇乡街道公共法律服务工作站规范化建设。",  # only a verb, and no noun after
        "组织55名。",
        "充分发挥12个专业性、行业性人民调解组织优势。",  # 专业性 is a modifier, not what is counted
        "授予29家商铺舟山市“诚信经营示范店”荣誉称号。",  # the noun runs on into a name
        "启动全国第2期、全市第1期市域社会治理现代化试点工作。",  # ordinals
        "较2019年的17.8%有较大降幅。较之前的出庭率7.5%上升69.58%。",  # comparisons
        "基层执法力量由原来的43人增加至121人。",  # a change, not a count
        "整改期限3个月。",  # a duration
    ],
)
def test_numbers_whose_label_would_say_nothing_are_dropped(text: str) -> None:
    assert find_metrics(text) == []
