"""Outline: the heading hierarchy of a normalized report, its section kinds, and its metadata.

Levels: 1 `一、`, 2 `（一）`, 3 `1.`/`1、`, 4 inline `一是……二是……`. Top-level sections are classified
by their heading words (achievements / leadership / problems / plans); a section that holds both
problems and plans ("存在问题及2022年工作打算") is split where the plans begin.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from service.document import Node, Outline, SectionKind
from service.meta import extract_meta
from service.models import Genre
from service.normalize import HEADING_START, is_boilerplate
from service.segment import boundaries
from service.vocab import (
    CJK,
    FUTURE_MODAL,
    LEADERSHIP_WORDS,
    NUMERALS,
    ORG_SUFFIX,
    PAST,
    PLAN_OPENING,
    PLAN_WORDS,
    PROBLEM_STATEMENT,
    PROBLEM_TURN,
    PROBLEM_WORDS,
    REVIEW_WORDS,
    YEAR,
    chinese_number,
)

_INLINE = re.compile(rf"(?P<num>[{NUMERALS}]{{1,3}})是")
# Where an inline marker may stand: paragraph start, after punctuation, or after "我区/我市/我县".
_INLINE_LEFT = re.compile(r"(?:^|[。；：，、！？]|[我本][区市县镇省州旗])$")
# A result line of a review: "——经济运行保持在合理区间。…"
_DASH_ITEM = "——"


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
    stack: list[Node] = []
    for i, node in enumerate(flat):
        nxt = next((n.start for n in flat[i + 1 :] if n.level <= node.level), text_end)
        node.end = max(nxt - 1, node.end) if nxt < text_end else text_end
        while stack and stack[-1].level >= node.level:
            stack.pop()
        (stack[-1].children if stack else roots).append(node)
        stack.append(node)
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


def _inline_node(text: str, s: int, e: int, marker_len: int | None = None) -> Node:
    marker_end = s + (marker_len if marker_len is not None else text.index("是", s) - s + 1)
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
    inline += [
        d
        for d in _dash_nodes(text, own_start, own_end)
        if not any(i.start <= d.start < i.end for i in inline)
    ]
    node.children = sorted(inline, key=lambda n: n.start) + node.children


def _dash_nodes(text: str, start: int, end: int) -> list[Node]:
    """A review's result lines ("——经济运行保持在合理区间。…"), two or more, as level-4 nodes."""
    out = []
    for ln in _lines(text[start:end]):
        if ln.text.startswith(_DASH_ITEM) and len(ln.text) > 8 and not ln.text[2:3].isdigit():
            s, e = start + ln.start, start + ln.end
            out.append(_inline_node(text, s, e, marker_len=len(_DASH_ITEM)))
    return out if len(out) >= 2 else []


# The rule-of-law report's fifth part (督察工作规定 art. 25): other matters, neither review nor plans.
_OTHER_MATTERS = re.compile(r"其他(?:需要|应当)?(?:报告|说明)的?(?:事项|情况)")
# Verbs that make a problem word a task ("着力解决突出问题", "补齐短板"): such a heading is no problems part.
_SOLVING = re.compile(r"解决|破解|化解|攻坚|补齐|补短板|应对|克服|战胜|防范")


def is_problem_heading(title: str) -> bool:
    return bool(PROBLEM_WORDS.search(title)) and not _SOLVING.search(title)


def heading_kind(title: str, year: int | None) -> SectionKind | None:
    """What a top-level heading's own words say its section is, or None when they say nothing.

    A year named in the heading is weighed against the year reported on: "2023年工作回顾" in the
    report on 2023 is the review, "2024年政府工作任务" the plans, whatever other words they use."""
    if LEADERSHIP_WORDS.search(title):
        return SectionKind.leadership
    if _OTHER_MATTERS.search(title):
        return SectionKind.other
    if is_problem_heading(title):
        return SectionKind.problems  # a mixed section ("存在问题及2022年工作打算") is split later
    votes = 0  # > 0: the coming year's work; < 0: a review of work done
    if year is not None:
        for m in YEAR.finditer(title):
            votes += 2 if int(m.group(1)) > year else -2
    votes += bool(PLAN_WORDS.search(title)) - bool(REVIEW_WORDS.search(title))
    if votes > 0:
        return SectionKind.plans
    if votes < 0:
        return SectionKind.achievements
    return None


def classify(title: str, year: int | None = None) -> SectionKind:
    """A heading's kind by its words alone, achievements when they say nothing."""
    return heading_kind(title, year) or SectionKind.achievements


def _body_kind(text: str, node: Node) -> SectionKind:
    """A section whose heading says nothing: the coming year's work when its sentences speak of what
    will or must be done (将、要、力争) far more than of what was done (完成、实现、同比增长)."""
    future = past = 0
    for s, e in itertools.islice(boundaries(text, node.body_start, node.end), 40):
        sentence = text[s:e]
        if PAST.search(sentence):
            past += 1
        elif FUTURE_MODAL.search(sentence):
            future += 1
    return SectionKind.plans if future >= 3 and future > 2 * past else SectionKind.achievements


#: A passage with fewer sentences of work done than this is no review.
_MIN_PAST_SENTENCES = 3


def _past_sentences(text: str, node: Node) -> int:
    return sum(1 for s, e in boundaries(text, node.body_start, node.end) if PAST.search(text[s:e]))


def reported_year(roots: list[Node]) -> int | None:
    """The year a report is about, from its headings: the year its review names ("一、2018年工作回顾"),
    else the year before the one its plans name ("三、2019年政府工作任务")."""
    for root in roots:
        m = YEAR.search(root.title)
        if m and REVIEW_WORDS.search(root.title) and not PLAN_WORDS.search(root.title):
            return int(m.group(1))
    for root in roots:
        m = YEAR.search(root.title)
        if m and PLAN_WORDS.search(root.title):
            return int(m.group(1)) - 1
    return None


def year_most_named(text: str, node: Node) -> int | None:
    """The year a review's own text names most ("2022年是党和国家历史上极为重要的一年…"): what a
    report whose headings name no year ("一、过去一年和五年工作回顾") is about."""
    years = Counter(int(m.group(1)) for m in YEAR.finditer(text, node.body_start, node.end))
    return years.most_common(1)[0][0] if years else None


def _classify_roots(text: str, roots: list[Node], year: int | None) -> bool:
    """Give every top-level section its kind; True when some heading said what its section is.

    The genre's order settles what a heading leaves open: a report reviews the year, admits its
    shortcomings, then plans the next; once the plans have begun, a section with nothing to say for
    itself ("三、把改革开放扎实推向纵深", "六、切实加强政府自身建设") is more of the plans."""
    recognised = False
    plans_begun = False
    for root in roots:
        kind = heading_kind(root.title, year)
        recognised |= kind is not None
        if kind is None:
            kind = SectionKind.plans if plans_begun else _body_kind(text, root)
        plans_begun |= kind == SectionKind.plans or (
            kind == SectionKind.problems and bool(PLAN_WORDS.search(root.title))
        )
        _set_kind(root, kind)
    return recognised


def _set_kind(node: Node, kind: SectionKind) -> None:
    for n in node.walk():
        n.kind = kind


def _plans_start(text: str, node: Node, year: int | None) -> int | None:
    """Where the plans begin inside a problems+plans section, or None."""
    for child in node.children:
        if child.level < 4 and (PLAN_WORDS.search(child.title) or PLAN_OPENING.match(child.title)):
            return child.start
    own_end = node.end
    for s, e in boundaries(text, node.body_start, own_end):
        sentence = text[s:e].lstrip("\n")
        off = s + (len(text[s:e]) - len(sentence))
        m = re.match(r"^(\d{4})年", sentence)
        if m and year is not None and int(m.group(1)) <= year:
            continue  # "2020年，我区……取得成绩，但也存在……" opens the problems
        if PLAN_OPENING.match(sentence) and not PROBLEM_WORDS.search(sentence[:12]):
            return off
    # Enumerated plans after an un-enumerated problems paragraph
    if node.children and node.children[0].level < 4:
        return node.children[0].start
    return None


def _split_mixed(text: str, node: Node, year: int | None) -> list[Node]:
    if not (PROBLEM_WORDS.search(node.title) and PLAN_WORDS.search(node.title)):
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
_ORG_CHARS = re.compile(rf"[{CJK}（）()、，\s]+")
_ORG_SUFFIX = re.compile(ORG_SUFFIX)
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


def _bare_node(like: Node, start: int, end: int, kind: SectionKind) -> Node:
    """A section with no heading of its own: part of `like`'s chapter, from `start` to `end`."""
    return Node(
        level=like.level,
        marker="",
        title="",
        start=start,
        end=end,
        title_start=start,
        title_end=start,
        body_start=start,
        kind=kind,
    )


def _paragraph_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    return [(start + ln.start, start + ln.end) for ln in _lines(text[start:end]) if ln.text.strip()]


#: A problems passage runs on over at most this many more paragraphs that turn again ("政府工作也存在不足").
_MAX_TURN_PARAGRAPHS = 4
#: Problems stated after a turn: at least this many sentences or clauses that say what falls short.
_MIN_STATED_PROBLEMS = 2


def _stated_problems(text: str, start: int, end: int) -> int:
    clauses = re.split(r"[。！？；;]", text[start:end])
    return sum(1 for c in clauses if len(c) >= 6 and PROBLEM_STATEMENT.search(c))


def _turn_to_problems(text: str, node: Node) -> list[Node]:
    """A review that turns to its shortcomings ("在肯定成绩的同时，我们也清醒看到……"): the passage from
    the turn is the problems part, though no heading says so; what follows it in the chapter (a resolve,
    "我们一定要…") is neither. Returns [review, problems, rest] or [node]."""
    chapter_end = node.end
    paragraphs = _paragraph_spans(text, node.body_start, node.end)
    for i, (ps, pe) in enumerate(paragraphs):
        # The turn opens its paragraph, or follows a sentence or two of it ("思危方能居安。在充分肯定成绩的
        # 同时…"); further in, only a turn that announces a list ("…还存在一些问题：").
        turn = next(
            (
                s
                for k, (s, e) in enumerate(boundaries(text, ps, pe))
                if PROBLEM_TURN.search(text[s:e]) and (k < 3 or "：" in text[s:e])
            ),
            None,
        )
        if turn is None:
            continue
        end = pe
        for qs, qe in paragraphs[i + 1 : i + 1 + _MAX_TURN_PARAGRAPHS]:
            first = next(iter(boundaries(text, qs, qe)), (qs, qe))
            if not PROBLEM_TURN.search(text[first[0] : first[1]]):
                break
            end = qe
        if _stated_problems(text, turn, end) < _MIN_STATED_PROBLEMS:
            continue
        problems = _bare_node(node, turn, end, SectionKind.problems)
        _own_inline(text, problems)
        _set_kind(problems, SectionKind.problems)
        node.end = max(turn - 1, node.body_start)
        _clip(node, turn)
        out = [node, problems]
        if end + 1 < chapter_end:
            # More of the review after the problems ("各位代表！过去五年…一是…") stays a review.
            rest = _bare_node(node, end + 1, chapter_end, SectionKind.other)
            if _past_sentences(text, rest) >= _MIN_PAST_SENTENCES:
                _own_inline(text, rest)
                _set_kind(rest, SectionKind.achievements)
            out.append(rest)
        return out
    return [node]


# A speech's salutation ("各位代表！") opens each closing passage of a 政府工作报告.
_SALUTATION = re.compile(r"^各位(?:代表|委员)[！!：:，,]?$")
# The closing passage on the government's own conduct is still the year's work; the others (民族、
# 国防、港澳台、外交, the peroration) are the speech's, not the government's work plan.
_SELF_BUILDING = re.compile(r"政府工作|政府自身|各级政府|政府建设")


def _speech_closing(text: str, node: Node) -> list[Node]:
    """The last plans chapter of a 政府工作报告 ends with passages each opened by "各位代表！": the
    government's own conduct (plans), then the speech's closing words (not items). Returns the chapter
    followed by those passages."""
    cuts = [ln for ln in _lines(text[node.body_start : node.end]) if _SALUTATION.match(ln.text)]
    if not cuts:
        return [node]
    starts = [node.body_start + ln.start for ln in cuts]
    parts = [node]
    for i, start in enumerate(starts):
        end = starts[i + 1] - 1 if i + 1 < len(starts) else node.end
        opening = text[start : end + 1].split("\n", 2)[1:2]  # the paragraph after the salutation
        first = re.split(r"[。！？]", opening[0], maxsplit=1)[0] if opening else ""
        kind = SectionKind.plans if _SELF_BUILDING.search(first) else SectionKind.other
        part = _bare_node(node, start, end, kind)
        _own_inline(text, part)
        _set_kind(part, kind)
        parts.append(part)
    node.end = starts[0] - 1
    _clip(node, starts[0])
    return parts


def parse(text: str) -> Outline:
    meta = extract_meta(text)
    roots = _nest(_heading_nodes(text), len(text))
    for root in roots:
        _attach_inline(text, root)
    if meta.year is None and meta.genre in (Genre.government_work_report, Genre.unknown):
        meta.year = reported_year(roots)
        if meta.year is None and roots and heading_kind(roots[0].title, None) == SectionKind.achievements:
            meta.year = year_most_named(text, roots[0])
    recognised = _classify_roots(text, roots, meta.year)
    nodes: list[Node] = []
    turned = False
    for root in roots:
        if root.kind == SectionKind.problems:
            nodes.extend(_split_mixed(text, root, meta.year))
        elif root.kind == SectionKind.achievements:
            parts = _turn_to_problems(text, root)
            turned |= len(parts) > 1
            nodes.extend(parts)
        else:
            nodes.append(root)
    if meta.genre == Genre.government_work_report:
        last_plans = max((i for i, n in enumerate(nodes) if n.kind == SectionKind.plans), default=None)
        if last_plans is not None:
            nodes[last_plans : last_plans + 1] = _speech_closing(text, nodes[last_plans])
    warnings = []
    if roots and not recognised and not turned:
        warnings.append(
            "the report's structure was not recognised: no heading names a review, problems or plans, so "
            "sections were told apart by their wording alone; check the brief against the report"
        )
    if meta.genre == Genre.unknown:
        warnings.append(
            "report genre not recognised (not a 法治政府建设年度报告, 政府工作报告 or 工作总结); "
            "read as an annual report of the same shape"
        )
    if nodes:
        last = nodes[-1]
        cut = _closing_start(text, last)
        if cut < last.end:
            last.end = max(cut - 1, last.body_start)
            _clip(last, cut)
            nodes.append(_bare_node(last, cut, len(text), SectionKind.closing))
    return Outline(nodes=nodes, meta=meta, warnings=warnings)
