"""Merge grounded items from all chunks: dedupe near-duplicates, order by position, warn on gaps."""

from __future__ import annotations

import bisect

from rapidfuzz import fuzz

from service.categorize import is_section_word
from service.document import Document, SectionKind
from service.models import CATEGORY_LABELS_ZH, CORE_SECTIONS, SECTION_NAMES, Genre, Item, Section, Span

_SIMILAR = 88  # rapidfuzz ratio above which two items of one section say the same thing
#: The fuzzy (same words) check looks at this many items kept last in a section, not at all of
#: them: near-duplicates come from neighbouring chunks, and comparing with every kept item made the
#: merge quadratic in the report's length.
NEIGHBOURS = 16
#: Evidence is indexed by position in buckets of this many characters, so that an item is checked
#: for shared evidence only against the kept items whose evidence lies where its own does.
_BUCKET = 2048


def _union(spans: list[Span]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s, e in sorted((x.start, x.end) for x in spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


class _Evidence:
    """An item's evidence as sorted, disjoint ranges, kept up to date as twins are absorbed: an item
    that absorbs thousands of twins (a report that repeats itself) still costs each later comparison
    only the ranges near the other item's, never a pass over all of its own."""

    def __init__(self, spans: list[Span]) -> None:
        self.ranges = _union(spans)
        self.starts = [s for s, _ in self.ranges]
        self.length = sum(e - s for s, e in self.ranges)

    def add(self, s: int, e: int) -> None:
        i = bisect.bisect_left(self.starts, s)
        if i > 0 and self.ranges[i - 1][1] >= s:
            i -= 1
        j, lo, hi = i, s, e
        while j < len(self.ranges) and self.ranges[j][0] <= hi:
            lo, hi = min(lo, self.ranges[j][0]), max(hi, self.ranges[j][1])
            self.length -= self.ranges[j][1] - self.ranges[j][0]
            j += 1
        self.ranges[i:j] = [(lo, hi)]
        self.starts[i:j] = [lo]
        self.length += hi - lo

    def covered(self, ranges: list[tuple[int, int]]) -> int:
        """Characters of `ranges` (sorted, disjoint) that this evidence covers."""
        total = 0
        for s, e in ranges:
            i = max(bisect.bisect_right(self.starts, s) - 1, 0)
            while i < len(self.ranges) and self.ranges[i][0] < e:
                total += max(0, min(self.ranges[i][1], e) - max(self.ranges[i][0], s))
                i += 1
        return total

    def overlap(self, spans: list[Span]) -> float:
        """Share of the shorter evidence that the other evidence covers."""
        other = _union(spans)
        shorter = min(self.length, sum(e - s for s, e in other)) or 1
        return self.covered(other) / shorter


def _overlap(a: list[Span], b: list[Span]) -> float:
    return _Evidence(a).overlap(b)


class _Kept:
    """An item kept in a section, with what absorbing a twin needs to know about it."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.evidence = _Evidence(item.evidence)
        self.spans = {(s.start, s.end) for s in item.evidence}
        self.metrics = {(m.evidence.start, m.evidence.end) for m in item.metrics}

    def absorb(self, other: Item) -> list[Span]:
        new = [s for s in other.evidence if (s.start, s.end) not in self.spans]
        for s in new:
            self.spans.add((s.start, s.end))
            self.evidence.add(s.start, s.end)
        self.item.evidence += new
        for m in other.metrics:
            key = (m.evidence.start, m.evidence.end)
            if key not in self.metrics:
                self.metrics.add(key)
                self.item.metrics.append(m)
        return new


def _same(kept: _Kept, item: Item) -> bool:
    if kept.evidence.overlap(item.evidence) >= 0.6:
        return True
    a, b = kept.item, item
    return fuzz.ratio(a.title + a.summary, b.title + b.summary, score_cutoff=_SIMILAR) >= _SIMILAR


class _Section:
    """The items kept for one section, their evidence indexed by position."""

    def __init__(self) -> None:
        self.kept: list[_Kept] = []
        self.buckets: dict[int, list[int]] = {}  # bucket → indexes into `kept`

    def add(self, item: Item) -> None:
        self.kept.append(_Kept(item))
        self._index(len(self.kept) - 1, item.evidence)

    def _index(self, k: int, spans: list[Span]) -> None:
        for s in spans:
            for b in range(s.start // _BUCKET, (max(s.end, s.start + 1) - 1) // _BUCKET + 1):
                ids = self.buckets.setdefault(b, [])
                if not ids or ids[-1] != k:
                    ids.append(k)

    def candidates(self, item: Item) -> list[int]:
        """Kept items whose evidence shares a bucket with the item's, and the last few kept; in the
        order they were kept, so the first twin found is the one the full scan would find."""
        found = set(range(max(0, len(self.kept) - NEIGHBOURS), len(self.kept)))
        for s in item.evidence:
            for b in range(s.start // _BUCKET, (max(s.end, s.start + 1) - 1) // _BUCKET + 1):
                found.update(self.buckets.get(b, ()))
        return sorted(found)

    def absorb(self, k: int, other: Item) -> None:
        self._index(k, self.kept[k].absorb(other))


def merge(items: list[tuple[str, Item]]) -> dict[str, list[Item]]:
    sections: dict[str, _Section] = {name: _Section() for name in SECTION_NAMES}
    for name, item in items:
        section = sections.setdefault(name, _Section())
        twin = next((k for k in section.candidates(item) if _same(section.kept[k], item)), None)
        if twin is None:
            section.add(item)
        else:
            section.absorb(twin, item)
    out: dict[str, list[Item]] = {}
    for name, section in sections.items():
        kept = [k.item for k in section.kept]
        for item in kept:
            item.evidence.sort(key=lambda s: s.start)
        out[name] = sorted(kept, key=lambda it: it.evidence[0].start)
    return out


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
