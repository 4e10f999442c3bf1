"""normalize: the one text every offset indexes — joined PDF breaks, no CJK spaces, no page chrome."""

from __future__ import annotations

import re
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
        ("中 原 区 2 0 2 0 年 度 法 治 政 府 建 设 情 况 的 报 告", "中原区2020年度法治政府建设情况的报告"),
        ("全 年 共 办 理 1 5 4 9 6 件 ， 办 结 率 9 8 . 6 % 。", "全年共办理15496件，办结率98.6%。"),
        ("索 引 号 : 7 4 7 4 4 5 8 0 9 / 2 0 2 1 - 0 0 0 2 7", "索引号：747445809/2021-00027"),
        ("2 0 2 1 2 2 6 日", "2021226日"),
        ("[   发 布 日 期   ]       2 0 2 1 - 0 2 - 2 6", "[发布日期] 2021-02-26"),
        # A real space, spaced out, is three wide: it stays (as one).
        ("发 布 时 间 ： 2 0 2 2 - 0 1 - 2 8   1 0 : 0 1", "发布时间：2022-01-28 10:01"),
        ("发 布 时 间 ： 2022-01-28 10:01 来 源 ： 市 司 法 局", "发布时间：2022-01-28 10:01来源：市司法局"),
        ("使 用   W i n d o w s   S e r v e r   系 统", "使用Windows Server系统"),
        ("( 一 ) 加 强 党 对 法 治 政 府 建 设 的 领 导", "（一）加强党对法治政府建设的领导"),
    ],
)
def test_undoes_ocr_spacing_between_every_character(raw: str, expected: str) -> None:
    assert normalize(raw) == expected
    assert normalize(expected) == expected


@pytest.mark.parametrize(
    "line",
    [
        "发布时间：2022-01-28 10:01",
        "使用 Windows Server 2019 系统",
        "字号 1 2 3 为表格列序",  # few characters stand alone: not OCR spacing
        "the quick brown fox，我区",
    ],
)
def test_ordinary_spaces_do_not_count_as_ocr_spacing(line: str) -> None:
    once = normalize(line)
    assert normalize(once) == once
    assert re.sub(r"\s", "", once) == re.sub(r"\s", "", normalize(line))
    if " " in line and not re.search(r"[\u4e00-\u9fff] | [\u4e00-\u9fff]", line):
        assert " " in once


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


# --- running page headers --------------------------------------------------------------------------

HEADER = "普陀区人民政府文件"


def test_drops_a_running_header_spliced_into_sentences() -> None:
    raw = "\n".join(
        [
            "一、主要成效",
            PROSE,
            HEADER,
            REST,
            "二是强化执法监督，全年开展执法检查一百二十次，发现",
            "— 2 —",
            HEADER,
            "问题全部整改到位。",
            "三是深化普法宣传，全年开展普法活动二百一十场次，受",
            HEADER,
            "教育群众超过十万人次。",
        ]
    )
    assert normalize(raw).split("\n") == [
        "一、主要成效",
        PROSE + REST,
        "二是强化执法监督，全年开展执法检查一百二十次，发现问题全部整改到位。",
        "三是深化普法宣传，全年开展普法活动二百一十场次，受教育群众超过十万人次。",
    ]


def test_a_running_header_that_opens_the_document_keeps_its_first_copy() -> None:
    title = "普陀区2021年度法治政府建设工作报告"
    paras = [f"第{n}项工作全面推进法治政府建设，落实各项部署要求，取得明显成效。" for n in "一二三"]
    body = [f"{p[:20]}\n{title}\n{p[20:]}" for p in paras]
    text = normalize(title + "\n发布日期：2022-01-28\n" + "\n".join(body))
    assert text.split("\n") == [title, "发布日期：2022-01-28", *paras]


@pytest.mark.parametrize(
    "line",
    ["（一）强化执法监督", "一、主要成效", "全部整改到位。"],
    ids=["heading", "top-heading", "finished-sentence"],
)
def test_repeated_headings_and_sentences_are_not_running_headers(line: str) -> None:
    raw = "\n".join(f"第{i}段落的内容写完了。\n{line}" for i in range(4))
    assert normalize(raw).split("\n").count(line) == 4


def test_a_short_line_seen_twice_is_kept() -> None:
    raw = f"{HEADER}\n我区全面推进法治政府建设。\n{HEADER}\n持续优化营商环境。"
    assert normalize(raw).count(HEADER) == 2


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


@pytest.mark.parametrize(
    "line",
    [
        "主办：重庆市万州区人民政府办公室 版权所有 渝ICP备05003300号 网站标识码5001010001",
        "主办单位：某县人民政府办公室  版权所有  某ICP备12345678号-1  网站标识码1234567890  公安备案号 12345678901234",
        "主办单位：青禾县人民政府办公室    承办单位：青禾县大数据中心",
        "网站标识码：0000000001    联系电话：0000-1234567",
        "承办：某区大数据发展局 技术支持：某某网络科技有限公司",
        "地址：某县人民路1号    联系电话：0000-1234567    邮编：000000",
        "Copyright © 2021 某市人民政府 All Rights Reserved",
        "京公网安备 11010502030143号",
    ],
)
def test_drops_site_footer_lines(line: str) -> None:
    text = normalize(f"我区全面推进法治政府建设。\n某区人民政府\n2022年1月5日\n{line}")
    assert text == "我区全面推进法治政府建设。\n某区人民政府\n2022年1月5日"


@pytest.mark.parametrize(
    "line",
    [
        "督促全区126家网站完成ICP备案，清理违规网站5家。",
        "由市司法局作为主办单位，承办全市法治政府建设推进会。",
        "（三）加强网站地图和政务公开专栏建设",
        "网站地图和联系我们栏目改版，全面提升政府网站服务能力",  # a PDF line, cut mid-sentence
        "完成全部1,361件执法案卷评查｜其中优秀案卷86卷｜发现问题117个，均已督促整改到位。",
    ],
)
def test_keeps_report_lines_with_footer_words(line: str) -> None:
    assert normalize(line) == line


def test_a_pipe_line_is_dropped_only_when_it_is_a_menu() -> None:
    menu = "中国政府网 | 重庆市人民政府网 | 万州经济技术开发区网 | |"
    assert normalize(f"{menu}\n我区全面推进法治政府建设。") == "我区全面推进法治政府建设。"
    # A table-layout cell squashed into one row by an HTML extractor is the report, not a menu.
    row = (
        "|  | 重庆市万州区人民政府关于2020年度法治政府建设情况的报告 日期:2021-02-26 "
        "2020年,在市委、市政府和区委的坚强领导下,万州区政府全面推进法治政府建设工作任务落实。 |"
    )
    assert "全面推进法治政府建设工作任务落实。" in normalize(row)
    prose = "深入推进法治政府建设，全面落实各项部署要求 | 持续优化法治化营商环境，推动高质量发展 | 取得成效"
    assert normalize(prose) != ""


def test_keeps_report_lines_that_mention_chrome_words() -> None:
    lines = ["关闭违法排污企业12家。", "打印机采购合同已审查。", "信息来源广泛，研判及时。"]
    assert normalize("\n".join(lines)).split("\n") == lines


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        # a PDF line break right after the word: the sentence goes on on the next line
        ("对违法排污企业责令停产整顿、依法关闭\n10家，罚款200万元。", "依法关闭10家"),
        ("统一使用规范字体\n印制执法文书。", "统一使用规范字体"),
        ("开展“法治讲堂”线上分享\n活动12场。", "“法治讲堂”线上分享"),
    ],
)
def test_chrome_words_that_end_a_broken_line_are_the_reports_text(raw: str, kept: str) -> None:
    assert kept in normalize(raw)


@pytest.mark.parametrize(
    "raw", ["- - 全面推进依法行政。", "• 1) 全面推进依法行政。", "--要扫不\n打.2", "第关 闭"]
)
def test_second_normalize_changes_nothing(raw: str) -> None:
    """Each of these once changed again on a second pass (a bullet under a bullet; chrome words
    that only met once spaces between characters were gone)."""
    once = normalize(raw)
    assert normalize(once) == once


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
    for chrome in (
        "扫一扫在手机打开当前页面",
        "字体大小",
        "网络编辑",
        "— 2 —",
        "— 3 —",
        "主办单位",
        "网站标识码",
    ):
        assert chrome not in text
    # The sample README lists its PDF breaks and CJK spaces; all are undone.
    for fixed in ("部署要求", "合法性审核机制", "全面落实", "行政复议", "人民调解"):
        assert fixed in text
    assert "关于2023年度" in text
