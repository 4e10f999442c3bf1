"""metrics: stated numbers with their unit and what they count, each with an exact evidence range."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.metrics import find_metrics
from service.normalize import normalize


def _found(text: str) -> list[tuple[str, float, str]]:
    return [(m.label, m.value, m.unit) for m in find_metrics(text)]


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
        ("2020年共办结事项12万余件。", [("办结事项", 120_000, "件")]),
        ("累计培训200余人次。", [("培训", 200, "人次")]),
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
        assert span.startswith(m.label) and span.endswith(m.unit)
        assert f"{m.value:g}" in span
    # Nothing outside the window is read.
    assert find_metrics(text, 0, start) == []


def test_every_metric_of_the_sample_is_exact(sample_report_path: Path) -> None:
    text = normalize(sample_report_path.read_text(encoding="utf-8"))
    found = find_metrics(text)
    assert len(found) > 30
    for m in found:
        span = text[m.start : m.end]
        assert span.startswith(m.label)
        assert span.endswith(m.unit if m.unit != "%" else ("%", "％"))
    by_label = {m.label: (m.value, m.unit) for m in found}
    # Figures the sample README lists verbatim.
    assert by_label["县级政务服务事项网上可办率"] == (98.6, "%")
    assert by_label["办理行政复议案件"] == (132.0, "件")
    assert by_label["偿还拖欠账款"] == (1.36, "亿元")
    assert any("执法培训" in label and v == (2800.0, "人次") for label, v in by_label.items())
