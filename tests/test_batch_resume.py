"""Interrupted batches resume without redoing finished reports.

The CLI runs as a real subprocess (`tests/batch_child.py`: the real `govbrief batch` with the rules
backend slowed down and counting its work per input) over 200 inputs (the seeds copied 40× under
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

import pytest

from service.batch.manifest import JOURNAL, Journal

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
        [sys.executable, str(REPO / "tests" / "batch_child.py"), "batch", str(src), "-o", str(out),
         "-j", str(CONCURRENCY), *extra],
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


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_sigterm_exit_is_prompt(tmp_path: Path, seed_paths: list[Path], sig: signal.Signals) -> None:
    """`kill` does not wait for in-flight work (the journal makes that safe)."""
    src = tmp_path / "in"
    src.mkdir()
    for n in range(8):
        for p in seed_paths:
            shutil.copy(p, src / f"{p.stem}_{n}.txt")
    out = tmp_path / "out"
    env_delay = "2.0"  # every report takes 2 s: a graceful stop would take that long
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tests" / "batch_child.py"), "batch", str(src), "-o", str(out), "-j", "4", "-q"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "GOVBRIEF_TEST_DELAY": env_delay,
             "GOVBRIEF_TEST_WORKLOG": str(tmp_path / "work.log")},
    )
    deadline = time.monotonic() + 30
    while not (out / "manifest.jsonl").exists() and time.monotonic() < deadline:
        time.sleep(0.02)  # the journal is opened when the run starts
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 130
    assert time.monotonic() - started < 1.5
