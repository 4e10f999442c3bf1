"""What the brief page shows: a Brief turned into sections, items and the marked-up report text.

Each item and metric gets a short key ("a1", "a1m2"); every piece of the report text that is
evidence carries the keys of what it supports, so the page's script only has to find
`[data-k~="a1"]` to highlight and scroll to an item's evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from service.metrics import format_number
from service.models import CATEGORY_LABELS_ZH, Brief, Item, Section, Span
from service.render import brief_title, report_facts

# Page order follows the Markdown brief (the Section enum's order); the prefix makes item ids.
_ID_PREFIX = {Section.achievements: "a", Section.leadership: "l", Section.problems: "p", Section.plans: "n"}


@dataclass(frozen=True)
class MetricView:
    key: str
    label: str
    value: str
    unit: str


@dataclass(frozen=True)
class ItemView:
    key: str
    title: str
    summary: str | None
    category: str
    category_label: str
    metrics: list[MetricView]
    evidence: int


@dataclass(frozen=True)
class SectionView:
    name: str
    heading: str
    items: list[ItemView]


@dataclass(frozen=True)
class Segment:
    text: str
    keys: str  # space-separated keys of the items and metrics this text is evidence for; "" if none


@dataclass
class BriefView:
    title: str
    facts: list[tuple[str, str]]
    overview: str
    sections: list[SectionView]
    warnings: list[str]
    segments: list[Segment] = field(default_factory=list)


def brief_view(brief: Brief) -> BriefView:
    r = brief.report
    marks: list[tuple[str, Span]] = []
    sections = []
    by_name = brief.sections()
    for section in Section:
        prefix = _ID_PREFIX[section]
        items = [_item(f"{prefix}{i}", item, marks) for i, item in enumerate(by_name[section], 1)]
        if items or section != Section.leadership:
            sections.append(SectionView(section.value, section.label_zh, items))
    text = brief.source.text
    return BriefView(
        title=brief_title(r),
        facts=report_facts(r),
        overview=brief.overview,
        sections=sections,
        warnings=brief.warnings,
        segments=segments(text, marks) if text is not None else [],
    )


def _item(key: str, item: Item, marks: list[tuple[str, Span]]) -> ItemView:
    marks += [(key, span) for span in item.evidence]
    metrics = []
    for j, m in enumerate(item.metrics, 1):
        mkey = f"{key}m{j}"
        marks.append((mkey, m.evidence))
        metrics.append(MetricView(mkey, m.label, format_number(m.value), m.unit))
    return ItemView(
        key=key,
        title=item.title,
        summary=item.summary if item.summary and item.summary != item.title else None,
        category=item.category.value,
        category_label=CATEGORY_LABELS_ZH[item.category],
        metrics=metrics,
        evidence=len(item.evidence),
    )


def segments(text: str, marks: list[tuple[str, Span]]) -> list[Segment]:
    """Cut `text` at every span boundary; each piece knows which keys cover it (spans may overlap)."""
    n = len(text)
    valid = [(k, s.start, s.end) for k, s in marks if 0 <= s.start < s.end <= n]
    points = sorted({0, n, *(p for _, s, e in valid for p in (s, e))})
    starts: dict[int, list[str]] = {}
    ends: dict[int, list[str]] = {}
    for k, s, e in valid:
        starts.setdefault(s, []).append(k)
        ends.setdefault(e, []).append(k)
    active: dict[str, int] = {}
    out: list[Segment] = []
    for a, b in pairwise(points):
        for k in ends.get(a, ()):
            active[k] -= 1
            if not active[k]:
                del active[k]
        for k in starts.get(a, ()):
            active[k] = active.get(k, 0) + 1
        keys = " ".join(active)
        if out and out[-1].keys == keys:
            out[-1] = Segment(out[-1].text + text[a:b], keys)
        else:
            out.append(Segment(text[a:b], keys))
    return out
