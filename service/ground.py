"""Grounding: turn a backend's DraftItems into Items whose every Span is exact.

`text[start:end] == quote` holds for every Span that leaves this module. Evidence given as sentence
ids must name sentences of the document (and of the chunk, when the draft says which); metrics must
be found, number and all, in the sentence they cite. What cannot be grounded is dropped and counted
in the warnings — never passed on.
"""

from __future__ import annotations

import re

from service.document import Document, DraftItem, DraftMetric
from service.metrics import format_number
from service.models import Item, Metric, Span


def merge_ranges(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of character ranges, sorted; touching ranges join, ranges a gap apart stay apart."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _ranges_from_ids(
    doc: Document, ids: list[str], allowed: set[str] | None
) -> tuple[list[tuple[int, int]], list[str]]:
    ranges, bad = [], []
    for sid in ids:
        sentence = doc.sentence(sid)
        if sentence is None or (allowed is not None and sid not in allowed):
            bad.append(sid)
        else:
            ranges.append((sentence.start, sentence.end))
    return ranges, bad


def _number_forms(value: float) -> list[str]:
    value = float(value)  # an LLM's JSON may give an int
    forms = [format_number(value)]
    if value >= 1000 and value.is_integer():
        forms.append(f"{int(value):,}")  # 1,361
    if value >= 10_000 and value % 10_000 == 0:
        forms.append(f"{format_number(value / 10_000)}万")
    if value >= 100_000_000 and value % 100_000_000 == 0:
        forms.append(f"{format_number(value / 100_000_000)}亿")
    return forms


def _stands_alone(text: str, i: int, j: int) -> bool:
    """text[i:j] holds a whole number: 28 is not the end of 128, nor 32604.2 the start of 32604.23."""
    if i > 0 and text[i - 1].isdigit():
        return False
    if text[j - 1].isdigit() and j < len(text):
        after = text[j : j + 2]
        if after[0].isdigit() or (after[0] in ".," and after[1:].isdigit()):
            return False
    return True


def _ground_metric(doc: Document, metric: DraftMetric) -> Span | None:
    text = doc.text
    if metric.start is not None and metric.end is not None:
        if 0 <= metric.start < metric.end <= len(text):
            return doc.span(metric.start, metric.end)
        return None
    sentence = doc.sentence(metric.sentence_id) if metric.sentence_id else None
    if sentence is None:
        return None
    candidates = [metric.quote] if metric.quote else []
    candidates += [f"{n}{metric.unit}" for n in _number_forms(metric.value)] + _number_forms(metric.value)
    for cand in candidates:
        if not cand:
            continue
        i = sentence.text.find(cand)
        # The number must stand alone (28 must not match inside 128) and be in the quote.
        if i != -1 and re.search(r"\d", cand) and _stands_alone(sentence.text, i, i + len(cand)):
            start = sentence.start + i
            return doc.span(start, start + len(cand))
    return None


def ground(
    doc: Document, drafts: list[DraftItem], *, chunk_sentence_ids: dict[str, set[str]] | None = None
) -> tuple[list[tuple[str, Item]], list[str]]:
    """Return (section, Item) pairs in draft order, and warnings for what was dropped."""
    items: list[tuple[str, Item]] = []
    warnings: list[str] = []
    for draft in drafts:
        allowed = chunk_sentence_ids.get(draft.chunk_id) if chunk_sentence_ids and draft.chunk_id else None
        id_ranges, bad = _ranges_from_ids(doc, draft.sentence_ids, allowed)
        if bad:
            warnings.append(
                f"{draft.section} item '{draft.title}': cited sentence ids outside its chunk ignored: {', '.join(bad)}"
            )
        ranges = [
            (s, e) for s, e in draft.ranges if 0 <= s < e <= len(doc.text) and doc.text[s:e].strip()
        ] + id_ranges
        if not ranges:
            warnings.append(f"dropped {draft.section} item '{draft.title}': no evidence could be grounded")
            continue
        evidence = [doc.span(s, e) for s, e in merge_ranges(ranges)]
        metrics: list[Metric] = []
        for dm in draft.metrics:
            span = _ground_metric(doc, dm)
            if span is None:
                warnings.append(
                    f"{draft.section} item '{draft.title}': metric '{dm.label} {format_number(dm.value)}{dm.unit}' not found in its evidence, dropped"
                )
                continue
            metrics.append(Metric(label=dm.label, value=dm.value, unit=dm.unit, evidence=span))
        items.append(
            (
                draft.section,
                Item(
                    title=draft.title.strip() or evidence[0].quote[:30],
                    summary=draft.summary.strip() or draft.title.strip(),
                    category=draft.category,
                    metrics=metrics,
                    evidence=evidence,
                ),
            )
        )
    return items, warnings
