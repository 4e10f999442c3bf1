"""Run a backend over the golden set and produce a run record; re-score saved records.

Reports go through `service.pipeline.summarize_path` exactly as `govbrief summarize` sends them, with
a backend from `build_backend`, so an eval measures what users get and shares the LLM answer cache.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service import package_version
from service.backends.base import Backend
from service.document import Document, Extraction
from service.errors import GovbriefError, PromptError
from service.evals.golden import EvalError, GoldenReport, golden_set_hash
from service.evals.record import (
    RECORD_FORMAT,
    CacheMode,
    Cost,
    LLMStats,
    PromptText,
    RecordItem,
    ReportRecord,
    RunRecord,
    RunSettings,
    Sample,
)
from service.evals.score import aggregate, evaluate_report, text_sha256
from service.files import write_atomic
from service.ingest import read_path
from service.llm.cache import AnswerCache, answer_key
from service.models import SECTION_NAMES, Brief, schema_hash
from service.pipeline import analyze, summarize_path
from service.prompts import Prompt, load_prompt
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


class _Observed:
    """A backend as one report sees it: it passes every call on and keeps the Document it was
    given and the Extraction it returned, which the Brief does not carry (the LLM's run stats, and
    what the report's answers are cached under). One per report, so reports may run concurrently."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.doc: Document | None = None
        self.extraction: Extraction | None = None

    def extract(self, doc: Document) -> Extraction:
        self.doc = doc
        self.extraction = self.inner.extract(doc)
        return self.extraction


def _attr(obj: object, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


def llm_stats(stats: object, provenance: object = None) -> LLMStats:
    """What the backend's RunStats expose; a field it lacks is recorded as None, not guessed."""

    def listed(name: str) -> list[str] | None:
        value = _attr(stats, name)
        return [str(v) for v in value] if isinstance(value, list | tuple) else None

    meter = _attr(stats, "meter")
    return LLMStats(
        structured_output=_attr(stats, "structured_output") or _attr(provenance, "structured_output"),
        modes=listed("modes"),
        rejected_modes=listed("rejected_modes"),
        reasks=_attr(stats, "reasks"),
        splits=_attr(stats, "splits"),
        failed_chunks=listed("failed_chunks"),
        cache_hits=_attr(meter, "cache_hits"),
        cache_misses=_attr(meter, "cache_misses"),
    )


def _cost_key(backend: Backend, doc: Document) -> str | None:
    """Where a report's cost is kept beside its answers: everything that decides the answers (the
    backend's fingerprint, the endpoint) and the report's chunks. None for a backend without a cache."""
    fingerprint = getattr(backend, "fingerprint", None)
    if not callable(fingerprint) or not isinstance(getattr(backend, "cache", None), AnswerCache):
        return None
    return answer_key(
        kind="report-cost",
        backend=fingerprint(),
        base_url=_attr(getattr(backend, "client", None), "base_url"),
        text=text_sha256(doc.text),
        chunks=[[c.id, c.sentences[0].id, c.sentences[-1].id] for c in doc.chunks if c.sentences],
    )


def _account(rec: ReportRecord, observed: _Observed) -> None:
    """Live or cached, and what the answers cost when they were made (kept in the answer cache)."""
    prov = rec.provenance
    if prov is None:
        return
    stats = observed.extraction.stats if observed.extraction is not None else None
    if stats is not None:
        rec.llm = llm_stats(stats, prov)
    hits = rec.llm.cache_hits if rec.llm is not None else None
    if prov.cache_hit:
        rec.cache = "cached"
    elif prov.llm_calls > 0:
        rec.cache = "mixed" if hits else "live"
    elif hits:  # nothing called, not all cached: some answers failed without a call
        rec.cache = "mixed"
    else:
        rec.cache = "none" if prov.model is None else "live"
    backend, doc = observed.inner, observed.doc
    key = _cost_key(backend, doc) if doc is not None else None
    cache: AnswerCache | None = getattr(backend, "cache", None)
    if rec.cache == "live":
        rec.original = Cost.of(prov, made=datetime.now(UTC).isoformat(timespec="seconds"))
        if key is not None and cache is not None:
            cache.set_meta(key, rec.original.model_dump(mode="json"))
    elif rec.cache == "cached" and key is not None and cache is not None:
        meta = cache.get_meta(key)
        rec.original = Cost.model_validate(meta) if meta is not None else None
    elif rec.cache == "mixed":
        rec.original = Cost.of(prov)  # the live part only: what the cached answers cost is unknown


def run_report(golden: GoldenReport, backend: Backend, *, chunk_max_tokens: int = 1500) -> ReportRecord:
    observed = _Observed(backend)
    try:
        brief = summarize_path(golden.path, observed, with_text=True, chunk_max_tokens=chunk_max_tokens)
    except GovbriefError as exc:
        return evaluate_report(golden, ReportRecord(id=golden.id, path=golden.report, error=_error_line(exc)))
    except ValidationError as exc:  # a backend whose output cannot even form a Brief
        record = ReportRecord(
            id=golden.id, path=golden.report, error=f"brief fails its schema: {_error_line(exc)}"
        )
        return evaluate_report(golden, record)
    record = report_record(golden, brief)
    _account(record, observed)
    return evaluate_report(golden, record, brief.source.text)


def prompt_text(prompt: Prompt) -> PromptText:
    return PromptText(
        id=prompt.id,
        version=prompt.version,
        hash=prompt.hash,
        path=prompt.path,
        system=prompt.system,
        user=prompt.user,
        reask=prompt.reask,
    )


def run_settings(
    backend: Backend,
    settings: Settings,
    golden_dir: Path | str,
    goldens: list[GoldenReport],
    *,
    cache: CacheMode | None = None,
    repeat: int = 1,
    split: str | None = None,
) -> RunSettings:
    is_llm = backend.name != "rules"
    prompt_hash = None
    prompts = [p for p in (getattr(backend, "prompt", None), getattr(backend, "overview_prompt", None)) if p]
    if is_llm and not prompts:
        try:
            prompts = [load_prompt(settings.prompt_id, settings.prompt_version, settings.prompts_dir)]
        except PromptError:
            prompts = []
    if prompts:
        prompt_hash = prompts[0].hash
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
        prompts_dir=str(settings.prompts_dir) if is_llm and settings.prompts_dir else None,
        prompts=[prompt_text(p) for p in prompts if isinstance(p, Prompt)],
        cache=cache if is_llm else None,
        repeat=repeat,
        split=split,
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


#: Called after each report: its record and which repeat (0-based) it belongs to.
OnReport = Callable[[ReportRecord, int], None]


def _run_reports(
    goldens: list[GoldenReport],
    backend: Backend,
    *,
    chunk_max_tokens: int,
    jobs: int,
    on_report: Callable[[ReportRecord], None] | None,
) -> list[ReportRecord]:
    """Every golden report through the backend, `jobs` at a time; records in golden order."""
    if jobs <= 1 or len(goldens) <= 1:
        out = []
        for golden in goldens:
            rec = run_report(golden, backend, chunk_max_tokens=chunk_max_tokens)
            out.append(rec)
            if on_report is not None:
                on_report(rec)
        return out
    done: dict[str, ReportRecord] = {}
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="govbrief-eval") as pool:
        futures = [pool.submit(run_report, g, backend, chunk_max_tokens=chunk_max_tokens) for g in goldens]
        for future in as_completed(futures):
            rec = future.result()
            done[rec.id] = rec
            if on_report is not None:
                on_report(rec)
    return [done[g.id] for g in goldens]


def run_golden(
    goldens: list[GoldenReport],
    backend: Backend,
    settings: RunSettings,
    *,
    label: str,
    chunk_max_tokens: int = 1500,
    on_report: OnReport | None = None,
    repeat: int = 1,
    repeat_backend: Backend | None = None,
    jobs: int = 1,
) -> RunRecord:
    """Run the golden set `repeat` times. Repeats after the first go through `repeat_backend` when
    given (the CLI passes one that never reads the answer cache, so every repeat calls the model)."""
    samples: list[Sample] = []
    for k in range(max(1, repeat)):
        engine = backend if k == 0 or repeat_backend is None else repeat_backend
        hook = (lambda rec, k=k: on_report(rec, k)) if on_report is not None else None
        reports = _run_reports(goldens, engine, chunk_max_tokens=chunk_max_tokens, jobs=jobs, on_report=hook)
        samples.append(Sample(scores=aggregate([r.scores for r in reports]), reports=reports))
    settings = settings.model_copy()
    _fill_from_provenance(settings, samples[0].reports)
    return RunRecord(
        label=label,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        settings=settings,
        scores=samples[0].scores,
        reports=samples[0].reports,
        repeats=samples[1:],
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
    out = record.model_copy(deep=True)
    out.reports = _rescore_reports(record.reports, goldens, record.settings.split)
    out.scores = aggregate([r.scores for r in out.reports])
    out.repeats = []
    for sample in record.repeats:
        reports = _rescore_reports(sample.reports, goldens, record.settings.split)
        out.repeats.append(Sample(scores=aggregate([r.scores for r in reports]), reports=reports))
    out.settings.golden_hash = golden_set_hash(goldens)
    return out


def _rescore_reports(
    reports: list[ReportRecord], goldens: list[GoldenReport], split: str | None
) -> list[ReportRecord]:
    by_id = {r.id: r for r in reports}
    out = []
    for golden in goldens:
        if split is not None and golden.split.value != split:
            continue  # a run of one split is not short of the other split's reports
        old = by_id.get(golden.id) or ReportRecord(
            id=golden.id, path=golden.report, error="report not in this run"
        )
        out.append(evaluate_report(golden, old, report_text(golden)))
    return out


def safe_label(label: str) -> str:
    """A label as it appears in a run record's file name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", label).strip("-.") or "run"


def bless_refusal(existing: RunRecord, new: RunRecord) -> str | None:
    """Why `new` should not replace the baseline `existing` without --force: a baseline is only
    comparable with runs of its backend, its model and its golden set."""
    old, now = existing.settings, new.settings
    for what, a, b in (
        ("backend", old.backend, now.backend),
        ("model", old.model, now.model),
        ("golden set", old.golden_hash, now.golden_hash),
    ):
        if a != b:
            return f"it is a baseline of {what} {a or 'none'}, this run's is {b or 'none'}"
    if old.split != now.split:
        return f"it covers split {old.split or 'dev+test'}, this run {now.split or 'dev+test'}"
    return None


def record_path(runs_dir: Path, label: str, now: datetime | None = None) -> Path:
    """`<runs_dir>/<timestamp>-<label>.json`, never overwriting an earlier run."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    safe = safe_label(label)
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
