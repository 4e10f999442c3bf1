"""One run as one JSON object (`govbrief eval --format json`), for CI scripts.

    {"label", "run_record", "backend", "model", "prompt", "repeat", "split",
     "cached_reports", "live_calls", "prompt_tokens", "completion_tokens", "cost_usd",
     "overall": SCOPE, "genres": {genre: SCOPE}, "splits": {split: SCOPE},
     "reports": [{"id", "genre", "split", "cache", "model_called", "calls", ...}],
     "dropped": {reason: count}, "judge": {...} | null,
     "drift": [{"scope", "key", "baseline", "current", "delta", "allowed"}], "drift_checked",
     "model_not_called"}
    SCOPE = {"reports", "sections": {section: {"precision", "recall", "f1": {"mean", "sd"},
             "found": {"precision", "recall", "f1"}, "golden", "predicted", "matched", "found_count",
             "dropped"}}, "items": (as a section), "meta_accuracy": {"mean", "sd"}, ...}

Means and spreads are over the run's repeats (`sd` is null with one); counts are means too.
`prompt_tokens`, `cost_usd` are what the answers cost when made, summed over repeats; `live_calls`
is what this run called.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from service.evals.drift import Drift
from service.evals.dropped import summarize_dropped
from service.evals.record import RunRecord, Scores, SectionScore
from service.evals.spread import OVERALL, Stat, sample_scores
from service.models import SECTION_NAMES

_RATES = ("meta_accuracy", "grounding_rate", "schema_valid_rate", "category_agreement")


def _stat(values: list[float]) -> dict[str, float | None]:
    return Stat.of(values).as_json() if values else {"mean": None, "sd": None}


def _section(parts: list[SectionScore]) -> dict[str, Any]:
    def of(name: str) -> dict[str, float | None]:
        return _stat([float(getattr(p, name)) for p in parts])

    def count(name: str) -> float:
        return round(sum(getattr(p, name) for p in parts) / len(parts), 2) if parts else 0.0

    return {
        "precision": of("precision"),
        "recall": of("recall"),
        "f1": of("f1"),
        "found": {"precision": of("found_precision"), "recall": of("found_recall"), "f1": of("found_f1")},
        "golden": count("golden"),
        "predicted": count("predicted"),
        "matched": count("matched"),
        "found_count": count("found"),
        "dropped": count("dropped"),
    }


def scope_summary(samples: list[Scores]) -> dict[str, Any]:
    out: dict[str, Any] = {"reports": samples[0].reports if samples else 0, "sections": {}}
    for section in SECTION_NAMES:
        parts = [s.sections[section] for s in samples if section in s.sections]
        out["sections"][section.value] = _section(parts)
    out["items"] = _section([s.items for s in samples])
    for name in _RATES:
        values = [float(v) for s in samples if (v := getattr(s, name)) is not None]
        out[name] = _stat(values)
    return out


def run_summary(
    record: RunRecord, *, drift: Drift | None = None, run_path: str | None = None
) -> dict[str, Any]:
    samples = record.samples()
    genres = list(dict.fromkeys(r.genre.value for r in record.reports if r.genre is not None))
    splits = list(dict.fromkeys(r.split for r in record.reports if r.split is not None))
    costs = [s.scores.cost_usd for s in samples if s.scores.cost_usd is not None]
    dropped = Counter(dict(summarize_dropped([d for r in record.reports for d in r.dropped])))
    out: dict[str, Any] = {
        "label": record.label,
        "run_record": run_path,
        "backend": record.settings.backend,
        "model": record.settings.model,
        "prompt": {
            "id": record.settings.prompt_id,
            "version": record.settings.prompt_version,
            "hash": record.settings.prompt_hash,
        },
        "repeat": len(samples),
        "split": record.settings.split,
        "cached_reports": record.scores.cached_reports,
        "live_calls": sum(s.scores.live_calls for s in samples),
        "prompt_tokens": sum(s.scores.prompt_tokens for s in samples),
        "completion_tokens": sum(s.scores.completion_tokens for s in samples),
        "cost_usd": round(sum(costs), 6) if costs else None,
        "reasks": sum(s.scores.reasks for s in samples),
        "splits_of_chunks": sum(s.scores.splits for s in samples),
        "rejected_modes": sum(s.scores.rejected_modes for s in samples),
        "overall": scope_summary(sample_scores(record, OVERALL)),
        "genres": {g: scope_summary(sample_scores(record, f"genre:{g}")) for g in genres},
        "splits": {s: scope_summary(sample_scores(record, f"split:{s}")) for s in splits},
        "reports": [
            {
                "id": r.id,
                "genre": r.genre.value if r.genre else None,
                "split": r.split,
                "error": r.error,
                "cache": r.cache,
                "model_called": None if r.cache == "none" else r.cache != "cached",
                "calls": r.scores.live_calls,
                "items_f1": r.scores.items.f1,
                "items_found_f1": r.scores.items.found_f1,
                "cost_usd": r.scores.cost_usd,
                "structured_output": r.llm.structured_output if r.llm else None,
            }
            for r in record.reports
        ],
        "dropped": dict(dropped),
        "judge": judge_summary(record),
        "drift_checked": drift is not None,
        "drift": [
            {
                "scope": d.scope,
                "key": d.key,
                "baseline": d.baseline,
                "current": d.current,
                "delta": d.delta,
                "allowed": d.allowed,
            }
            for d in (drift.drops if drift is not None else [])
        ],
        "model_not_called": drift.model_not_called if drift is not None else None,
    }
    return out


def judge_summary(record: RunRecord) -> dict[str, Any] | None:
    judged = [j for r in record.reports for j in (r.judged or [])]
    if not any(r.judged is not None for r in record.reports):
        return None
    with_verdict = [j for j in judged if j.faithful is not None]
    faithful = sum(bool(j.faithful) for j in with_verdict)
    prompt = record.settings.judge_prompt
    return {
        "prompt": {"version": prompt.version, "hash": prompt.hash} if prompt else None,
        "items": len(judged),
        "judged": len(with_verdict),
        "faithful": faithful,
        "rate": round(faithful / len(with_verdict), 4) if with_verdict else None,
    }
