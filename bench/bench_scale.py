"""How the rules pipeline's cost grows with the size of one report: time per MB from 1 to 20 MB.

    python bench/bench_scale.py                     # 1, 2, 4, 8, 20 MB of report text
    python bench/bench_scale.py --sizes 1 2 4       # other sizes (MB of UTF-8 text)
    python bench/bench_scale.py --profile 8         # and the top functions at 8 MB (cProfile)

One report is made of the bundled sample and the eval reports (evals/reports/) repeated until it
reaches each size, then briefed end to end (ingest from bytes → … → merge) in this process.
Cost linear in size means a flat time per MB: the aim is 8 MB within 4.5× the time of 2 MB, and
20 MB (the upload limit) well inside a run's time limit. Nothing is asserted: timings belong here.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.backends.rules import RulesBackend  # noqa: E402
from service.ingest import Limits, read_bytes, sample_path  # noqa: E402
from service.pipeline import summarize_raw  # noqa: E402

REPORTS = ROOT / "evals" / "reports"
MB = 1_000_000
AIM_RATIO_8_TO_2 = 4.5


def corpus() -> str:
    texts = [sample_path().read_text("utf-8")]
    texts += [p.read_text("utf-8") for p in sorted(REPORTS.glob("**/*.txt"))]
    return "\n".join(texts)


def report_of(size_mb: float, base: str) -> bytes:
    unit = base.encode("utf-8")
    target = int(size_mb * MB)
    return (unit * (target // len(unit) + 1))[:target].decode("utf-8", "ignore").encode("utf-8")


def brief_once(data: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    raw = read_bytes(data, "big.txt", Limits(max_text_chars=10**9))
    brief = summarize_raw(raw, RulesBackend())
    items = len(brief.achievements) + len(brief.problems) + len(brief.plans) + len(brief.leadership)
    return time.perf_counter() - started, items


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 4, 8, 20])
    parser.add_argument("--profile", type=float, metavar="MB", help="profile one run of this size")
    args = parser.parse_args()

    base = corpus()
    print(f"report text built from {len(base):,} characters of reports, repeated")
    print(f"{'MB':>6} {'seconds':>9} {'s per MB':>9} {'items':>8}")
    seconds: dict[float, float] = {}
    for size in args.sizes:
        took, items = brief_once(report_of(size, base))
        seconds[size] = took
        print(f"{size:>6g} {took:>9.2f} {took / size:>9.3f} {items:>8,}")
    if 2 in seconds and 8 in seconds:
        ratio = seconds[8] / seconds[2]
        verdict = "ok" if ratio <= AIM_RATIO_8_TO_2 else "OVER THE AIM"
        print(f"8 MB / 2 MB = {ratio:.2f}× (aim ≤ {AIM_RATIO_8_TO_2}×: {verdict}; 4.0× is linear)")
    if args.profile:
        data = report_of(args.profile, base)
        profiler = cProfile.Profile()
        profiler.runcall(brief_once, data)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(20)
        print(out.getvalue())


if __name__ == "__main__":
    main()
