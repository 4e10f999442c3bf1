"""How long past its limit does a run end, and how long does SIGTERM take? (issue 12: a report over the
run-time limit ends within the limit plus a few seconds; the server exits within the grace period.)

    python bench/bench_limits.py                  # limit 2 s, grace 2 s
    python bench/bench_limits.py --limit 5 --grace 3

`govbrief serve` runs the openai backend against the fake LLM server (tests/fake_openai.py) set to
answer after 60 s, so every run would take a minute if it were not stopped. Prints when the
over-limit POST was answered, and when the server exited after SIGTERM with a run in flight.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from fake_openai import FakeOpenAI  # noqa: E402
from servers import start_serve  # noqa: E402

from service.ingest import sample_path  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=float, default=2.0, help="GOVBRIEF_RUN_TIME_LIMIT, seconds")
    parser.add_argument("--grace", type=int, default=2, help="GOVBRIEF_SHUTDOWN_GRACE, seconds")
    args = parser.parse_args()
    text = sample_path().read_text("utf-8")

    with FakeOpenAI(latency=60.0) as fake, tempfile.TemporaryDirectory() as tmp:
        env = lambda limit: {  # noqa: E731
            "GOVBRIEF_BACKEND": "openai",
            "GOVBRIEF_LLM_BASE_URL": fake.base_url,
            "GOVBRIEF_LLM_API_KEY": "sk-bench",
            "GOVBRIEF_LLM_MODEL": "fake-model",
            "GOVBRIEF_LLM_TIMEOUT": "120",
            "GOVBRIEF_CACHE_DIR": str(Path(tmp) / "cache"),
            "GOVBRIEF_RUN_TIME_LIMIT": str(limit),
            "GOVBRIEF_SHUTDOWN_GRACE": str(args.grace),
        }
        proc, base = start_serve(Path(tmp) / "data", timeout=120, env=env(args.limit))
        started = time.perf_counter()
        r = httpx.post(f"{base}/v1/briefs", json={"text": text, "filename": "slow.txt"}, timeout=120)
        took = time.perf_counter() - started
        print(
            f"run over a {args.limit:g} s limit: answered {r.status_code} after {took:.2f} s ({r.json()['detail']})"
        )
        proc.terminate()
        proc.wait(timeout=120)

        # Now a run far from its limit (600 s) when SIGTERM comes.
        proc, base = start_serve(Path(tmp) / "data", timeout=120, env=env(600))
        answers: list[httpx.Response] = []

        in_flight = threading.Thread(
            target=lambda: answers.append(
                httpx.post(f"{base}/v1/briefs", json={"text": text, "filename": "b.txt"}, timeout=120)
            )
        )
        in_flight.start()
        while not fake.chat_requests():
            time.sleep(0.05)
        started = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        took = time.perf_counter() - started
        in_flight.join()
        print(
            f"SIGTERM with a run in flight, grace {args.grace} s: exited ({proc.returncode}) after {took:.2f} s; "
            f"the request in flight got {answers[0].status_code if answers else 'nothing'}"
        )


if __name__ == "__main__":
    main()
