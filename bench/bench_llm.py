"""Benchmark the openai backend against the fake server (tests/fake_openai.py) with a fixed latency.

    python bench/bench_llm.py                      # the five seeds x4, 100 ms per call, concurrency 8
    python bench/bench_llm.py --sweep              # also compare pack budgets

Prints calls per report, prompt and completion tokens per 1,000 source characters, prompt tokens
against the source's own tokens, cold wall time against the ideal for the configured concurrency,
and the warm (cached) rerun. Aims: prompt tokens <= 1.3x the source's tokens, wall within 15% of
ideal, warm rerun >= 20x faster than cold. Nothing is asserted: timings belong here, not in tests.

Reports run concurrently, as in a batch, with one backend (one client, one cache, one semaphore
of `--concurrency` in-flight requests). Each repetition of a seed uses its own model name so the
cold run never hits the cache through a duplicate; the warm run repeats the cold run exactly.
The fake runs in a child process (a real endpoint is another machine) and bills what a hosted API would: the messages plus any schema sent in response_format.
"""

from __future__ import annotations

import argparse
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service import pipeline, tokens  # noqa: E402
from service.backends.openai_backend import OpenAIBackend  # noqa: E402
from service.document import Document  # noqa: E402
from service.ingest import read_path, sample_path  # noqa: E402
from service.models import Brief  # noqa: E402
from service.settings import Settings  # noqa: E402

SEEDS = ROOT / "evals" / "reports" / "seeds"


@dataclass
class Report:
    name: str
    doc: Document
    source_chars: int
    source_tokens: int
    model: str


def load_reports(repeat: int, chunk_max_tokens: int) -> list[Report]:
    paths = sorted(SEEDS.glob("*.txt")) or [sample_path()]
    reports = []
    for rep in range(repeat):
        for path in paths:
            raw = read_path(path)
            reports.append(
                Report(
                    name=f"{path.stem[:3]}#{rep}",
                    doc=pipeline.analyze(raw, chunk_max_tokens=chunk_max_tokens),
                    source_chars=len(raw.text),
                    source_tokens=tokens.count(raw.text),
                    model=f"bench-model-{rep}",
                )
            )
    return reports


def run_all(
    reports: list[Report], backends: dict[str, OpenAIBackend], *, warmup: bool = False
) -> tuple[float, list[Brief]]:
    # Every report at once, as batch does: the shared semaphore, not the report pool, bounds the
    # requests in flight, so a report waiting on its overview doesn't leave a slot idle.
    started = time.perf_counter()
    if warmup:  # connections, imports and lazy tables, with a model name the runs don't use
        for r in reports:
            backend = backends[r.model]
            backend.model = "warmup"
            pipeline.summarize_document(r.doc, backend)
            backend.model = r.model
        return 0.0, []
    with ThreadPoolExecutor(max_workers=len(reports)) as pool:
        briefs = list(pool.map(lambda r: pipeline.summarize_document(r.doc, backends[r.model]), reports))
    return time.perf_counter() - started, briefs


def ideal_seconds(reports: list[Report], briefs: list[Brief], latency: float, concurrency: int) -> float:
    """The best any scheduler could do: every slot busy, and no report faster than its own critical
    path (its requests in waves of `concurrency`, then the overview)."""
    total_calls = sum(b.provenance.llm_calls for b in briefs)
    throughput_bound = math.ceil(total_calls / concurrency) * latency
    critical = max(
        (math.ceil((b.provenance.llm_calls - 1) / concurrency) + 1) * latency
        for b in briefs
        if b.provenance.llm_calls
    )
    return max(throughput_bound, critical)


@contextmanager
def fake_server(latency: float) -> Iterator[str]:
    """The fake in a child process, so its JSON and token counting don't share this process's GIL
    (a real endpoint is another machine)."""
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fake_openai.py"), "--latency", str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        yield child.stdout.readline().strip()
    finally:
        assert child.stdin is not None
        child.stdin.close()  # the server exits when its stdin closes
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def bench(args: argparse.Namespace, pack_tokens: int, *, verbose: bool) -> dict[str, float]:
    reports = load_reports(args.repeat, args.chunk_max_tokens)
    with fake_server(args.latency) as base_url, tempfile.TemporaryDirectory() as cache_dir:
        limiter = threading.BoundedSemaphore(args.concurrency)
        backends = {}
        for model in sorted({r.model for r in reports}):
            settings = Settings(
                llm_base_url=base_url,
                llm_api_key="bench",
                llm_model=model,
                llm_concurrency=args.concurrency,
                llm_structured_output="json_schema",
                cache_dir=Path(cache_dir),
            )
            backends[model] = OpenAIBackend(settings, limiter=limiter, pack_tokens=pack_tokens)

        run_all(reports[:1], {r.model: backends[r.model] for r in reports[:1]}, warmup=True)
        cold, briefs = run_all(reports, backends)
        # Best of three: the rerun takes milliseconds, so one stray scheduler hiccup would dominate it.
        warm_runs = [run_all(reports, backends) for _ in range(3)]
        warm, warm_briefs = min(warm_runs, key=lambda run: run[0])
        warm_calls = sum(b.provenance.llm_calls for _, bs in warm_runs for b in bs)

    chars = sum(r.source_chars for r in reports)
    source_tokens = sum(r.source_tokens for r in reports)
    calls = [b.provenance.llm_calls for b in briefs]
    prompt = sum(b.provenance.prompt_tokens for b in briefs)
    completion = sum(b.provenance.completion_tokens for b in briefs)
    ideal = ideal_seconds(reports, briefs, args.latency, args.concurrency)
    figures = {
        "pack_tokens": pack_tokens,
        "reports": len(reports),
        "calls": sum(calls),
        "calls_per_report": statistics.mean(calls),
        "prompt_per_1k_chars": prompt / chars * 1000,
        "completion_per_1k_chars": completion / chars * 1000,
        "prompt_vs_source": prompt / source_tokens,
        "cold_s": cold,
        "ideal_s": ideal,
        "cold_vs_ideal": cold / ideal,
        "warm_s": warm,
        "speedup": cold / warm,
        "warm_calls": warm_calls,
        "warm_cache_hits": sum(b.provenance.cache_hit for b in warm_briefs),
    }
    if verbose:
        print(
            f"reports                 {len(reports)} ({args.repeat}x {len(reports) // args.repeat} seeds), "
            f"{chars:,} source chars, {source_tokens:,} source tokens (cl100k)"
        )
        print(
            f"setup                   latency {args.latency * 1000:.0f} ms/call, concurrency {args.concurrency}, "
            f"chunk_max_tokens {args.chunk_max_tokens}, pack_tokens {pack_tokens}"
        )
        print(
            f"calls per report        {statistics.mean(calls):.1f} (min {min(calls)}, max {max(calls)}), "
            f"{sum(calls)} in all, chunks per report {statistics.mean(len(r.doc.chunks) for r in reports):.1f}"
        )
        print(
            f"prompt tokens           {figures['prompt_per_1k_chars']:.0f} per 1,000 source chars; "
            f"{figures['prompt_vs_source']:.2f}x the source's own tokens (aim <= 1.30)"
        )
        print(f"completion tokens       {figures['completion_per_1k_chars']:.0f} per 1,000 source chars")
        print(
            f"cold wall               {cold:.2f}s vs ideal {ideal:.2f}s = {figures['cold_vs_ideal']:.2f}x (aim <= 1.15)"
        )
        print(f"warm rerun (best of 3)  {warm:.3f}s, {warm_calls} calls, {figures['warm_cache_hits']}/{len(reports)} "
              f"cache_hit; {figures['speedup']:.0f}x faster than cold (aim >= 20x)")  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=4, help="times each seed is sent (default 4)")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per fake call (default 0.1)")
    parser.add_argument("--concurrency", type=int, default=8, help="GOVBRIEF_LLM_CONCURRENCY (default 8)")
    parser.add_argument(
        "--chunk-max-tokens", type=int, default=1500, help="pipeline chunk budget (default 1500)"
    )
    parser.add_argument(
        "--pack-tokens", type=int, default=None, help="request budget (default: the backend's)"
    )
    parser.add_argument(
        "--sweep", action="store_true", help="also compare pack budgets 0/2000/3000/4000/6000"
    )
    args = parser.parse_args()

    pack = args.pack_tokens if args.pack_tokens is not None else Settings().llm_pack_tokens
    bench(args, pack, verbose=True)
    if args.sweep:
        print(
            "\npack_tokens  calls/report  prompt/source  prompt/1k chars  completion/1k chars  cold/ideal  warm speedup"
        )
        for budget in (0, 2000, 3000, 4000, 6000):
            f = bench(args, budget, verbose=False)
            print(f"{budget:>11}  {f['calls_per_report']:>12.1f}  {f['prompt_vs_source']:>13.2f}  "
                  f"{f['prompt_per_1k_chars']:>15.0f}  {f['completion_per_1k_chars']:>19.0f}  "
                  f"{f['cold_vs_ideal']:>10.2f}  {f['speedup']:>11.0f}x")  # fmt: skip


if __name__ == "__main__":
    main()
