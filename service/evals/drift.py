"""Drift: a run compared with a blessed baseline.

A run fails when any quality score — overall or of any single report — is lower than the baseline's
by more than the tolerance. Per-report scores are compared as well as the pooled ones because the
pooled ones dilute: with many reports one lost problem moves overall recall by less than any
sensible tolerance, yet it is exactly what CI has to catch. Cost, tokens and latency are shown but
never fail a run (they are noisy, and a cache hit makes them drop to nothing).

The rules backend is deterministic and keeps that exact gate. An LLM is not: with repeats
(`--repeat N`) both runs have a mean and a spread per score, and an LLM score drifts only when its
mean falls below the baseline's mean by more than the tolerance AND by more than `SPREAD_K` standard
errors of the difference of the two means (from the baseline's spread), so run-to-run noise the
baseline measured is never called drift. A baseline blessed from one sample has no spread; then the
tolerance alone decides, and the verdict says so.

A verdict reached without calling the model (every report served from the answer cache) measures
the cache, not the model, and says so beside the verdict.

Both records should have been re-scored against the same golden set (`runner.rescore`) first, so a
fix to a golden file never reads as drift.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from service.evals.match import assign, canon
from service.evals.record import RecordItem, ReportRecord, RunRecord
from service.evals.spread import OVERALL, Stat, quality_scores, stats
from service.models import SECTION_NAMES

DEFAULT_TOLERANCE = 0.02
#: How many standard errors of the difference of two means an LLM score may fall before it drifts.
SPREAD_K = 2.0
#: rapidfuzz ratio from which two items of the same section count as the same item in two runs.
SAME_ITEM_MIN = 90.0

__all__ = ["DEFAULT_TOLERANCE", "OVERALL", "Drift", "compare", "format_drift", "quality_scores"]


def allowed_drop(tolerance: float, base: Stat, current: Stat) -> float:
    """How far an LLM score's mean may fall: the tolerance, or the noise the baseline measured."""
    if base.sd is None:
        return tolerance
    noise = base.sd * math.sqrt(1 / base.n + 1 / max(current.n, 1))
    return max(tolerance, round(SPREAD_K * noise, 4))


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
    baseline: float  # the mean over repeats, for LLM runs
    current: float
    allowed: float = 0.0  # how far it may fall before it is drift

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
    exact: bool = True  # the deterministic gate (rules); False: judged against the baseline's spread
    baseline_samples: int = 1
    current_samples: int = 1
    baseline_spread: bool = False  # the baseline recorded a spread (blessed from repeats)
    #: Reports of the current run and how many of them were served from the answer cache.
    reports_run: int = 0
    cached_reports: int = 0
    live_calls: int = 0
    uses_model: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.drops)

    @property
    def model_not_called(self) -> bool:
        """A verdict about the answer cache, not the model: nothing in this run called it."""
        return self.uses_model and self.live_calls == 0

    def caveat(self) -> str | None:
        """What the verdict did not check, said beside it."""
        if self.model_not_called:
            return (
                f"the model was not called: {self.cached_reports} of {self.reports_run} report(s) were "
                "served from the answer cache, so this checks cached answers (use --refresh to call it)"
            )
        if self.uses_model and self.cached_reports:
            return f"{self.cached_reports} of {self.reports_run} report(s) were served from the answer cache"
        return None


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
    exact = baseline.deterministic and current.deterministic
    drift = Drift(
        tolerance=tolerance,
        exact=exact,
        baseline_samples=len(baseline.samples()),
        current_samples=len(current.samples()),
        baseline_spread=len(baseline.samples()) >= 2,
        reports_run=len(current.reports),
        cached_reports=sum(r.cache == "cached" for r in current.reports),
        live_calls=sum(r.scores.live_calls for s in current.samples() for r in s.reports),
        uses_model=not current.deterministic,
    )
    current_by_id = {r.id: r for r in current.reports}
    for scope in [OVERALL, *(b.id for b in baseline.reports)]:
        if exact:
            # One sample each, and any fall beyond the tolerance fails.
            before = {k: Stat(v, None, 1) for k, v in _scores_of(baseline, scope).items()}
            after = {k: Stat(v, None, 1) for k, v in _scores_of(current, scope).items()}
        else:
            before, after = stats(baseline, scope), stats(current, scope)
        for key, base in before.items():
            # A report the run lacks scores nothing: every one of its scores has dropped to zero.
            now = after.get(key, Stat(0.0, None, 1))
            allowed = tolerance if exact else allowed_drop(tolerance, base, now)
            change = ScoreChange(scope, key, base.mean, now.mean, allowed)
            if base.mean - now.mean > allowed + 1e-9:
                drift.drops.append(change)
            elif now.mean - base.mean > 1e-9:
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


def _scores_of(record: RunRecord, scope: str) -> dict[str, float]:
    if scope == OVERALL:
        return quality_scores(record.scores)
    report = record.report(scope)
    return quality_scores(report.scores) if report is not None else {}


def _short(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "…"


def format_drift(drift: Drift, baseline_name: str = "baseline") -> str:
    """Plain text for the terminal and CI logs: what dropped, and per report what changed."""
    lines: list[str] = []
    how = f"more than {drift.tolerance:g}"
    if not drift.exact:
        how = (
            f"more than {drift.tolerance:g} and than the baseline's spread ({drift.baseline_samples} vs "
            f"{drift.current_samples} sample(s))"
            if drift.baseline_spread
            else f"more than {drift.tolerance:g} (the baseline has no spread: bless it with --repeat N)"
        )
    caveat = drift.caveat()
    note = f" [{caveat}]" if caveat else ""
    if drift.drops:
        lines.append(f"DRIFT: {len(drift.drops)} score(s) dropped {how} below {baseline_name}{note}")
        lines += [
            f"  {d.scope} {d.key}: {d.baseline:.3f} → {d.current:.3f} ({d.delta:+.3f}"
            + (f", allowed {d.allowed:.3f})" if not drift.exact else ")")
            for d in drift.drops
        ]
    else:
        lines.append(f"no drift: no score dropped {how} below {baseline_name}{note}")
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
