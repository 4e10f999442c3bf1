"""`govbrief eval`: score a backend on the golden set, catch drift against a baseline, compare runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from service.cli.common import EXIT_FAILED, BackendName, backend_from_options, error, fail, load_settings
from service.errors import GovbriefError
from service.evals import compare as compare_mod
from service.evals import drift as drift_mod
from service.evals.golden import GoldenReport, load_golden_dir
from service.evals.record import ReportRecord, RunRecord, Scores, SectionScore
from service.evals.runner import load_record, record_path, rescore, run_golden, run_settings, save_record
from service.evals.score import aggregate
from service.models import SECTION_NAMES, Genre

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


def _resolve_record(name: str, golden_dir: Path) -> Path:
    path = Path(name)
    if path.exists():
        return path
    for folder in (golden_dir.parent / "runs", golden_dir.parent / "baselines"):
        for candidate in (folder / name, folder / f"{name}.json"):
            if candidate.is_file():
                return candidate
    return path  # let loading say it is missing


def _default_label(backend: str, model: str | None, prompt_version: str | None) -> str:
    parts = [backend]
    if backend != "rules":
        parts += [p for p in (model, f"p{prompt_version}" if prompt_version else None) if p]
    return "-".join(parts)


def _prf(s: SectionScore | None) -> str:
    return "—" if s is None else f"{s.precision:.2f} {s.recall:.2f} {s.f1:.2f}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _name(r: ReportRecord) -> str:
    prefix = r.id.split("_")[0]  # "000" of "000_e288acb1be06d3f7"; "gwr_2015" stays whole
    return (prefix if prefix.isdigit() else r.id) + (" (error)" if r.error else "")


def _genre_rows(record: RunRecord) -> list[tuple[str, Scores]]:
    """Scores pooled per genre of report (the golden set's), when the run covers more than one."""
    by_genre: dict[Genre, list[Scores]] = {}
    for r in record.reports:
        genre = r.golden_meta.genre if r.golden_meta and r.golden_meta.genre else Genre.unknown
        by_genre.setdefault(genre, []).append(r.scores)
    if len(by_genre) < 2:
        return []
    return [(f"all {genre.label_zh}", aggregate(scores)) for genre, scores in by_genre.items()]


def score_tables(record: RunRecord) -> list[Table]:
    """Item scores, then the rest; two tables so that each fits a 120-column log."""
    title = f"govbrief eval · {record.label}"
    if record.label != record.settings.backend:
        title += f" ({record.settings.backend})"
    items = Table(title=f"{title} · items: precision recall F1", box=box.SIMPLE_HEAD)
    items.add_column("report", no_wrap=True)
    for section in (*SECTION_NAMES, "all items"):
        items.add_column(section, justify="right", no_wrap=True)
    rows = [(_name(r), r.scores) for r in record.reports] + _genre_rows(record) + [("overall", record.scores)]
    for i, (name, s) in enumerate(rows):
        cells = [_prf(s.sections.get(section)) for section in SECTION_NAMES] + [_prf(s.items)]
        items.add_row(name, *cells, style="bold" if i == len(rows) - 1 else None)
    other = Table(title=f"{title} · metadata, grounding, cost", box=box.SIMPLE_HEAD)
    for name in (
        "report",
        "meta acc",
        "grounded",
        "schema valid",
        "category",
        "tokens",
        "calls",
        "cost USD",
        "ms",
    ):
        other.add_column(name, justify="left" if name == "report" else "right", no_wrap=True)
    for i, (name, s) in enumerate(rows):
        other.add_row(
            name,
            f"{s.meta_accuracy:.2f}",
            _rate(s.grounding_rate),
            _rate(s.schema_valid_rate),
            _rate(s.category_agreement),
            str(s.tokens),
            str(s.calls),
            "—" if s.cost_usd is None else f"{s.cost_usd:.4f}",
            str(s.latency_ms),
            style="bold" if i == len(rows) - 1 else None,
        )
    return [items, other]


def _console() -> Console:
    console = Console()
    # Piped output (CI logs, CliRunner) gets rich's 80-column default, too narrow for the tables.
    return console if console.is_terminal else Console(width=120)


def _progress(rec: ReportRecord) -> None:
    s = rec.scores
    status = f"error: {rec.error}" if rec.error else f"items F1 {s.items.f1:.2f}, {s.latency_ms} ms"
    typer.echo(f"{rec.id}: {status}", err=True)


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
    model: Annotated[str | None, typer.Option("--model", "-m", help="Model for the openai backend.")] = None,
    label: Annotated[
        str | None, typer.Option("--label", "-l", help="Name of the run (default: backend[-model][-pV]).")
    ] = None,
    golden: Annotated[
        Path | None, typer.Option("--golden", help="Golden set directory (default: evals/golden).")
    ] = None,
    baseline: Annotated[
        Path | None,
        typer.Option("--baseline", help="Fail (exit 1) when a score drops below this run record."),
    ] = None,
    tolerance: Annotated[
        float,
        typer.Option("--tolerance", min=0.0, max=1.0, help="How far a score may drop below the baseline."),
    ] = drift_mod.DEFAULT_TOLERANCE,
    bless: Annotated[
        str | None,
        typer.Option("--bless", help="Also save this run as evals/baselines/NAME.json (or a .json path)."),
    ] = None,
    runs_dir: Annotated[
        Path | None, typer.Option("--runs-dir", help="Where run records go (default: evals/runs).")
    ] = None,
    from_run: Annotated[
        Path | None,
        typer.Option(
            "--from-run",
            help="Re-score a saved run record instead of running a backend (nothing is written).",
        ),
    ] = None,
) -> None:
    """Score briefs against the hand-written golden set (evals/golden), catch drift, compare runs.

    Without a subcommand: run the golden set through a backend and score it (precision/recall/F1 per section, metadata, grounding, schema validity, category agreement, tokens, calls, cost and latency), write a run record to evals/runs/<timestamp>-<label>.json and print a table. Runs use the same answer cache as `summarize`, so re-running an unchanged prompt costs nothing.

    Exit codes: 0 ok; 1 drift beyond --tolerance against --baseline, or a report failed; 2 bad input or settings.

    Examples:

      govbrief eval --backend rules --baseline evals/baselines/rules.json

      govbrief eval -b openai --model gpt-4o-mini --prompt-version 2 --label v2

      govbrief eval compare evals/runs/A.json evals/runs/B.json -o report.html
    """
    if ctx.invoked_subcommand is not None:
        return
    golden_dir = _golden_dir(golden)
    goldens = _load_golden(golden_dir)
    base = rescore(_load(baseline), goldens) if baseline is not None else None

    if from_run is not None:
        record = rescore(_load(from_run), goldens)
        written = None
    else:
        settings = load_settings()
        updates = {
            k: v for k, v in (("llm_model", model), ("prompt_version", prompt_version)) if v is not None
        }
        settings = settings.model_copy(update=updates) if updates else settings
        engine = backend_from_options(backend.value if backend else None, settings)
        name = label or _default_label(engine.name, settings.llm_model, settings.prompt_version)
        record = run_golden(
            goldens,
            engine,
            run_settings(engine, settings, golden_dir, goldens),
            label=name,
            chunk_max_tokens=settings.chunk_max_tokens,
            on_report=_progress,
        )
        written = save_record(record, record_path(runs_dir or golden_dir.parent / "runs", name))

    console = _console()
    for table in score_tables(record):
        console.print(table)
    if written is not None:
        typer.echo(f"run record: {written}")
    if bless is not None:
        blessed = save_record(record, _baseline_path(bless, golden_dir))
        typer.echo(f"baseline written: {blessed}")

    failed = [r.id for r in record.reports if r.error]
    if base is not None:
        drift = drift_mod.compare(base, record, tolerance)
        typer.echo(drift_mod.format_drift(drift, str(baseline)))
        if drift.failed:
            error(f"drift: {len(drift.drops)} score(s) dropped more than {tolerance:g} below {baseline}")
            raise typer.Exit(EXIT_FAILED)
    if failed:
        error(f"{len(failed)} report(s) failed: {', '.join(failed)}")
        raise typer.Exit(EXIT_FAILED)


@eval_app.command("compare")
def eval_compare(
    run_a: Annotated[
        str, typer.Argument(help="Run record (path, or a name under evals/runs or evals/baselines).")
    ],
    run_b: Annotated[str, typer.Argument(help="The run to compare it with.")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="HTML file (default: evals/runs/compare-A-vs-B.html)."),
    ] = None,
    golden: Annotated[
        Path | None, typer.Option("--golden", help="Golden set to re-score both runs against.")
    ] = None,
    no_rescore: Annotated[
        bool,
        typer.Option("--no-rescore", help="Show the runs as recorded, not re-scored against the golden set."),
    ] = False,
) -> None:
    """Write an HTML page with two runs side by side: scores of both, and per report each run's items next to each other with their evidence, differences highlighted, cost and latency.

    Example:

      govbrief eval compare evals/baselines/rules.json evals/runs/20250101T000000Z-v2.json -o v2.html
    """
    golden_dir = _golden_dir(golden)
    path_a, path_b = _resolve_record(run_a, golden_dir), _resolve_record(run_b, golden_dir)
    a, b = _load(path_a), _load(path_b)
    if not no_rescore:
        # Both against the same golden set, so a golden fix between the runs is no difference.
        try:
            goldens = load_golden_dir(golden_dir)
        except GovbriefError as e:
            if golden is not None:
                fail(str(e))
            error(f"{e}; showing the runs as recorded")
        else:
            a, b = rescore(a, goldens), rescore(b, goldens)
    out = output or golden_dir.parent / "runs" / f"compare-{path_a.stem}-vs-{path_b.stem}.html"
    html = compare_mod.render_compare(a, b, name_a=path_a.stem, name_b=path_b.stem)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    typer.echo(
        f"items F1 {a.scores.items.f1:.3f} → {b.scores.items.f1:.3f}; "
        f"meta {a.scores.meta_accuracy:.3f} → {b.scores.meta_accuracy:.3f}"
    )
    typer.echo(f"comparison written: {out}")
