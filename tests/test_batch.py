"""`govbrief batch`: inputs, outputs, the manifest, resume, --force, failures recorded, exit codes.

Run in-process through the CLI (typer's runner) with the rules backend, plus the runner directly
with small test backends for what the rules backend cannot do (bugs, rate limits, bad keys).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service.backends.rules import RulesBackend
from service.batch import BatchOptions, BatchRunner, collect_inputs
from service.batch.inputs import InputsError
from service.batch.manifest import JOURNAL, Journal, Names, Record, safe_stem
from service.cli import app
from service.document import Document, Extraction
from service.errors import LLMTransportError
from service.llm.errors import AuthFailed, ExtractionFailed
from service.models import Brief

runner = CliRunner()


def batch(*args: str | Path) -> Any:
    return runner.invoke(app, ["batch", *map(str, args)])


def manifest(outdir: Path) -> dict[str, Any]:
    return json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))


def records(outdir: Path) -> dict[str, dict[str, Any]]:
    """Manifest records by input path."""
    return {r["input"]: r for r in manifest(outdir)["inputs"]}


@pytest.fixture
def corpus(tmp_path: Path, seed_paths: list[Path]) -> Path:
    """The five seeds plus bad files, and a folder whose name looks like a report file."""
    root = tmp_path / "corpus"
    root.mkdir()
    for p in seed_paths:
        shutil.copy(p, root / p.name)
    (root / "empty.txt").write_bytes(b"")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 8)
    (root / "notes.xyz").write_text(
        "不是报告", encoding="utf-8"
    )  # skipped by the walk, named explicitly below
    # A directory named like a report: the walk goes into it rather than trying to read it.
    nested = root / "2021年报告.txt"
    nested.mkdir()
    shutil.copy(seed_paths[0], nested / seed_paths[0].name)  # same stem as a top-level seed
    (root / ".hidden.txt").write_text("hidden", encoding="utf-8")
    (tmp_path / "more.lst").write_text(
        "# extra inputs, relative to this list\nmissing_dir/\ncorpus/scan.pdf\n\n", encoding="utf-8"
    )
    (root / "scan.pdf").write_bytes(b"this is not a PDF")
    return root


def test_batch_of_real_reports_and_bad_files(corpus: Path, tmp_path: Path, seed_paths: list[Path]) -> None:
    out = tmp_path / "out"
    result = batch(corpus, corpus / "notes.xyz", f"@{tmp_path / 'more.lst'}", "-o", out, "--backend", "rules")
    assert result.exit_code == 1, result.output

    data = manifest(out)
    by_input = {r["input"]: r for r in data["inputs"]}
    ok = [r for r in data["inputs"] if r["status"] == "ok"]
    assert len(ok) == len(seed_paths) + 1  # the nested copy too
    errors = {Path(r["input"]).name: r["error"] for r in data["inputs"] if r["status"] == "failed"}
    assert set(errors) == {"empty.txt", "binary.txt", "notes.xyz", "missing_dir", "scan.pdf"}
    assert "empty" in errors["empty.txt"]
    assert "binary" in errors["binary.txt"]
    assert "unsupported file type '.xyz'" in errors["notes.xyz"]
    assert "no such file" in errors["missing_dir"]
    assert "not a valid .pdf" in errors["scan.pdf"]
    assert all(str(corpus) in e or "missing_dir" in e for e in errors.values())  # messages name the file
    assert not any(".hidden" in k for k in by_input)

    names = [r["name"] for r in ok]
    assert len(set(names)) == len(names)  # two inputs share a stem: still two names
    for r in ok:
        assert r["sha256"] and r["backend"] == "rules" and r["schema_hash"] and r["fingerprint"]
        assert r["outputs"] == {"json": f"{r['name']}.json", "md": f"{r['name']}.md"}
        brief = Brief.model_validate_json((out / f"{r['name']}.json").read_text(encoding="utf-8"))
        assert brief.source.sha256 == r["sha256"]
        assert (out / f"{r['name']}.md").read_text(encoding="utf-8").startswith("# ")
    lines = (out / "briefs.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(ok)
    assert {Brief.model_validate_json(x).source.sha256 for x in lines} == {r["sha256"] for r in ok}
    assert data["totals"]["ok"] == len(ok) and data["totals"]["failed"] == 5
    assert data["settings"]["backend"] == "rules" and data["settings"]["digest"]
    assert not list(out.glob(".*.tmp"))  # no temp file left behind
    assert "failed" in result.stderr and "empty" in result.stderr


def test_rerun_skips_what_is_done_and_force_redoes_all(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch(corpus, "-o", out, "-b", "rules").exit_code == 1
    first = records(out)
    journal_lines = len((out / JOURNAL).read_text(encoding="utf-8").splitlines())

    again = batch(corpus, "-o", out, "-b", "rules")
    assert again.exit_code == 1  # the bad files still fail
    second = records(out)
    for name, r in first.items():
        if r["status"] == "ok":
            assert second[name]["run"] == r["run"], f"{name} was redone"
        else:
            assert second[name]["run"] != r["run"], f"{name} failed and should be tried again"
    assert manifest(out)["last_run"]["cached"] == sum(r["status"] == "ok" for r in first.values())
    assert journal_lines <= len(first)  # compacted: one line per input

    # A changed file is redone, and only it.
    seed = next(p for p in corpus.glob("*.txt") if first.get(str(p), {}).get("status") == "ok")
    seed.write_bytes(seed.read_bytes() + "\n附：本文件已更新。\n".encode())
    batch(corpus, "-o", out, "-b", "rules")
    third = records(out)
    redone = {n for n, r in third.items() if r["status"] == "ok" and r["run"] != second[n]["run"]}
    assert redone == {str(seed)}

    forced = batch(corpus, "-o", out, "-b", "rules", "--force")
    assert forced.exit_code == 1
    fourth = records(out)
    assert all(fourth[n]["run"] != third[n]["run"] for n in fourth)

    # Other settings (here: the text included in each brief) make every report due again.
    batch(corpus, "-o", out, "-b", "rules", "--with-text")
    fifth = records(out)
    assert all(fifth[n]["run"] != fourth[n]["run"] for n in fifth)


def test_deleted_output_is_redone(tmp_path: Path, seed_paths: list[Path]) -> None:
    out = tmp_path / "out"
    assert batch(seed_paths[0], "-o", out, "-b", "rules").exit_code == 0
    name = next(iter(records(out).values()))["name"]
    (out / f"{name}.json").unlink()
    assert batch(seed_paths[0], "-o", out, "-b", "rules").exit_code == 0
    assert (out / f"{name}.json").is_file()
    assert manifest(out)["last_run"]["ok"] == 1


def test_names_unique_stable_and_never_the_batchs_own(tmp_path: Path, seed_paths: list[Path]) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        shutil.copy(seed_paths[0], tmp_path / folder / "report.txt")
    shutil.copy(seed_paths[1], tmp_path / "manifest.txt")
    out = tmp_path / "out"
    assert batch(tmp_path / "a", tmp_path / "manifest.txt", "-o", out, "-b", "rules").exit_code == 0
    before = {r["input"]: r["name"] for r in manifest(out)["inputs"]}
    assert before[str(tmp_path / "a" / "report.txt")] == "report"
    assert before[str(tmp_path / "manifest.txt")] != "manifest"
    assert batch(tmp_path / "b", tmp_path / "a", "-o", out, "-b", "rules").exit_code == 0
    after = {r["input"]: r["name"] for r in manifest(out)["inputs"]}
    assert after[str(tmp_path / "a" / "report.txt")] == "report"  # kept its name
    assert after[str(tmp_path / "b" / "report.txt")].startswith("report-")
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["format"] == 1


def test_names_helper() -> None:
    names = Names({"/x/a.txt": "a"})
    assert names.name_for("/x/a.txt", "a") == "a"
    assert names.name_for("/y/A.txt", "A") != "A"  # case-insensitive file systems
    assert names.name_for("/z/briefs.txt", "briefs") != "briefs"
    assert safe_stem('a/b:c*?"<>|') == "a_b_c_"
    assert len(safe_stem("报" * 200).encode()) <= 180
    assert safe_stem("...") == "report"


def test_usage_errors_exit_2(tmp_path: Path, seed_paths: list[Path]) -> None:
    result = batch(tmp_path / "nope", "-o", tmp_path / "out")
    assert result.exit_code == 2 and "no such file or directory" in result.stderr
    (tmp_path / "empty_dir").mkdir()
    result = batch(tmp_path / "empty_dir", "-o", tmp_path / "out")
    assert result.exit_code == 2 and "no report files found" in result.stderr
    (tmp_path / "file").write_text("x")
    result = batch(seed_paths[0], "-o", tmp_path / "file")
    assert result.exit_code == 2 and "not a folder" in result.stderr
    result = batch(f"@{tmp_path / 'missing.lst'}", "-o", tmp_path / "out")
    assert result.exit_code == 2 and "list file not found" in result.stderr
    result = batch(seed_paths[0], "-o", tmp_path / "out", "-b", "rules", "--via", "openai-batch")
    assert result.exit_code == 2


def test_quiet_prints_nothing(tmp_path: Path, corpus: Path) -> None:
    result = batch(corpus, "-o", tmp_path / "out", "-b", "rules", "--quiet")
    assert result.exit_code == 1
    assert result.stdout == "" and result.stderr == ""


def test_collect_inputs(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    for name in ("a.txt", "b.PDF", "c.md", "sub/d.html", "e.json", ".f.txt"):
        (docs / name).write_text("x")
    (docs / "out").mkdir()
    (docs / "out" / "brief.md").write_text("x")  # the batch's own output folder
    (tmp_path / "list.lst").write_text("docs/a.txt\n# comment\n\ndocs/sub\n")
    found = collect_inputs(["docs", "@list.lst", "docs/a.txt"], exclude=[docs / "out"], cwd=tmp_path)
    rel = [str(i.path.relative_to(tmp_path)) for i in found]
    assert rel == ["docs/a.txt", "docs/b.PDF", "docs/c.md", "docs/sub/d.html"]
    only_txt = collect_inputs(["docs"], globs=["*.txt"], cwd=tmp_path)
    assert [i.path.name for i in only_txt] == ["a.txt"]
    listed = collect_inputs(["list.lst"], cwd=tmp_path)  # a .lst file named without @
    assert [i.path.name for i in listed] == ["a.txt", "d.html"]
    with pytest.raises(InputsError):
        collect_inputs(["nope"], cwd=tmp_path)


def test_journal_survives_a_torn_line(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(Record(input="/a", name="a", status="ok", sha256="1"))
    with open(tmp_path / JOURNAL, "ab") as f:
        f.write(b'{"input": "/b", "name": "b", "sta')  # killed mid-write
    journal.close()
    journal = Journal(tmp_path)
    journal.append(Record(input="/c", name="c", status="ok", sha256="3"))
    journal.close()
    assert set(Journal(tmp_path).load()) == {"/a", "/c"}


# --- the runner with test backends --------------------------------------------------------------


class ScriptedBackend:
    """Rules extraction, with scripted misbehaviour for some reports (matched by file name)."""

    name = "rules"

    def __init__(self, *, bug: str = "", flaky: str = "", auth: str = "") -> None:
        self.inner = RulesBackend()
        self.bug, self.flaky, self.auth = bug, flaky, auth
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def extract(self, doc: Document) -> Extraction:
        name = Path(doc.path).name
        with self._lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            n = self.calls[name]
        if name == self.bug:
            raise ZeroDivisionError("a stage broke")
        if name == self.flaky and n == 1:
            raise LLMTransportError("HTTP 429: rate limited (gave up after 5 attempts, 9.0s)")
        if name == self.auth:
            raise AuthFailed("HTTP 401: invalid key (check GOVBRIEF_LLM_API_KEY)", status=401)
        return self.inner.extract(doc)


def _run(backend: Any, paths: list[Path], out: Path, **kw: Any) -> Any:
    inputs = collect_inputs([str(p) for p in paths])
    return BatchRunner(backend, inputs, BatchOptions(outdir=out, concurrency=2, **kw)).run()


def test_a_bug_is_recorded_and_the_run_goes_on(tmp_path: Path, seed_paths: list[Path]) -> None:
    backend = ScriptedBackend(bug=seed_paths[1].name)
    result = _run(backend, seed_paths, tmp_path / "out")
    failed = [r for r in result.records if r.status == "failed"]
    assert [Path(r.input).name for r in failed] == [seed_paths[1].name]
    assert failed[0].error.startswith("internal error: ZeroDivisionError")
    assert "Traceback" in failed[0].traceback
    assert sum(r.status == "ok" for r in result.records) == len(seed_paths) - 1


def test_rate_limited_report_is_tried_again_not_failed(tmp_path: Path, seed_paths: list[Path]) -> None:
    backend = ScriptedBackend(flaky=seed_paths[2].name)
    result = _run(backend, seed_paths, tmp_path / "out")
    assert all(r.status == "ok" for r in result.records)
    flaky = next(r for r in result.records if Path(r.input).name == seed_paths[2].name)
    assert flaky.attempts == 2 and backend.calls[seed_paths[2].name] == 2


def test_bad_credentials_stop_the_batch(tmp_path: Path, seed_paths: list[Path]) -> None:
    backend = ScriptedBackend(auth=seed_paths[0].name)
    inputs = collect_inputs([str(p) for p in seed_paths])
    result = BatchRunner(backend, inputs, BatchOptions(outdir=tmp_path / "out", concurrency=1)).run()
    assert result.stopped and "401" in result.stopped
    assert len(result.records) == 1  # nothing after it was started: those stay to do
    assert sum(backend.calls.values()) == 1


class FailingChunksBackend:
    """Rules extraction that reports failed chunks as data only (no warning text to read), the first
    time it sees each report: with `failed_chunks`, or by raising when `all_failed`."""

    name = "rules"

    def __init__(self, *, transient: bool, all_failed: bool = False) -> None:
        self.inner = RulesBackend()
        self.transient = transient
        self.all_failed = all_failed
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def extract(self, doc: Document) -> Extraction:
        with self._lock:
            n = self.calls[doc.path] = self.calls.get(doc.path, 0) + 1
        extraction = self.inner.extract(doc)
        if n == 1:
            why = {"c1": "HTTP 503: down (gave up after 5 attempts)" if self.transient else "bad answers"}
            if self.all_failed:
                raise ExtractionFailed("no usable answer at all", failed_chunks=why, transient=self.transient)
            extraction.failed_chunks = why
            extraction.transient_failure = self.transient
        return extraction


@pytest.mark.parametrize("all_failed", [False, True])
def test_transient_chunk_failures_put_the_report_back(
    tmp_path: Path, seed_paths: list[Path], all_failed: bool
) -> None:
    backend = FailingChunksBackend(transient=True, all_failed=all_failed)
    result = _run(backend, seed_paths[:2], tmp_path / "out")
    assert all(r.status == "ok" and r.attempts == 2 and not r.failed_chunks for r in result.records)
    assert set(backend.calls.values()) == {2}


def test_chunks_without_answers_make_a_partial_report_at_once(tmp_path: Path, seed_paths: list[Path]) -> None:
    backend = FailingChunksBackend(transient=False)
    result = _run(backend, seed_paths[:2], tmp_path / "out")
    assert all(r.status == "partial" and r.attempts == 1 for r in result.records)
    assert all(
        r.failed_chunks == ["c1"] and r.error == "1 chunk(s) got no usable answer: bad answers"
        for r in result.records
    )
    assert set(backend.calls.values()) == {1}

    failing = FailingChunksBackend(transient=False, all_failed=True)
    result = _run(failing, seed_paths[:1], tmp_path / "out2")
    assert [(r.status, r.attempts, r.error_type) for r in result.records] == [
        ("failed", 1, "ExtractionFailed")
    ]


def test_outputs_are_written_atomically(
    tmp_path: Path, seed_paths: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between writing a brief's bytes and renaming them leaves no partial file and no record."""
    real_replace = os.replace
    calls = {"n": 0}

    def crashing_replace(src: Any, dst: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crashing_replace)
    out = tmp_path / "out"
    result = _run(RulesBackend(), seed_paths[:1], out)
    monkeypatch.setattr(os, "replace", real_replace)
    assert result.stopped and "No space left" in result.stopped
    assert not list(out.glob(".*.tmp"))
    assert not Journal(out).load()  # the report was not recorded: the next run redoes it


def test_progress_displays(tmp_path: Path, seed_paths: list[Path]) -> None:
    import io

    from service.batch.progress import Counters, LineProgress, RichProgress, make_progress

    (tmp_path / "bad[s12].txt").write_bytes(b"")
    paths = [*seed_paths[:2], tmp_path / "bad[s12].txt"]
    for cls in (LineProgress, RichProgress):
        stream = io.StringIO()
        counters = Counters()
        progress = cls(counters, file=stream)
        inputs = collect_inputs([str(p) for p in paths])
        out = tmp_path / cls.__name__
        BatchRunner(
            RulesBackend(), inputs, BatchOptions(outdir=out), progress=progress, counters=counters
        ).run()
        text = stream.getvalue()
        assert "bad[s12]" in text and "empty file" in text, text  # rich markup escaped
        assert counters.ok == 2 and counters.failed == 1 and counters.done == 3
    assert make_progress(Counters(), quiet=False, file=io.StringIO()).__class__ is LineProgress


class SlowBackend(ScriptedBackend):
    """Rules, but one report's extraction takes 1,000 s on the batch's (fake) clock."""

    def __init__(self, slow: str, clock: list[float]) -> None:
        super().__init__()
        self.slow, self.clock = slow, clock

    def extract(self, doc: Document) -> Extraction:
        if Path(doc.path).name == self.slow:
            self.clock[0] += 1000
        return super().extract(doc)


def test_a_report_over_the_run_time_limit_fails_and_the_batch_goes_on(
    tmp_path: Path, seed_paths: list[Path]
) -> None:
    clock = [0.0]
    backend = SlowBackend(seed_paths[0].name, clock)
    inputs = collect_inputs([str(p) for p in seed_paths[:3]])
    options = BatchOptions(
        outdir=tmp_path / "out", concurrency=1, time_limit=300, clock=lambda: clock[0], report_retries=0
    )
    result = BatchRunner(backend, inputs, options).run()
    by_name = {Path(r.input).name: r for r in result.records}
    slow = by_name.pop(seed_paths[0].name)
    assert slow.status == "failed"
    assert "stopped after the run-time limit of 300 s (GOVBRIEF_RUN_TIME_LIMIT)" in slow.error
    assert str(seed_paths[0]) in slow.error
    assert [r.status for r in by_name.values()] == ["ok", "ok"]
