"""Interrupted batches resume without redoing finished reports.

The CLI runs as a real subprocess (this file run as a script: the real `govbrief batch`, with the
rules backend slowed down and counting its work per input — see `_child_main`) over 200 inputs (the seeds copied 40× under
other names). It is stopped three ways mid-run — SIGKILL (no cleanup at all), SIGTERM (stop now),
SIGINT (Ctrl-C: finish what is in flight) — and then run to the end. The work log, written by the
backend and not by the code under test, must show that no input was worked on again once the
journal had recorded it, and every input must end done exactly once in the manifest.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from service.batch.manifest import JOURNAL, Journal
from service.document import Document, Extraction

REPO = Path(__file__).resolve().parents[1]
COPIES = 40
CONCURRENCY = 4


def _start(src: Path, out: Path, worklog: Path, *extra: str, delay: float = 0.04) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "GOVBRIEF_TEST_DELAY": str(delay),
        "GOVBRIEF_TEST_WORKLOG": str(worklog),
    }
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "batch",
            str(src),
            "-o",
            str(out),
            "-j",
            str(CONCURRENCY),
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _journaled(out: Path) -> set[str]:
    return {k for k, r in Journal(out).load().items() if r.status == "ok"}


def _wait_for_progress(out: Path, proc: subprocess.Popen[bytes], at_least: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (out / JOURNAL).exists() and len(_journaled(out)) >= at_least:
            return
        if proc.poll() is not None:
            raise AssertionError(f"batch ended before reaching {at_least}: {proc.stderr.read().decode()}")  # type: ignore[union-attr]
        time.sleep(0.01)
    raise AssertionError(f"no progress to {at_least} reports in {timeout}s")


def _work(worklog: Path, pid: int) -> list[str]:
    lines = worklog.read_text(encoding="utf-8").splitlines() if worklog.exists() else []
    return [path for p, path in (line.split("\t", 1) for line in lines) if int(p) == pid]


def test_killed_batches_resume_without_redoing_work(tmp_path: Path, seed_paths: list[Path]) -> None:
    src = tmp_path / "in"
    src.mkdir()
    for n in range(COPIES):
        for p in seed_paths:
            shutil.copy(p, src / f"{p.stem}_copy{n:02d}.txt")
    total = COPIES * len(seed_paths)
    out = tmp_path / "out"
    worklog = tmp_path / "work.log"
    done_before: set[str] = set()
    phases = [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 130), (signal.SIGINT, 130)]

    for n, (sig, expected_rc) in enumerate(phases, 1):
        proc = _start(src, out, worklog, "--quiet")
        _wait_for_progress(out, proc, at_least=len(done_before) + 20)
        proc.send_signal(sig)
        rc = proc.wait(timeout=60)
        assert rc == expected_rc, f"phase {n} ({sig!r}): rc {rc}: {proc.stderr.read().decode()}"  # type: ignore[union-attr]
        worked = _work(worklog, proc.pid)
        journaled = _journaled(out)
        assert not set(worked) & done_before, f"phase {n} redid reports an earlier run had finished"
        assert len(worked) == len(set(worked)), f"phase {n} did a report twice"
        lost = set(worked) - journaled
        assert len(lost) <= CONCURRENCY, f"phase {n} lost {len(lost)} finished reports"
        if sig == signal.SIGINT:
            assert not lost, "Ctrl-C must let in-flight reports finish and be recorded"
        if sig != signal.SIGKILL:  # a clean stop also leaves the readable manifest up to date
            manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
            assert manifest["last_run"]["interrupted"] is True
            assert {r["input"] for r in manifest["inputs"] if r["status"] == "ok"} == journaled
        assert journaled >= done_before and len(journaled) < total
        done_before = journaled

    final = _start(src, out, worklog, delay=0.0)
    _, stderr = final.communicate(timeout=120)
    assert final.returncode == 0, stderr.decode()
    last_work = _work(worklog, final.pid)
    assert not set(last_work) & done_before
    assert len(last_work) == total - len(done_before)

    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["inputs"]) == total and all(r["status"] == "ok" for r in manifest["inputs"])
    assert len((out / "briefs.jsonl").read_text(encoding="utf-8").splitlines()) == total
    assert len((out / JOURNAL).read_text(encoding="utf-8").splitlines()) == total  # compacted
    # Over all four runs, each input was worked on at most twice (twice = in flight at a kill).
    per_input = Counter(line.split("\t", 1)[1] for line in worklog.read_text(encoding="utf-8").splitlines())
    assert set(per_input) == {str(p.resolve()) for p in src.iterdir()}
    assert max(per_input.values()) <= 2
    assert sum(v == 2 for v in per_input.values()) <= 2 * CONCURRENCY
    assert not list(out.glob(".*.tmp"))


def test_sigterm_stops_at_once(tmp_path: Path, seed_paths: list[Path]) -> None:
    """`kill` does not wait for in-flight work (the journal makes that safe); Ctrl-C would."""
    src = tmp_path / "in"
    src.mkdir()
    for n in range(4):
        for p in seed_paths:
            shutil.copy(p, src / f"{p.stem}_{n}.txt")
    out = tmp_path / "out"
    # Every report takes 60 s: waiting for the four in flight would take a minute.
    proc = _start(src, out, tmp_path / "work.log", delay=60.0)
    assert proc.stderr is not None
    first_line = proc.stderr.readline().decode()  # printed once the run has started
    assert "to do" in first_line, first_line
    time.sleep(0.2)
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    assert time.monotonic() - started < 20  # far less than one report's minute
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["last_run"]["interrupted"] and manifest["last_run"]["abandoned"] == CONCURRENCY
    assert manifest["inputs"] == []


# --- the child process ----------------------------------------------------------------------------


class SlowCountingBackend:
    """The rules backend, slowed down by GOVBRIEF_TEST_DELAY seconds per report; once a report's
    extraction is done it appends `pid<TAB>path` to GOVBRIEF_TEST_WORKLOG: the tests' own count of
    the work each input got, independent of the journal under test."""

    name = "rules"

    def __init__(self, delay: float, worklog: str) -> None:
        from service.backends.rules import RulesBackend

        self.inner = RulesBackend()
        self.delay = delay
        self.worklog = worklog

    def extract(self, doc: Document) -> Extraction:
        time.sleep(self.delay)
        extraction = self.inner.extract(doc)
        fd = os.open(self.worklog, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{os.getpid()}\t{doc.path}\n".encode())
        finally:
            os.close(fd)
        return extraction


def _child_main(argv: list[str]) -> None:
    """`python tests/test_batch_resume.py batch INPUT… -o OUT …`: the real CLI, this backend."""
    import service.cli.batch as cli_batch
    from service.cli import app

    def backend(name: str | None, settings: object = None, **kw: object) -> SlowCountingBackend:
        return SlowCountingBackend(
            float(os.environ["GOVBRIEF_TEST_DELAY"]), os.environ["GOVBRIEF_TEST_WORKLOG"]
        )

    cli_batch.backend_from_options = backend  # type: ignore[assignment]
    app(argv)


if __name__ == "__main__":
    _child_main(sys.argv[1:])
