"""The brief page in a real headless Chromium (Debian's, driven by Playwright; no browser download).

`govbrief serve` runs in a subprocess on a free port. The test uploads a report through the form on
`/`, lands on the brief page, clicks items and checks that their evidence is highlighted and
scrolled into view, in the wide two-column layout and the narrow stacked one.
Screenshots go to the test's tmp dir, or to $GOVBRIEF_SCREENSHOTS when set.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SEEDS_DIR
from servers import start_serve

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    ),
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)
expect = sync_api.expect


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    try:
        proc, base = start_serve(tmp_path / "data", timeout=20)
    except RuntimeError as e:
        pytest.fail(str(e))
    yield base
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def report() -> Path:
    # A real report long enough that its last items sit far below the first screen of text.
    return SEEDS_DIR / "002_c66544ef22a02f45.txt"


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("GOVBRIEF_SCREENSHOTS") or tmp_path / "screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_upload_then_click_highlights_evidence(server: str, report: Path, shots: Path) -> None:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900}, locale="zh-CN")
            problems: list[str] = []  # console errors include CSP violations
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            page.goto(f"{server}/")
            page.set_input_files("input[type=file]", str(report))
            page.get_by_role("button", name="生成简报").click()
            page.wait_for_url(re.compile(r"/briefs/[A-Za-z0-9_-]{22}$"))
            expect(page.locator("h1")).to_contain_text("法治政府建设")
            for heading in ("主要成效", "存在问题", "下一步安排"):
                expect(page.locator("h2", has_text=heading)).to_be_visible()

            # The last plan: its evidence is near the end of the report, out of sight at first.
            item = page.locator(".sec-plans .item-btn").last
            key = item.get_attribute("data-ev")
            assert key
            marks = page.locator(f'#report-text .ev[data-k~="{key}"]')
            assert marks.count() >= 1
            expect(marks.first).not_to_be_in_viewport()

            item.click()
            expect(marks.first).to_have_class(re.compile(r"\bhl\b"))
            expect(marks.first).to_be_in_viewport()
            assert page.locator("#report-text .ev.hl").count() == marks.count()
            expect(item).to_have_attribute("aria-pressed", "true")
            expect(page.locator(f"#item-{key}")).to_have_class(re.compile(r"\bactive\b"))
            page.wait_for_timeout(400)  # let the smooth scroll settle for the picture
            page.screenshot(path=str(shots / "brief-wide.png"))

            # A number of the first achievement: only its own evidence stays highlighted.
            metric = page.locator(".sec-achievements .metric").first
            mkey = metric.get_attribute("data-ev")
            metric.click()
            mmarks = page.locator(f'#report-text .ev[data-k~="{mkey}"]')
            expect(mmarks.first).to_have_class(re.compile(r"\bhl\b"))
            expect(mmarks.first).to_be_in_viewport()
            assert page.locator("#report-text .ev.hl").count() == mmarks.count()
            expect(item).to_have_attribute("aria-pressed", "false")

            # Narrow screens stack the text under the brief: the page itself scrolls to the evidence.
            page.set_viewport_size({"width": 420, "height": 860})
            page.evaluate("window.scrollTo(0, 0)")
            first_problem = page.locator(".sec-problems .item").first
            first_problem.locator(".summary, .item-btn").first.click()
            pkey = first_problem.locator(".item-btn").get_attribute("data-ev")
            pmarks = page.locator(f'#report-text .ev[data-k~="{pkey}"]')
            expect(pmarks.first).to_have_class(re.compile(r"\bhl\b"))
            expect(pmarks.first).to_be_in_viewport()
            page.wait_for_timeout(400)
            page.screenshot(path=str(shots / "brief-narrow.png"))
            assert problems == []
        finally:
            browser.close()
    assert (shots / "brief-wide.png").stat().st_size > 10_000
