"""The `rules` backend: deterministic, offline, structure-aware.

It reads the outline: one achievement per sub-section (or numbered point), one problem per
enumerated shortcoming (`一是…二是…`, `；`-lists, ①/（1）-lists), one plan per enumerated plan,
leadership items from the 第一责任人 chapter. A sub-heading that only names the part ("（一）存在问题",
"（二）2022年工作打算") is opened up: its items are the problems or plans. Titles come from headings,
evidence from exact character ranges; signature, date and page-footer lines are never items.
"""

from __future__ import annotations

import re

from service.categorize import categorize, is_section_word
from service.document import Document, DraftItem, DraftMetric, Extraction, Node, SectionKind, Usage
from service.metrics import find_metrics
from service.models import Category, Section
from service.vocab import (
    FRAMING_WORDS,
    PROBLEM_NOUNS,
    PROBLEM_STATEMENT,
    PROBLEM_TURN,
    SENTENCE_ENDS,
    TARGETS,
)

_GENERIC = re.compile(
    r"取得了?(?:一定|较好|明显|显著|较大)?的?(?:成绩|成效|进展|进步)(?![^，。]*(?:但|不足))|这些都?需要|回顾这一年|"
    r"^(?:\d{4}年|站在)|重点做好(?:如下|以下)工作|现将|报告如下"
)
# Where a list begins inside its sentence: after a colon or an opener ("但仍存在一些问题：", "比如").
_LIST_OPENER = re.compile(r"[：:]|(?:比如|例如|主要是|主要有|主要表现在|表现在|体现在|表现为|包括)[，,]?")
# A sentence before a list that only announces it ("我县法治政府建设仍存在一些问题。").
_LEAD_IN = re.compile(
    r"[：:]$|以下|如下|(?:存在|仍有|还有|面临)着?(?:一些|一定的?|某些|不少|诸多|部分|许多|较多)?的?"
    rf"(?:{PROBLEM_NOUNS})"
)
# A sentence that resolves to act on the problems just stated ("我们一定要直面问题和挑战…").
_RESOLVE = re.compile(r"^(?:我们|我[区市县省局])?(?:一定要|必须|务必|要|将|决不|绝不)")


def _is_intro(sentence: str) -> bool:
    """A sentence that only introduces what follows: generic, or announcing the problems."""
    if _GENERIC.search(sentence):
        return True
    if not (_LEAD_IN.search(sentence) or PROBLEM_TURN.search(sentence)):
        return False
    # An announcement names no problem of its own: each of its clauses is the turn, or says nothing that
    # falls short ("政府工作还存在不足，有些政策措施落实不到位" names one, so it is a problem).
    return all(
        _LEAD_IN.search(c) or PROBLEM_TURN.search(c) or not PROBLEM_STATEMENT.search(c)
        for c in re.split(r"[，,：:]", sentence)
    )


# A sentence after a list that sums it up rather than adding to it.
_WRAP_UP = re.compile(r"^(?:这些|对此|以上|上述|针对|为此|因此|对于这些)")
# Words that join two sentences of one list ("同时，C；D。"): not part of the next item.
_CONNECTIVE = re.compile(r"(?:与此同时|同时|此外|另外|还有|再者|其次|再次|而且|并且|加之|以及|最后)[，,、]?")
# List markers inside a paragraph: ①, （1）, (1), 1).
_MARKER = re.compile(
    r"(?P<circled>[①-⑳])|[（(](?P<paren>\d{1,2})[）)]|(?<![\d.．A-Za-z])(?P<half>\d{1,2})[)）]"
)
_MARKER_LEFT = "：:；;。，,、！？ \n"
_SENTENCE = re.compile(rf"[^{SENTENCE_ENDS}\n]+[{SENTENCE_ENDS}]?")
_SENTENCE_END = re.compile(f"[{SENTENCE_ENDS}]")
_TITLE_MAX = 30
MAX_METRICS = 8  # per item: the first figures a section states are its headline ones


def _short_title(text: str) -> str:
    text = text.strip("：；，。 ")
    i = text.find("，")
    if 6 <= i <= _TITLE_MAX:
        return text[:i]
    return text if len(text) <= _TITLE_MAX else text[:_TITLE_MAX] + "…"


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in " \n，；、":
        start += 1
    while end > start and text[end - 1] in " \n，；、：":
        end -= 1
    return start, end


class RulesBackend:
    name = "rules"

    def extract(self, doc: Document) -> Extraction:
        drafts: list[DraftItem] = []
        tops = doc.outline.nodes
        for node in tops:
            if node.kind == SectionKind.achievements:
                units = _units(node)
                # A review with no enumeration may still open its paragraphs with run-in titles.
                run_ins = (
                    self._run_ins(doc, Section.achievements, node.body_start, node.end)
                    if units == [node]
                    else None
                )
                drafts += run_ins or [self._from_heading(doc, n, Section.achievements) for n in units]
            elif node.kind == SectionKind.leadership:
                units = node.children or [node]
                drafts += [
                    self._from_heading(doc, n, Section.leadership, Category.party_leadership) for n in units
                ]
            elif node.kind in (SectionKind.problems, SectionKind.plans):
                drafts += self._enumerated(doc, node, Section(node.kind.value))
        if not any(n.kind == SectionKind.leadership for n in tops):
            drafts += self._leadership_inside_achievements(doc)
        return Extraction(drafts=drafts, usage=Usage())

    # --- items from headings -------------------------------------------------------------------

    def _from_heading(
        self, doc: Document, node: Node, section: Section, category: Category | None = None
    ) -> DraftItem:
        text = doc.text
        body_start, body_end = _trim(text, node.body_start, node.end)
        while body_start < body_end and text[body_start] in "。！？：":  # "三是加强宣传。围绕……"
            body_start += 1
        first = _SENTENCE.match(text, body_start, body_end) if body_start < body_end else None
        title_end = node.title_end
        while title_end > node.title_start and text[title_end - 1] in "。；，;,":
            title_end -= 1  # "1、法治宣传教育针对性不强；"
        ranges = [(node.title_start, title_end)] if title_end > node.title_start else []
        summary = ""
        points = [c for c in node.children if c.level < 4] or [c for c in node.children if c.level == 4]
        if points and node.level < 4:
            # A sub-section of numbered points: its summary is the points' own titles.
            ranges += [(c.title_start, c.title_end) for c in points]
            summary = "；".join(c.title.strip("。；") for c in points)
        elif first:
            # A point with no sub-points: the whole point is its evidence, its first sentence the summary.
            s, e = _trim(text, first.start(), first.end())
            if e > s:
                ranges.append((body_start, body_end))
                summary = text[s:e]
        title = node.title.strip("。；，") or _short_title(summary)
        if node.level == 4 and not summary:
            summary = text[node.title_start : node.end]
        return DraftItem(
            section=section,
            title=title,
            summary=summary or title,
            category=category or categorize(title, text[body_start:body_end]),
            ranges=ranges or [(node.start, node.end)],
            metrics=_metrics(doc, node.start, node.end, limit=MAX_METRICS),
        )

    # --- enumerated problems and plans ----------------------------------------------------------

    def _enumerated(self, doc: Document, node: Node, section: Section) -> list[DraftItem]:
        """One item per enumerated problem or plan of a section (or of a sub-heading of one)."""
        if section == Section.plans and _is_framing(doc, node):
            return self._targets(doc, node.body_start, node.end)
        if node.children:
            items: list[DraftItem] = []
            if section == Section.plans and node.children[0].level < 4:
                # The year's targets stated before the tasks ("今年发展的主要预期目标是：…") are a plan too.
                items += self._targets(doc, node.body_start, node.children[0].start)
            for child in node.children:
                content = _container_start(doc.text, child)
                if content is None:
                    items.append(self._from_heading(doc, child, section))
                elif child.children:
                    # "（一）存在问题 / 一是…；二是…": a heading that only names the part holds the items.
                    items += self._enumerated(doc, child, section)
                else:
                    items += self._from_paragraphs(doc, section, content, child.end)
            return items
        return self._from_paragraphs(doc, section, node.body_start, node.end)

    def _from_paragraphs(self, doc: Document, section: Section, start: int, end: int) -> list[DraftItem]:
        """Items from un-headed prose: a list (`；`, ①, （1）) gives one item per entry, any other
        paragraph one item. A short generic paragraph ("2022年，我县将……", "这些都需要……") is an intro
        or a wrap-up only when something else gives items: a section's only paragraph is its content."""
        text = doc.text
        start, end = _trim(text, start, end)
        run_ins = self._run_ins(doc, section, start, end) if section == Section.plans else None
        if run_ins is not None:
            return run_ins
        units: list[tuple[list[DraftItem], bool]] = []  # (items, a droppable generic paragraph)
        for s, e in _paragraphs(text, start, end):
            para = text[s:e]
            if para.endswith(("：", ":")):
                continue  # an intro to what follows; a signature, date or page footer
            listed = self._list(doc, section, s, e)
            if listed is not None:
                units.append((listed, False))
                continue
            if section == Section.problems:
                stated = self._sentences(doc, section, s, e, closing=True)
                if len(stated) >= 2:
                    units.append((stated, False))
                    continue
            s = _skip_marker(text, s, e)
            if e - s >= 2:
                units.append(([self._item(doc, section, s, e)], bool(_GENERIC.search(para)) and e - s < 60))
        if any(not generic for _, generic in units):
            units = [u for u in units if not u[1]]
        return [item for unit, _ in units for item in unit]

    def _list(self, doc: Document, section: Section, start: int, end: int) -> list[DraftItem] | None:
        """The items of a list paragraph, or None when the paragraph is not a list."""
        text = doc.text
        marked = _markers(text, start, end)
        if marked:
            items = self._sentences(doc, section, start, marked[0][0])
            for i, (_, body) in enumerate(marked):
                stop = marked[i + 1][0] if i + 1 < len(marked) else end
                s, e = _trim_clause(text, body, stop)
                if e - s >= 4:
                    items.append(self._item(doc, section, s, e))
            return items
        semi = next((i for i in range(start, end) if text[i] in "；;"), -1)
        if semi == -1:
            return None
        sentence_start = max([start] + [text.rfind(p, start, semi) + 1 for p in "。！？"])
        sentence_end = _sentence_end(text, semi, end)
        list_start = sentence_start
        for m in _LIST_OPENER.finditer(text, sentence_start, semi):
            list_start = m.end()
        clauses = _clauses(text, list_start, sentence_end)
        if len(clauses) < 2:
            return None
        items = self._sentences(doc, section, start, sentence_start)
        items += [self._item(doc, section, s, e) for s, e in clauses]
        # The list goes on in the paragraph's later sentences ("A；B。同时，C；D。"); a wrap-up does not.
        pos = sentence_end
        while pos < end:
            stop = _sentence_end(text, pos, end)
            sentence = text[pos:stop]
            if not (_GENERIC.search(sentence) or _WRAP_UP.match(sentence.lstrip())):
                items += [self._item(doc, section, s, e) for s, e in _clauses(text, pos, stop)]
            pos = stop
        return items

    def _targets(self, doc: Document, start: int, end: int) -> list[DraftItem]:
        """The year's targets in text[start:end]: the sentence that states them, whole (its `；`-list
        of figures is one plan: the year's targets)."""
        text = doc.text
        for s, e in _paragraphs(text, start, end):
            m = TARGETS.search(text, s, e)
            if m:
                start = max([s] + [text.rfind(p, s, m.start()) + 1 for p in "。！？"])
                stop = _sentence_end(text, m.end(), e)
                start, stop = _trim_clause(text, start, stop)
                return [self._item(doc, Section.plans, start, stop)]
        return []

    def _run_ins(self, doc: Document, section: Section, start: int, end: int) -> list[DraftItem] | None:
        """A section of paragraphs each opening with a short run-in title ("深化国企国资改革。准确界定…"):
        one item per such paragraph; the others (an intro, a judgement, a figure) are context. None when
        fewer than three paragraphs open so."""
        text = doc.text
        spans = []
        for s, e in _paragraphs(text, start, end):
            m = _RUN_IN.match(text, s, e)
            if m:
                spans.append((s, e, s + len(m.group(1))))
        if len(spans) < _MIN_RUN_INS:
            return None
        items = []
        for s, e, title_end in spans:
            item = self._item(doc, section, s, e)
            item.title = text[s:title_end]
            items.append(item)
        return items

    def _sentences(
        self, doc: Document, section: Section, start: int, end: int, *, closing: bool = False
    ) -> list[DraftItem]:
        """An item per sentence of text[start:end], without the intro that announces them ("仍存在一些
        问题。"); with `closing`, without a wrap-up or resolve either ("我们一定要直面问题…"). Used for
        the sentences before a list, and for problems stated one sentence each."""
        text = doc.text
        items = []
        pos = start
        while pos < end:
            stop = _sentence_end(text, pos, end)
            s, e = _trim_clause(text, pos, stop)
            sentence = text[s:e]
            pos = stop
            if e - s < 4 or _is_intro(sentence):
                continue
            if closing and (_WRAP_UP.match(sentence) or _RESOLVE.match(sentence)):
                continue
            items.append(self._item(doc, section, s, e))
        return items

    def _item(self, doc: Document, section: Section, start: int, end: int) -> DraftItem:
        quote = doc.text[start:end]
        title = _short_title(re.split(r"[。！？；]", quote, maxsplit=1)[0])
        return DraftItem(
            section=section,
            title=title,
            summary=quote if len(quote) <= 160 else quote[:160] + "…",
            category=categorize(title, quote),
            ranges=[(start, end)],
            metrics=_metrics(doc, start, end),
        )

    # --- leadership stated inside the achievements ---------------------------------------------

    def _leadership_inside_achievements(self, doc: Document) -> list[DraftItem]:
        """No 第一责任人 chapter: take the achievement point whose own words name that duty."""
        text = doc.text
        for top in doc.outline.nodes:
            if top.kind != SectionKind.achievements:
                continue
            for node in top.walk():
                if node is top or node.level == 4:
                    continue
                own_end = node.children[0].start if node.children else node.end
                if re.search(r"第一责任人|党政主要负责人", text[node.start : own_end]):
                    units = [c for c in node.children if c.level == 4] or [node]
                    return [
                        self._from_heading(doc, n, Section.leadership, Category.party_leadership)
                        for n in units
                    ]
        return []


# A run-in title: a short first sentence with no comma, then the paragraph goes on.
_RUN_IN = re.compile(r"([^，。！？；：,\n]{4,20})。(?=.)")
_MIN_RUN_INS = 3


def _is_framing(doc: Document, node: Node) -> bool:
    """A chapter that frames the year's work (总体要求、政策取向) in a report that lists the work in a
    chapter of its own: only its targets are plans."""
    if any(c.level < 4 for c in node.children) or not FRAMING_WORDS.search(node.title):
        return False
    return any(
        n is not node and n.kind == SectionKind.plans and not FRAMING_WORDS.search(n.title)
        for n in doc.outline.nodes
    )


def _units(node: Node) -> list[Node]:
    """The achievement units of a top-level section: its sub-sections, else its enumerated points
    (`一是…`, `——…` result lines), else the section itself."""
    headed = [c for c in node.children if c.level < 4]
    points = [c for c in node.children if c.level == 4]
    return headed or (points if len(points) >= 2 else [node])


def _container_start(text: str, node: Node) -> int | None:
    """Where the items of a heading that only names a part begin ("（一）存在问题", "（二）2022年工作打算",
    "（一）存在问题：A；B。"), or None for a heading that is an item itself."""
    if node.level >= 4:
        return None
    if is_section_word(node.title):
        return node.body_start
    m = re.match(r"^([^：:。]{1,20})[：:]", node.title)
    if m and is_section_word(m.group(1)) and not node.children:
        return node.title_start + m.end()
    return None


def _sentence_end(text: str, pos: int, end: int) -> int:
    """The end of the sentence at `pos` (after its 。！？), or `end`."""
    m = _SENTENCE_END.search(text, pos, end)
    return m.end() if m else end


def _marker_number(m: re.Match[str]) -> int:
    circled = m.group("circled")
    return ord(circled) - ord("①") + 1 if circled else int(m.group("paren") or m.group("half"))


def _markers(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(marker start, item start) of a numbered list ①②…, （1）（2）…, 1)2)… inside a paragraph:
    two or more markers counting up from 1, each opening the paragraph or following punctuation."""
    seq: list[tuple[int, int]] = []
    for m in _MARKER.finditer(text, start, end):
        if m.start() > start and text[m.start() - 1] not in _MARKER_LEFT:
            continue
        if _marker_number(m) == len(seq) + 1:
            seq.append((m.start(), m.end()))
    return seq if len(seq) >= 2 else []


def _skip_marker(text: str, start: int, end: int) -> int:
    """Past a list marker or a joining word that opens an item ("（1）", "①", "同时，")."""
    while True:
        m = _MARKER.match(text, start, end) or _CONNECTIVE.match(text, start, end)
        if not m or m.end() == start:
            return start
        start, _ = _trim(text, m.end(), end)


def _trim_clause(text: str, start: int, end: int) -> tuple[int, int]:
    """A list entry without its marker, joining word, closing punctuation and closing 等."""
    start, end = _trim(text, start, end)
    start = _skip_marker(text, start, end)
    while end > start and text[end - 1] in "。！？；;，、 ":
        end -= 1
    if text[start:end].endswith("等") and end - start > 4:
        end -= 1
    return start, end


def _clauses(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The `；`-separated entries of text[start:end] that have words of their own (4+ characters)."""
    out = []
    pos = start
    for part in re.split(r"([；;])", text[start:end]):
        if part not in ("；", ";"):
            s, e = _trim_clause(text, pos, pos + len(part))
            if e - s >= 4:
                out.append((s, e))
        pos += len(part)
    return out


def _paragraphs(text: str, start: int, end: int) -> list[tuple[int, int]]:
    out = []
    pos = start
    for part in text[start:end].split("\n"):
        s, e = _trim(text, pos, pos + len(part))
        if e > s:
            out.append((s, e))
        pos += len(part) + 1
    return out


def _metrics(doc: Document, start: int, end: int, limit: int | None = None) -> list[DraftMetric]:
    return [
        DraftMetric(label=m.label, value=m.value, unit=m.unit, start=m.start, end=m.end)
        for m in find_metrics(doc.text, start, end, limit=limit)
    ]
