"""`govbrief summarize`: outputs, options, and one clear stderr line (exit 2) per bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from service.cli import app
from service.models import Brief
from service.settings import get_settings

RULES = ["--backend", "rules"]


def _run(*args: str) -> Result:
    return CliRunner().invoke(app, ["summarize", *args])


def _briefs(stdout: str) -> list[Brief]:
    data = json.loads(stdout)
    return [Brief.model_validate(d) for d in (data if isinstance(data, list) else [data])]


@pytest.fixture()
def report(tmp_path: Path, sample_report_path: Path) -> Path:
    path = tmp_path / "青禾县.txt"
    path.write_bytes(sample_report_path.read_bytes())
    return path


# --- good input --------------------------------------------------------------------------------


def test_json_to_stdout_by_default(report: Path) -> None:
    res = _run(str(report), *RULES)
    assert res.exit_code == 0, res.stderr
    assert res.stderr == ""
    [brief] = _briefs(res.stdout)
    assert brief.source.path == str(report)
    assert brief.source.text is None
    assert brief.report.year == 2023
    assert brief.provenance.backend == "rules"
    assert len(brief.problems) == 4 and len(brief.plans) == 5


def test_rules_is_the_default_backend_without_an_llm(report: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("GOVBRIEF_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    try:
        res = _run(str(report))
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 0, res.stderr
    assert _briefs(res.stdout)[0].provenance.backend == "rules"


def test_with_text_includes_the_normalized_text(report: Path) -> None:
    [brief] = _briefs(_run(str(report), "--with-text", *RULES).stdout)
    text = brief.source.text
    assert text is not None and len(text) == brief.source.chars
    for item in brief.achievements + brief.problems + brief.plans + brief.leadership:
        for span in item.evidence:
            assert text[span.start : span.end] == span.quote


def test_markdown(report: Path) -> None:
    res = _run(str(report), "--format", "md", *RULES)
    assert res.exit_code == 0
    for heading in ("## 概览", "## 主要成效", "## 存在问题", "## 下一步安排"):
        assert heading in res.stdout
    assert "〔s" in res.stdout  # citations


def test_output_file(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "brief.json"
    res = _run(str(report), "-o", str(out), *RULES)
    assert res.exit_code == 0 and res.stdout == ""
    [brief] = _briefs(out.read_text(encoding="utf-8"))
    assert brief.report.region == "临川市青禾县"
    assert not list(out.parent.glob("*.tmp"))


def test_several_reports_into_a_directory(report: Path, tmp_path: Path, seed_paths: list[Path]) -> None:
    out = tmp_path / "briefs"
    res = _run(str(report), str(seed_paths[0]), "-o", str(out), "-f", "md", *RULES)
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{report.stem}.md", f"{seed_paths[0].stem}.md"])
    assert "## 存在问题" in (out / f"{seed_paths[0].stem}.md").read_text(encoding="utf-8")


def test_several_reports_to_stdout_are_a_json_list(report: Path, seed_paths: list[Path]) -> None:
    res = _run(str(report), *map(str, seed_paths[:2]), *RULES)
    assert res.exit_code == 0
    briefs = _briefs(res.stdout)
    assert [b.source.path for b in briefs] == [str(report), *map(str, seed_paths[:2])]


def test_several_reports_need_a_directory_not_a_file(report: Path, tmp_path: Path) -> None:
    res = _run(str(report), str(report), "-o", str(tmp_path / "x.json"), *RULES)
    assert res.exit_code == 2
    assert "must be a directory" in res.stderr


def test_sample(sample_report_path: Path) -> None:
    res = _run("--sample", *RULES)
    assert res.exit_code == 0
    [brief] = _briefs(res.stdout)
    assert Path(brief.source.path).name == sample_report_path.name


def test_no_input_is_an_error() -> None:
    res = _run(*RULES)
    assert res.exit_code == 2
    assert res.stderr.startswith("govbrief: error: no report given")


# --- bad input -----------------------------------------------------------------------------------


def _missing(d: Path) -> Path:
    return d / "nope.txt"


def _directory(d: Path) -> Path:
    (d / "reports").mkdir()
    return d / "reports"


def _write(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / name).write_bytes(data)
        return d / name

    return make


BAD: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing": (_missing, "no such file"),
    "directory": (_directory, "directory"),
    "empty": (_write("empty.txt", b""), "empty"),
    "binary": (_write("scan.txt", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8), "binary"),
    "unsupported": (_write("report.rtf", b"{\\rtf1 hello}"), "unsupported file type '.rtf'"),
    "zip-as-xlsx": (_write("report.xlsx", b"PK\x03\x04 not really a spreadsheet"), "supported: .docx"),
    "no-report-text": (
        _write("nav.txt", "首页 > 政务公开 > 年度报告\n打印\n关闭\n".encode()),
        "no report text",
    ),
    "nav-only-html": (
        _write("nav.html", "<html><body><nav>首页 | 政务公开 | 互动交流</nav></body></html>".encode()),
        "no report text",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_is_one_stderr_line_and_exit_2(tmp_path: Path, case: str) -> None:
    make, problem = BAD[case]
    path = make(tmp_path)
    res = _run(str(path), *RULES)
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"govbrief: error: {path}")
    assert problem in lines[0]
    assert "Traceback" not in res.stderr
    assert isinstance(res.exception, SystemExit)


def test_one_bad_file_among_good_ones(report: Path, tmp_path: Path, seed_paths: list[Path]) -> None:
    bad = tmp_path / "empty.txt"
    bad.write_bytes(b"")
    out = tmp_path / "briefs"
    res = _run(str(report), str(bad), str(seed_paths[0]), "-o", str(out), *RULES)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [f"govbrief: error: {bad}: empty file (0 bytes)"]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f"{report.stem}.json", f"{seed_paths[0].stem}.json"]
    )
    # and to stdout: the good ones are still printed
    res = _run(str(bad), str(report), *RULES)
    assert res.exit_code == 2
    assert [b.source.path for b in _briefs(res.stdout)] == [str(report)]


def test_the_console_script(tmp_path: Path) -> None:
    """The installed entry point: no traceback from a real process either."""
    exe = Path(sys.executable).with_name("govbrief")
    if not exe.exists():
        pytest.skip("govbrief console script not installed in this environment")
    missing = tmp_path / "nope.pdf"
    done = subprocess.run(
        [str(exe), "summarize", str(missing), *RULES], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr == f"govbrief: error: {missing}: no such file\n"
    helped = subprocess.run([str(exe), "summarize", "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    for option in ("--backend", "--format", "--with-text", "--output", "--sample"):
        assert option in helped.stdout
