"""`govbrief batch` and `govbrief compare`: many reports into one folder, and a table across them."""

from __future__ import annotations

import enum
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from service.backends.base import Backend
from service.batch.inputs import InputsError, collect_inputs
from service.batch.limiter import AdaptiveLimiter
from service.batch.manifest import OutdirBusyError, outdir_lock
from service.batch.progress import Counters, human_seconds, human_tokens, make_progress
from service.batch.runner import BatchOptions, BatchResult, BatchRunner, StopBatch
from service.cli.common import (
    EXIT_FAILED,
    EXIT_INPUT,
    BackendName,
    NoCacheOption,
    PromptsDirOption,
    RefreshOption,
    WithTextOption,
    backend_from_options,
    fail,
    load_settings,
    with_prompts_dir,
)
from service.errors import GovbriefError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells expect of a Ctrl-C'd command
_MAX_LISTED_FAILURES = 20


class Via(enum.StrEnum):
    direct = "direct"
    openai_batch = "openai-batch"


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """`kill` stops the batch at once; the journal already holds every finished report."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise StopBatch()

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. called from a test harness): leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _summary(result: BatchResult, outdir: Path) -> None:
    c = result.counters
    line = (
        f"govbrief batch: {c.total} report(s): {c.ok} ok, "
        + (f"{c.partial} partial, " if c.partial else "")
        + f"{c.failed} failed, {c.cached} already done; {human_tokens(c.tokens)} tokens; "
        f"{human_seconds(c.elapsed())} → {outdir / 'manifest.json'}"
    )
    print(line, file=sys.stderr)
    if result.limiter and result.limiter.get("throttled"):
        lim = result.limiter
        print(
            f"govbrief batch: rate-limited {lim['throttled']}×; request window went down to {lim['lowest']:g} "
            f"(ceiling {lim['ceiling']}) and ended at {lim['final']:g}",
            file=sys.stderr,
        )
    bad = [r for r in result.records if r.status != "ok"]
    for r in bad[:_MAX_LISTED_FAILURES]:
        where = r.given or r.input
        # Input errors already name their file; backend errors don't.
        message = r.error if r.error and (where in r.error or r.input in r.error) else f"{where}: {r.error}"
        print(f"  {r.status}: {message}", file=sys.stderr)
    if len(bad) > _MAX_LISTED_FAILURES:
        print(f"  … and {len(bad) - _MAX_LISTED_FAILURES} more (see manifest.json)", file=sys.stderr)


def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Report files, folders (searched recursively) or list files (@list.txt, *.lst, *.list: one path a line).",
            show_default=False,
        ),
    ],
    outdir: Annotated[
        Path, typer.Option("--output", "-o", help="Output folder (created if needed).", show_default=False)
    ],
    backend: Annotated[
        BackendName | None,
        typer.Option("--backend", "-b", help="rules (offline) or openai (any OpenAI-compatible endpoint)."),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            "-j",
            min=1,
            max=256,
            help="Reports in flight, and the ceiling on LLM requests in flight (default: GOVBRIEF_LLM_CONCURRENCY).",
            show_default=False,
        ),
    ] = None,
    globs: Annotated[
        list[str] | None,
        typer.Option(
            "--glob",
            "-g",
            help="File-name pattern for folders, e.g. '*.txt' (repeatable; default: every supported suffix).",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Redo every report, even those already done.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress and no summary; the exit code and manifest.json say it all."
        ),
    ] = False,
    with_text: WithTextOption = False,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    prompts_dir: PromptsDirOption = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            max=10,
            help="Extra tries of a report whose LLM calls gave up on rate limits or outages.",
        ),
    ] = 1,
    via: Annotated[
        Via,
        typer.Option(
            "--via",
            help="direct (chat requests now) or openai-batch (OpenAI's Batch API: half the price, up to 24 h).",
        ),
    ] = Via.direct,
    poll_interval: Annotated[
        float,
        typer.Option(
            "--poll-interval", min=0.01, help="Seconds between Batch API status checks (--via openai-batch)."
        ),
    ] = 30.0,
) -> None:
    """Brief many reports into one folder: <name>.json and <name>.md each, briefs.jsonl, manifest.json.

    A report that fails is recorded in manifest.json with its error and the others go on; the exit code is then 1 (2 for bad arguments or settings, 130 when interrupted).

    Run the same command again after an interruption (Ctrl-C, kill, crash) and only the reports not yet done are worked on; --force redoes all of them.

    Examples:

      govbrief batch reports/ -o briefs/

      govbrief batch @list.txt -o briefs/ --backend openai -j 16

      govbrief batch 2023/ 2024/ -o briefs/ --glob '*.pdf' --quiet
    """
    settings = with_prompts_dir(load_settings(), prompts_dir)
    if outdir.exists() and not outdir.is_dir():
        fail(f"{outdir}: exists and is not a folder")
    try:
        found = collect_inputs(inputs, globs=globs or (), exclude=[outdir])
    except InputsError as e:
        fail(str(e))
    if not found:
        fail("no report files found in the inputs given" + (f" (glob {', '.join(globs)})" if globs else ""))

    n = concurrency or settings.llm_concurrency
    name = backend.value if backend else settings.default_backend()
    if via == Via.openai_batch and name != "openai":
        fail("--via openai-batch needs the openai backend (set GOVBRIEF_LLM_MODEL, or pass --backend openai)")
    limiter = AdaptiveLimiter(n)
    engine: Backend
    if name == "openai":
        # Each report's chunks may use the whole window when few reports are left in flight.
        settings = settings.model_copy(update={"llm_concurrency": n})
        # The limiter stands in for the transport's semaphore: `with limiter:` around every HTTP attempt.
        engine = backend_from_options(name, settings, no_cache=no_cache, refresh=refresh, limiter=limiter)
    else:
        engine = backend_from_options(name, settings)

    counters = Counters()
    progress = make_progress(counters, quiet=quiet, limiter=limiter if name == "openai" else None)
    options = BatchOptions(
        outdir=outdir,
        concurrency=n,
        force=force,
        with_text=with_text,
        chunk_max_tokens=settings.chunk_max_tokens,
        report_retries=retries,
        time_limit=settings.run_time_limit,
    )
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        with outdir_lock(outdir), _sigterm_stops():
            if via == Via.openai_batch:
                from service.batch.openai_batch import run_openai_batch

                result = run_openai_batch(
                    engine,
                    found,
                    options,
                    settings=settings,
                    progress=progress,
                    counters=counters,
                    poll_interval=poll_interval,
                )
            else:
                result = BatchRunner(
                    engine, found, options, progress=progress, counters=counters, limiter=limiter
                ).run()
    except OutdirBusyError as e:
        fail(str(e))
    except GovbriefError as e:
        fail(str(e))
    except OSError as e:
        fail(f"{outdir}: {e.strerror or e}")

    if not quiet:
        _summary(result, outdir)
        if result.interrupted:
            print("govbrief batch: interrupted; run the same command again to resume", file=sys.stderr)
    if result.abandoned:
        # Worker threads still wait on in-flight requests and would hold the process open; what they
        # would have finished is redone (from the answer cache) on the next run.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_INTERRUPTED)
    if result.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if result.stopped:
        if not quiet:
            print(f"govbrief: error: batch stopped: {result.stopped}", file=sys.stderr)
        raise typer.Exit(EXIT_INPUT)
    if result.failed:
        raise typer.Exit(EXIT_FAILED)


def compare(
    outdir: Annotated[
        Path,
        typer.Argument(
            help="A batch output folder (with manifest.json or briefs.jsonl).", show_default=False
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Where to write the comparison (default: OUTDIR).", show_default=False
        ),
    ] = None,
    min_places: Annotated[
        int,
        typer.Option(
            "--min-places", min=2, help="A problem recurs when this many reports (places) state it."
        ),
    ] = 2,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing; just write the files.")
    ] = False,
) -> None:
    """Compare the briefs of a batch: a table of reports × categories, recurring problems, plan follow-ups.

    Writes compare.csv and compare.html (how many achievements, problems and plans each report has in each category), problems.csv (problems that recur across places, grouped), followups.csv (where a place reports on consecutive years: which of year N's plans year N+1's achievements follow up, with the quotes) and compare.json (all of it).

    Example:

      govbrief compare briefs/
    """
    from service.compare import build_comparison, load_briefs, write_comparison

    if not outdir.is_dir():
        fail(f"{outdir}: no such folder")
    try:
        briefs = load_briefs(outdir)
    except GovbriefError as e:
        fail(str(e))
    if not briefs:
        fail(f"{outdir}: no briefs found (run `govbrief batch … -o {outdir}` first)")
    comparison = build_comparison(briefs, min_places=min_places)
    target = output or outdir
    try:
        target.mkdir(parents=True, exist_ok=True)
        written = write_comparison(comparison, target)
    except OSError as e:
        fail(f"{target}: {e.strerror or e}")
    if not quiet:
        print(
            f"govbrief compare: {len(comparison.reports)} report(s), {len(comparison.recurring)} recurring problem group(s), "
            f"{len(comparison.followups)} plan follow-up link(s)",
            file=sys.stderr,
        )
        for path in written:
            print(f"  {path}", file=sys.stderr)
