"""Benchmark the rules pipeline (normalize → outline → segment → chunk → rules → ground → merge → Brief).

    python bench/bench_rules.py                 # the five seeds, 200 reports in all, one core
    python bench/bench_rules.py -n 1000         # more reports
    python bench/bench_rules.py --profile       # and the top functions by own time (cProfile)
    python bench/bench_rules.py --stages        # and the time of each stage

Reports are decoded once (ingest is not what is measured: `--with-ingest` adds it) and then briefed
one after another in this one process, so the figure is one core's. Prints report characters per
second (normalized text is what the pipeline indexes; the raw text is what comes in), the same in
UTF-8 bytes, and milliseconds per report. Aim: at least 1 MB of report text per second.
Nothing is asserted: timings belong here, not in tests.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service import chunk, normalize, outline, segment  # noqa: E402
from service.backends.rules import RulesBackend  # noqa: E402
from service.document import RawText  # noqa: E402
from service.ingest import read_path  # noqa: E402
from service.pipeline import analyze, summarize_document, summarize_raw  # noqa: E402

SEEDS = ROOT / "evals" / "reports" / "seeds"
AIM_BYTES_PER_S = 1_000_000


def _pin_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        try:
            core = min(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {core})
            return f"pinned to core {core}"
        except OSError:
            pass
    return "not pinned (single-threaded anyway)"


def _inputs(paths: list[Path]) -> list[RawText]:
    if not paths:
        sys.exit(f"no reports: {SEEDS} has no *.txt (pass paths)")
    return [read_path(p) for p in paths]


def _run(raws: list[RawText], n: int, with_ingest: bool, paths: list[Path]) -> list[float]:
    backend = RulesBackend()
    times = []
    for i in range(n):
        k = i % len(raws)
        started = time.perf_counter()
        raw = read_path(paths[k]) if with_ingest else raws[k]
        summarize_raw(raw, backend)
        times.append(time.perf_counter() - started)
    return times


def _stages(raws: list[RawText], rounds: int) -> None:
    backend = RulesBackend()
    texts = [normalize.normalize(r.text) for r in raws]
    trees = [outline.parse(t) for t in texts]
    sentences = [segment.split(t) for t in texts]
    docs = [analyze(r) for r in raws]
    stages: list[tuple[str, Callable[[int], object]]] = [
        ("normalize", lambda k: normalize.normalize(raws[k].text)),
        ("outline+meta", lambda k: outline.parse(texts[k])),
        ("segment", lambda k: segment.split(texts[k])),
        ("chunk", lambda k: chunk.make_chunks(texts[k], trees[k], sentences[k])),
        ("rules extract", lambda k: backend.extract(docs[k])),
        ("ground+merge+Brief", lambda k: summarize_document(docs[k], backend)),
    ]
    print("\nper stage (ms per report; the last row includes extract):")
    for name, fn in stages:
        started = time.perf_counter()
        for _ in range(rounds):
            for k in range(len(raws)):
                fn(k)
        print(f"  {name:20s} {(time.perf_counter() - started) / (rounds * len(raws)) * 1000:7.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, help="reports (default: the five seeds)")
    parser.add_argument(
        "-n", "--reports", type=int, default=200, help="reports to brief in all (default 200)"
    )
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--with-ingest", action="store_true", help="also read and decode each file")
    parser.add_argument("--profile", action="store_true", help="print the top functions (cProfile)")
    parser.add_argument("--stages", action="store_true", help="print the time of each stage")
    args = parser.parse_args(argv)

    paths = args.paths or sorted(SEEDS.glob("*.txt"))
    pinned = _pin_one_core()
    raws = _inputs(paths)
    _run(raws, args.warmup, args.with_ingest, paths)  # imports, caches, the schema hash

    times = _run(raws, args.reports, args.with_ingest, paths)
    total = sum(times)
    chars = sum(len(raws[i % len(raws)].text) for i in range(args.reports))
    utf8 = sum(len(raws[i % len(raws)].text.encode("utf-8")) for i in range(args.reports))
    norm_chars = sum(len(normalize.normalize(raws[i % len(raws)].text)) for i in range(len(raws)))
    norm_chars = norm_chars * args.reports // len(raws)
    ms = [t * 1000 for t in times]

    print(
        f"rules pipeline: {args.reports} reports ({len(raws)} distinct, {chars / args.reports:,.0f} chars each on average), {pinned}"
    )
    print(f"  {chars / total:>12,.0f} chars/s            (raw text, {chars:,} chars)")
    print(f"  {norm_chars / total:>12,.0f} normalized chars/s")
    print(f"  {utf8 / total / 1e6:>12.2f} MB/s (UTF-8 bytes of the raw text)")
    print(
        f"  {statistics.mean(ms):>12.2f} ms per report (median {statistics.median(ms):.2f}, "
        f"p95 {sorted(ms)[int(len(ms) * 0.95) - 1]:.2f}, max {max(ms):.2f})"
    )
    verdict = (
        "meets"
        if chars / total >= AIM_BYTES_PER_S
        else ("meets (in bytes)" if utf8 / total >= AIM_BYTES_PER_S else "MISSES")
    )
    print(f"  aim ≥ 1 MB of report text per second: {verdict}")

    if args.stages:
        _stages(raws, max(1, args.reports // len(raws) // 4))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        _run(raws, args.reports, args.with_ingest, paths)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
