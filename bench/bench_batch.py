"""Batch throughput: N reports through the `openai` backend against the fake server with a fixed latency.

    python bench/bench_batch.py [--reports 200] [--latency 0.5] [--concurrency 16]

The corpus is the five seed reports (evals/reports/seeds) copied under different names. The fake server
runs in its own process (so its threads don't compete with the batch for the GIL) and answers every
request after exactly `--latency` seconds.

- cold: every report is briefed; the answer cache is off, or the copies would answer each other.
  The ideal for the concurrency is every request slot busy all the time:
      ideal time = requests × latency / concurrency
  and the figure that matters is actual reports/minute against ideal reports/minute (aim ≥ 85%).
- warm: the same batch again into the same folder: every report is already done, so the run only
  hashes the inputs and checks the manifest (aim: ≥ 50× faster than cold).

Both runs are timed in-process around the runner (interpreter start-up, ~1 s, is not the batch's).
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SEEDS = REPO / "evals" / "reports" / "seeds"
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))


def _serve(latency: float, urls: Any, stop: Any) -> None:
    from fake_openai import FakeOpenAI

    with FakeOpenAI(latency=latency) as fake:
        urls.put(fake.base_url)
        stop.wait()
        urls.put(len(fake.chat_requests()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reports", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per request at the fake server")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from service.backends.registry import build_backend
    from service.batch import AdaptiveLimiter, BatchOptions, BatchRunner, collect_inputs
    from service.settings import Settings

    seeds = sorted(SEEDS.glob("*.txt"))
    if not seeds:
        sys.exit(f"no seed reports in {SEEDS}")

    ctx = mp.get_context("spawn")
    urls = ctx.Queue()
    stop = ctx.Event()
    server = ctx.Process(target=_serve, args=(args.latency, urls, stop), daemon=True)
    server.start()
    base_url = urls.get(timeout=60)

    with tempfile.TemporaryDirectory(prefix="govbrief-bench-") as tmp:
        root = Path(tmp)
        src = root / "in"
        src.mkdir()
        for n in range(args.reports):
            seed = seeds[n % len(seeds)]
            shutil.copy(seed, src / f"{seed.stem}_copy{n:04d}.txt")
        out = root / "out"
        settings = Settings(
            llm_base_url=base_url,
            llm_model="fake-model",
            llm_api_key="sk-bench",
            llm_concurrency=args.concurrency,
            cache_dir=root / "cache",
        )

        def run() -> tuple[float, Any]:
            limiter = AdaptiveLimiter(args.concurrency)
            backend = build_backend("openai", settings, use_cache=False, limiter=limiter)
            inputs = collect_inputs([str(src)])
            options = BatchOptions(outdir=out, concurrency=args.concurrency)
            started = time.perf_counter()
            result = BatchRunner(backend, inputs, options, limiter=limiter).run()
            return time.perf_counter() - started, result

        cold_s, cold = run()
        warm_s, warm = run()
        stop.set()
        requests = urls.get(timeout=30)
        server.join(timeout=10)

    ok = sum(r.status == "ok" for r in cold.records)
    calls = sum(r.llm_calls for r in cold.records)
    ideal_s = requests * args.latency / args.concurrency
    actual_rpm = args.reports / cold_s * 60
    ideal_rpm = args.reports / ideal_s * 60
    print(
        f"batch bench: {args.reports} reports (5 seeds repeated), latency {args.latency:g}s, concurrency {args.concurrency}"
    )
    print(
        f"  requests          {requests} at the server ({calls} in the manifest, {requests / args.reports:.2f}/report)"
    )
    print(f"  cold              {cold_s:7.2f} s  {actual_rpm:7.1f} reports/min  ({ok}/{args.reports} ok)")
    print(
        f"  ideal             {ideal_s:7.2f} s  {ideal_rpm:7.1f} reports/min  (requests × latency / concurrency)"
    )
    print(f"  cold vs ideal     {actual_rpm / ideal_rpm:7.1%}  (aim ≥ 85%)")
    print(
        f"  warm rerun        {warm_s:7.3f} s  ({warm.counters.cached} already done, {warm.counters.worked} redone)"
    )
    print(f"  warm speed-up     {cold_s / warm_s:7.0f}×  (aim ≥ 50×)")


if __name__ == "__main__":
    main()
