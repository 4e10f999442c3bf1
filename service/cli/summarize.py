"""`govbrief summarize`: brief one or more reports."""

from __future__ import annotations

import enum
import json
from pathlib import Path
from typing import Annotated

import typer

from service import render
from service.cli.common import (
    EXIT_INPUT,
    BackendName,
    NoCacheOption,
    RefreshOption,
    WithTextOption,
    backend_from_options,
    error,
    fail,
)
from service.errors import GovbriefError
from service.ingest import sample_path
from service.models import Brief
from service.pipeline import summarize_path
from service.settings import get_settings


class Format(enum.StrEnum):
    json = "json"
    md = "md"


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
        tmp.replace(out)


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
    out: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write here instead of stdout; a directory when several reports are given."
        ),
    ] = None,
    no_cache: NoCacheOption = False,
    refresh: RefreshOption = False,
) -> None:
    """Brief one or more reports: achievements (成效), problems (问题) and plans (计划), every item grounded.

    JSON goes to stdout unless -o is given. A report that cannot be read is named on stderr with its
    problem and the others are still briefed; the exit code is then 2.

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
    settings = get_settings()
    engine = backend_from_options(
        backend.value if backend else None, settings, no_cache=no_cache, refresh=refresh
    )
    several = len(inputs) > 1
    if several and out is not None and out.suffix:
        fail(f"{out}: with several reports, -o must be a directory")
    briefs: list[Brief] = []
    failed = 0
    for path in inputs:
        try:
            brief = summarize_path(
                path, engine, with_text=with_text, chunk_max_tokens=settings.chunk_max_tokens
            )
        except GovbriefError as e:
            error(str(e))
            failed += 1
            continue
        briefs.append(brief)
        if several and out is not None:
            name = Path(path).stem + (".json" if fmt == Format.json else ".md")
            _write(render.to_json(brief) if fmt == Format.json else render.to_markdown(brief), out / name)
    if not (several and out is not None) and briefs:
        if fmt == Format.md:
            text = "\n\n".join(render.to_markdown(b) for b in briefs)
        elif several:
            text = json.dumps([b.model_dump(mode="json") for b in briefs], ensure_ascii=False, indent=2)
        else:
            text = render.to_json(briefs[0])
        _write(text, out)
    if failed:
        raise typer.Exit(EXIT_INPUT)
