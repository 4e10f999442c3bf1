"""`govbrief eval`: score a backend on the golden set, catch drift against a baseline, compare runs."""

from __future__ import annotations

import enum
import functools
import json
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from service.backends.base import Backend
from service.cli.common import (
    EXIT_FAILED,
    BackendName,
    NoCacheOption,
    RefreshOption,
    backend_from_options,
    error,
    fail,
    load_settings,
)
from service.errors import GovbriefError
from service.evals import compare as compare_mod
from service.evals import drift as drift_mod
from service.evals.dropped import summarize_dropped
from service.evals.golden import GoldenReport, load_golden_dir
from service.evals.record import CacheMode, ReportRecord, RunRecord, Scores, SectionScore
from service.evals.runner import (
    bless_refusal,
    load_record,
    prompt_text,
    record_path,
    rescore,
    run_golden,
    run_settings,
    safe_label,
    save_record,
)
from service.evals.score import aggregate
from service.evals.spread import OVERALL, Stat, sample_scores
from service.evals.summary import judge_summary, run_summary
from service.ingest import read_path
from service.models import SECTION_NAMES, Genre
from service.pipeline import analyze
from service.settings import Settings

# No help= here: the callback's docstring is the help, so that its examples and exit codes show.
eval_app = typer.Typer(
    name="eval",
    no_args_is_help=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: The checkout this package runs from; the default golden set lives there.
_REPO_ROOT = Path(__file__).resolve().parents[2]


def _golden_dir(golden: Path | None) -> Path:
    if golden is not None:
        return golden
    here = Path("evals/golden")
    return here if here.is_dir() else _REPO_ROOT / "evals" / "golden"


def _load_golden(golden_dir: Path) -> list[GoldenReport]:
    try:
        return load_golden_dir(golden_dir)
    except GovbriefError as e:
        fail(str(e))


def _load(path: Path) -> RunRecord:
    try:
        return load_record(path)
    except GovbriefError as e:
        fail(str(e))


def _baseline_path(name: str, golden_dir: Path) -> Path:
    """A bare NAME means evals/baselines/NAME.json; anything path-like is used as given."""
    if "/" in name or "\\" in name or name.endswith(".json"):
        return Path(name)
    return golden_dir.parent / "baselines" / f"{name}.json"


def _resolve_record(name: str, golden_dir: Path, runs_dir: Path | None = None) -> Path:
    """A run named by path, by file name under evals/runs or evals/baselines, or by its label
    (`--label`): the newest run record of that label."""
    path = Path(name)
    if path.exists():
        return path
    runs = [d for d in (runs_dir, golden_dir.parent / "runs") if d is not None]
    for folder in (*runs, golden_dir.parent / "baselines"):
        for candidate in (folder / name, folder / f"{name}.json"):
            if candidate.is_file():
                return candidate
    # record_path names runs <timestamp>-<label>[-n].json, so the newest sorts last.
    safe = re.escape(safe_label(name))
    pattern = re.compile(rf"^\d{{8}}T\d{{6}}Z-{safe}(?:-\d+)?\.json$")
    labelled = sorted(
        (f for folder in runs if folder.is_dir() for f in folder.glob("*.json") if pattern.match(f.name)),
        key=lambda f: f.name,
    )
    return labelled[-1] if labelled else path  # let loading say it is missing


def _default_label(backend: str, model: str | None, prompt_version: str | None) -> str:
    parts = [backend]
    if backend != "rules":
        parts += [p for p in (model, f"p{prompt_version}" if prompt_version else None) if p]
    return "-".join(parts)


def _cell(values: list[float], digits: int = 2) -> str:
    return Stat.of(values).text(digits) if values else "—"


def _parts(samples: list[Scores], section: str | None) -> list[SectionScore]:
    found = [s.items if section is None else s.sections.get(section) for s in samples]
    return [p for p in found if p is not None]


def _f1(samples: list[Scores], section: str | None) -> str:
    """F1 of citing the golden sentence / F1 of finding the item, each mean±sd over repeats."""
    parts = _parts(samples, section)
    if not parts:
        return "—"
    return f"{_cell([p.f1 for p in parts])} / {_cell([p.found_f1 for p in parts])}"


def _pr(samples: list[Scores], section: str | None) -> str:
    """Precision and recall (cited). Nothing predicted makes precision vacuous: a dash, not 1.00."""
    parts = _parts(samples, section)
    if not parts:
        return "—"
    vacuous = all(p.predicted == 0 and p.golden for p in parts)
    precision = "—" if vacuous else _cell([p.precision for p in parts])
    return f"{precision} {_cell([p.recall for p in parts])}"


def _counts(s: Scores, section: str | None) -> str:
    p = s.items if section is None else s.sections.get(section)
    return "—" if p is None else f"{p.golden}/{p.predicted}/{p.matched}/{p.found}/{p.dropped}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _name(r: ReportRecord) -> str:
    prefix = r.id.split("_")[0]  # "000" of "000_e288acb1be06d3f7"; "gwr_2015" stays whole
    return (prefix if prefix.isdigit() else r.id) + (" (error)" if r.error else "")


_CACHE_WORDS = {"live": "live", "cached": "cached", "mixed": "partly cached", "none": "—"}


def _rows(record: RunRecord) -> list[tuple[str, str, str, list[Scores], bool]]:
    """(name, split, model called?, per-repeat scores, is a total): reports grouped by genre, each
    genre's total after its reports, then each split's and the overall total."""
    rows: list[tuple[str, str, str, list[Scores], bool]] = []
    samples = record.samples()
    by_id = [{r.id: r for r in s.reports} for s in samples]
    genres = list(dict.fromkeys(r.genre for r in record.reports))
    for genre in genres:
        members = [r for r in record.reports if r.genre == genre]
        for r in members:
            rows.append(
                (
                    _name(r),
                    r.split or "",
                    _CACHE_WORDS[r.cache],
                    [b[r.id].scores for b in by_id if r.id in b],
                    False,
                )
            )
        if len(genres) > 1 or genre is not None:
            label = genre.label_zh if isinstance(genre, Genre) else "reports"
            rows.append(
                (
                    f"{label} ({len(members)})",
                    "",
                    "",
                    sample_scores(record, f"genre:{genre.value}") if genre else [],
                    True,
                )
            )
    splits = list(dict.fromkeys(r.split for r in record.reports if r.split))
    if len(splits) > 1:
        for split in splits:
            rows.append((f"split {split}", split, "", sample_scores(record, f"split:{split}"), True))
    rows.append(("overall", "", _cache_total(record), sample_scores(record, OVERALL), True))
    return [r for r in rows if r[3]]


def _cache_total(record: RunRecord) -> str:
    cached = record.scores.cached_reports
    return f"{cached}/{len(record.reports)} cached" if record.settings.backend != "rules" else ""


def score_tables(record: RunRecord) -> list[Table]:
    """Item scores, counts, then the rest; each fits a 120-column log. Reports are grouped by genre."""
    title = f"govbrief eval · {record.label}"
    if record.label != record.settings.backend:
        title += f" ({record.settings.backend})"
    n = len(record.samples())
    if n > 1:
        title += f" · mean±sd of {n} runs"
    rows = _rows(record)
    items = Table(
        title=f"{title} · items F1: cited the golden sentence / found the item", box=box.SIMPLE_HEAD
    )
    pr = Table(title=f"{title} · items precision recall (cited)", box=box.SIMPLE_HEAD)
    for table in (items, pr):
        table.add_column("report", no_wrap=True)
        table.add_column("split", no_wrap=True, min_width=5)
        for section in (*SECTION_NAMES, "all items"):
            table.add_column(str(section), justify="right", no_wrap=True)
    for name, split, _, samples, total in rows:
        style = "bold" if total else None
        items.add_row(name, split, *[_f1(samples, s) for s in (*SECTION_NAMES, None)], style=style)
        pr.add_row(name, split, *[_pr(samples, s) for s in (*SECTION_NAMES, None)], style=style)
    counts = Table(
        title=f"{title} · counts: golden/predicted/matched(cited)/found/dropped", box=box.SIMPLE_HEAD
    )
    counts.add_column("report", no_wrap=True)
    for section in (*SECTION_NAMES, "all items"):
        counts.add_column(str(section), justify="right", no_wrap=True)
    for name, _, _, samples, total in rows:
        first = samples[0]
        counts.add_row(
            name,
            *[_counts(first, section) for section in SECTION_NAMES],
            _counts(first, None),
            style="bold" if total else None,
        )
    other = Table(title=f"{title} · model, metadata, grounding, cost", box=box.SIMPLE_HEAD)
    for col in (
        "report",
        "model",
        "meta acc",
        "grounded",
        "schema ok",
        "category",
        "tokens",
        "calls",
        "cost USD",
        "ms",
    ):
        other.add_column(col, justify="left" if col in ("report", "model") else "right", no_wrap=True)
    for name, _, called, samples, total in rows:
        s = samples[0]
        other.add_row(
            name,
            called,
            _cell([x.meta_accuracy for x in samples]),
            _rate(s.grounding_rate),
            _rate(s.schema_valid_rate),
            _rate(s.category_agreement),
            str(s.tokens),
            f"{s.calls} ({s.live_calls} now)" if s.calls != s.live_calls else str(s.calls),
            "—" if s.cost_usd is None else f"{s.cost_usd:.4f}",
            str(s.latency_ms),
            style="bold" if total else None,
        )
    return [items, pr, counts, other]


def run_notes(record: RunRecord) -> list[str]:
    """Lines under the tables: how the answers were got, what was dropped and why, the judge."""
    lines = []
    if record.settings.backend != "rules":
        cached = [r.id for r in record.reports if r.cache == "cached"]
        live = sum(s.scores.live_calls for s in record.samples())
        if cached and len(cached) == len(record.reports):
            lines.append(
                f"model not called: all {len(cached)} report(s) served from the answer cache; tokens and "
                "cost are what the answers cost when made (--refresh calls the model)"
            )
        elif cached:
            lines.append(f"{len(cached)} report(s) served from the answer cache: {', '.join(cached)}")
        if live:
            lines.append(f"{live} live call(s) to the model in this run")
        unknown = [r.id for r in record.reports if r.cache == "cached" and r.original is None]
        if unknown:
            lines.append(f"cost when made not known (cached before costs were kept): {', '.join(unknown)}")
        s = record.scores
        if s.reasks or s.splits or s.rejected_modes:
            lines.append(
                f"re-asks {s.reasks}, split chunks {s.splits}, structured-output modes rejected {s.rejected_modes}"
            )
    dropped = [d for r in record.reports for d in r.dropped]
    if dropped:
        lines.append(f"dropped: {len(dropped)} item(s) proposed but not in the briefs:")
        lines += [f"  {count} × {reason}" for reason, count in summarize_dropped(dropped)]
    judge = judge_summary(record)
    if judge is not None:
        rate = "—" if judge["rate"] is None else f"{judge['rate']:.2f}"
        lines.append(
            f"judge (faithfulness, prompt v{(judge['prompt'] or {}).get('version')}): {judge['faithful']} of "
            f"{judge['judged']} judged item(s) say what their evidence says ({rate}); scores above are unchanged"
        )
    return lines


def _console(err: bool = False) -> Console:
    console = Console(stderr=err)
    # Piped output (CI logs, CliRunner) gets rich's 80-column default, too narrow for the tables.
    return console if console.is_terminal else Console(width=140, stderr=err)


def _progress(repeat: int) -> Callable[[ReportRecord, int], None]:
    def show(rec: ReportRecord, k: int) -> None:
        s = rec.scores
        if rec.error:
            status = f"error: {rec.error}"
        else:
            called = {"live": "model called", "cached": "cached, model not called", "mixed": "partly cached"}
            how = called.get(rec.cache)
            status = f"items F1 {s.items.f1:.2f}, {s.latency_ms} ms" + (
                f", {how}, {s.live_calls} call(s)" if how else ""
            )
        prefix = f"[{k + 1}/{repeat}] " if repeat > 1 else ""
        typer.echo(f"{prefix}{rec.id}: {status}", err=True)

    return show


class OutputFormat(enum.StrEnum):
    table = "table"
    json = "json"


class SplitName(enum.StrEnum):
    dev = "dev"
    test = "test"


def _verbose_client(settings: Settings) -> dict[str, Any]:
    """-v: the backend is built with a client that prints one stderr line per call (and the LLM
    layer's re-asks, rejected modes and splits are logged to stderr too)."""
    from service.evals.calls import VerboseClient
    from service.llm.client import OpenAIChatClient

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("  %(message)s"))
    logger = logging.getLogger("govbrief.llm")
    logger.setLevel(logging.INFO)
    logger.handlers = [handler]
    try:
        client = OpenAIChatClient.from_settings(settings)
    except GovbriefError as e:
        fail(str(e))
    return {"client": VerboseClient(client, functools.partial(typer.echo, err=True))}


def print_requests(
    engine: Backend, goldens: list[GoldenReport], chunk_max_tokens: int, as_json: bool
) -> None:
    """`--dry-run`: the chat requests the backend would send for each report, without sending one."""
    plan = getattr(engine, "plan_requests", None)
    if plan is None:
        typer.echo(f"the {engine.name} backend sends no requests: it calls no model")
        return
    base_url = getattr(getattr(engine, "client", None), "base_url", "")
    out = []
    for golden in goldens:
        try:
            doc = analyze(read_path(golden.path), chunk_max_tokens=chunk_max_tokens)
        except GovbriefError as e:
            error(str(e))
            continue
        for pack, request in plan(doc):
            body = request.body()
            if as_json:
                out.append(
                    {
                        "report": golden.id,
                        "pack": pack.id,
                        "url": f"{base_url}/chat/completions",
                        "body": body,
                    }
                )
            else:
                typer.echo(f"### {golden.id} · request {pack.id} · POST {base_url}/chat/completions")
                typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
    if as_json:
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        typer.echo(
            "(then one overview request per report, written from the items the answers give; "
            "cached answers are not asked again)"
        )


@eval_app.callback(invoke_without_command=True)
def eval_run(
    ctx: typer.Context,
    backend: Annotated[
        BackendName | None,
        typer.Option("--backend", "-b", help="rules or openai (default: as `summarize` picks)."),
    ] = None,
    prompt_version: Annotated[
        str | None,
        typer.Option("--prompt-version", help="Prompt version for the openai backend (default: newest)."),
    ] = None,
    prompts_dir: Annotated[
        Path | None,
        typer.Option(
            "--prompts-dir",
            help="Read prompts from this folder (as GOVBRIEF_PROMPTS_DIR); prompts it lacks come from the package.",
        ),
    ] = None,
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for the openai backend.")] = None,
    label: Annotated[
        str | None,
        typer.Option(
            "--label",
            "-l",
            help="Name of the run; later commands find it by this name (default: backend[-model][-pV]).",
        ),
    ] = None,
    golden: Annotated[
        Path | None, typer.Option("--golden", help="Golden set directory (default: evals/golden).")
    ] = None,
    split: Annotated[
        SplitName | None,
        typer.Option("--split", help="Only the dev or the test reports (default: both, scored apart)."),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Fail (exit 1) when a score drops below this run (path, label or baseline name).",
        ),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, max=1.0, help="How far a score may drop below the baseline."),
    ] = drift_mod.DEFAULT_TOLERANCE,
    bless: Annotated[
        str | None,
        typer.Option("--bless", help="Also save this run as evals/baselines/NAME.json (or a .json path)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Let --bless replace a baseline of another backend, model or golden set."
        ),
    ] = False,
    runs_dir: Annotated[
        Path | None, typer.Option("--runs-dir", help="Where run records go (default: evals/runs).")
    ] = None,
    from_run: Annotated[
        str | None,
        typer.Option(
            "--from-run",
            help="Re-score a saved run (path or label) instead of running a backend (nothing is written).",
        ),
    ] = None,
    refresh: RefreshOption = False,
    no_cache: NoCacheOption = False,
    repeat: Annotated[
        int,
        typer.Option(
            "--repeat",
            "-n",
            min=1,
            max=50,
            help="Run each report N times, calling the model every time after the first; scores become mean±sd.",
        ),
    ] = 1,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, max=64, help="Reports evaluated at once.")] = 1,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show each call to the model.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the exact requests the run would send; send none.")
    ] = False,
    judge: Annotated[
        bool,
        typer.Option(
            "--judge", help="Also ask the configured model whether each item says what its evidence says."
        ),
    ] = False,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="table, or one JSON summary on stdout (for CI).")
    ] = OutputFormat.table,
) -> None:
    """Score briefs against the hand-written golden set (evals/golden), catch drift, compare runs.

    Without a subcommand: run the golden set through a backend and score it (precision/recall/F1 per section and per genre, with golden/predicted/matched/found/dropped counts, metadata, grounding, schema validity, category agreement, tokens, calls, cost and latency), write a run record to evals/runs/<timestamp>-<label>.json and print tables. Runs share the answer cache with `summarize`: a cached report is marked so and keeps the cost its answers had when made; --refresh calls the model again.

    Exit codes: 0 ok; 1 drift beyond --tolerance against --baseline, or a report failed; 2 bad input or settings.

    Examples:

      govbrief eval --backend rules --baseline rules

      govbrief eval -b openai --prompts-dir my-prompts --label v2 --repeat 3 --refresh

      govbrief eval -b openai --label v2 --baseline llm --format json

      govbrief eval compare v1 v2 v3 -o report.html
    """
    if ctx.invoked_subcommand is not None:
        return
    as_json = output_format is OutputFormat.json
    say = functools.partial(typer.echo, err=as_json)  # stdout holds only the JSON when asked for
    if refresh and no_cache:
        fail("--refresh and --no-cache exclude each other")
    golden_dir = _golden_dir(golden)
    goldens = _load_golden(golden_dir)
    split_name = split.value if split is not None else None
    if split_name is not None:
        goldens = [g for g in goldens if g.split.value == split_name]
        if not goldens:
            fail(f"{golden_dir}: no golden report in split {split_name}")
    base = None
    if baseline is not None:
        base = _select_split(
            rescore(_load(_resolve_record(baseline, golden_dir, runs_dir)), goldens), split_name
        )

    written = None
    if from_run is not None:
        record = rescore(_load(_resolve_record(from_run, golden_dir, runs_dir)), goldens)
    else:
        settings = load_settings()
        updates: dict[str, object] = {
            k: v
            for k, v in (
                ("llm_model", model),
                ("prompt_version", prompt_version),
                ("prompts_dir", prompts_dir),
            )
            if v is not None
        }
        settings = settings.model_copy(update=updates) if updates else settings
        name_asked = backend.value if backend else None
        calls: dict[str, Any] = {}
        if verbose and not dry_run and (name_asked or settings.default_backend()) == "openai":
            calls = _verbose_client(settings)
        engine = backend_from_options(name_asked, settings, no_cache=no_cache, refresh=refresh, **calls)
        if dry_run:
            print_requests(engine, goldens, settings.chunk_max_tokens, as_json)
            return
        # Every repeat after the first must call the model: it neither reads nor writes the cache.
        again = None
        if repeat > 1 and engine.name != "rules":
            again = backend_from_options(engine.name, settings, no_cache=True, **calls)
        name = label or _default_label(engine.name, settings.llm_model, settings.prompt_version)
        cache_mode: CacheMode = "off" if no_cache else "refresh" if refresh else "used"
        record = run_golden(
            goldens,
            engine,
            run_settings(
                engine, settings, golden_dir, goldens, cache=cache_mode, repeat=repeat, split=split_name
            ),
            label=name,
            chunk_max_tokens=settings.chunk_max_tokens,
            on_report=_progress(repeat),
            repeat=repeat,
            repeat_backend=again,
            jobs=jobs,
        )
        if judge:
            _judge(record, settings, say)
        written = save_record(record, record_path(runs_dir or golden_dir.parent / "runs", name))

    drift = drift_mod.compare(base, record, tolerance) if base is not None else None
    if as_json:
        summary = run_summary(record, drift=drift, run_path=str(written) if written else None)
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        console = _console()
        for table in score_tables(record):
            console.print(table)
        for line in run_notes(record):
            typer.echo(line)
    if written is not None:
        say(f"run record: {written}")
    if bless is not None:
        target = _baseline_path(bless, golden_dir)
        refusal = bless_refusal(_load(target), record) if target.is_file() else None
        if refusal is not None and not force:
            fail(f"--bless {bless}: not replacing {target}: {refusal} (--force replaces it)")
        blessed = save_record(record, target)
        say(f"baseline written: {blessed}")

    failed = [r.id for r in record.reports if r.error]
    if drift is not None:
        say(drift_mod.format_drift(drift, str(baseline)))
        if drift.failed:
            error(f"drift: {len(drift.drops)} score(s) dropped below {baseline}")
            raise typer.Exit(EXIT_FAILED)
        caveat = drift.caveat()
        if drift.model_not_called and caveat:
            error(f"warning: {caveat}")
    if failed:
        error(f"{len(failed)} report(s) failed: {', '.join(failed)}")
        raise typer.Exit(EXIT_FAILED)


def _select_split(record: RunRecord, split: str | None) -> RunRecord:
    """The record's reports of one split (a baseline checked against a run of that split)."""
    if split is None:
        return record
    out = record.model_copy(deep=True)
    out.reports = [r for r in out.reports if r.split in (None, split)]
    out.scores = aggregate([r.scores for r in out.reports])
    for sample in out.repeats:
        sample.reports = [r for r in sample.reports if r.split in (None, split)]
        sample.scores = aggregate([r.scores for r in sample.reports])
    return out


def _judge(record: RunRecord, settings: Settings, say: Callable[[str], None]) -> None:
    from service.evals.judge import Judge  # imports the LLM client: only when asked for

    try:
        judge = Judge.from_settings(settings)
    except GovbriefError as e:
        fail(f"--judge: {e}")
    record.settings.judge_prompt = prompt_text(judge.prompt)
    for r in record.reports:
        r.judged = judge.judge_report(r)
    judged = [j for r in record.reports for j in (r.judged or [])]
    say(f"judge: {len(judged)} item(s) judged")


@eval_app.command("compare")
def eval_compare(
    runs: Annotated[
        list[str],
        typer.Argument(
            help="Two or more runs: paths, labels (--label), or names under evals/runs or evals/baselines.",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file (default: evals/runs/compare-A-vs-B….html)."),
    ] = None,
    golden: Annotated[
        Path | None, typer.Option("--golden", help="Golden set to re-score the runs against.")
    ] = None,
    runs_dir: Annotated[
        Path | None, typer.Option("--runs-dir", help="Where run records are (default: evals/runs).")
    ] = None,
    no_rescore: Annotated[
        bool,
        typer.Option("--no-rescore", help="Show the runs as recorded, not re-scored against the golden set."),
    ] = False,
) -> None:
    """Write an HTML page with two or more runs side by side: scores of each with the change from the first run, warnings summarised, and per report and section each run's items next to each other with their evidence. It opens on differences only; a navigation bar leads to each report and section; a golden entry a run missed links to that run's closest unmatched item; cost is coloured only where both runs called the model.

    Example:

      govbrief eval compare rules v1 v2 -o v2.html
    """
    if len(runs) < 2:
        fail("eval compare needs two or more runs")
    golden_dir = _golden_dir(golden)
    paths = [_resolve_record(name, golden_dir, runs_dir) for name in runs]
    records = [_load(p) for p in paths]
    if not no_rescore:
        # All against the same golden set, so a golden fix between the runs is no difference.
        try:
            goldens = load_golden_dir(golden_dir)
        except GovbriefError as e:
            if golden is not None:
                fail(str(e))
            error(f"{e}; showing the runs as recorded")
        else:
            records = [rescore(r, goldens) for r in records]
    names = [p.stem for p in paths]
    out = output or golden_dir.parent / "runs" / f"compare-{'-vs-'.join(names)}.html"
    html = compare_mod.render_compare(records, names)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    first = records[0].scores
    for name, r in zip(names[1:], records[1:], strict=True):
        typer.echo(
            f"{name}: items F1 {first.items.f1:.3f} → {r.scores.items.f1:.3f}; "
            f"meta {first.meta_accuracy:.3f} → {r.scores.meta_accuracy:.3f}"
        )
    typer.echo(f"comparison written: {out}")
