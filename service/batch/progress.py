"""What a batch shows while it runs: a rich progress bar on a terminal, sparse lines in a log, or
nothing (`--quiet`). The runner reports events; these classes decide what a person sees.

The ETA counts only reports worked on in this run: reports skipped as already done finish in
microseconds and would make a resumed batch promise to end far too soon.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
)
from rich.text import Text

from service.batch.limiter import AdaptiveLimiter
from service.batch.manifest import Record


class BatchProgress(Protocol):
    def start(self, total: int, cached: int) -> None: ...

    def finished(self, record: Record) -> None: ...

    def note(self, message: str) -> None: ...

    def close(self) -> None: ...


class Counters:
    """Thread-safe tallies behind every display (and the final summary)."""

    def __init__(self) -> None:
        self.total = 0
        self.cached = 0
        self.ok = 0
        self.partial = 0
        self.failed = 0
        self.tokens = 0
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def start(self, total: int, cached: int) -> None:
        with self._lock:
            self.total, self.cached, self.started = total, cached, time.monotonic()

    def add(self, record: Record) -> None:
        with self._lock:
            if record.status == "ok":
                self.ok += 1
            elif record.status == "partial":
                self.partial += 1
            else:
                self.failed += 1
            self.tokens += record.tokens

    @property
    def worked(self) -> int:
        return self.ok + self.partial + self.failed

    @property
    def done(self) -> int:
        return self.worked + self.cached

    def eta_seconds(self) -> float | None:
        left = self.total - self.done
        if self.worked == 0 or left <= 0:
            return None if left > 0 else 0.0
        return (time.monotonic() - self.started) / self.worked * left

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def human_tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return str(n)


def human_seconds(s: float | None) -> str:
    if s is None:
        return "-:--:--"
    secs = round(s)
    return f"{secs // 3600}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def stats_line(c: Counters, limiter: AdaptiveLimiter | None = None) -> str:
    parts = [f"{c.ok} ok"]
    if c.partial:
        parts.append(f"{c.partial} partial")
    parts += [f"{c.failed} failed", f"{c.cached} cached", f"{human_tokens(c.tokens)} tokens"]
    if limiter is not None:
        st = limiter.stats()
        if st.throttled:
            parts.append(f"window {st.limit:.0f}/{st.ceiling} after {st.throttled}×429")
    return ", ".join(parts)


class _EtaColumn(ProgressColumn):
    def __init__(self, counters: Counters) -> None:
        super().__init__()
        self._counters = counters

    def render(self, task: Task) -> Text:
        return Text(f"ETA {human_seconds(self._counters.eta_seconds())}", style="progress.remaining")


class RichProgress:
    """A live bar on the terminal (stderr, so stdout stays clean for pipes)."""

    def __init__(
        self, counters: Counters, *, limiter: AdaptiveLimiter | None = None, file: TextIO | None = None
    ) -> None:
        self.counters = counters
        self.limiter = limiter
        self.console = Console(file=file or sys.stderr)
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]batch"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            _EtaColumn(counters),
            console=self.console,
            refresh_per_second=4,
        )
        self._task: Any = None

    def start(self, total: int, cached: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(
            "batch", total=total, completed=cached, stats=stats_line(self.counters)
        )

    def finished(self, record: Record) -> None:
        if record.status != "ok":
            reason = record.error or f"{len(record.failed_chunks)} chunk(s) without an answer"
            # Escaped: error messages quote report text and ids like [s12], which rich reads as markup.
            self._progress.console.print(
                f"[yellow]{record.status}[/] {escape(record.name)}: {escape(reason)}",
                markup=True,
                highlight=False,
            )
        self._progress.update(
            self._task, completed=self.counters.done, stats=stats_line(self.counters, self.limiter)
        )

    def note(self, message: str) -> None:
        self._progress.console.print(message, markup=False, highlight=False)

    def close(self) -> None:
        if self._task is not None:
            self._progress.update(
                self._task, completed=self.counters.done, stats=stats_line(self.counters, self.limiter)
            )
        self._progress.stop()


class LineProgress:
    """For logs: each problem report as it happens, and a status line every tenth of the batch."""

    def __init__(
        self, counters: Counters, *, limiter: AdaptiveLimiter | None = None, file: TextIO | None = None
    ) -> None:
        self.counters = counters
        self.limiter = limiter
        self.file = file or sys.stderr
        self._every = 1
        self._lock = threading.Lock()

    def start(self, total: int, cached: int) -> None:
        self._every = max(1, (total - cached) // 10)
        self._print(f"govbrief batch: {total} reports, {cached} already done, {total - cached} to do")

    def finished(self, record: Record) -> None:
        if record.status != "ok":
            reason = record.error or f"{len(record.failed_chunks)} chunk(s) without an answer"
            self._print(f"govbrief batch: {record.status}: {record.name}: {reason}")
        c = self.counters
        if c.worked % self._every == 0 or c.done == c.total:
            self._print(
                f"[{c.done}/{c.total}] {stats_line(c, self.limiter)}, ETA {human_seconds(c.eta_seconds())}"
            )

    def note(self, message: str) -> None:
        self._print(message)

    def close(self) -> None:
        pass

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self.file, flush=True)


class QuietProgress:
    def start(self, total: int, cached: int) -> None:
        pass

    def finished(self, record: Record) -> None:
        pass

    def note(self, message: str) -> None:
        pass

    def close(self) -> None:
        pass


def make_progress(
    counters: Counters, *, quiet: bool, limiter: AdaptiveLimiter | None = None, file: TextIO | None = None
) -> BatchProgress:
    if quiet:
        return QuietProgress()
    stream = file or sys.stderr
    if stream.isatty():
        return RichProgress(counters, limiter=limiter, file=stream)
    return LineProgress(counters, limiter=limiter, file=stream)
