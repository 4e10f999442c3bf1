"""Mean and spread of every score over a run's repeats, pooled overall, per genre, split and report.

An LLM run is one sample of what the model does; `--repeat N` runs the golden set N times and every
score becomes a mean with a sample standard deviation (None with one sample: no spread measured).
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from service.evals.record import ReportRecord, RunRecord, Scores
from service.evals.score import aggregate
from service.models import SECTION_NAMES

OVERALL = "overall"


@dataclass(frozen=True)
class Stat:
    mean: float
    sd: float | None  # None: one sample, no spread measured
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        mean = statistics.fmean(values)
        sd = statistics.stdev(values) if len(values) >= 2 else None
        return cls(round(mean, 4), None if sd is None else round(sd, 4), len(values))

    def as_json(self) -> dict[str, float | None]:
        return {"mean": self.mean, "sd": self.sd}

    def text(self, digits: int = 2) -> str:
        if self.sd is None:
            return f"{self.mean:.{digits}f}"
        return f"{self.mean:.{digits}f}±{self.sd:.{digits}f}"


def quality_scores(scores: Scores) -> dict[str, float]:
    """The scores where higher is better and a drop means worse briefs."""
    out: dict[str, float] = {}
    for section in SECTION_NAMES:
        s = scores.sections.get(section)
        if s is not None:
            out[f"{section}.precision"] = s.precision
            out[f"{section}.recall"] = s.recall
            out[f"{section}.f1"] = s.f1
            out[f"{section}.found_f1"] = s.found_f1
    out["items.precision"], out["items.recall"], out["items.f1"] = (
        scores.items.precision,
        scores.items.recall,
        scores.items.f1,
    )
    out["items.found_f1"] = scores.items.found_f1
    out["meta_accuracy"] = scores.meta_accuracy
    out["schema_valid_rate"] = scores.schema_valid_rate
    if scores.grounding_rate is not None:
        out["grounding_rate"] = scores.grounding_rate
    if scores.category_agreement is not None:
        out["category_agreement"] = scores.category_agreement
    return out


def _pooled(reports: list[ReportRecord], keep: Callable[[ReportRecord], bool]) -> Scores | None:
    chosen = [r.scores for r in reports if keep(r)]
    return aggregate(chosen) if chosen else None


def scopes(record: RunRecord) -> dict[str, Callable[[ReportRecord], bool]]:
    """Every scope scores are pooled over: overall, `genre:<g>`, `split:<s>`, and each report id."""
    out: dict[str, Callable[[ReportRecord], bool]] = {OVERALL: lambda r: True}
    for genre in dict.fromkeys(r.genre for r in record.reports if r.genre is not None):
        out[f"genre:{genre.value}"] = functools.partial(_has, "genre", genre)
    for split in dict.fromkeys(r.split for r in record.reports if r.split is not None):
        out[f"split:{split}"] = functools.partial(_has, "split", split)
    for r in record.reports:
        out[r.id] = functools.partial(_has, "id", r.id)
    return out


def _has(field: str, value: object, report: ReportRecord) -> bool:
    return bool(getattr(report, field) == value)


def sample_scores(record: RunRecord, scope: str) -> list[Scores]:
    """The pooled scores of `scope` in each repeat (a report the repeat lacks is left out)."""
    keep = scopes(record).get(scope)
    if keep is None:
        return []
    out = []
    for sample in record.samples():
        pooled = _pooled(sample.reports, keep)
        if pooled is not None:
            out.append(pooled)
    return out


def stats(record: RunRecord, scope: str = OVERALL) -> dict[str, Stat]:
    """Mean and spread of each quality score of `scope` over the run's repeats."""
    values: dict[str, list[float]] = {}
    for scores in sample_scores(record, scope):
        for key, value in quality_scores(scores).items():
            values.setdefault(key, []).append(value)
    return {key: Stat.of(v) for key, v in values.items()}


def stat_of(values: list[float]) -> Stat:
    return Stat.of(values) if values else Stat(math.nan, None, 0)
