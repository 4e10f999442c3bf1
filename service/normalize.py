"""Normalize a report's raw text into the one text that every offset indexes.

Output shape: one paragraph per line, no blank lines, no leading/trailing spaces, full-width
punctuation around Chinese text, web boilerplate and page numbers gone, PDF line breaks inside a
sentence joined, spaces between Chinese characters (PDF/OCR artefacts) dropped.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from service.vocab import CJK, NUMERALS, chinese_number

_CJK = CJK
# Full-width punctuation and brackets that behave like CJK for spacing purposes.
_CJK_PUNCT = "，。、；：？！“”‘’（）《》〈〉【】〔〕「」『』…—～·％"
_CJKISH = f"[{_CJK}{_CJK_PUNCT}]"

_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_ANY_HSPACE = re.compile(r"[^\S\n]")  # any whitespace except newline (incl. U+3000, NBSP, U+2002)
_SPACE_RUN = re.compile("( +)")
_CJK_CHAR = re.compile(f"[{_CJK}]")
# A Chinese character with a single space (or the line's edge) on both sides.
_ISOLATED_CJK = re.compile(f"(?:^| )(?<!  )[{_CJK}](?= (?! )|$)")
# Any character standing alone between spaces (or the line's edges).
_SINGLE_CHAR_TOKEN = re.compile(r"(?:^| )\S(?= |$)")
# A run of spaces with Chinese (or full-width punctuation) on at least one side.
_SPACE_NEAR_CJK = re.compile(rf"(?<={_CJKISH}) +|(?<=[.、]) +(?={_CJKISH})| +(?={_CJKISH})")

# Heading markers at the start of a line (after bullets are stripped): l1 `一、`, l2 `（一）`, l3 `1.`/`1、`
# (the outline's levels), and `第一章` (never joined to a neighbour, not an outline level).
_NUM = NUMERALS
HEADING_START = re.compile(
    rf"^(?P<marker>(?P<l1>[{_NUM}]{{1,3}}、)|(?P<l2>（[{_NUM}]{{1,3}}）)|(?P<l3>\d{{1,2}}(?:\.(?!\d)|、))"
    rf"|第[{_NUM}]{{1,3}}[章节部分])"
)
# Every bullet at once ("- - 内容", "•1) 内容"): stripping one would leave the next for a second pass.
_BULLET = re.compile(r"^(?:(?:[-•·▪●◆■□*]|\d{1,2}\))\s*)+(?=\S)")
_PAGE_NUMBER = re.compile(
    r"^(?:[—\-–－]\s*\d{1,3}\s*[—\-–－]|第\s*\d{1,3}\s*页(?:\s*[/，,]?\s*共\s*\d{1,3}\s*页)?|\d{1,3}\s*/\s*\d{1,3}|-?\d{1,3}-?)$"
)

# Whole lines that are web-page chrome, never report text.
_BOILERPLATE_LINE = re.compile(
    r"^(?:扫一扫在手机(?:上)?打开当前页(?:面)?|打印(?:本页|此页)?|关闭(?:窗口|本页)?|【?打印】?【?关闭】?|"
    r"保存|收藏|分享(?:到)?|语音播报|我要找政策|返回顶部|相关链接|标签[:：]?|"
    r"(?:字体|字号)(?:大小)?[:：]?.*|(?:信息来源|网络编辑|信息审核|责任编辑|编辑|审核|校对)[:：].*|"
    r"留言与评论.*|验证码[:：]?.*|浏览次数[:：]?\d*|您(?:当前)?的?(?:当前)?位置[:：].*|当前位置[:：].*|"
    r"首页\s*[>＞].*|[>＞].*[>＞].*|首页(?:\s+\S{2,6}){2,}|"
    r"(?:上一篇|下一篇)[:：].*|附件[:：]?下载.*|分享到[:：]?.*)$"
)
# Site footers: "主办单位：…办公室 版权所有 渝ICP备05003300号 网站标识码5001010001 公安备案号…".
_FOOTER_MARK = re.compile(r"版权所有|[Cc]opyright|©|ICP[备证](?!案)|网站标识码|公网安备|公安备案号")
# Words of a footer that prose may use too: they count only in a line without prose punctuation.
_FOOTER_START = re.compile(
    r"^(?:主办(?:单位)?|承办(?:单位)?|协办(?:单位)?|技术支持|网站维护|运行维护|维护单位)[:：]|网站地图|联系我们"
)
_FOOTER_KEY = re.compile(
    r"主办|承办|协办|技术支持|网站维护|联系电话|联系方式|电话[:：]|地址[:：]|邮编|邮政编码|传真|电子邮箱|[Ee]-?mail"
)


def _is_footer(line: str) -> bool:
    """A site footer line, by its words; never one with a full stop, never a heading."""
    if "。" in line or len(line) > 200 or HEADING_START.match(line):
        return False
    if _FOOTER_MARK.search(line):
        return True
    if re.search("[，；]", line):
        return False
    # "主办单位：…", "网站地图 | 联系我们", "地址：…路1号 联系电话：023-… 邮编：404000"
    return bool(_FOOTER_START.search(line)) or len(_FOOTER_KEY.findall(line)) >= 2


# A line split by `|` into short pieces is a menu or a link bar ("中国政府网 | 重庆市人民政府网 | |").
_MENU_SEGMENT_MAX = 20


def _is_menu(line: str) -> bool:
    if line.count("|") < 2:
        return False
    segments = [seg.strip() for seg in line.split("|")]
    return "。" not in line and all(len(seg) <= _MENU_SEGMENT_MAX for seg in segments)


# Chrome words trailing a useful metadata line ("来源:市司法局 发布时间:… 阅读: 字体大小: 打印 保存 收藏").
# The bare words (打印, 关闭 …) only after a gap: "依法关闭" at a PDF line break is the report's text.
_TRAILING_CHROME = re.compile(
    r"(?:\s*(?:阅读(?:次数)?|浏览(?:次数)?|点击(?:数)?)[:：]\s*\d*"
    r"|\s*字体(?:大小)?(?:[:：]\s*(?:[大中小]\s*)*|\s*(?:[大中小]\s*)+)"
    r"|(?:^|\s+)(?:打印|保存|收藏|关闭|分享))+\s*$"
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


def _ocr_spaced(line: str) -> bool:
    """OCR (or a PDF with per-character positioning) put a space after every character of the line:
    most of its characters stand alone between single spaces ("中 原 区 2 0 2 0 年", "2 0 2 1 2 2 6 日"),
    Chinese ones among them.

    Never true of normalized text, which has no space next to a Chinese character: that keeps
    normalize idempotent."""
    if not _ISOLATED_CJK.search(line):
        return False
    singles = len(_SINGLE_CHAR_TOKEN.findall(line))
    return singles >= 4 and singles * 5 >= 3 * (len(line) - line.count(" "))


def _despace_ocr(line: str) -> str:
    """Drop the single spaces OCR put between characters: any single space next to a one-character
    token ("2 0 2 0", "1 5 4 9 6", "索 引 号 : 7 4"). Runs of spaces (a real space, spaced out) and
    single spaces between two longer tokens ("2022-01-28 10:01", "Windows Server") stay."""
    parts = _SPACE_RUN.split(line)  # token, gap, token, gap, …
    out = [parts[0]]
    for i in range(1, len(parts), 2):
        gap, token = parts[i], parts[i + 1]
        if not (gap == " " and (len(parts[i - 1]) == 1 or len(token) == 1)):
            out.append(gap)
        out.append(token)
    return "".join(out)


def _clean_line(line: str) -> str:
    """Tidy one line; '' when the whole line is page chrome."""
    line = _ZERO_WIDTH.sub("", line)
    if _ANY_HSPACE.search(line):
        # One space per space character first: OCR spacing is told from real gaps by their width.
        line = _ANY_HSPACE.sub(" ", line).strip()
        if _ocr_spaced(line):
            line = _despace_ocr(line)
        line = _SPACE_RUN.sub(" ", line)
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
    return bool(
        _BOILERPLATE_LINE.match(line) or _PAGE_NUMBER.match(line) or _is_menu(line) or _is_footer(line)
    )


def _ends_sentence(line: str) -> bool:
    stripped = line.rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in _TERMINAL


def is_heading_line(line: str) -> bool:
    """A line that is only a heading (not a paragraph that starts with an inline-titled heading)."""
    return bool(HEADING_START.match(line)) and len(line) <= 40 and "。" not in line


_METADATA_KEY = re.compile(r"(?:日期|时间|来源|索引号|文号|发布机构|签发人|抄送|印发|浏览)[:：]?")
_ENDS_WITH_DATE = re.compile(r"(?:\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}(?:\s*\d{1,2}:\d{2})?)$")


def _heading_number(line: str) -> tuple[int, int] | None:
    """(level, number) of a `一、` / `（一）` / `1.` marker opening the line."""
    m = HEADING_START.match(line)
    if not m or not (m.group("l1") or m.group("l2") or m.group("l3")):
        return None
    if m.group("l3"):
        return 3, int(m.group("marker").rstrip(".、"))
    level = 1 if m.group("l1") else 2
    return level, chinese_number(m.group("marker").strip("、（）"))


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


#: A running page header or footer ("普陀区人民政府文件") is a short line that comes back on every page.
_RUNNING_MAX_CHARS = 30
_RUNNING_MIN_REPEATS = 3
_PROSE_PUNCT = re.compile("[，。；！？]")


def _running_lines(lines: list[str]) -> set[int]:
    """Indices of running page headers/footers: a short line that repeats 3+ times and is neither a
    heading nor prose (no ，。；). PDF text puts one at every page break, often inside a sentence.

    The first copy stays when it opens the document (nothing but title-block lines before it): a
    title printed atop every page is still the title."""
    counts = Counter(line for line in lines if len(line) <= _RUNNING_MAX_CHARS)
    running = {
        line
        for line, n in counts.items()
        if n >= _RUNNING_MIN_REPEATS and not HEADING_START.match(line) and not _PROSE_PUNCT.search(line)
    }
    if not running:
        return set()
    drop = {i for i, line in enumerate(lines) if line in running}
    head = next((i for i, line in enumerate(lines) if _PROSE_PUNCT.search(line)), len(lines))
    for line in running:
        first = lines.index(line)
        if first < head:
            drop.discard(first)
    return drop


def normalize(raw: str) -> str:
    """Return the normalized text (see module docstring). Idempotent."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    cleaned = [line for line in map(_clean_line, text.split("\n")) if line and not is_boilerplate(line)]
    running = _running_lines(cleaned)
    lines: list[str] = []
    numbers = [0, 0, 0, 0]  # last heading number seen per level (1..3)
    for i, line in enumerate(cleaned):
        if i in running:
            continue
        if lines and _continues(lines[-1], line, numbers):
            lines[-1] += line
        else:
            lines.append(line)
            _count_heading(line, numbers)
    return "\n".join(_without_license_notice(lines))


# A site's licence notice under the text (a wiki's "本作品是中华人民共和国的法律、法规…属于公有领域"):
# it opens with one of these and names a licence or the public domain before the page ends.
_NOTICE_START = re.compile(r"^(?:本作品|本文(?:本|章)?(?:采用|遵循|依据)|本页面|此作品)")
_NOTICE_WORDS = re.compile(r"公有领域|著作权法|许可协议|知识共享|[Pp]ublic [Dd]omain|[Cc]reative [Cc]ommons")
_NOTICE_LINES_MAX = 12


def _without_license_notice(lines: list[str]) -> list[str]:
    for i in range(max(0, len(lines) - _NOTICE_LINES_MAX), len(lines)):
        if _NOTICE_START.match(lines[i]) and _NOTICE_WORDS.search("".join(lines[i:])):
            return lines[:i]
    return lines
