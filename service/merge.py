"""Merge grounded items from all chunks: dedupe near-duplicates, order by position, warn on gaps."""

from __future__ import annotations

from rapidfuzz import fuzz

from service.categorize import is_section_word
from service.document import Document, SectionKind
from service.models import CATEGORY_LABELS_ZH, SECTION_NAMES, Item, Span

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


def _overlap(a: list[Span], b: list[Span]) -> float:
    """Share of the shorter evidence that the other evidence covers (one sweep over both)."""
    if min(x.start for x in a) >= max(y.end for y in b) or min(y.start for y in b) >= max(x.end for x in a):
        return 0.0  # apart: the usual case (the last few kept items), decided without sorting
    ua, ub = _union(a), _union(b)
    inter, i, j = 0, 0, 0
    while i < len(ua) and j < len(ub):
        lo, hi = max(ua[i][0], ub[j][0]), min(ua[i][1], ub[j][1])
        inter += max(0, hi - lo)
        if ua[i][1] <= ub[j][1]:
            i += 1
        else:
            j += 1
    shorter = min(sum(e - s for s, e in ua), sum(e - s for s, e in ub)) or 1
    return inter / shorter


def _same(a: Item, b: Item) -> bool:
    if _overlap(a.evidence, b.evidence) >= 0.6:
        return True
    return fuzz.ratio(a.title + a.summary, b.title + b.summary, score_cutoff=_SIMILAR) >= _SIMILAR


class _Section:
    """The items kept for one section, their evidence indexed by position."""

    def __init__(self) -> None:
        self.kept: list[Item] = []
        self.buckets: dict[int, list[int]] = {}  # bucket → indexes into `kept`
        self.spans: list[set[tuple[int, int]]] = []  # per kept item: its evidence, for absorbing
        self.metrics: list[set[tuple[int, int]]] = []

    def add(self, item: Item) -> None:
        self.kept.append(item)
        self.spans.append({(s.start, s.end) for s in item.evidence})
        self.metrics.append({(m.evidence.start, m.evidence.end) for m in item.metrics})
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
        into = self.kept[k]
        new = [s for s in other.evidence if (s.start, s.end) not in self.spans[k]]
        self.spans[k].update((s.start, s.end) for s in new)
        into.evidence += new
        self._index(k, new)
        have = self.metrics[k]
        for m in other.metrics:
            key = (m.evidence.start, m.evidence.end)
            if key not in have:
                have.add(key)
                into.metrics.append(m)


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
        for item in section.kept:
            item.evidence.sort(key=lambda s: s.start)
        out[name] = sorted(section.kept, key=lambda it: it.evidence[0].start)
    return out


_SECTION_ZH = {
    "achievements": "主要成效",
    "problems": "存在问题",
    "plans": "下一步安排",
    "leadership": "第一责任人履职",
}


def missing_section_warnings(doc: Document, sections: dict[str, list[Item]]) -> list[str]:
    kinds = {n.kind for n in doc.outline.nodes}
    warnings = []
    for name, kind in (
        ("achievements", SectionKind.achievements),
        ("problems", SectionKind.problems),
        ("plans", SectionKind.plans),
    ):
        if sections.get(name):
            continue
        if kind in kinds:
            warnings.append(
                f"the report has a {name} section ({_SECTION_ZH[name]}) but no {name} item was extracted"
            )
        else:
            warnings.append(f"no {name} section ({_SECTION_ZH[name]}) found in the report; {name} left empty")
    return warnings


def default_overview(doc: Document, sections: dict[str, list[Item]]) -> str:
    """A factual one-paragraph overview built from the items (no generated prose)."""
    meta = doc.meta
    who = meta.issuer or meta.region or ""
    year = f"{meta.year}年度" if meta.year else ""
    subject = f"{who}{year}法治政府建设报告" if who or year else "该法治政府建设报告"
    counted = [name for name in ("achievements", "problems", "plans") if sections.get(name)]
    if not counted and sections.get("leadership"):
        counted = ["leadership"]  # only the heads' duty was found: say so rather than nothing
    if not counted:
        return f"{subject}中未梳理出主要成效、存在问题或下一步安排。"
    counts = "，".join(f"{_SECTION_ZH[name]}{len(sections[name])}项" for name in counted)
    parts = [subject, f"梳理出{counts}"]
    cats: dict[str, int] = {}
    for item in sections.get("achievements", []):
        label = CATEGORY_LABELS_ZH[item.category]
        cats[label] = cats.get(label, 0) + 1
    if cats:
        top = sorted(cats.items(), key=lambda kv: -kv[1])[:3]
        parts.append("成效集中在" + "、".join(k for k, _ in top))
    # A title that only names the part ("存在问题") says nothing about what the problem is.
    problems = [it.title for it in sections.get("problems", []) if not is_section_word(it.title)]
    if problems:
        parts.append("主要问题包括" + "；".join(problems[:3]))
    return "，".join(parts) + "。"
