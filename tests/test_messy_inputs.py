"""Messy inputs a reviewer fed the pipeline: Chinese text that is not a report, and a report whose
plans section is one paragraph followed by a signature, a date and the site's footer.

(The format variants — table-layout and GBK pages, OCR spacing, running PDF headers — are run over
every seed in test_seeds_e2e.py; the unit cases live in test_ingest/test_normalize/test_outline.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.backends.rules import RulesBackend
from service.document import SectionKind
from service.errors import NotAReportError
from service.ingest import read_bytes
from service.pipeline import analyze, summarize_document, summarize_path

DIARY = """今天天气很好，我们一家人早上去公园散步，看到湖边的柳树发芽了。
中午妈妈做了红烧肉和番茄炒蛋，弟弟吃了两大碗米饭，还想再要一碗。
下午我在书房看了一会儿小说，讲的是一个少年在海边长大的故事，很有意思。
傍晚下起了小雨，我们在阳台上喝茶聊天，听着雨声，觉得很放松。
晚上吃了饺子，有白菜猪肉馅的，也有韭菜鸡蛋馅的，大家都说好吃。
睡觉前我给远方的朋友打了电话，约好下个月一起去爬山，看看山顶的日出。
明天要早起上班，希望天气还能这么好，路上不要堵车，一切顺利。
"""

RECIPE = """红烧茄子的做法
茄子洗净切成滚刀块，撒少许盐腌十分钟，挤去多余水分。
锅中多放些油，油热后下茄子，中火煎到表面金黄变软后盛出。
锅里留底油，放入葱姜蒜末和少许豆瓣酱炒出红油和香味。
倒入茄子翻炒均匀，加生抽、老抽、白糖和少量清水，盖上锅盖焖两分钟。
最后用水淀粉勾薄芡，大火收汁，撒上葱花即可出锅，配米饭非常下饭。
"""


@pytest.mark.parametrize("text", [DIARY, RECIPE], ids=["diary", "recipe"])
def test_chinese_text_that_is_not_a_report_is_rejected(tmp_path: Path, text: str) -> None:
    path = tmp_path / "not-a-report.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NotAReportError) as raised:
        summarize_path(path, RulesBackend())
    message = str(raised.value)
    assert message.startswith(f"{path}: not an annual government report: ")
    assert "no title, year or section headings" in message and "\n" not in message
    assert raised.value.path == str(path)


def test_a_repeated_diary_line_is_rejected_too() -> None:
    with pytest.raises(NotAReportError, match=r"^diary\.txt: "):
        analyze(read_bytes(("今天天气很好，我们去公园散步。晚上吃了饺子。\n" * 10).encode(), "diary.txt"))


def test_report_prose_without_title_year_or_headings_is_accepted(sample_report_path: Path) -> None:
    """A fragment of a report (pasted prose, no heading, no title, no year) is still a report."""
    lines = sample_report_path.read_text(encoding="utf-8").splitlines()
    prose = [
        ln.strip()
        for ln in lines
        if len(ln.strip()) > 80 and not re.match(r"\s*(?:[一二三四五六七八九十（(\d]|\d{4}年)", ln)
    ][:3]
    assert len(prose) == 3
    doc = analyze(read_bytes("\n".join(prose).encode(), "fragment.txt"))
    assert doc.meta.title is None and doc.meta.year is None


@pytest.mark.parametrize(
    "text",
    [
        "一、主要成效\n清理文件46件，办理案件132件，开展培训20次，全年各项工作顺利推进，群众满意度持续提升，取得了较好的效果。",
        "青禾县人民政府关于2023年度法治政府建设情况的报告\n今年各项工作顺利推进，群众满意度持续提升，取得了较好的效果。",
        "2023年，全县各项工作顺利推进，群众满意度持续提升，取得了较好的效果，下一步我们将继续努力，争取更好的成绩。",
    ],
    ids=["heading", "title", "year"],
)
def test_short_texts_with_a_report_structure_are_accepted(text: str) -> None:
    doc = analyze(read_bytes(text.encode(), "short.txt"))  # raises NotAReportError if rejected
    assert "".join(s.text for s in doc.sentences) == text.replace("\n", "")


def test_the_sample_and_the_truncated_seeds_are_accepted(
    sample_report_path: Path, seed_paths: list[Path]
) -> None:
    # Each analyze() raises NotAReportError if the text is rejected.
    assert analyze(read_bytes(sample_report_path.read_bytes(), "sample.txt")).meta.year == 2023
    for path in seed_paths:
        text = path.read_text(encoding="utf-8")
        for share in (0.6, 0.3):
            doc = analyze(read_bytes(text[: int(len(text) * share)].encode(), path.name))
            assert doc.outline.nodes, f"{path.name} cut to {share:.0%}: no section found"


# --- the plans section is one paragraph, then page furniture ----------------------------------------

ONE_PARAGRAPH_PLANS = """某县2021年法治政府建设情况报告
一、主要成效
（一）深化改革。精简审批事项20项。
二、存在问题
一是法治意识不强；二是执法力量不足。
三、下一步工作安排
2022年，我县将继续深入推进法治政府建设，加强学习，规范执法。
某县人民政府
2022年1月5日
主办单位：某县人民政府办公室  版权所有  某ICP备12345678号-1  网站标识码1234567890  公安备案号 12345678901234
"""
PLAN_PARAGRAPH = "2022年，我县将继续深入推进法治政府建设，加强学习，规范执法。"


def test_the_signature_and_footer_are_not_plans() -> None:
    doc = analyze(read_bytes(ONE_PARAGRAPH_PLANS.encode(), "foot.txt"))
    assert "版权所有" not in doc.text and "ICP" not in doc.text
    plans = [n for n in doc.outline.nodes if n.kind == SectionKind.plans]
    closing = [n for n in doc.outline.nodes if n.kind == SectionKind.closing]
    assert len(plans) == 1 and len(closing) == 1
    assert doc.text[plans[0].body_start : plans[0].end] == PLAN_PARAGRAPH
    assert doc.text[closing[0].start : closing[0].end] == "某县人民政府\n2022年1月5日"
    # Whatever the rules backend makes of the paragraph, no plan comes from the signature or footer.
    brief = summarize_document(doc, RulesBackend())
    for item in brief.plans:
        assert all(span.quote in PLAN_PARAGRAPH for span in item.evidence), item.title
