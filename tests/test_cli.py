"""`govbrief summarize`: outputs, options, and one clear stderr line (exit 2) per bad input; bad
settings are one line each for every command."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, Reply, error_reply
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


# --- -o: files, directories, and writes that fail -------------------------------------------------


@pytest.mark.parametrize("trailing", ["", "/"], ids=["existing", "existing-slash"])
def test_output_into_an_existing_directory(report: Path, tmp_path: Path, trailing: str) -> None:
    out = tmp_path / "briefs"
    out.mkdir()
    res = _run(str(report), "-o", f"{out}{trailing}", *RULES)
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == [f"{report.stem}.json"]
    [brief] = _briefs((out / f"{report.stem}.json").read_text(encoding="utf-8"))
    assert brief.source.path == str(report)
    assert not list(tmp_path.rglob("*.tmp"))


def test_output_ending_in_a_separator_is_a_new_directory(report: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "briefs"
    res = _run(str(report), "-o", f"{out}{os.sep}", "-f", "md", *RULES)
    assert res.exit_code == 0, res.output
    assert out.is_dir()
    assert sorted(p.name for p in out.iterdir()) == [f"{report.stem}.md"]
    assert not list(tmp_path.rglob("*.tmp"))


def test_several_reports_into_an_existing_directory(report: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / report.name  # the same stem: the second gets a suffix, not the first's file
    other.parent.mkdir()
    other.write_bytes(report.read_bytes())
    out = tmp_path / "briefs"
    out.mkdir()
    res = _run(str(report), str(other), "-o", str(out), *RULES)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{report.stem}.json", f"{report.stem}-2.json"])


def test_several_reports_need_a_directory_not_an_existing_file(report: Path, tmp_path: Path) -> None:
    target = tmp_path / "briefs"
    target.write_text("not a folder", encoding="utf-8")
    res = _run(str(report), str(report), "-o", str(target), *RULES)
    assert res.exit_code == 2
    assert res.stderr == f"govbrief: error: {target}: with several reports, -o must be a directory\n"


@pytest.mark.parametrize("target", ["file/brief.json", "file/"], ids=["under-a-file", "file-as-directory"])
def test_output_that_cannot_be_written_is_one_line_and_exit_2(
    report: Path, tmp_path: Path, target: str
) -> None:
    (tmp_path / "file").write_text("a file, not a folder", encoding="utf-8")
    res = _run(str(report), "-o", f"{tmp_path}{os.sep}{target}", *RULES)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    [line] = res.stderr.splitlines()
    assert line.startswith("govbrief: error: ") and str(tmp_path / "file") in line
    assert "not a directory" in line
    assert isinstance(res.exception, SystemExit)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["file", report.name])  # no .tmp left


def test_a_failed_rename_leaves_no_temporary_file(
    report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(source: object, target: object) -> None:
        raise PermissionError(13, "Permission denied", str(target))

    monkeypatch.setattr("service.files.os.replace", refuse)
    out = tmp_path / "out" / "brief.json"
    res = _run(str(report), "-o", str(out), *RULES)
    assert res.exit_code == 2
    assert res.stderr == f"govbrief: error: {out}: cannot write: Permission denied\n"
    assert list((tmp_path / "out").iterdir()) == []


# --- settings -------------------------------------------------------------------------------------


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No GOVBRIEF_* from the outer environment, and settings read afresh before and after."""
    for name in list(os.environ):
        if name.startswith("GOVBRIEF_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("GOVBRIEF_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("GOVBRIEF_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


COMMANDS = {
    "summarize": ["summarize", "x.txt"],
    "serve": ["serve", "--port", "0"],
    "batch": ["batch", "x.txt", "-o", "out"],
    "eval": ["eval", "--backend", "rules"],
}


@pytest.mark.usefixtures("clean_env")
@pytest.mark.parametrize("command", COMMANDS, ids=list(COMMANDS))
def test_bad_settings_are_one_line_each_and_exit_2(command: str, tmp_path: Path) -> None:
    env = {"GOVBRIEF_LLM_CONCURRENCY": "abc", "GOVBRIEF_LLM_TIMEOUT": "-1", "GOVBRIEF_BACKEND": "nope"}
    res = CliRunner().invoke(app, COMMANDS[command], env=env)
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit)
    lines = sorted(res.stderr.splitlines())
    assert lines == [
        "govbrief: error: GOVBRIEF_BACKEND='nope': Input should be 'auto', 'rules' or 'openai'",
        "govbrief: error: GOVBRIEF_LLM_CONCURRENCY='abc': Input should be a valid integer, "
        "unable to parse string as an integer",
        "govbrief: error: GOVBRIEF_LLM_TIMEOUT='-1': Input should be greater than 0",
    ], res.stderr
    assert "Traceback" not in res.output and "pydantic" not in res.output


@pytest.mark.usefixtures("clean_env")
def test_secret_settings_are_never_echoed() -> None:
    from pydantic import ValidationError

    from service.cli.common import settings_problems
    from service.settings import Settings

    with pytest.raises(ValidationError) as err:
        Settings(llm_api_key=12345678, max_upload_bytes=0)  # type: ignore[arg-type]
    problems = settings_problems(err.value)
    assert any(p.startswith("GOVBRIEF_MAX_UPLOAD_BYTES=0: ") for p in problems)
    key_line = next(p for p in problems if p.startswith("GOVBRIEF_LLM_API_KEY"))
    assert "12345678" not in key_line


# --- LLM errors name the report -------------------------------------------------------------------


@pytest.mark.usefixtures("clean_env")
def test_llm_errors_name_the_report(report: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.txt"
    second.write_bytes(report.read_bytes())
    with FakeOpenAI() as fake:
        fake.route("POST", "/v1/chat/completions", lambda r: Reply(json={}, delay=1.0))  # a hung server
        env = {
            "GOVBRIEF_LLM_BASE_URL": fake.base_url,
            "GOVBRIEF_LLM_MODEL": "fake-model",
            "GOVBRIEF_LLM_TIMEOUT": "0.2",
            "GOVBRIEF_LLM_MAX_RETRIES": "0",
            "GOVBRIEF_LLM_PACK_TOKENS": "100000",
        }
        res = CliRunner().invoke(app, ["summarize", str(report), str(second), "--no-cache"], env=env)
    assert res.exit_code == 2, res.output
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 2, res.stderr
    for line, path in zip(lines, (report, second), strict=True):
        assert line.startswith(f"govbrief: error: {path}: the LLM gave no usable answer"), line
        assert "timed out" in line


@pytest.mark.usefixtures("clean_env")
def test_a_missing_model_stops_after_the_first_report(report: Path, tmp_path: Path) -> None:
    second = tmp_path / "second.txt"
    second.write_bytes(report.read_bytes())
    with FakeOpenAI() as fake:
        fake.route("POST", "/v1/chat/completions", lambda r: error_reply(400, "invalid model: nope"))
        env = {
            "GOVBRIEF_LLM_BASE_URL": fake.base_url,
            "GOVBRIEF_LLM_MODEL": "nope",
            "GOVBRIEF_LLM_CONCURRENCY": "1",
        }
        res = CliRunner().invoke(app, ["summarize", str(report), str(second), "--no-cache"], env=env)
        calls = len(fake.chat_requests())
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == [
        f"govbrief: error: {report}: HTTP 400: invalid model: nope "
        "(check GOVBRIEF_LLM_BASE_URL and GOVBRIEF_LLM_MODEL)",
        "govbrief: error: stopped: 1 more report(s) not briefed",
    ]
    assert calls == 1  # not four (the whole structured-output ladder), and not the second report


# --- help -----------------------------------------------------------------------------------------


def _commands() -> dict[str, Callable[..., object]]:
    from service.cli import batch, evals, serve, summarize

    return {
        "summarize": summarize.summarize,
        "serve": serve.serve,
        "batch": batch.batch,
        "compare": batch.compare,
        "eval": evals.eval_run,
        "eval compare": evals.eval_compare,
    }


@pytest.mark.parametrize("name", list(_commands()))
def test_help_paragraphs_have_no_hard_wraps(name: str) -> None:
    """Rich keeps a docstring's newlines after its first paragraph: prose must be one line per
    paragraph so that it reflows to the terminal (examples, indented, keep theirs)."""
    doc = inspect.cleandoc(_commands()[name].__doc__ or "")
    for paragraph in doc.split("\n\n"):
        if not paragraph.startswith(" "):
            assert "\n" not in paragraph, paragraph


def test_eval_help_shows_its_examples_and_exit_codes() -> None:
    res = CliRunner().invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "Exit codes: 0 ok" in res.stdout and "govbrief eval --backend rules --baseline" in res.stdout


def test_summarize_stops_a_report_over_the_run_time_limit(
    report: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GOVBRIEF_RUN_TIME_LIMIT holds for the CLI too: a nanosecond is over before the first stage
    ends, so the run stops there, with the file named and exit 2, like any report that costs too much."""
    monkeypatch.setenv("GOVBRIEF_RUN_TIME_LIMIT", "0.000000001")
    result = _run("summarize", str(report))
    assert result.exit_code == 2
    assert f"{report}: stopped after the run-time limit of 1e-09 s (GOVBRIEF_RUN_TIME_LIMIT)" in result.output
    assert result.stdout.strip() == ""
