"""Locating golden quotes in a report's normalized text, and matching items to golden entries.

Golden quotes are copied from the RAW seed file, while a Brief's spans index the NORMALIZED text
(`service.normalize`), so a quote is first normalized the same way. Should that not find it (a
normalizer change that treats a lone quote differently from the quote in context), a punctuation-
and whitespace-blind search and then a fuzzy one are tried, and the way it was found is recorded.

An item matches a golden entry of the same section when its exact evidence spans overlap the located
quote; when either side has no usable span, by character-level similarity of the quote texts
(rapidfuzz, which works per character and so suits Chinese without word segmentation). Matching is
one-to-one: the largest number of pairs, and among those the strongest overlap.

That is "cited the golden sentence". "Found the item" (`found_edge`) is looser: the item is the
golden entry when it cites it, or when its title is the entry's heading or title, or its evidence
text is the entry's quote — so an item titled exactly as the golden heading that cites a body
sentence counts as found, though not as cited.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz import fuzz

from service.ground import merge_ranges
from service.normalize import normalize

#: Fewer shared characters than this is a boundary touching, not evidence of the same item.
MIN_OVERLAP_CHARS = 2
#: rapidfuzz scores (0-100) from which two quotes count as the same text.
FUZZY_LOCATE_MIN = 90.0
SIMILARITY_MIN = 85.0
#: Shorter canonical strings than this match too much by chance to be located fuzzily.
MIN_FUZZY_CHARS = 4

How = Literal["exact", "canonical", "fuzzy"]
Range = tuple[int, int]


def _keep(ch: str) -> bool:
    return ch.isalnum()


def canon(text: str) -> str:
    """Letters, digits and CJK only, width-folded and case-folded: what two renderings of a quote share."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text).casefold() if _keep(ch))


@dataclass(frozen=True)
class Located:
    spans: tuple[Range, ...]
    how: How
    score: float = 100.0


class TextIndex:
    """A normalized text with its canonical form, so that many quotes can be located cheaply."""

    def __init__(self, text: str) -> None:
        self.text = text
        chars: list[str] = []
        offsets: list[int] = []
        # NFKC may expand one character into several; each keeps the offset of its source character.
        for i, ch in enumerate(text):
            for c in unicodedata.normalize("NFKC", ch).casefold():
                if _keep(c):
                    chars.append(c)
                    offsets.append(i)
        self.canon = "".join(chars)
        self._offsets = offsets

    def _to_text(self, cstart: int, cend: int) -> Range:
        return self._offsets[cstart], self._offsets[cend - 1] + 1

    def locate(self, quote: str) -> Located | None:
        for needle in dict.fromkeys((normalize(quote), quote.strip())):
            spans = _all_occurrences(self.text, needle)
            if spans:
                return Located(tuple(spans), "exact")
        cq = canon(quote)
        if not cq:
            return None
        cspans = _all_occurrences(self.canon, cq)
        if cspans:
            return Located(tuple(self._to_text(s, e) for s, e in cspans), "canonical")
        if len(cq) < MIN_FUZZY_CHARS or not self.canon:
            return None
        found = fuzz.partial_ratio_alignment(cq, self.canon, score_cutoff=FUZZY_LOCATE_MIN)
        if found is None or found.dest_end <= found.dest_start:
            return None
        return Located((self._to_text(found.dest_start, found.dest_end),), "fuzzy", round(found.score, 1))


def _all_occurrences(haystack: str, needle: str) -> list[Range]:
    if not needle:
        return []
    out, i = [], haystack.find(needle)
    while i != -1:
        out.append((i, i + len(needle)))
        i = haystack.find(needle, i + 1)
    return out


def overlap(a: Sequence[Range], b: Sequence[Range]) -> int:
    """Characters covered by both sets of ranges."""
    total = 0
    for s1, e1 in merge_ranges(list(a)):
        for s2, e2 in merge_ranges(list(b)):
            total += max(0, min(e1, e2) - max(s1, s2))
    return total


def similarity(quote: str, texts: Sequence[str]) -> float:
    """How well `quote` is found in the best of `texts` (0-100), blind to punctuation and spacing."""
    cq = canon(quote)
    best = 0.0
    if len(cq) < MIN_FUZZY_CHARS:
        return best
    for text in texts:
        ct = canon(text)
        if len(ct) < MIN_FUZZY_CHARS:
            continue
        # partial_ratio would align a short title inside a long quote and call it a perfect match;
        # a candidate shorter than the quote has to match all of it.
        score = fuzz.partial_ratio(cq, ct) if len(ct) >= len(cq) else fuzz.ratio(cq, ct)
        best = max(best, score)
    return best


@dataclass(frozen=True)
class Candidate:
    """What matching needs of an item: its exact spans, and its texts for the similarity fallback."""

    spans: tuple[Range, ...] = ()
    texts: tuple[str, ...] = ()
    title: str = ""


@dataclass(frozen=True)
class Target:
    """What matching needs of a golden entry."""

    quote: str
    spans: tuple[Range, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class Pair:
    golden: int
    item: int
    how: Literal["overlap", "similarity", "title"]
    strength: float = field(default=1.0, compare=False)


def edge(target: Target, item: Candidate) -> Pair | None:
    """Whether (and how strongly) an item can stand for a golden entry; indices are filled in later."""
    if target.spans and item.spans:
        # Both are placed in the text: position decides, so a similar sentence elsewhere never counts.
        shared = overlap(target.spans, item.spans)
        length = sum(e - s for s, e in merge_ranges(list(target.spans))) or 1
        if shared >= min(MIN_OVERLAP_CHARS, length):
            return Pair(-1, -1, "overlap", round(min(1.0, shared / length), 4))
        return None
    score = similarity(target.quote, item.texts)
    if score >= SIMILARITY_MIN:
        return Pair(-1, -1, "similarity", round(score / 100, 4))
    return None


def title_similarity(a: str, b: str) -> float:
    """0-100: how much two short titles are the same words, blind to punctuation and spacing."""
    ca, cb = canon(a), canon(b)
    if not ca or not cb:
        return 0.0
    return 100.0 if ca == cb else fuzz.ratio(ca, cb)


def found_edge(target: Target, item: Candidate) -> Pair | None:
    """The item is the golden entry: it cites it, or its title or evidence text says it."""
    cited = edge(target, item)
    if cited is not None:
        return cited
    if target.label and item.title and title_similarity(target.label, item.title) >= SIMILARITY_MIN:
        return Pair(-1, -1, "title", round(title_similarity(target.label, item.title) / 100, 4))
    score = similarity(target.quote, item.texts)
    if score >= SIMILARITY_MIN:
        return Pair(-1, -1, "similarity", round(score / 100, 4))
    return None


def match(
    targets: Sequence[Target],
    items: Sequence[Candidate],
    edge_of: Callable[[Target, Candidate], Pair | None] = edge,
) -> list[Pair]:
    """One-to-one pairs: as many as possible, then the strongest."""
    edges: dict[tuple[int, int], Pair] = {}
    for gi, target in enumerate(targets):
        for ii, item in enumerate(items):
            found = edge_of(target, item)
            if found is not None:
                edges[gi, ii] = Pair(gi, ii, found.how, found.strength)
    if not edges:
        return []
    # A pair is worth more than all strengths together, so the assignment maximises the count first.
    big = float(len(targets) + len(items) + 1)
    weights = [
        [big + edges[g, i].strength if (g, i) in edges else 0.0 for i in range(len(items))]
        for g in range(len(targets))
    ]
    chosen = assign(weights)
    return sorted((edges[g, i] for g, i in chosen if (g, i) in edges), key=lambda p: p.golden)


def assign(weights: list[list[float]]) -> list[tuple[int, int]]:
    """Rows to columns, each at most once, maximising the total weight (Hungarian method, O(n²m)).

    Every row is assigned when there are enough columns, zero-weight cells included; callers drop
    the pairs that are not edges.
    """
    n = len(weights)
    m = len(weights[0]) if n else 0
    if n == 0 or m == 0:
        return []
    if n > m:
        return [(r, c) for c, r in assign([list(col) for col in zip(*weights, strict=True)])]
    inf = float("inf")
    cost = [[-w for w in row] for row in weights]
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    p = [0] * (m + 1)  # p[j]: the row assigned to column j (1-based; 0 = none)
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = cost[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(m + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    return [(p[j] - 1, j - 1) for j in range(1, m + 1) if p[j]]
