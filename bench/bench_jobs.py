"""Jobs against a stand-in LLM that answers each call after 1 s (issue 13's aims), printed, not asserted.

    python bench/bench_jobs.py                  # the bundled sample, 10 async uploads
    python bench/bench_jobs.py --uploads 20 --latency 1.0 --database-url postgresql://…

Measures: how long `POST /v1/briefs` with `Prefer: respond-async` takes to answer 202 (aim: under
100 ms), how many progress events the job's stream sends per chunk (aim: at least one), and whether
the job's brief equals the synchronous one (same items).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from fake_openai import FakeOpenAI  # noqa: E402
from servers import start_serve  # noqa: E402

from service.ingest import sample_path  # noqa: E402

CONTENT = ("report", "overview", "achievements", "problems", "plans", "leadership")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    text = sample_path().read_text("utf-8")

    def report(i: int) -> bytes:
        # Every paragraph marked, so no chunk is answered from another upload's cache.
        return "\n".join(
            f"{line}（第{i}份）" if line.strip() else line for line in text.splitlines()
        ).encode()

    with FakeOpenAI(latency=args.latency) as fake, tempfile.TemporaryDirectory() as tmp:
        env = {
            "GOVBRIEF_BACKEND": "openai",
            "GOVBRIEF_LLM_BASE_URL": fake.base_url,
            "GOVBRIEF_LLM_MODEL": "fake-model",
            "GOVBRIEF_LLM_API_KEY": "sk-bench",
            "GOVBRIEF_LLM_PACK_TOKENS": "0",
            "GOVBRIEF_CACHE_DIR": str(Path(tmp) / "cache"),
            "GOVBRIEF_WORKERS": "2",
        }
        if args.database_url:
            env["GOVBRIEF_DATABASE_URL"] = args.database_url
        proc, base = start_serve(Path(tmp) / "data", env=env, timeout=120)
        try:
            with httpx.Client(base_url=base, timeout=300) as client:
                client.get("/healthz")
                accepted_ms, jobs = [], []
                for i in range(args.uploads):
                    started = time.perf_counter()
                    r = client.post(
                        "/v1/briefs",
                        files={"file": (f"r{i}.txt", report(i), "text/plain")},
                        headers={"Prefer": "respond-async"},
                    )
                    accepted_ms.append((time.perf_counter() - started) * 1000)
                    assert r.status_code == 202, r.text
                    jobs.append(r.json()["id"])
                per_chunk = []
                for job_id in jobs:
                    events = []
                    with client.stream("GET", f"/v1/jobs/{job_id}/events") as s:
                        for line in s.iter_lines():
                            if line.startswith("data:"):
                                events.append(json.loads(line[5:]))
                    last = events[-1]
                    assert last["status"] == "succeeded", last
                    reports = sum(
                        1 for e in events if e["status"] == "running" and e["progress"]["chunks_done"]
                    )
                    per_chunk.append(reports / max(1, last["progress"]["chunks_total"]))
                brief = client.get(f"/v1/briefs/{last['brief_id']}").json()
                sync = client.post(
                    "/v1/briefs",
                    files={
                        "file": (
                            f"r{args.uploads - 1}.txt",
                            report(args.uploads - 1),
                            "text/plain",
                        )
                    },
                ).json()
                same = all(brief[k] == sync[k] for k in CONTENT)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(
        f"202 answered in: first {accepted_ms[0]:.1f} ms; then median {statistics.median(accepted_ms[1:]):.1f} ms, "
        f"max {max(accepted_ms[1:]):.1f} ms"
    )
    print(f"progress events per chunk: min {min(per_chunk):.2f}, mean {statistics.mean(per_chunk):.2f}")
    print(f"job brief equals the synchronous brief: {same}")


if __name__ == "__main__":
    main()
