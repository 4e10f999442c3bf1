"""`govbrief summarize`: brief one or more reports."""

from __future__ import annotations

import enum
import errno
import json
import os
from pathlib import Path
from typing import Annotated

import typer

from service import render
from service.cli.common import (
    EXIT_FAILED,
    EXIT_INPUT,
    BackendName,
    NoCacheOption,
    PromptsDirOption,
    RefreshOption,
    WithTextOption,
    backend_from_options,
    error,
    fail,
    load_settings,
    warn,
    with_prompts_dir,
)
from service.errors import ConfigError, EmptyBriefError, GovbriefError, InputError, PromptError
from service.files import write_atomic
from service.ingest import sample_path
from service.llm.errors import AuthFailed
from service.models import Brief
from service.pipeline import RunOptions, run


class Format(enum.StrEnum):
    json = "json"
    md = "md"


def _write(text: str, out: Path | None) -> None:
    """`text` to stdout, or atomically to `out` (a temporary file beside it, then renamed); a path
    that cannot be written is one error line and exit 2, and no temporary file is left behind."""
    if out is None:
        typer.echo(text)
        return
    data = text + ("" if text.endswith("\n") else "\n")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.is_dir():
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(out))
        write_atomic(out, data)
    except OSError as e:
        fail(f"{out}: cannot write: {_why(out, e)}")


def _why(out: Path, exc: OSError) -> str:
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            return f"{parent} is not a directory"
    return exc.strerror or str(exc)


def _is_dir_target(raw: str) -> bool:
    """-o names a directory when it is one, or when it ends with a path separator ("briefs/")."""
    seps = tuple(sep for sep in (os.sep, os.altsep, "/") if sep)
    return raw.endswith(seps) or Path(raw).is_dir()


def _unique_name(stem: str, suffix: str, taken: set[str]) -> str:
    """`stem.suffix`, or `stem-2.suffix`… when two reports share a stem (a/x.txt, b/x.txt)."""
    name, n = f"{stem}{suffix}", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}{suffix}"
    taken.add(name)
    return name


def summarize(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Report files: .txt .md .html .htm .pdf .docx (UTF-8 or GBK).", show_default=False
        ),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Brief the fictional sample report shipped with govbrief.")
    ] = False,
    backend: Annotated[
        BackendName | None,
        typer.Option(
            "--backend",
            "-b",
            help="rules (offline, default without an LLM) or openai (any OpenAI-compatible endpoint).",
        ),
    ] = None,
    fmt: Annotated[
        Format, typer.Option("--format", "-f", help="json (the Brief schema) or md (a Chinese brief).")
    ] = Format.json,
    with_text: WithTextOption = False,
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            help="Write here instead of stdout. An existing directory, or a path ending in '/', gets <name>.json "
            "(or .md) per report; several reports need a directory.",
            show_default=False,
        ),
    ] = None,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
    prompts_dir: PromptsDirOption = None,
) -> None:
    """Brief one or more reports: achievements (成效), problems (问题) and plans (计划), every item grounded.

    JSON goes to stdout unless -o is given. A report that cannot be read, or that the LLM cannot brief, is named on stderr with its problem and the others are still briefed; the exit code is then 2.

    Examples:

      govbrief summarize --sample --format md

      govbrief summarize report.pdf -o brief.json

      govbrief summarize a.txt b.html -f md -o briefs/
    """
    inputs = list(paths or [])
    if sample:
        inputs.insert(0, sample_path())
    if not inputs:
        fail("no report given: pass one or more PATHs, or --sample")
    settings = with_prompts_dir(load_settings(), prompts_dir)
    engine = backend_from_options(
        backend.value if backend else None, settings, no_cache=no_cache, refresh=refresh
    )
    several = len(inputs) > 1
    out = Path(output) if output else None
    into_dir: Path | None = None
    if out is not None and output is not None:
        if _is_dir_target(output):
            into_dir = out
        elif several:
            if out.suffix or out.exists():
                fail(f"{out}: with several reports, -o must be a directory")
            into_dir = out  # a new name without a suffix: a directory, as before
    suffix = ".json" if fmt == Format.json else ".md"
    taken: set[str] = set()
    briefs: list[Brief] = []
    failed = 0
    empty = 0  # reports read fine whose LLM items were all dropped: exit 1, not 2
    for i, path in enumerate(inputs):
        try:
            brief = run(
                path,
                engine,
                RunOptions(with_text, settings.chunk_max_tokens, time_limit=settings.run_time_limit),
            ).brief
        except GovbriefError as e:
            error(_message(path, e))
            failed += 1
            empty += isinstance(e, EmptyBriefError)
            if _stops_all(e) and i + 1 < len(inputs):
                # No other report can succeed either (bad key, model, prompt…): don't spend calls on them.
                error(f"stopped: {len(inputs) - i - 1} more report(s) not briefed")
                break
            continue
        briefs.append(brief)
        for warning in brief.warnings:  # never a silent gap: what went missing, and why
            warn(f"{path}: {warning}")
        if into_dir is not None:
            name = _unique_name(Path(path).stem, suffix, taken)
            _write(
                render.to_json(brief) if fmt == Format.json else render.to_markdown(brief), into_dir / name
            )
    if into_dir is None and briefs:
        if fmt == Format.md:
            text = "\n\n".join(render.to_markdown(b) for b in briefs)
        elif several:
            text = json.dumps([b.model_dump(mode="json") for b in briefs], ensure_ascii=False, indent=2)
        else:
            text = render.to_json(briefs[0])
        _write(text, out)
    if failed:
        raise typer.Exit(EXIT_FAILED if empty == failed else EXIT_INPUT)


def _message(path: Path, exc: GovbriefError) -> str:
    """Input errors name their file already; a backend's (LLM) error gets the report's path in front."""
    text = str(exc)
    return text if isinstance(exc, InputError) or text.startswith(f"{path}:") else f"{path}: {text}"


def _stops_all(exc: GovbriefError) -> bool:
    return isinstance(exc, AuthFailed | ConfigError | PromptError)
