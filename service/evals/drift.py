"""Drift: a run compared with a blessed baseline.

A run fails when any quality score — overall or of any single report — is lower than the baseline's
by more than the tolerance. Per-report scores are compared as well as the pooled ones because the
pooled ones dilute: with many reports one lost problem moves overall recall by less than any
sensible tolerance, yet it is exactly what CI has to catch. Cost, tokens and latency are shown but
never fail a run (they are noisy, and a cache hit makes them drop to nothing).

Both records should have been re-scored against the same golden set (`runner.rescore`) first, so a
fix to a golden file never reads as drift.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rapidfuzz import fuzz

from service.evals.match import assign, canon
from service.evals.record import RecordItem, ReportRecord, RunRecord, Scores
from service.models import SECTION_NAMES

DEFAULT_TOLERANCE = 0.02
#: rapidfuzz ratio from which two items of the same section count as the same item in two runs.
SAME_ITEM_MIN = 90.0
OVERALL = "overall"


def quality_scores(scores: Scores) -> dict[str, float]:
    """The scores where higher is better and a drop means worse briefs."""
    out: dict[str, float] = {}
    for section in SECTION_NAMES:
        s = scores.sections.get(section)
        if s is not None:
            out[f"{section}.precision"], out[f"{section}.recall"], out[f"{section}.f1"] = (
                s.precision,
                s.recall,
                s.f1,
            )
    out["items.precision"], out["items.recall"], out["items.f1"] = (
        scores.items.precision,
        scores.items.recall,
        scores.items.f1,
    )
    out["meta_accuracy"] = scores.meta_accuracy
    out["schema_valid_rate"] = scores.schema_valid_rate
    if scores.grounding_rate is not None:
        out["grounding_rate"] = scores.grounding_rate
    if scores.category_agreement is not None:
        out["category_agreement"] = scores.category_agreement
    return out


def item_similarity(a: RecordItem, b: RecordItem) -> float:
    """0-100: how much two items from two runs are the same item (title, then evidence text)."""
    if canon(a.title) and canon(a.title) == canon(b.title):
        return 100.0
    ea = canon("".join(s.quote for s in a.evidence))
    eb = canon("".join(s.quote for s in b.evidence))
    return fuzz.ratio(ea, eb) if ea and eb else 0.0


def pair_items(a: list[RecordItem], b: list[RecordItem]) -> list[tuple[int, int]]:
    """One-to-one pairs of the same item in two runs' lists of one section."""
    if not a or not b:
        return []
    sims = [[item_similarity(x, y) for y in b] for x in a]
    weights = [[s if s >= SAME_ITEM_MIN else 0.0 for s in row] for row in sims]
    return sorted((i, j) for i, j in assign(weights) if weights[i][j] > 0)


@dataclass(frozen=True)
class ScoreChange:
    scope: str  # OVERALL or a report id
    key: str
    baseline: float
    current: float

    @property
    def delta(self) -> float:
        return round(self.current - self.baseline, 4)


@dataclass(frozen=True)
class EntryRef:
    section: str
    index: int
    label: str
    quote: str


@dataclass(frozen=True)
class ItemRef:
    section: str
    title: str
    quote: str


@dataclass
class ReportDiff:
    id: str
    newly_missed: list[EntryRef] = field(default_factory=list)
    newly_matched: list[EntryRef] = field(default_factory=list)
    new_items: list[ItemRef] = field(default_factory=list)
    gone_items: list[ItemRef] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.newly_missed or self.newly_matched or self.new_items or self.gone_items)


@dataclass
class Drift:
    tolerance: float
    drops: list[ScoreChange] = field(default_factory=list)
    gains: list[ScoreChange] = field(default_factory=list)
    reports: list[ReportDiff] = field(default_factory=list)
    baseline_cost: tuple[float | None, int, int] = (None, 0, 0)  # cost, tokens, latency_ms
    current_cost: tuple[float | None, int, int] = (None, 0, 0)

    @property
    def failed(self) -> bool:
        return bool(self.drops)


def _matched_keys(report: ReportRecord, section: str) -> dict[str, EntryRef]:
    refs = report.golden.get(section, [])
    out = {}
    for m in report.matches.get(section, []):
        if 0 <= m.golden < len(refs):
            ref = refs[m.golden]
            out[canon(ref.quote)] = EntryRef(section, m.golden, ref.label, ref.quote)
    return out


def _item_ref(section: str, item: RecordItem) -> ItemRef:
    return ItemRef(section, item.title, item.evidence[0].quote if item.evidence else "")


def report_diff(baseline: ReportRecord | None, current: ReportRecord) -> ReportDiff:
    diff = ReportDiff(current.id)
    for section in SECTION_NAMES:
        now = _matched_keys(current, section)
        before = _matched_keys(baseline, section) if baseline is not None else {}
        diff.newly_missed += [ref for key, ref in before.items() if key not in now]
        diff.newly_matched += [ref for key, ref in now.items() if key not in before]
        old_items = baseline.items.get(section, []) if baseline is not None else []
        new_items = current.items.get(section, [])
        paired = pair_items(old_items, new_items)
        kept_old, kept_new = {i for i, _ in paired}, {j for _, j in paired}
        diff.gone_items += [_item_ref(section, it) for i, it in enumerate(old_items) if i not in kept_old]
        diff.new_items += [_item_ref(section, it) for j, it in enumerate(new_items) if j not in kept_new]
    diff.newly_missed.sort(key=lambda r: (SECTION_NAMES.index(r.section), r.index))
    diff.newly_matched.sort(key=lambda r: (SECTION_NAMES.index(r.section), r.index))
    return diff


def compare(baseline: RunRecord, current: RunRecord, tolerance: float = DEFAULT_TOLERANCE) -> Drift:
    drift = Drift(tolerance=tolerance)
    scopes: list[tuple[str, Scores, Scores | None]] = [(OVERALL, baseline.scores, current.scores)]
    current_by_id = {r.id: r for r in current.reports}
    for b in baseline.reports:
        c = current_by_id.get(b.id)
        scopes.append((b.id, b.scores, c.scores if c is not None else None))
    for scope, before, after in scopes:
        after_q = quality_scores(after) if after is not None else {}
        for key, value in quality_scores(before).items():
            # A report the run lacks scores nothing: every one of its scores has dropped to zero.
            now = after_q.get(key, 0.0)
            change = ScoreChange(scope, key, value, now)
            if value - now > tolerance + 1e-9:
                drift.drops.append(change)
            elif now - value > 1e-9:
                drift.gains.append(change)
    baseline_by_id = {r.id: r for r in baseline.reports}
    for c in current.reports:
        diff = report_diff(baseline_by_id.get(c.id), c)
        if not diff.empty:
            drift.reports.append(diff)
    for b in baseline.reports:
        if b.id not in current_by_id:
            drift.reports.append(
                ReportDiff(
                    b.id,
                    newly_missed=[
                        ref for section in SECTION_NAMES for ref in _matched_keys(b, section).values()
                    ],
                )
            )
    drift.baseline_cost = (baseline.scores.cost_usd, baseline.scores.tokens, baseline.scores.latency_ms)
    drift.current_cost = (current.scores.cost_usd, current.scores.tokens, current.scores.latency_ms)
    return drift


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"


def format_drift(drift: Drift, baseline_name: str = "baseline") -> str:
    """Plain text for the terminal and CI logs: what dropped, and per report what changed."""
    lines: list[str] = []
    if drift.drops:
        lines.append(
            f"DRIFT: {len(drift.drops)} score(s) dropped more than {drift.tolerance:g} below {baseline_name}:"
        )
        lines += [
            f"  {d.scope} {d.key}: {d.baseline:.3f} → {d.current:.3f} ({d.delta:+.3f})" for d in drift.drops
        ]
    else:
        lines.append(f"no drift: no score dropped more than {drift.tolerance:g} below {baseline_name}")
    if drift.gains:
        lines.append(f"improved: {len(drift.gains)} score(s)")
        lines += [
            f"  {g.scope} {g.key}: {g.baseline:.3f} → {g.current:.3f} ({g.delta:+.3f})" for g in drift.gains
        ]
    for r in drift.reports:
        lines.append(f"{r.id}:")
        lines += [
            f"  newly missed {e.section} #{e.index + 1}: {e.label}  [quote: {e.quote}]"
            for e in r.newly_missed
        ]
        lines += [f"  newly matched {e.section} #{e.index + 1}: {e.label}" for e in r.newly_matched]
        lines += [
            f"  new item {i.section}: {_short(i.title)}  [evidence: {_short(i.quote)}]" for i in r.new_items
        ]
        lines += [
            f"  gone item {i.section}: {_short(i.title)}  [evidence: {_short(i.quote)}]" for i in r.gone_items
        ]
    (bc, bt, bl), (cc, ct, cl) = drift.baseline_cost, drift.current_cost

    def cost(c: float | None) -> str:
        return "n/a" if c is None else f"${c:.4f}"

    lines.append(f"cost {cost(bc)} → {cost(cc)}, tokens {bt} → {ct}, latency {bl} ms → {cl} ms")
    return "\n".join(lines)
