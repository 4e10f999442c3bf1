"""Run a backend over the golden set and produce a run record; re-score saved records.

Reports go through `service.pipeline.summarize_path` exactly as `govbrief summarize` sends them, with
a backend from `build_backend`, so an eval measures what users get and shares the LLM answer cache.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from service import package_version
from service.backends.base import Backend
from service.errors import GovbriefError, PromptError
from service.evals.golden import EvalError, GoldenReport, golden_set_hash
from service.evals.record import RECORD_FORMAT, RecordItem, ReportRecord, RunRecord, RunSettings
from service.evals.score import aggregate, evaluate_report, text_sha256
from service.files import write_atomic
from service.ingest import read_path
from service.models import SECTION_NAMES, Brief, schema_hash
from service.pipeline import analyze, summarize_path
from service.prompts import load_prompt
from service.settings import Settings


def _error_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:500]


def report_record(golden: GoldenReport, brief: Brief) -> ReportRecord:
    """The record of one brief, before scoring. `brief.source.text` must be present."""
    try:
        # Round-trip through JSON: what a consumer of the Brief would parse, not the live objects.
        Brief.model_validate_json(brief.model_dump_json())
        valid, error = True, None
    except ValidationError as exc:
        valid, error = False, f"brief fails its schema: {_error_line(exc)}"
    text = brief.source.text or ""
    return ReportRecord(
        id=golden.id,
        path=golden.report,
        source_sha256=brief.source.sha256,
        text_sha256=text_sha256(text),
        chars=len(text),
        error=error,
        schema_valid=valid,
        meta=brief.report,
        items={s: [RecordItem.from_item(i) for i in brief.sections()[s]] for s in SECTION_NAMES},
        provenance=brief.provenance,
        warnings=list(brief.warnings),
    )


def run_report(golden: GoldenReport, backend: Backend, *, chunk_max_tokens: int = 1500) -> ReportRecord:
    try:
        brief = summarize_path(golden.path, backend, with_text=True, chunk_max_tokens=chunk_max_tokens)
    except GovbriefError as exc:
        return evaluate_report(golden, ReportRecord(id=golden.id, path=golden.report, error=_error_line(exc)))
    except ValidationError as exc:  # a backend whose output cannot even form a Brief
        record = ReportRecord(
            id=golden.id, path=golden.report, error=f"brief fails its schema: {_error_line(exc)}"
        )
        return evaluate_report(golden, record)
    return evaluate_report(golden, report_record(golden, brief), brief.source.text)


def run_settings(
    backend: Backend, settings: Settings, golden_dir: Path | str, goldens: list[GoldenReport]
) -> RunSettings:
    is_llm = backend.name != "rules"
    prompt_hash = None
    if is_llm:
        try:
            prompt_hash = load_prompt(settings.prompt_id, settings.prompt_version).hash
        except PromptError:
            prompt_hash = None
    return RunSettings(
        backend=backend.name,
        model=settings.llm_model if is_llm else None,
        prompt_id=settings.prompt_id if is_llm else None,
        prompt_version=settings.prompt_version if is_llm else None,
        prompt_hash=prompt_hash,
        schema_hash=schema_hash(),
        chunk_max_tokens=settings.chunk_max_tokens,
        llm_temperature=settings.llm_temperature if is_llm else None,
        llm_structured_output=settings.llm_structured_output if is_llm else None,
        golden_dir=str(golden_dir),
        golden_hash=golden_set_hash(goldens),
        govbrief_version=package_version(),
    )


def _fill_from_provenance(run: RunSettings, reports: list[ReportRecord]) -> None:
    # What the backend says it used beats what the settings asked for (e.g. the newest prompt version).
    for r in reports:
        p = r.provenance
        if p is None:
            continue
        run.model = p.model or run.model
        run.prompt_id = p.prompt_id or run.prompt_id
        run.prompt_version = p.prompt_version or run.prompt_version
        run.prompt_hash = p.prompt_hash or run.prompt_hash
        run.schema_hash = p.schema_hash or run.schema_hash
        return


def run_golden(
    goldens: list[GoldenReport],
    backend: Backend,
    settings: RunSettings,
    *,
    label: str,
    chunk_max_tokens: int = 1500,
    on_report: Callable[[ReportRecord], None] | None = None,
) -> RunRecord:
    reports = []
    for golden in goldens:
        rec = run_report(golden, backend, chunk_max_tokens=chunk_max_tokens)
        reports.append(rec)
        if on_report is not None:
            on_report(rec)
    settings = settings.model_copy()
    _fill_from_provenance(settings, reports)
    return RunRecord(
        label=label,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        settings=settings,
        scores=aggregate([r.scores for r in reports]),
        reports=reports,
    )


@lru_cache(maxsize=32)
def _normalized_text(path: str, mtime_ns: int, size: int) -> str | None:
    del mtime_ns, size  # part of the cache key only
    try:
        return analyze(read_path(path)).text
    except GovbriefError:
        return None


def report_text(golden: GoldenReport) -> str | None:
    """The normalized text of a golden report as the pipeline makes it now; None if it can't be read."""
    try:
        st = os.stat(golden.path)
    except OSError:
        return None
    return _normalized_text(str(golden.path), st.st_mtime_ns, st.st_size)


def rescore(record: RunRecord, goldens: list[GoldenReport]) -> RunRecord:
    """Score a saved record against the golden set as it is now.

    Reports that the golden set no longer has are left out; golden reports the record lacks count
    as failed reports, so a partial record cannot look as good as a full one.
    """
    by_id = {r.id: r for r in record.reports}
    reports = []
    for golden in goldens:
        old = by_id.get(golden.id) or ReportRecord(
            id=golden.id, path=golden.report, error="report not in this run"
        )
        reports.append(evaluate_report(golden, old, report_text(golden)))
    out = record.model_copy(deep=True)
    out.reports = reports
    out.scores = aggregate([r.scores for r in reports])
    out.settings.golden_hash = golden_set_hash(goldens)
    return out


def record_path(runs_dir: Path, label: str, now: datetime | None = None) -> Path:
    """`<runs_dir>/<timestamp>-<label>.json`, never overwriting an earlier run."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "run"
    path = runs_dir / f"{stamp}-{safe}.json"
    n = 2
    while path.exists():
        path = runs_dir / f"{stamp}-{safe}-{n}.json"
        n += 1
    return path


def save_record(record: RunRecord, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, record.model_dump_json(indent=2) + "\n")
    return path


def load_record(path: Path) -> RunRecord:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvalError(f"{path}: run record not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path}: cannot read run record: {exc}") from None
    try:
        record = RunRecord.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EvalError(f"{path}: not a govbrief run record ({where}: {first['msg']})") from None
    if record.format != RECORD_FORMAT:  # pragma: no cover - guarded by the Literal
        raise EvalError(f"{path}: not a govbrief run record")
    return record
