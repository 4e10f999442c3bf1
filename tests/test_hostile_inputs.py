"""Inputs built to cost: decompression bombs, page floods, runaway text — each refused before the
expensive step, with one line naming the file and the limit, in bounded memory. And inputs a reader
would still read: a GB18030 file with a few bad bytes, HTML nested past libxml2's default depth."""

from __future__ import annotations

import re
import subprocess
import sys
import tracemalloc
from pathlib import Path

import formats
import pytest
from fastapi.testclient import TestClient

from service.api import create_app
from service.backends.rules import RulesBackend
from service.errors import BinaryDataError, DecodeError, TooLargeError
from service.ingest import Limits, read_bytes, read_path, sample_path
from service.pipeline import summarize_raw
from service.settings import Settings

SAMPLE = sample_path().read_text("utf-8")
GIB = 1 << 30
MB = 1_000_000


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """The audit's bomb: ~3 MB on disk, word/document.xml unpacking to 1 GiB."""
    data = formats.docx_bomb(GIB, padding=MB // 2)
    assert 2.5 * MB < len(data) < 4 * MB
    return data


def test_bomb_is_refused_from_the_zip_directory_in_bounded_memory(bomb: bytes) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TooLargeError) as err:
            read_bytes(bomb, "bomb.docx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert re.fullmatch(
        r"bomb\.docx: \.docx unpacks to 102\d\.\d MiB, over the limit of 64\.0 MiB \(GOVBRIEF_MAX_DOCX_UNCOMPRESSED_BYTES\)",
        str(err.value),
    )
    assert err.value.status_code == 413
    assert peak < 3 * len(bomb)  # the upload itself, a copy or two: nothing unpacked


def test_the_bomb_is_a_real_docx_that_unpacks_as_it_says() -> None:
    """The generator is honest: a small one reads back as text (limits raised to let it through)."""
    small = formats.docx_bomb(4 << 20, chunk=1 << 20)
    raw = read_bytes(small, "small.docx", Limits(max_docx_ratio=1e9))
    assert raw.text == "法治政府建设" * (4 * ((1 << 20) // 18))


def test_a_well_compressed_docx_under_the_size_limit_is_refused_for_its_ratio() -> None:
    data = formats.docx_bomb(32 << 20)
    with pytest.raises(
        TooLargeError, match=r"^r\.docx: \.docx unpacks to \d+× its size, over the limit of 100× "
    ):
        read_bytes(data, "r.docx")


def test_a_bomb_that_understates_its_size_unpacks_no_further_than_it_says() -> None:
    """zipfile stops a part at the size the directory declares (and fails its CRC check), so a
    directory that lies cannot smuggle the gigabyte past the size check."""
    liar = formats.docx_bomb(GIB, declare=100_000)
    tracemalloc.start()
    try:
        with pytest.raises(DecodeError, match=r"^liar\.docx: corrupt \.docx \(BadZipFile: "):
            read_bytes(liar, "liar.docx")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * MB


def test_a_zip_of_too_many_entries_is_refused_before_it_is_listed(tmp_path: Path) -> None:
    import zipfile

    path = tmp_path / "many.docx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("word/document.xml", "<x/>")
        for i in range(10_001):
            z.writestr(f"p{i}", "")
    with pytest.raises(
        TooLargeError, match=r"many\.docx: zip archive of 10,002\+ entries, over the limit of 10,000$"
    ):
        read_path(path)


def test_cli_refuses_the_bomb_with_exit_2_and_one_line_in_bounded_memory(tmp_path: Path, bomb: bytes) -> None:
    path = tmp_path / "bomb.docx"
    path.write_bytes(bomb)
    good = tmp_path / "good.txt"
    good.write_text(SAMPLE, "utf-8")
    # Peak RSS of this process alone: VmHWM (ru_maxrss would count the pytest process it forked from).
    code = (
        "import re, sys\nfrom service.cli import main\ntry:\n    main()\nfinally:\n"
        "    status = open('/proc/self/status').read()\n"
        "    print(re.search(r'VmHWM:\\s*(\\d+) kB', status).group(1), file=sys.stderr)\n"
    )
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-c", code, "summarize", str(path), str(good), "-b", "rules", "-o", str(out) + "/"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert re.fullmatch(
        rf"govbrief: error: {re.escape(str(path))}: \.docx unpacks to 102\d\.\d MiB, over the limit of 64\.0 MiB "
        r"\(GOVBRIEF_MAX_DOCX_UNCOMPRESSED_BYTES\)",
        lines[0],
    )
    assert (out / "good.json").exists()  # the other report is still briefed
    max_rss_kib = int(lines[-1])
    assert max_rss_kib * 1024 < 300 * MB


def test_api_answers_the_bomb_with_413_in_bounded_memory(tmp_path: Path, bomb: bytes) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        cache_dir=tmp_path / "cache",
        backend="rules",
        api_keys=None,
        llm_model=None,
    )
    with TestClient(create_app(settings)) as client:
        tracemalloc.start()
        try:
            r = client.post("/v1/briefs", files={"file": ("bomb.docx", bomb)})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert r.status_code == 413, r.text
        assert "over the limit of 64.0 MiB (GOVBRIEF_MAX_DOCX_UNCOMPRESSED_BYTES)" in r.text
        assert peak < 300 * MB
        assert client.get("/healthz").status_code == 200


def test_limits_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVBRIEF_MAX_TEXT_CHARS", "1000")
    monkeypatch.setenv("GOVBRIEF_MAX_PDF_PAGES", "7")
    limits = Limits.from_settings(Settings())
    assert (limits.max_text_chars, limits.max_pdf_pages) == (1000, 7)


def test_text_over_the_character_limit_is_refused() -> None:
    data = SAMPLE.encode()
    with pytest.raises(TooLargeError) as err:
        read_bytes(data, "long.txt", Limits(max_text_chars=1000))
    assert str(err.value) == (
        f"long.txt: {len(SAMPLE):,} characters of text, over the limit of 1,000 (GOVBRIEF_MAX_TEXT_CHARS)"
    )
    assert read_bytes(data, "long.txt", Limits(max_text_chars=len(SAMPLE))).text == SAMPLE


def test_pdf_over_the_page_limit_is_refused_before_its_text_is_extracted() -> None:
    pdf = formats.to_pdf(SAMPLE)  # several pages
    pages = len(__import__("pypdf").PdfReader(__import__("io").BytesIO(pdf)).pages)
    assert pages > 2
    with pytest.raises(TooLargeError) as err:
        read_bytes(pdf, "many.pdf", Limits(max_pdf_pages=2))
    assert (
        str(err.value)
        == f"many.pdf: PDF of {pages:,} pages, over the limit of 2 pages (GOVBRIEF_MAX_PDF_PAGES)"
    )
    assert read_bytes(pdf, "many.pdf", Limits(max_pdf_pages=pages)).format == "pdf"


# --- decoded the way a reader would --------------------------------------------------------------


def _gb_with_bad_bytes(text: str, every: int) -> tuple[bytes, int]:
    """GB18030 bytes with 0xFF (never valid in GB18030) put between characters every `every` chars."""
    out, bad = bytearray(), 0
    for i, ch in enumerate(text):
        if i and i % every == 0:
            out += b"\xff"
            bad += 1
        out += ch.encode("gb18030")
    return bytes(out), bad


def test_gb18030_with_a_few_bad_bytes_is_read_with_replacements_and_a_warning() -> None:
    data, bad = _gb_with_bad_bytes(SAMPLE, 2000)
    assert 1 <= bad < 10
    raw = read_bytes(data, "report.txt")
    assert raw.encoding == "gb18030"
    assert raw.text.count("\ufffd") == bad
    assert raw.text.replace("\ufffd", "") == SAMPLE
    assert raw.warnings == (f"{bad} undecodable byte(s) in the GB18030 text were replaced with \ufffd",)
    brief = summarize_raw(raw, RulesBackend())
    assert brief.warnings[0] == raw.warnings[0]
    assert brief.problems  # the report is briefed as usual


def test_a_mostly_undecodable_file_is_still_refused() -> None:
    data, bad = _gb_with_bad_bytes(SAMPLE, 3)
    assert bad > 0.01 * len(data)
    with pytest.raises(BinaryDataError, match=r"^junk\.txt: "):
        read_bytes(data, "junk.txt")


def test_html_nested_past_libxml2s_default_depth_keeps_its_text() -> None:
    body = "<p>" + "</p><p>".join(line for line in SAMPLE.splitlines() if line.strip()) + "</p>"
    page = (
        f"<html><head><meta charset='utf-8'></head><body>{'<div>' * 400}{body}{'</div>' * 400}</body></html>"
    )
    raw = read_bytes(page.encode(), "deep.html")
    assert "清理规范性文件" in raw.text
    assert len(raw.text) > 0.8 * len(SAMPLE.replace("\n", ""))
