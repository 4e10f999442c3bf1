"""Outline: the heading hierarchy of a normalized report, its section kinds, and its metadata.

Levels: 1 `一、`, 2 `（一）`, 3 `1.`/`1、`, 4 inline `一是……二是……`. Top-level sections are classified
by their heading words (achievements / leadership / problems / plans); a section that holds both
problems and plans ("存在问题及2022年工作打算") is split where the plans begin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from service.document import Node, Outline, SectionKind
from service.meta import extract_meta
from service.normalize import HEADING_START, NUMERALS, is_boilerplate
from service.segment import boundaries

_NUM = NUMERALS
_INLINE = re.compile(rf"(?P<num>[{_NUM}]{{1,3}})是")
# Where an inline marker may stand: paragraph start, after punctuation, or after "我区/我市/我县".
_INLINE_LEFT = re.compile(r"(?:^|[。；：，、！？]|[我本][区市县镇省州旗])$")

_LEADERSHIP = re.compile(r"第一责任人|主要负责人|党政主要|一把手")
_PROBLEMS = re.compile(r"问题|不足|短板|差距|困难|薄弱")
_PLANS = re.compile(
    r"打算|计划|安排|思路|下一步|工作重点|重点工作|展望|努力方向|工作目标|今后|\d{4}年(?:度)?(?:的)?(?:主要)?工作(?!开展)"
)
_PLAN_START = re.compile(
    r"^(?:下一步|今后|明年|新的一年|\d{4}年(?:是|，|,|我|全|将|要|本)|[我本][区市县镇].{0,6}将|.{0,12}(?:工作打算|重点做好|工作安排|工作计划|工作思路)[如以]?)"
)
_SENT_END = re.compile(r"(?<=[。！？])|(?<=\n)")

CHINESE_DIGITS = {ch: i + 1 for i, ch in enumerate(_NUM[:9])}


def chinese_number(s: str) -> int:
    """一..九十九 → int (enough for heading numbers)."""
    if s == "十":
        return 10
    if s.startswith("十"):
        return 10 + CHINESE_DIGITS.get(s[1:], 0)
    if "十" in s:
        tens, _, ones = s.partition("十")
        return CHINESE_DIGITS.get(tens, 0) * 10 + CHINESE_DIGITS.get(ones, 0)
    return CHINESE_DIGITS.get(s, 0)


@dataclass
class _Line:
    start: int
    end: int
    text: str


def _lines(text: str) -> Iterator[_Line]:
    pos = 0
    for line in text.split("\n"):
        yield _Line(pos, pos + len(line), line)
        pos += len(line) + 1


def _heading_title(text: str, title_start: int, line_end: int) -> int:
    """End offset of a heading's own words: the whole short line, or up to the first 。 of an
    inline-titled paragraph ("1.依法精准防控疫情。及时……"), else its first clause."""
    line = text[title_start:line_end]
    if "。" not in line and len(line) <= 40:
        return line_end
    for stop in ("。", "！", "？"):
        i = line.find(stop)
        if 0 < i <= 60:
            return title_start + i
    i = line.find("，")
    return title_start + (i if 0 < i <= 40 else min(len(line), 30))


def _heading_nodes(text: str) -> list[Node]:
    nodes: list[Node] = []
    for ln in _lines(text):
        m = HEADING_START.match(ln.text)
        if not m or not (m.group("l1") or m.group("l2") or m.group("l3")):
            continue
        level = 1 if m.group("l1") else 2 if m.group("l2") else 3
        marker = m.group("marker")
        title_start = ln.start + len(marker)
        title_end = _heading_title(text, title_start, ln.end)
        if title_end <= title_start:
            continue
        nodes.append(
            Node(
                level=level,
                marker=marker,
                title=text[title_start:title_end],
                start=ln.start,
                end=ln.end,
                title_start=title_start,
                title_end=title_end,
                body_start=min(title_end + 1, ln.end) if title_end < ln.end else ln.end + 1,
            )
        )
    return nodes


def _nest(flat: list[Node], text_end: int) -> list[Node]:
    """Build the tree; each node extends to the next heading of the same or a higher level."""
    roots: list[Node] = []
    stack: list[Node] = []  # open headings, levels strictly rising: one pass, not a scan per node
    for node in flat:
        while stack and stack[-1].level >= node.level:
            done = stack.pop()  # `node` is the next heading of the same or a higher level
            done.end = max(node.start - 1, done.end) if node.start < text_end else text_end
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
    for node in stack:
        node.end = text_end
    return roots


def _inline_nodes(text: str, start: int, end: int) -> list[Node]:
    """Inline enumerations `一是……二是……` in text[start:end], as level-4 nodes.

    Items may open paragraphs or sit inside one, or both (a page break after 一是). A 一是 met while
    a list is under way opens a list nested inside the current item: it and its followers are
    skipped until an item of the outer list opens a paragraph again.
    """
    markers: list[tuple[int, int, bool, int]] = []  # (offset, number, opens paragraph, paragraph end)
    for ln in _lines(text[start:end]):
        for m in _INLINE.finditer(ln.text):
            at_start = m.start() == 0
            if not at_start and not _INLINE_LEFT.search(ln.text[max(0, m.start() - 2) : m.start()]):
                continue
            markers.append(
                (start + ln.start + m.start(), chinese_number(m.group("num")), at_start, start + ln.end)
            )
    seq: list[tuple[int, int]] = []  # (offset, paragraph end)
    nested = False
    for pos, num, at_start, para_end in markers:
        if num == len(seq) + 1 and (not nested or at_start):
            seq.append((pos, para_end))
            nested = False
        elif num == 1 and seq:
            nested = True
    if len(seq) < 2:
        return []
    out = []
    for i, (s, para_end) in enumerate(seq):
        e = seq[i + 1][0] if i + 1 < len(seq) else para_end
        out.append(_inline_node(text, s, e))
    return out


def _para_run_end(text: str, s: int, limit: int) -> int:
    e = text.find("\n", s)
    return limit if e == -1 or e > limit else e


def _inline_node(text: str, s: int, e: int) -> Node:
    marker_end = text.index("是", s) + 1  # not text[s:]: that copies the rest of the report
    # Drop the separator that ends an inline item ("…仍然存在；二是…")
    while e > marker_end and text[e - 1] in "；，。\n ":
        e -= 1
    title_end = marker_end
    for i in range(marker_end, e):
        if text[i] in "。；！？" or (text[i] == "，" and i - marker_end >= 6):
            break
        title_end = i + 1
    return Node(
        level=4,
        marker=text[s:marker_end],
        title=text[marker_end:title_end],
        start=s,
        end=e,
        title_start=marker_end,
        title_end=title_end,
        body_start=title_end,
    )


def _attach_inline(text: str, node: Node) -> None:
    for child in node.children:
        _attach_inline(text, child)
    _own_inline(text, node)


def _own_inline(text: str, node: Node) -> None:
    """(Re)find the inline items of the node's own text (before its first child heading)."""
    node.children = [c for c in node.children if c.level < 4]
    own_end = node.children[0].start - 1 if node.children else node.end
    own_start = node.body_start if node.body_start <= own_end else own_end
    inline = _inline_nodes(text, own_start, own_end)
    node.children = inline + node.children


def classify(title: str) -> SectionKind:
    if _LEADERSHIP.search(title):
        return SectionKind.leadership
    has_problems, has_plans = bool(_PROBLEMS.search(title)), bool(_PLANS.search(title))
    if has_problems:
        return SectionKind.problems  # a mixed section is split later
    if has_plans:
        return SectionKind.plans
    return SectionKind.achievements


def _set_kind(node: Node, kind: SectionKind) -> None:
    for n in node.walk():
        n.kind = kind


def _plans_start(text: str, node: Node, year: int | None) -> int | None:
    """Where the plans begin inside a problems+plans section, or None."""
    for child in node.children:
        if child.level < 4 and (_PLANS.search(child.title) or _PLAN_START.match(child.title)):
            return child.start
    own_end = node.end
    for s, e in boundaries(text, node.body_start, own_end):
        sentence = text[s:e].lstrip("\n")
        off = s + (len(text[s:e]) - len(sentence))
        m = re.match(r"^(\d{4})年", sentence)
        if m and year is not None and int(m.group(1)) <= year:
            continue  # "2020年，我区……取得成绩，但也存在……" opens the problems
        if _PLAN_START.match(sentence) and not _PROBLEMS.search(sentence[:12]):
            return off
    # Enumerated plans after an un-enumerated problems paragraph
    if node.children and node.children[0].level < 4:
        return node.children[0].start
    return None


def _split_mixed(text: str, node: Node, year: int | None) -> list[Node]:
    if not (_PROBLEMS.search(node.title) and _PLANS.search(node.title)):
        return [node]
    split = _plans_start(text, node, year)
    if split is None or split <= node.body_start:
        return [node]
    # The plans half borrows its title from the heading's words after 及/和/与 ("2022年工作打算").
    m = re.search(r"(?:及|和|与|暨|、)(?=[^及和与暨、]*$)", node.title)
    t_start = node.title_start + (m.end() if m else 0)
    plans = Node(
        level=node.level,
        marker="",
        title=text[t_start : node.title_end],
        start=split,
        end=node.end,
        title_start=t_start,
        title_end=node.title_end,
        body_start=split,
        kind=SectionKind.plans,
        children=[c for c in node.children if c.start >= split],
    )
    node.children = [c for c in node.children if c.start < split]
    node.end = split - 1 if text[split - 1 : split] == "\n" else split
    # Each half is a list of its own: "一是…二是…" problems, then "下一步…：一是…二是…" plans.
    _own_inline(text, node)
    _own_inline(text, plans)
    _set_kind(node, SectionKind.problems)
    _set_kind(plans, SectionKind.plans)
    return [node, plans]


# Closing matter, told by what a line says rather than by its length: a signature (one or more
# organisations), a date, distribution and attachment lines, site chrome.
_ORG_CHARS = re.compile(r"[\u4e00-\u9fff（）()、，\s]+")
_ORG_SUFFIX = re.compile(r"人民政府|政府|委员会|[区市县州]委|党委|党组|办公室|办公厅|局|领导小组|办事处")
_DATE_LINE = re.compile(
    r"^(?:\d{4}年\d{1,2}月\d{1,2}日|[〇○零一二三四五六七八九]{4}年[一二三四五六七八九十]{1,2}月[一二三四五六七八九十]{1,3}日|"
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{5,8}日)$"
)
_CLOSING_KEY = re.compile(r"^(?:附件|相关附件|抄送|抄报|印发|主送|联系人|联系电话|[（(]此件[^）)]*[）)])")
_FULL_STOPS = ("。", "！", "？", "；")


def _is_org_line(line: str) -> bool:
    """Only organisation names, each ending in 人民政府/委员会/办公室/局… and none of them long."""
    if len(line) > 120 or not _ORG_CHARS.fullmatch(line):
        return False
    names = _ORG_SUFFIX.findall(line)
    return bool(names) and line.rstrip("、，（）() ").endswith(tuple(names)) and 40 * len(names) >= len(line)


def _is_closing_line(line: str) -> bool:
    if not line or HEADING_START.match(line):
        return False
    if len(line) <= 40 and not line.endswith(_FULL_STOPS):
        return True  # short and unfinished: a signature, a date, a note
    if _is_org_line(line):
        return True  # several organisations signing together
    return bool(_DATE_LINE.match(line) or _CLOSING_KEY.match(line) or is_boilerplate(line))


def _closing_start(text: str, last: Node) -> int:
    """Signature, date, distribution lines and page chrome after the last section's prose."""
    lines = [ln for ln in _lines(text[last.body_start : last.end])]
    cut = last.end
    for ln in reversed(lines):
        if _is_closing_line(ln.text):
            cut = last.body_start + ln.start
            continue
        break
    return cut


def _clip(node: Node, cut: int) -> None:
    """Drop what starts at `cut` or later from a node's subtree; end every descendant by node.end."""
    node.children = [c for c in node.children if c.start < cut]
    for c in node.children:
        c.end = min(c.end, node.end)
        _clip(c, cut)


def parse(text: str) -> Outline:
    meta = extract_meta(text)
    roots = _nest(_heading_nodes(text), len(text))
    nodes: list[Node] = []
    for root in roots:
        _attach_inline(text, root)
        _set_kind(root, classify(root.title))
        nodes.extend(_split_mixed(text, root, meta.year) if root.kind == SectionKind.problems else [root])
    if nodes:
        last = nodes[-1]
        cut = _closing_start(text, last)
        if cut < last.end:
            last.end = max(cut - 1, last.body_start)
            _clip(last, cut)
            nodes.append(
                Node(
                    level=last.level,
                    marker="",
                    title="",
                    start=cut,
                    end=len(text),
                    title_start=cut,
                    title_end=cut,
                    body_start=cut,
                    kind=SectionKind.closing,
                )
            )
    return Outline(nodes=nodes, meta=meta)
