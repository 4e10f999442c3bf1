"""The `rules` backend: deterministic, offline, structure-aware.

It reads the outline: one achievement per sub-section (or numbered point), one problem per
enumerated shortcoming (`一是…二是…`, `；`-lists), one plan per enumerated plan, leadership items
from the 第一责任人 chapter. Titles come from headings, evidence from exact character ranges.
"""

from __future__ import annotations

import re

from service.categorize import categorize
from service.document import Document, DraftItem, DraftMetric, Extraction, Node, SectionKind, Usage
from service.metrics import find_metrics
from service.models import Category

_GENERIC = re.compile(
    r"取得了?(?:一定|较好|明显|显著|较大)?的?(?:成绩|成效|进展|进步)(?![^，。]*(?:但|不足))|这些都?需要|回顾这一年|"
    r"^(?:\d{4}年|站在)|重点做好(?:如下|以下)工作|现将|报告如下"
)
_OPENER = re.compile(r"(?:存在|体现在|表现在|问题|不足|短板|差距|之处|如下|比如|主要是|包括)[^：]{0,12}：")
_SENTENCE = re.compile(r"[^。！？\n]+[。！？]?")
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
                drafts += [self._from_heading(doc, n, "achievements") for n in _units(node)]
            elif node.kind == SectionKind.leadership:
                units = node.children or [node]
                drafts += [self._from_heading(doc, n, "leadership", Category.party_leadership) for n in units]
            elif node.kind in (SectionKind.problems, SectionKind.plans):
                drafts += self._enumerated(doc, node, node.kind.value)
        if not any(n.kind == SectionKind.leadership for n in tops):
            drafts += self._leadership_inside_achievements(doc)
        return Extraction(drafts=drafts, usage=Usage())

    # --- items from headings -------------------------------------------------------------------

    def _from_heading(
        self, doc: Document, node: Node, section: str, category: Category | None = None
    ) -> DraftItem:
        text = doc.text
        body_start, body_end = _trim(text, node.body_start, node.end)
        while body_start < body_end and text[body_start] in "。！？：":  # "三是加强宣传。围绕……"
            body_start += 1
        first = _SENTENCE.match(text, body_start, body_end) if body_start < body_end else None
        ranges = [(node.title_start, node.title_end)] if node.title_end > node.title_start else []
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

    def _enumerated(self, doc: Document, node: Node, section: str) -> list[DraftItem]:
        if node.children:
            return [self._from_heading(doc, n, section) for n in node.children]
        text = doc.text
        start, end = _trim(text, node.body_start, node.end)
        body = text[start:end]
        opener = _OPENER.search(body)
        if opener and "；" in body[opener.end() :]:
            return self._clauses(doc, section, start + opener.end(), end)
        # "2022年，将重点做好以下工作：" introduces a list; a short generic paragraph is an intro only
        # when something follows it: a section's only paragraph is its content.
        paras = [(s, e) for s, e in _paragraphs(text, start, end) if not text[s:e].endswith("：")]
        kept = [(s, e) for s, e in paras if not (_GENERIC.search(text[s:e]) and e - s < 60)]
        return [self._item(doc, section, s, e) for s, e in kept or paras]

    def _clauses(self, doc: Document, section: str, start: int, end: int) -> list[DraftItem]:
        """A `；`-separated list after an opener ("主要体现在：A；B；C等。")."""
        text = doc.text
        stop = text.find("。", start, end)
        list_end = stop if stop != -1 else end
        items = []
        pos = start
        for part in re.finditer(r"[^；]+", text[start:list_end]):
            s, e = _trim(text, start + part.start(), start + part.end())
            if text[s:e].endswith("等") and e - s > 4:
                e -= 1
            if e - s >= 4:
                items.append(self._item(doc, section, s, e))
            pos = e
        del pos
        return items

    def _item(self, doc: Document, section: str, start: int, end: int) -> DraftItem:
        quote = doc.text[start:end]
        title = _short_title(quote)
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
                        self._from_heading(doc, n, "leadership", Category.party_leadership) for n in units
                    ]
        return []


def _units(node: Node) -> list[Node]:
    """The achievement units of a top-level section: its sub-sections, else its numbered points."""
    headed = [c for c in node.children if c.level < 4]
    return headed or [node]


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
