"""Normalize a report's raw text into the one text that every offset indexes.

Output shape: one paragraph per line, no blank lines, no leading/trailing spaces, full-width
punctuation around Chinese text, web boilerplate and page numbers gone, PDF line breaks inside a
sentence joined, spaces between Chinese characters (PDF/OCR artefacts) dropped.
"""

from __future__ import annotations

import re
import unicodedata

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Full-width punctuation and brackets that behave like CJK for spacing purposes.
_CJK_PUNCT = "，。、；：？！“”‘’（）《》〈〉【】〔〕「」『』…—～·％"
_CJKISH = f"[{_CJK}{_CJK_PUNCT}]"

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_HSPACE = re.compile(r"[^\S\n]+")  # any whitespace except newline (incl. U+3000, NBSP, U+2002)
# A run of spaces with Chinese (or full-width punctuation) on at least one side.
_SPACE_NEAR_CJK = re.compile(rf"(?<={_CJKISH}) +|(?<=[.、]) +(?={_CJKISH})| +(?={_CJKISH})")

# Heading markers at the start of a line (after bullets are stripped); used to avoid joining.
HEADING_START = re.compile(
    r"^(?:[一二三四五六七八九十]{1,3}、|（[一二三四五六七八九十]{1,3}）|\d{1,2}(?:\.(?!\d)|、)|第[一二三四五六七八九十]{1,3}[章节部分])"
)
_BULLET = re.compile(r"^(?:[-•·▪●◆■□*]|\d{1,2}\))\s*(?=\S)")
_PAGE_NUMBER = re.compile(
    r"^(?:[—\-–－]\s*\d{1,3}\s*[—\-–－]|第\s*\d{1,3}\s*页(?:\s*[/，,]?\s*共\s*\d{1,3}\s*页)?|\d{1,3}\s*/\s*\d{1,3}|-?\d{1,3}-?)$"
)

# Whole lines that are web-page chrome, never report text.
_BOILERPLATE_LINE = re.compile(
    r"^(?:扫一扫在手机(?:上)?打开当前页(?:面)?|打印(?:本页|此页)?|关闭(?:窗口|本页)?|【?打印】?【?关闭】?|"
    r"保存|收藏|分享(?:到)?|语音播报|我要找政策|返回顶部|相关链接|标签[:：]?|"
    r"(?:字体|字号)(?:大小)?[:：]?.*|(?:信息来源|网络编辑|信息审核|责任编辑|编辑|审核|校对)[:：].*|"
    r"留言与评论.*|验证码[:：]?.*|浏览次数[:：]?\d*|您(?:当前)?的?(?:当前)?位置[:：].*|当前位置[:：].*|"
    r"首页\s*[>＞].*|[>＞].*[>＞].*|.*\|.*\|.*|首页(?:\s+\S{2,6}){2,}|"
    r"(?:上一篇|下一篇)[:：].*|附件[:：]?下载.*|分享到[:：]?.*)$"
)
# Chrome words trailing a useful metadata line ("来源:市司法局 发布时间:… 阅读: 字体大小: 打印 保存 收藏").
_TRAILING_CHROME = re.compile(
    r"(?:\s*(?:阅读(?:次数)?|浏览(?:次数)?|点击(?:数)?)[:：]\s*\d*|\s*字体(?:大小)?[:：]?\s*(?:[大中小]\s*)*|\s*(?:打印|保存|收藏|关闭|分享))+\s*$"
)
# Every alternative of _TRAILING_CHROME holds one of these words: a cheap test before the costly sub.
_CHROME_WORD = re.compile("阅读|浏览|点击|字体|打印|保存|收藏|关闭|分享")
_COMMA = re.compile(r"(?<!\d),|,(?!\d)")
_COLON = re.compile(r"(?<!\d):|:(?!\d)")
_QUESTION = re.compile(rf"(?<={_CJKISH})\?|\?(?={_CJKISH})")
_BANG = re.compile(rf"(?<={_CJKISH})!|!(?={_CJKISH})")
_SPACED_NUMERAL = re.compile(r"（\s*([一二三四五六七八九十]+)\s*）")

_TERMINAL = "。！？；：!?;:"
_CLOSERS = "”’」』）)》"


def _unify_punctuation(line: str) -> str:
    """Make ASCII punctuation inside Chinese prose full-width, leaving numbers and dates alone."""
    line = line.replace("．", ".").replace("﹒", ".")
    # (The `in` tests only skip regex scans that could not change the line: normalize is hot.)
    if "," in line:
        line = _COMMA.sub("，", line)
    if ":" in line:
        line = _COLON.sub("：", line)
    line = line.replace(";", "；").replace("(", "（").replace(")", "）")
    if "?" in line:
        line = _QUESTION.sub("？", line)
    if "!" in line:
        line = _BANG.sub("！", line)
    # ASCII double quotes alternate open/close; Chinese reports mean curly quotes by them.
    if '"' in line:
        parts = line.split('"')
        line = "".join(p + ("“" if i % 2 == 0 else "”") for i, p in enumerate(parts[:-1])) + parts[-1]
    return line


def _clean_line(line: str) -> str:
    """Tidy one line; '' when the whole line is page chrome."""
    line = _ZERO_WIDTH.sub("", line)
    line = _HSPACE.sub(" ", line).strip()
    if _PAGE_NUMBER.match(line):  # before "- 3 -" loses its first dash as a bullet
        return ""
    line = _BULLET.sub("", line)
    # Chrome is recognised before spaces are dropped: "首页 政务公开 政务服务" is a menu by its gaps.
    if not line or is_boilerplate(line):
        return ""
    if _CHROME_WORD.search(line):
        line = _TRAILING_CHROME.sub("", line).strip()
    line = _unify_punctuation(line)
    if " " in line:
        line = _SPACE_NEAR_CJK.sub("", line)
        # "（ 一 ）" and "1 ." from OCR
        line = _SPACED_NUMERAL.sub(r"（\1）", line)
    return line


def is_boilerplate(line: str) -> bool:
    return bool(_BOILERPLATE_LINE.match(line) or _PAGE_NUMBER.match(line))


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _TERMINAL


def is_heading_line(line: str) -> bool:
    """A line that is only a heading (not a paragraph that starts with an inline-titled heading)."""
    return bool(HEADING_START.match(line)) and len(line) <= 40 and "。" not in line


_METADATA_KEY = re.compile(r"(?:日期|时间|来源|索引号|文号|发布机构|签发人|抄送|印发|浏览)[:：]?")
_ENDS_WITH_DATE = re.compile(r"(?:\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}(?:\s*\d{1,2}:\d{2})?)$")


_NUMBERED = re.compile(
    r"^(?:(?P<l1>[一二三四五六七八九十]{1,3})、|（(?P<l2>[一二三四五六七八九十]{1,3})）|(?P<l3>\d{1,2})(?:\.(?!\d)|、))"
)
_CN_DIGITS = {ch: i for i, ch in enumerate("零一二三四五六七八九")}


def _heading_number(line: str) -> tuple[int, int] | None:
    """(level, number) of a `一、` / `（一）` / `1.` marker opening the line."""
    m = _NUMBERED.match(line)
    if not m:
        return None
    if m.group("l3"):
        return 3, int(m.group("l3"))
    level, num = (1, m.group("l1")) if m.group("l1") else (2, m.group("l2"))
    tens, ten, ones = num.rpartition("十")
    value = (_CN_DIGITS.get(tens, 1) * 10 if ten else 0) + _CN_DIGITS.get(ones, 0)
    return level, value


def _count_heading(line: str, numbers: list[int]) -> None:
    """Remember the last number seen at each heading level (a deeper level restarts)."""
    found = _heading_number(line)
    if found:
        level, value = found
        numbers[level] = value
        for deeper in range(level + 1, len(numbers)):
            numbers[deeper] = 0


def _continues(prev: str, nxt: str, numbers: list[int] | None = None) -> bool:
    """True when `nxt` is the rest of a sentence that a PDF/web line break cut in `prev`.

    A line opening with a heading marker is a heading, unless its number goes back in the
    numbering so far and `prev` stops mid-sentence: "…标准统一、管理统" + "一、服务统一”。" is one
    sentence that a PDF line break cut just before "一、"."""
    if _ends_sentence(prev) or is_heading_line(prev):
        return False
    if HEADING_START.match(nxt):
        found = _heading_number(nxt)
        if numbers is None or found is None or found[1] > numbers[found[0]]:
            return False
    if len(prev) < 18:  # titles, signatures, dates, metadata lines are short
        return False
    if not re.search("[，、。；]", prev):  # prose has punctuation; menus and metadata tables don't
        return False
    if prev.endswith(("报告", "情况", "总结")) or _ENDS_WITH_DATE.search(prev):
        return False
    if _METADATA_KEY.match(nxt) or (
        _METADATA_KEY.search(prev) and not _ends_sentence(prev) and "。" not in prev
    ):
        return False
    # Closing marks too: a PDF line may start with the "”" or "。" that ends the cut sentence.
    return bool(_CONTINUATION_START.match(nxt))


_CONTINUATION_START = re.compile(rf"[{_CJK}\d“《（，、”’）》」』。；：！？%％]")


def normalize(raw: str) -> str:
    """Return the normalized text (see module docstring). Idempotent."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    lines: list[str] = []
    numbers = [0, 0, 0, 0]  # last heading number seen per level (1..3)
    for raw_line in text.split("\n"):
        line = _clean_line(raw_line)
        if not line or is_boilerplate(line):
            continue
        if lines and _continues(lines[-1], line, numbers):
            lines[-1] += line
        else:
            lines.append(line)
            _count_heading(line, numbers)
    return "\n".join(lines)
