"""Does `/healthz` stay fast while a huge brief is served? (issue 12: under 50 ms while a 40 MB brief's
Markdown is being served.)

    python bench/bench_event_loop.py                 # a ~40 MB Markdown brief, 3 GETs of each kind
    python bench/bench_event_loop.py --mb 10 --gets 5

A brief whose Markdown is about `--mb` MB is written straight into a data dir's store (made up
from the sample report's sentences: the pipeline is not what is measured), `govbrief serve` is
started on it, and one client GETs `/v1/briefs/{id}.md` (and then the JSON with its text, and the
page) over and over while another process asks `/healthz` every 20 ms. Prints the healthz latencies seen
while each kind of GET was in flight, and with nothing in flight.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
from servers import start_serve  # noqa: E402  (tests/servers.py: how the tests start the server too)

from service import render  # noqa: E402
from service.ingest import sample_path  # noqa: E402
from service.jobs import stored_row  # noqa: E402
from service.models import Brief, Item, Provenance, ReportMeta, Source, Span, schema_hash  # noqa: E402
from service.storage.base import brief_facts  # noqa: E402
from service.storage.sqlite import SQLiteStore  # noqa: E402


def big_brief(mb: float) -> Brief:
    """A brief with as many items as it takes for its Markdown to reach `mb` MB, and a report text
    as long as the items' quotes need."""
    lines = [ln for ln in sample_path().read_text("utf-8").splitlines() if len(ln) > 30]
    text_parts: list[str] = []
    offset = 0
    items: list[Item] = []
    item = 0
    markdown_bytes = 0
    while markdown_bytes < mb * 1_000_000:
        line = lines[item % len(lines)]
        start = offset
        text_parts.append(line + "\n")
        offset += len(line) + 1
        span = Span(quote=line, start=start, end=start + len(line), sentence_ids=[f"s{item + 1}"])
        items.append(Item(title=line[:20], summary=line, evidence=[span]))
        # title + summary + quote, UTF-8, and the list's punctuation
        markdown_bytes += len((line[:20] + line + line).encode())
        item += 1
    text = "".join(text_parts)
    third = len(items) // 3
    return Brief(
        source=Source(path="big.txt", sha256="0" * 64, chars=len(text), text=text),
        report=ReportMeta(title="某县2023年度法治政府建设情况的报告", year=2023),
        overview="合成的大简报，用于测量。",
        achievements=items[:third],
        problems=items[third : 2 * third],
        plans=items[2 * third :],
        provenance=Provenance(backend="rules", schema_hash=schema_hash()),
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


#: The prober runs in a process of its own: in this one, the GIL held while a big response is read
#: would show up as server latency.
PROBER = """
import sys, threading, time, httpx
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
seen = []
with httpx.Client(timeout=30) as c:
    c.get(sys.argv[1] + "/healthz").raise_for_status()
    print("ready", flush=True)
    while not stop.is_set():
        t = time.perf_counter()
        c.get(sys.argv[1] + "/healthz").raise_for_status()
        seen.append((time.perf_counter() - t) * 1000)
        time.sleep(0.02)
print(" ".join(f"{x:.2f}" for x in seen))
"""


class Prober:
    def __init__(self, base: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PROBER, base], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "ready": probing from now on

    def stop(self) -> list[float]:
        out, _ = self.proc.communicate("", timeout=60)
        return [float(x) for x in out.split()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mb", type=float, default=40.0, help="size of the brief's Markdown, MB")
    parser.add_argument("--gets", type=int, default=3, help="GETs of each kind")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        brief = big_brief(args.mb)
        full = brief.model_dump_json().encode()
        md_mb = len(render.to_markdown(brief).encode()) / 1e6
        store = SQLiteStore(data / "briefs.sqlite3")
        store.put_brief(
            stored_row(
                "big",
                sha256="0" * 64,
                backend="rules",
                served=full,
                full=full,
                owner=None,
                facts=brief_facts(brief.report),
            )
        )
        store.close()
        print(
            f"brief: {md_mb:.1f} MB of Markdown, {len(full) / 1e6:.1f} MB of JSON with its text "
            f"({time.perf_counter() - t0:.1f} s to build)"
        )
        proc, base = start_serve(data, timeout=60)
        try:
            prober = Prober(base)
            time.sleep(2.0)
            idle = prober.stop()
            print(f"{'while':<22} {'GET s':>7} {'healthz n':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
            print(
                f"{'nothing in flight':<22} {'':>7} {len(idle):>10} {pct(idle, 0.5):>8.1f} {pct(idle, 0.99):>8.1f} {max(idle):>8.1f}"
            )
            worst = 0.0
            for label, path in (
                ("GET /v1/briefs/{id}.md", "/v1/briefs/big.md"),
                ("GET /v1/briefs/{id}", "/v1/briefs/big"),
                ("GET /briefs/{id}", "/briefs/big"),
            ):
                gets: list[float] = []
                with httpx.Client(timeout=300) as c:
                    prober = Prober(base)
                    for _ in range(args.gets):
                        started = time.perf_counter()
                        c.get(f"{base}{path}").raise_for_status()
                        gets.append(time.perf_counter() - started)
                seen = prober.stop()
                worst = max(worst, max(seen))
                print(
                    f"{label:<22} {statistics.median(gets):>7.2f} {len(seen):>10} {pct(seen, 0.5):>8.1f} "
                    f"{pct(seen, 0.99):>8.1f} {max(seen):>8.1f}"
                )
            print(f"aim: /healthz under 50 ms while the brief is served; worst seen {worst:.1f} ms")
        finally:
            proc.terminate()
            proc.wait(timeout=60)


if __name__ == "__main__":
    main()
