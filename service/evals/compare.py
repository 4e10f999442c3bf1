"""`govbrief eval compare`: two or more run records side by side as one HTML page.

For each report and section the rows are the golden entries (what each run matched to it, with the
evidence) followed by the items that matched nothing, lined up across the runs when they are the
same item. A row where some runs have something and others not is marked `diff`; a golden entry all
runs matched, but with different items or evidence, `changed`. The page opens on differences only
(a checkbox shows the rest), with a navigation bar by report and section; a golden entry a run
missed links to that run's closest item that matched nothing, which is often the same item citing
another sentence. Scores are shown per run with the change from the first run; cost, tokens, calls
and latency are coloured only when both runs called the model (a cached run's cost is what its
answers cost when made, not a saving).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from service.evals.drift import SAME_ITEM_MIN, item_similarity
from service.evals.match import canon, similarity, title_similarity
from service.evals.record import RecordItem, ReportRecord, RunRecord, Scores
from service.models import SECTION_NAMES
from service.templating import environment

TEMPLATE = "eval_compare.html"

#: Scores where a lower number is the better one.
_LOWER_IS_BETTER = {"tokens", "calls", "cost_usd", "latency_ms", "errors", "dropped"}
#: What a run spent: only comparable when both runs called the model.
_COST = {"tokens", "calls", "cost_usd", "latency_ms"}
#: From this similarity (0-100) an item that matched nothing is offered as "closest" to a missed entry.
CLOSEST_MIN = 50.0

#: Warning kinds for the summary at the top: (pattern, kind), first match wins.
_WARNING_KINDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^dropped \w+ item .*no evidence could be grounded"), "item dropped: evidence not grounded"),
    (
        re.compile(r"item .* dropped: it cites sentence ids not in the chunk"),
        "item dropped: ids outside chunk",
    ),
    (re.compile(r"cited sentence ids outside its chunk ignored"), "ids outside chunk ignored"),
    (re.compile(r"no usable answer"), "chunk or overview without a usable answer"),
    (re.compile(r"metric .*(dropped|not found)"), "metric dropped"),
    (re.compile(r"^the report has a \w+ section .* but no \w+ item"), "section without items"),
    (re.compile(r"^no \w+ section .* found"), "section not found"),
]


def warning_kind(warning: str) -> str:
    for pattern, kind in _WARNING_KINDS:
        if pattern.search(warning):
            return kind
    return "other"


@dataclass
class ScoreRow:
    name: str
    values: list[str]
    deltas: list[str]  # change from the first run ("" for the first, and when equal)
    classes: list[str]  # better | worse | same | na | cached


@dataclass
class Cell:
    item: RecordItem | None
    status: str  # matched | found | missed | extra | none
    anchor: str = ""  # id of this cell, for links to it
    closest: str = ""  # for a missed entry: the anchor of the run's closest unmatched item
    closest_title: str = ""
    closest_score: float = 0.0


@dataclass
class Row:
    kind: str  # golden | extra
    label: str
    quote: str
    cells: list[Cell]
    cls: str  # diff | changed | same


@dataclass
class SectionView:
    name: str
    anchor: str
    rows: list[Row] = field(default_factory=list)
    scores: list[str] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return sum(row.cls != "same" for row in self.rows)


@dataclass
class ReportView:
    id: str
    path: str
    genre: str
    split: str
    scores: list[ScoreRow]
    sections: list[SectionView]
    errors: list[str | None]
    warnings: list[list[str]]
    costs: list[str]

    @property
    def differences(self) -> int:
        return sum(s.differences for s in self.sections)


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "—"
    if name == "cost_usd":
        return f"${value:.4f}"
    if name in (
        "tokens",
        "calls",
        "latency_ms",
        "cache_hits",
        "errors",
        "dropped",
        "live_calls",
        "cached_reports",
    ):
        return f"{int(value)}"
    return f"{value:.3f}"


def _score_values(s: Scores) -> list[tuple[str, float | None]]:
    out: list[tuple[str, float | None]] = []
    for section in SECTION_NAMES:
        sec = s.sections.get(section)
        if sec is not None:
            out += [
                (f"{section} precision", sec.precision),
                (f"{section} recall", sec.recall),
                (f"{section} F1", sec.f1),
                (f"{section} found F1", sec.found_f1),
            ]
    out += [
        ("items F1", s.items.f1),
        ("items found F1", s.items.found_f1),
        ("dropped", s.items.dropped),
        ("meta accuracy", s.meta_accuracy),
        ("grounding rate", s.grounding_rate),
        ("schema-valid rate", s.schema_valid_rate),
        ("category agreement", s.category_agreement),
        ("errors", s.errors),
        ("tokens", s.tokens),
        ("calls", s.calls),
        ("live_calls", s.live_calls),
        ("cached_reports", s.cached_reports),
        ("cost_usd", s.cost_usd),
        ("latency_ms", s.latency_ms),
    ]
    return out


def score_rows(scores: list[Scores | None], live: list[bool]) -> list[ScoreRow]:
    """One row per score, a value per run, the change from the first run coloured. `live[k]`: run
    k called the model for everything here, so its cost is comparable."""
    values = [dict(_score_values(s)) if s is not None else {} for s in scores]
    names = list(dict.fromkeys(n for v in values for n in v))
    rows = []
    for name in names:
        shown, deltas, classes = [], [], []
        first = values[0].get(name) if values else None
        for k, v in enumerate(values):
            value = v.get(name)
            shown.append(_fmt(name, value))
            if k == 0 or value is None or first is None:
                deltas.append("")
                classes.append("na" if k and value is None else "same")
                continue
            delta = value - first
            if abs(delta) < 1e-9 or name in ("live_calls", "cached_reports"):
                deltas.append("")
                classes.append("same")
                continue
            text = f"{delta:+.4f}" if name == "cost_usd" else ("+" if delta > 0 else "") + _fmt(name, delta)
            deltas.append(text)
            if name in _COST and not (live[0] and live[k]):
                classes.append("cached")  # not a saving: one side never called the model
                continue
            worse = (delta > 0) if name in _LOWER_IS_BETTER else (delta < 0)
            classes.append("worse" if worse else "better")
        rows.append(ScoreRow(name, shown, deltas, classes))
    return rows


def _evidence(item: RecordItem) -> list[str]:
    return [s.quote for s in item.evidence]


def _same(items: list[RecordItem | None]) -> bool:
    present = [i for i in items if i is not None]
    return all(i.title == present[0].title and _evidence(i) == _evidence(present[0]) for i in present)


def _closeness(label: str, quote: str, item: RecordItem) -> float:
    return max(title_similarity(label, item.title), similarity(quote, item.texts()))


def _section_rows(rid: str, section: str, reports: list[ReportRecord | None]) -> list[Row]:
    n = len(reports)
    refs = [r.golden.get(section, []) if r else [] for r in reports]
    items = [r.items.get(section, []) if r else [] for r in reports]
    used: list[set[int]] = [set() for _ in range(n)]
    # Golden entries, the union over the runs (a golden fix between runs shows both versions).
    keys: dict[str, tuple[str, str]] = {}
    for run_refs in refs:
        for ref in run_refs:
            keys.setdefault(canon(ref.quote), (ref.label, ref.quote))
    golden_rows: list[Row] = []
    for key, (label, quote) in keys.items():
        cells = []
        for k, r in enumerate(reports):
            gi = next((i for i, ref in enumerate(refs[k]) if canon(ref.quote) == key), None)
            ii = r.matched_item(section, gi) if r is not None and gi is not None else None
            if ii is None and r is not None and gi is not None:
                found = next((m.item for m in r.found.get(section, []) if m.golden == gi), None)
                if found is not None and r.matched_golden(section, found) is None:
                    cells.append(Cell(items[k][found], "found"))
                    used[k].add(found)
                    continue
            if ii is not None:
                used[k].add(ii)
            cells.append(
                Cell(items[k][ii] if ii is not None else None, "matched" if ii is not None else "missed")
            )
        statuses = {c.status for c in cells}
        if len(statuses) > 1:
            cls = "diff"
        elif statuses != {"missed"} and not _same([c.item for c in cells]):
            cls = "changed"
        else:
            cls = "same"
        golden_rows.append(Row("golden", label, quote, cells, cls))
    # Items that matched nothing, lined up across the runs when they are the same item.
    extra_rows: list[Row] = []
    for k in range(n):
        for j, item in enumerate(items[k]):
            if j in used[k]:
                continue
            anchor = f"{rid}-{section}-r{k}-i{j}"
            best, best_sim = None, SAME_ITEM_MIN
            for row in extra_rows:
                if row.cells[k].item is not None:
                    continue
                other = next(c.item for c in row.cells if c.item is not None)
                sim = item_similarity(other, item)
                if sim >= best_sim:
                    best, best_sim = row, sim
            if best is None:
                best = Row("extra", "", "", [Cell(None, "none") for _ in range(n)], "diff")
                extra_rows.append(best)
            best.cells[k] = Cell(item, "extra", anchor=anchor)
    for row in extra_rows:
        present = [c.item for c in row.cells]
        row.cls = "diff" if any(i is None for i in present) else ("same" if _same(present) else "changed")
    # A missed entry points at the closest item its run left unmatched.
    for row in golden_rows:
        for k, cell in enumerate(row.cells):
            if cell.status != "missed":
                continue
            best_score, best_cell = CLOSEST_MIN, None
            for extra in extra_rows:
                c = extra.cells[k]
                if c.item is not None:
                    score = _closeness(row.label, row.quote, c.item)
                    if score >= best_score:
                        best_score, best_cell = score, c
            if best_cell is not None and best_cell.item is not None:
                cell.closest, cell.closest_title = best_cell.anchor, best_cell.item.title
                cell.closest_score = round(best_score)
    return golden_rows + extra_rows


def _section_score(r: ReportRecord | None, section: str) -> str:
    if r is None or section not in r.scores.sections:
        return "—"
    s = r.scores.sections[section]
    return (
        f"P {s.precision:.2f} · R {s.recall:.2f} · F1 {s.f1:.2f} · found {s.found_f1:.2f} · "
        f"{s.golden}/{s.predicted}/{s.matched}/{s.found}/{s.dropped}"
    )


def _cost_line(r: ReportRecord | None) -> str:
    if r is None:
        return "—"
    s = r.scores
    cost = "no cost" if s.cost_usd is None else f"${s.cost_usd:.4f}"
    how = {"cached": ", cached (model not called; cost when made)", "mixed": ", partly cached"}.get(
        r.cache, ""
    )
    return f"{s.latency_ms} ms, {cost}, {s.tokens} tokens, {s.calls} calls{how}"


def _run_live(run: RunRecord) -> bool:
    return run.settings.backend != "rules" and run.scores.cached_reports == 0 and run.scores.live_calls > 0


def build_view(runs: list[RunRecord], names: list[str] | None = None) -> dict[str, Any]:
    names = names or [r.label for r in runs]
    by_id = [{r.id: r for r in run.reports} for run in runs]
    reports = []
    for rid in dict.fromkeys(i for b in by_id for i in b):
        recs = [b.get(rid) for b in by_id]
        either = next(r for r in recs if r is not None)
        sections = [
            SectionView(
                str(section),
                f"{rid}-{section}",
                _section_rows(rid, section, recs),
                [_section_score(r, section) for r in recs],
            )
            for section in SECTION_NAMES
        ]
        reports.append(
            ReportView(
                id=rid,
                path=either.path,
                genre=either.genre.label_zh if either.genre else "",
                split=either.split or "",
                scores=score_rows(
                    [r.scores if r else None for r in recs],
                    [r is not None and r.cache == "live" for r in recs],
                ),
                sections=sections,
                errors=[r.error if r else "not in this run" for r in recs],
                warnings=[r.warnings if r else [] for r in recs],
                costs=[_cost_line(r) for r in recs],
            )
        )
    kinds = [Counter(warning_kind(w) for r in run.reports for w in r.warnings) for run in runs]
    warning_summary = [
        (kind, [c.get(kind, 0) for c in kinds]) for kind in sorted({k for c in kinds for k in c})
    ]
    return {
        "runs": runs,
        "names": names,
        "overall": score_rows([r.scores for r in runs], [_run_live(r) for r in runs]),
        "reports": reports,
        "warning_summary": warning_summary,
    }


def render_compare(runs: list[RunRecord], names: list[str] | None = None) -> str:
    if len(runs) < 2:
        raise ValueError("compare needs two or more runs")
    view = build_view(runs, names)
    return environment().get_template(TEMPLATE).render(**view)
