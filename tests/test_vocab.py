"""The one vocabulary: numerals, characters, and the words that tell a review, a turn to problems and
the coming year's work apart."""

from __future__ import annotations

import pytest

from service import vocab
from service.models import CORE_SECTIONS, SECTION_NAMES, Section


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("一", 1),
        ("九", 9),
        ("十", 10),
        ("十二", 12),
        ("二十", 20),
        ("二十三", 23),
        ("一百零五", 105),
        ("两", 2),
    ],
)
def test_chinese_numbers(numeral: str, value: int) -> None:
    assert vocab.chinese_number(numeral) == value


@pytest.mark.parametrize("junk", ["", "甲", "十a", "一二三x"])
def test_not_a_chinese_number(junk: str) -> None:
    assert vocab.chinese_number(junk) == 0


def test_one_cjk_class() -> None:
    for ch in "法㐀豈":  # unified, extension A, compatibility ideograph
        assert vocab.is_cjk(ch) and vocab.CJK_CHAR.fullmatch(ch)
    for ch in "a1，。":
        assert not vocab.is_cjk(ch) and not vocab.CJK_CHAR.fullmatch(ch)
    assert all(vocab.is_cjk_text_char(ch) for ch in "法，“①")


@pytest.mark.parametrize(
    "sentence",
    [
        "在肯定成绩的同时，我们也清醒看到，发展中还存在一些困难和问题。",
        "但也要看到，我区法治政府建设还存在一些薄弱环节。",
        "与人民群众的期待相比，我们的工作还存在不少差距。",
        "我们既要看到成绩，更要看到前进中的困难和挑战。",
        "政府工作也存在不足。",
        "我们清醒认识到，我国仍处于社会主义初级阶段。",
    ],
)
def test_turns_to_the_shortcomings(sentence: str) -> None:
    assert vocab.PROBLEM_TURN.search(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "全年办理行政复议案件12件，同比增长8%。",
        "针对执法中发现的问题开展专项整治。",
        "深化放管服改革，优化营商环境。",
    ],
)
def test_not_turns(sentence: str) -> None:
    assert not vocab.PROBLEM_TURN.search(sentence)


@pytest.mark.parametrize(
    ("sentence", "future"),
    [
        ("我们将继续深化放管服改革。", True),
        ("要加快建设现代化产业体系。", True),
        ("力争地区生产总值增长6%。", True),
        ("这是一项重要工作。", False),  # 要 of 重要
        ("将法治建设纳入年度考核。", False),  # 将 of a done deed
        ("需要进一步加强。", False),
    ],
)
def test_future_modality(sentence: str, future: bool) -> None:
    assert bool(vocab.FUTURE_MODAL.search(sentence)) is future


def test_sections_are_named_once() -> None:
    assert [s.value for s in SECTION_NAMES] == ["achievements", "problems", "plans", "leadership"]
    assert [s.value for s in Section] == ["achievements", "leadership", "problems", "plans"]  # display order
    assert (Section.achievements, Section.problems, Section.plans) == CORE_SECTIONS
    assert [s.label_zh for s in Section] == ["主要成效", "第一责任人履职", "存在问题", "下一步安排"]
    assert Section.plans.short_zh == "计划" and Section("problems") is Section.problems
