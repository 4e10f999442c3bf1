"""normalize: the one text every offset indexes — joined PDF breaks, no CJK spaces, no page chrome."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.normalize import is_boilerplate, normalize

PROSE = "我区深入推进法治政府建设，全面落实各项部署要"  # 22 chars, cut mid-word
REST = "求，取得明显成效。"


# --- joining lines broken mid-sentence ---------------------------------------------------------


@pytest.mark.parametrize(
    "gap",
    ["\n", "\n\n", "\n  \n\n", "\r\n", "\n— 3 —\n", "\n\n- 12 -\n\n", "\n第3页\n"],
    ids=[
        "newline",
        "blank-line",
        "blank-lines-with-spaces",
        "crlf",
        "page-number",
        "dashed-page-number",
        "page-cn",
    ],
)
def test_joins_a_sentence_cut_by_a_line_break(gap: str) -> None:
    assert normalize(PROSE + gap + REST) == PROSE + REST


def test_joins_a_line_that_starts_with_the_closing_mark_of_the_cut_sentence() -> None:
    prev = "2021年，我区将精心谋划“十四五"
    raw = f"{prev}，全面落实习近平法治思想，加快建设法治政府“十四五\n”期间法治政府建设工作。"
    assert normalize(raw) == raw.replace("\n", "")


def test_joins_a_cut_that_falls_before_an_out_of_sequence_marker() -> None:
    # "…管理统一、服务统一…" broken so that the next line starts with "一、": not a heading.
    raw = (
        "一、主要成效\n"
        "推进审批服务标准化，形成涉企审批服务体系“事项统一、标准统一、管理统\n"
        "一、服务统一”。\n"
        "二、存在问题\n"
        "执法力量薄弱。"
    )
    lines = normalize(raw).split("\n")
    assert lines == [
        "一、主要成效",
        "推进审批服务标准化，形成涉企审批服务体系“事项统一、标准统一、管理统一、服务统一”。",
        "二、存在问题",
        "执法力量薄弱。",
    ]


def test_keeps_an_in_sequence_heading_after_a_line_without_a_full_stop() -> None:
    # 000 has "…受理比例达89%" with no 。 before "4.推动社会信用体系建设": still a heading.
    raw = (
        "3.深化放管服改革。区级政务服务中心设置综合窗口合计85个，受理比例达89%\n\n"
        "4.推动社会信用体系建设。完善信用平台。"
    )
    assert normalize(raw).split("\n") == [
        "3.深化放管服改革。区级政务服务中心设置综合窗口合计85个，受理比例达89%",
        "4.推动社会信用体系建设。完善信用平台。",
    ]


@pytest.mark.parametrize(
    "first, second",
    [
        ("一、法治政府建设开展情况", "（一）政府职能全面依法履行"),  # heading, heading
        ("（一）政府职能全面依法履行", "坚持依法全面履行政府职能，深化改革。"),  # heading, prose
        ("我区深入推进法治政府建设，全面落实各项部署要求，取得", "二、存在问题"),  # prose, heading
        (
            "重庆市万州区人民政府关于2020年度法治政府建设情况的报告",
            "2020年，我区深入推进法治政府建设。",
        ),  # title
        ("铜川市2021年法治政府建设工作情况", "来源：市司法局发布时间：2022-01-28 10:01"),  # title, metadata
        ("青禾县人民政府", "2024年3月5日"),  # signature, date
        ("签发人：吴军", "遂安委〔2021〕13号"),  # metadata lines
        ("市委、市政府：", "2020年，在市委、市政府坚强领导下，安居区扎实推进依法行政。"),  # salutation
        ("全面推进依法治区，不断提升群众法治意识。", "全面推进依法行政。"),  # finished sentence
        ("索引号：747445809/2021-00027，发布机构：中原区", "发布日期：2021-04-01"),  # metadata table
    ],
    ids=[
        "heading-heading",
        "heading-prose",
        "prose-heading",
        "title",
        "title-metadata",
        "signature-date",
        "metadata",
        "salutation",
        "finished-sentence",
        "metadata-with-comma",
    ],
)
def test_does_not_join(first: str, second: str) -> None:
    assert normalize(first + "\n" + second).split("\n") == [first, second]


# --- spaces -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("全面 落实 行政 复议 工作。", "全面落实行政复议工作。"),
        ("全 面 落 实", "全面落实"),
        ("共办理 12345 热线 687 件。", "共办理12345热线687件。"),
        ("（ 一 ）强化监督", "（一）强化监督"),
        ("关于 2023 年度法治政府建设情况的报告", "关于2023年度法治政府建设情况的报告"),
        ("行政执法 “三项制度”", "行政执法“三项制度”"),
        ("全面\u3000落实\u00a0到位", "全面落实到位"),
        ("\ufeff我区\u200b全面落实", "我区全面落实"),
        ("  缩进的段落。  ", "缩进的段落。"),
    ],
)
def test_drops_spaces_between_cjk(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("使用 Windows Server 系统", "使用Windows Server系统"),
        ("the quick brown fox，我区", "the quick brown fox，我区"),
        ("发布时间：2022-01-28 10:01", "发布时间：2022-01-28 10:01"),
        ("日期 2021-02-26 09:30:15", "日期2021-02-26 09:30:15"),
    ],
)
def test_keeps_spaces_between_ascii_words_and_in_dates(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


# --- page numbers and web chrome ----------------------------------------------------------------


@pytest.mark.parametrize(
    "page", ["— 3 —", "—3—", "- 3 -", "-3-", "－ 12 －", "第3页", "第 3 页", "第3页 共10页", "3/10", "7"]
)
def test_drops_page_numbers(page: str) -> None:
    assert is_boilerplate(page) or normalize(page) == ""
    assert (
        normalize(f"第一段落内容写完了。\n{page}\n第二段落内容。") == "第一段落内容写完了。\n第二段落内容。"
    )


@pytest.mark.parametrize(
    "line",
    [
        "扫一扫在手机打开当前页面",
        "扫一扫在手机上打开当前页",
        "打印",
        "【打印】【关闭】",
        "关闭",
        "关闭窗口",
        "字体大小：大 中 小",
        "字号：T|T",
        "信息来源：区司法局",
        "网络编辑：张三",
        "责任编辑：李四",
        "首页 > 政务公开 > 法治政府建设年度报告",
        "您当前位置: 首页 > 政务公开 > 区政府年度报告",
        "当前位置：首页＞信息公开",
        "首页 政务公开 政务服务 互动交流 数据发布 走进万州",
        "中国政府网 | 重庆市人民政府网 | 万州经济技术开发区网 | |",
        "上一篇：关于印发某某通知",
        "浏览次数：",
        "语音播报",
        "返回顶部",
    ],
)
def test_drops_web_boilerplate_lines(line: str) -> None:
    text = normalize(f"{line}\n我区全面推进法治政府建设。\n{line}")
    assert text == "我区全面推进法治政府建设。"


def test_keeps_report_lines_that_mention_chrome_words() -> None:
    lines = ["关闭违法排污企业12家。", "打印机采购合同已审查。", "信息来源广泛，研判及时。"]
    assert normalize("\n".join(lines)).split("\n") == lines


def test_trims_chrome_trailing_a_metadata_line() -> None:
    raw = "来源:市司法局 发布时间:2022-01-28 10:01 阅读: 字体大小: 打印    保存 收藏"
    assert normalize(raw) == "来源：市司法局发布时间：2022-01-28 10:01"


# --- punctuation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("坚持依法行政,深化改革;强化监督:取得成效", "坚持依法行政，深化改革；强化监督：取得成效"),
        ("为企业挽回经济损失1,361万元,网上可办率98.6%。", "为企业挽回经济损失1,361万元，网上可办率98.6%。"),
        ("发布时间:2022-01-28 10:01", "发布时间：2022-01-28 10:01"),
        ("(一)政府职能全面依法履行", "（一）政府职能全面依法履行"),
        ('推行"首违不罚""轻微免罚"清单', "推行“首违不罚”“轻微免罚”清单"),
        ("是否到位?我们认为!", "是否到位？我们认为！"),
        ("1．依法行政", "1.依法行政"),
        ("标的额约63.4亿元，完成率100%。", "标的额约63.4亿元，完成率100%。"),
    ],
)
def test_unifies_punctuation_but_keeps_numbers(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_bullets_are_dropped_before_headings() -> None:
    assert normalize("- (一)注重目标引领，强化主体责任落实。") == "（一）注重目标引领，强化主体责任落实。"
    assert normalize("  • 索引号:747445809/2021-00027") == "索引号：747445809/2021-00027"


# --- shape and idempotence ------------------------------------------------------------------------


def test_output_has_no_blank_lines_and_no_edge_spaces(seed_path: Path) -> None:
    text = normalize(seed_path.read_text(encoding="utf-8"))
    assert text
    for line in text.split("\n"):
        assert line and line == line.strip()
    assert "\r" not in text


def test_normalize_is_idempotent_on_the_seeds(seed_path: Path) -> None:
    once = normalize(seed_path.read_text(encoding="utf-8"))
    assert normalize(once) == once


def test_normalize_is_idempotent_on_the_sample(sample_report_path: Path) -> None:
    once = normalize(sample_report_path.read_text(encoding="utf-8"))
    assert normalize(once) == once


def test_the_sample_loses_its_chrome_and_keeps_its_report(sample_report_path: Path) -> None:
    text = normalize(sample_report_path.read_text(encoding="utf-8"))
    for chrome in ("扫一扫在手机打开当前页面", "字体大小", "网络编辑", "— 2 —", "— 3 —"):
        assert chrome not in text
    # The sample README lists its PDF breaks and CJK spaces; all are undone.
    for fixed in ("部署要求", "合法性审核机制", "全面落实", "行政复议", "人民调解"):
        assert fixed in text
    assert "关于2023年度" in text
