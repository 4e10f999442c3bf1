"""Merge grounded items from all chunks: dedupe near-duplicates, order by position, warn on gaps."""

from __future__ import annotations

from rapidfuzz import fuzz

from service.categorize import is_section_word
from service.document import Document, SectionKind
from service.models import CATEGORY_LABELS_ZH, CORE_SECTIONS, SECTION_NAMES, Genre, Item, Section, Span

_SIMILAR = 88  # rapidfuzz ratio above which two items of one section say the same thing


def _overlap(a: list[Span], b: list[Span]) -> float:
    """Share of the shorter evidence that the other evidence covers."""
    if min(x.start for x in a) >= max(y.end for y in b) or min(y.start for y in b) >= max(x.end for x in a):
        return 0.0  # far apart: the usual case, decided without comparing every pair
    inter = sum(max(0, min(x.end, y.end) - max(x.start, y.start)) for x in a for y in b)
    shorter = min(sum(x.end - x.start for x in a), sum(y.end - y.start for y in b)) or 1
    return inter / shorter


def _same(a: Item, b: Item) -> bool:
    if _overlap(a.evidence, b.evidence) >= 0.6:
        return True
    return fuzz.ratio(a.title + a.summary, b.title + b.summary) >= _SIMILAR


def _absorb(into: Item, other: Item) -> None:
    seen = {(s.start, s.end) for s in into.evidence}
    into.evidence += [s for s in other.evidence if (s.start, s.end) not in seen]
    into.evidence.sort(key=lambda s: s.start)
    have = {(m.evidence.start, m.evidence.end) for m in into.metrics}
    into.metrics += [m for m in other.metrics if (m.evidence.start, m.evidence.end) not in have]


def merge(items: list[tuple[str, Item]]) -> dict[str, list[Item]]:
    sections: dict[str, list[Item]] = {name: [] for name in SECTION_NAMES}
    for section, item in items:
        bucket = sections.setdefault(section, [])
        twin = next((kept for kept in bucket if _same(kept, item)), None)
        if twin is None:
            bucket.append(item)
        else:
            _absorb(twin, item)
    for bucket in sections.values():
        bucket.sort(key=lambda it: it.evidence[0].start)
    return sections


def missing_section_warnings(doc: Document, sections: dict[str, list[Item]]) -> list[str]:
    kinds = {n.kind for n in doc.outline.nodes}
    warnings = []
    for section in CORE_SECTIONS:
        if sections.get(section):
            continue
        name, zh = section.value, section.label_zh
        if SectionKind(section.value) in kinds:
            warnings.append(f"the report has a {name} section ({zh}) but no {name} item was extracted")
        else:
            warnings.append(f"no {name} section ({zh}) found in the report; {name} left empty")
    return warnings


def default_overview(doc: Document, sections: dict[str, list[Item]]) -> str:
    """A factual one-paragraph overview built from the items (no generated prose)."""
    meta = doc.meta
    who = meta.issuer or meta.region or ""
    year = f"{meta.year}年度" if meta.year else ""
    kind = meta.genre.label_zh if meta.genre != Genre.unknown else "年度报告"
    subject = f"{who}{year}{kind}" if who or year else f"该{kind}"
    counted = [section for section in CORE_SECTIONS if sections.get(section)]
    if not counted and sections.get(Section.leadership):
        counted = [Section.leadership]  # only the heads' duty was found: say so rather than nothing
    if not counted:
        return f"{subject}中未梳理出主要成效、存在问题或下一步安排。"
    counts = "，".join(f"{section.label_zh}{len(sections[section])}项" for section in counted)
    parts = [subject, f"梳理出{counts}"]
    cats: dict[str, int] = {}
    for item in sections.get(Section.achievements, []):
        label = CATEGORY_LABELS_ZH[item.category]
        cats[label] = cats.get(label, 0) + 1
    if cats:
        top = sorted(cats.items(), key=lambda kv: -kv[1])[:3]
        parts.append("成效集中在" + "、".join(k for k, _ in top))
    # A title that only names the part ("存在问题") says nothing about what the problem is.
    problems = [it.title for it in sections.get(Section.problems, []) if not is_section_word(it.title)]
    if problems:
        parts.append("主要问题包括" + "；".join(problems[:3]))
    return "，".join(parts) + "。"
