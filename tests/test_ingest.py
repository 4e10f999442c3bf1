"""Ingest: every format variant of the real seeds and the sample decodes to the report's text, and
every bad input fails with the right `InputError` naming the file."""

from __future__ import annotations

import hashlib
import html
import io
import logging
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import formats
import pytest
import trafilatura
from reportlab.lib import pdfencrypt
from reportlab.pdfgen import canvas

from service import ingest
from service.errors import (
    BinaryDataError,
    DecodeError,
    EmptyReportError,
    FileMissingError,
    InputError,
    UnsupportedFormatError,
)
from service.ingest import read_bytes, read_path

SAMPLE_TITLE = "青禾县人民政府关于2023年度法治政府建设情况的报告"

#: Sentences of the sample that every format must carry through (compared without whitespace).
SAMPLE_KNOWN = [
    "青政发〔2024〕5号",
    "县级政务服务事项网上可办率98.6%",
    "共清理规范性文件46件",
    "全年办理行政复议案件132件",
    "全年累计开展执法培训2800人次",
    "帮助企业挽回经济损失560万元",
    "对督察反馈存在问题立行立改",
    "二、党政主要负责人履行推进法治建设第一责任人职责情况",
    "三、存在问题及2024年工作打算",
    "2024年，我县将重点做好以下工作：",
    "（五）加强矛盾纠纷预防化解。",
]

# name → (builder, file name to read it as, expected format)
VARIANTS: dict[str, tuple[Callable[[str], bytes], str, str]] = {
    "gb18030": (formats.to_gb18030, "report.txt", "txt"),
    "utf8-bom": (formats.to_utf8_bom, "report.md", "md"),
    "utf16": (formats.to_utf16, "report.txt", "txt"),
    "html": (formats.to_html, "report.html", "html"),
    "html-gb18030": (lambda t: formats.to_html(t, charset="gb18030"), "report.htm", "html"),
    "pdf": (formats.to_pdf, "report.pdf", "pdf"),
    "docx": (formats.to_docx, "report.docx", "docx"),
}


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_paragraphs_in_order(source: str, got: str) -> None:
    """Every paragraph of real prose (10+ characters) is in `got`, in the source's order."""
    flat, pos = squash(got), 0
    for para in formats.paragraphs(source):
        if len(squash(para)) < 10:
            continue
        found = flat.find(squash(para), pos)
        assert found >= 0, f"missing or out of order: {para[:40]}"
        pos = found + len(squash(para))


@pytest.fixture(scope="module")
def sample_text(sample_report_path: Path) -> str:
    return sample_report_path.read_text(encoding="utf-8")


# --- the sample -----------------------------------------------------------------------------------


def test_sample_is_packaged_and_in_genre(sample_report_path: Path, sample_text: str) -> None:
    assert sample_report_path.name == "qinghe_2023.txt" and sample_report_path.is_file()
    assert (sample_report_path.parent / "README.md").is_file()
    cjk = sum("\u4e00" <= ch <= "\u9fff" for ch in sample_text)
    assert 4500 <= cjk <= 7500
    raw = read_path(sample_report_path)
    assert (raw.format, raw.encoding) == ("txt", "utf-8")
    assert raw.text == sample_text
    for known in [SAMPLE_TITLE, "字体大小：大 中 小", "— 3 —", "扫一扫在手机打开当前页面", *SAMPLE_KNOWN]:
        assert known in raw.text


@pytest.mark.parametrize("variant", VARIANTS)
def test_sample_variants_keep_the_report(variant: str, sample_text: str) -> None:
    build, filename, fmt = VARIANTS[variant]
    data = build(sample_text)
    raw = read_bytes(data, filename)
    assert raw.format == fmt
    assert raw.sha256 == hashlib.sha256(data).hexdigest()
    assert raw.path == filename
    assert "\r" not in raw.text
    for known in SAMPLE_KNOWN:
        assert squash(known) in squash(raw.text), known
    assert_paragraphs_in_order(sample_text, raw.text)


# --- the real seeds -------------------------------------------------------------------------------


def test_seed_txt_reads_unchanged(seed_path: Path) -> None:
    data = seed_path.read_bytes()
    raw = read_path(seed_path)
    assert (raw.format, raw.encoding, raw.path) == ("txt", "utf-8", str(seed_path))
    assert raw.text == data.decode("utf-8")  # no normalization at this stage
    assert raw.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("variant", VARIANTS)
def test_seed_variants_keep_the_report(variant: str, seed_path: Path) -> None:
    text = seed_path.read_text(encoding="utf-8")
    build, filename, fmt = VARIANTS[variant]
    raw = read_bytes(build(text), filename)
    assert raw.format == fmt
    # The three longest paragraphs are the report's own prose, never page chrome.
    for para in sorted(formats.paragraphs(text), key=len)[-3:]:
        assert squash(para) in squash(raw.text)
    assert_paragraphs_in_order(text, raw.text)


def test_seeds_fixture_lists_all_seeds(seed_paths: list[Path], seeds_dir: Path) -> None:
    assert seed_paths == sorted(seeds_dir.glob("*.txt"))
    assert all(p.suffix == ".txt" for p in seed_paths)


# --- text encodings ---------------------------------------------------------------------------------


def test_gbk_is_detected_and_reported_as_gb18030(tmp_path: Path, sample_text: str) -> None:
    path = tmp_path / "qinghe.txt"
    path.write_bytes(formats.to_gbk(sample_text))
    raw = read_path(path)
    assert (raw.encoding, raw.text) == ("gb18030", sample_text)


@pytest.mark.parametrize(
    "text", ["报告", "青禾县", "法治政府建设年度报告", "2023年，我县办理行政复议案件132件。"]
)
def test_short_gbk_is_not_mistaken_for_big5(text: str) -> None:
    raw = read_bytes(text.encode("gbk"), "short.txt")
    assert (raw.encoding, raw.text) == ("gb18030", text)


def test_gb18030_only_characters() -> None:
    text = "青禾县𠀀村（扩展B区汉字）和䶮字的报告"  # outside GBK: needs four-byte GB18030
    raw = read_bytes(text.encode("gb18030"), "report.txt")
    assert (raw.encoding, raw.text) == ("gb18030", text)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        ("法治政府报告".encode("utf-8-sig"), "utf-8-sig"),
        ("法治政府报告".encode("utf-16"), "utf-16"),
        ("法治政府报告".encode("utf-32"), "utf-32"),
        (b"plain ascii report", "utf-8"),
    ],
)
def test_boms_and_plain_utf8(data: bytes, encoding: str) -> None:
    raw = read_bytes(data, "r.txt")
    assert raw.encoding == encoding
    assert not raw.text.startswith("\ufeff")
    assert raw.text in {"法治政府报告", "plain ascii report"}


def test_only_line_endings_are_changed() -> None:
    data = "第一行\r\n第二行\r第三行\n  全面 落实  \t\n\n".encode()
    assert read_bytes(data, "r.txt").text == "第一行\n第二行\n第三行\n  全面 落实  \t\n\n"


# --- HTML ---------------------------------------------------------------------------------------------


def test_html_drops_chrome_and_keeps_one_paragraph_per_line(sample_text: str) -> None:
    raw = read_bytes(formats.to_html(sample_text), "report.html")
    for chrome in formats.CHROME:
        assert chrome not in raw.text, chrome
    lines = raw.text.split("\n")
    for heading in [
        "一、2023年法治政府建设主要成效",
        "（六）依法有效化解社会矛盾纠纷",
        "(四)坚持严格规范公正文明执法",
    ]:
        assert heading in lines
    # HTML collapses runs of spaces, so compare each source paragraph that way.
    wanted = [re.sub(r"\s+", " ", p) for p in formats.paragraphs(sample_text)]
    prose = [p for p in wanted if len(p) >= 10]
    assert all(p in lines for p in prose)
    assert [lines.index(p) for p in prose] == sorted(lines.index(p) for p in prose)


def test_html_honors_meta_charset_gbk(sample_text: str) -> None:
    data = formats.to_html(sample_text, charset="gbk", title=SAMPLE_TITLE)
    assert b'charset=gbk"' in data
    raw = read_bytes(data, "report.htm")
    assert raw.encoding == "gb18030"
    assert raw.text.split("\n")[0] == SAMPLE_TITLE  # the <h1>
    assert "对督察反馈存在问题立行立改" in raw.text


def test_html_declaring_gb2312_but_served_as_utf8() -> None:
    page = formats.to_html("青禾县人民政府关于2023年度法治政府建设情况的报告\n全年办理行政复议案件132件。")
    page = page.replace(b"charset=utf-8", b"charset=gb2312")
    raw = read_bytes(page, "lying.html")
    assert raw.encoding == "utf-8"
    assert "全年办理行政复议案件132件。" in raw.text


def test_html_fallback_when_trafilatura_finds_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trafilatura, "extract", lambda *a, **k: None)
    page = (
        "<html><head><script>var trackPageView = 1;</script></head><body>"
        "<nav><a>网站地图</a></nav><div>一、主要成效<br>清理规范性文件46件。</div>"
        "<p>办理行政复议案件132件。</p><footer>版权所有：青禾县人民政府办公室</footer></body></html>"
    )
    raw = read_bytes(page.encode(), "tiny.html")
    assert raw.text.split("\n") == ["一、主要成效", "清理规范性文件46件。", "办理行政复议案件132件。"]


_LAYOUT_TOP = (
    '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
    '<table width="100%"><tr><td><a href="/">首页</a> | <a>政务公开</a> | <a>政务服务</a> | <a>互动交流</a></td></tr>'
    "<tr><td><table><tr><td width=200><ul><li><a>通知公告</a></li><li><a>政策解读</a></li></ul></td><td>"
)
_LAYOUT_BOTTOM = (
    "</td></tr></table></td></tr>"
    "<tr><td>主办：青禾县人民政府办公室 版权所有 京ICP备00000000号</td></tr></table></body></html>"
)


@pytest.mark.parametrize("cell", ["p", "br", "div"])
def test_html_table_layout_keeps_one_paragraph_per_line(sample_text: str, cell: str) -> None:
    """An old portal page laid out with nested tables: the report sits in a cell, as `<p>`s, as
    `<br>`-separated lines or as `<div>`s. Trafilatura's table output would squash the cell into
    one `| … |` line (which normalize then drops as a menu: "no report text found")."""
    paras = [html.escape(p) for p in formats.paragraphs(sample_text)]
    body = "<br>\n".join(paras) if cell == "br" else "\n".join(f"<{cell}>{p}</{cell}>" for p in paras)
    raw = read_bytes((_LAYOUT_TOP + body + _LAYOUT_BOTTOM).encode("gb18030"), "page.html")
    assert raw.encoding == "gb18030"
    lines = [re.sub(r"\s+", " ", line) for line in raw.text.split("\n")]
    assert not any(line.startswith("|") for line in lines)
    # Every paragraph and heading of the report is a line of its own, in order.
    wanted = [re.sub(r"\s+", " ", p) for p in formats.paragraphs(sample_text)]
    prose = [
        p for p in wanted if len(p) >= 10 and ("。" in p or re.match(r"[一二三四五六七八九十]+、|[（(]", p))
    ]
    assert len(prose) > 30
    assert all(p in lines for p in prose)
    assert [lines.index(p) for p in prose] == sorted(lines.index(p) for p in prose)
    for heading in ["一、2023年法治政府建设主要成效", "（六）依法有效化解社会矛盾纠纷"]:
        assert heading in lines


def test_html_data_table_inside_a_report_is_kept() -> None:
    """A table of figures (short cells) is data, not layout: its cells stay in the text."""
    page = formats.to_html("一、主要成效\n全年办理行政复议案件132件。\n清理规范性文件46件。").replace(
        b"</article>",
        "<table><tr><td>指标</td><td>数值</td></tr><tr><td>办理行政复议案件</td><td>132件</td></tr></table>"
        "</article>".encode(),
    )
    raw = read_bytes(page, "report.html")
    assert "全年办理行政复议案件132件。" in raw.text.split("\n")
    assert "办理行政复议案件" in raw.text and "132件" in raw.text.replace("全年办理行政复议案件132件。", "")


def test_html_falls_back_when_trafilatura_keeps_too_little(monkeypatch: pytest.MonkeyPatch) -> None:
    """Trafilatura picking a sidebar (a fraction of the page's Chinese text) loses to the fallback."""
    monkeypatch.setattr(trafilatura, "extract", lambda *a, **k: "通知公告\n政策解读")
    page = (
        "<html><body><div><a>通知公告</a> <a>政策解读</a></div><div>一、主要成效<br>清理规范性文件46件。</div>"
        "<p>全年办理行政复议案件132件，其中审结125件，直接纠错17件。</p></body></html>"
    )
    raw = read_bytes(page.encode(), "odd.html")
    assert "一、主要成效" in raw.text.split("\n")
    assert "全年办理行政复议案件132件，其中审结125件，直接纠错17件。" in raw.text.split("\n")


def test_html_with_only_chrome_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(trafilatura, "extract", lambda *a, **k: None)
    with pytest.raises(EmptyReportError, match=r"^nav\.html: "):
        read_bytes("<html><body><nav>首页</nav><script>x()</script></body></html>".encode(), "nav.html")


# --- PDF and DOCX -------------------------------------------------------------------------------------


def test_pdf_keeps_its_line_breaks(sample_text: str) -> None:
    raw = read_bytes(formats.to_pdf(sample_text, width=30, page_numbers=True), "report.pdf")
    assert raw.encoding is None
    assert "— 2 —" in raw.text.split("\n")  # the page footer is its own line
    opening = next(p for p in formats.paragraphs(sample_text) if p.startswith("2023年，在市委"))
    assert opening[:30] in raw.text and opening[:60] not in raw.text  # broken mid-sentence
    assert opening[:60] in raw.text.replace("\n", "")


def test_pdf_without_text_layer() -> None:
    with pytest.raises(DecodeError, match=r"^scan\.pdf: no text layer \(scanned PDF\?\)"):
        read_bytes(formats.to_blank_pdf(), "scan.pdf")


def test_encrypted_pdf() -> None:
    out = io.BytesIO()
    pdf = canvas.Canvas(out, encrypt=pdfencrypt.StandardEncryption("secret"))
    pdf.drawString(100, 700, "report")
    pdf.save()
    with pytest.raises(DecodeError, match=r"^locked\.pdf: encrypted PDF"):
        read_bytes(out.getvalue(), "locked.pdf")


def _cut_pdf() -> bytes:
    """A PDF whose middle was lost (an interrupted download): pypdf warns about it as it fails."""
    pdf = formats.to_pdf("一、主要成效\n清理规范性文件46件。")
    return pdf[:1500] + b"%%EOF"


def test_a_corrupt_pdf_is_one_error_and_nothing_else(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(DecodeError, match=r"^cut\.pdf: corrupt PDF \(") as caught:
        read_bytes(_cut_pdf(), "cut.pdf")
    assert "\n" not in str(caught.value)
    assert [r.getMessage() for r in caplog.records if r.name.startswith("pypdf")] == []
    assert capfd.readouterr() == ("", "")
    # The logger is left as it was for everything else.
    assert logging.getLogger("pypdf").level == logging.NOTSET


def test_a_corrupt_pdf_prints_nothing_to_stderr(tmp_path: Path) -> None:
    """Outside pytest's log capture pypdf's warnings reach stderr through logging's last resort."""
    path = tmp_path / "cut.pdf"
    path.write_bytes(_cut_pdf())
    code = (
        "import sys\nfrom service.ingest import read_path\n"
        "try:\n    read_path(sys.argv[1])\nexcept Exception as e:\n    print(e)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert done.stderr == ""
    assert done.stdout.startswith(f"{path}: corrupt PDF (") and len(done.stdout.splitlines()) == 1


def test_docx_paragraphs_then_table_cells_once_each() -> None:
    table = [["指标", "数值"], ["办理行政复议案件", "132件"]]
    data = formats.to_docx("一、主要成效\n清理规范性文件46件。\n\n（一）依法行政", table=table)
    raw = read_bytes(data, "report.docx")
    assert raw.text.split("\n") == [
        "一、主要成效",
        "清理规范性文件46件。",
        "（一）依法行政",
        "指标",
        "数值",
        "办理行政复议案件",
        "132件",
    ]


def test_docx_merged_cell_is_read_once() -> None:
    import docx

    document = docx.Document()
    grid = document.add_table(rows=1, cols=3)
    merged = grid.cell(0, 0).merge(grid.cell(0, 1))
    merged.text = "合并单元格"
    grid.cell(0, 2).text = "末格"
    out = io.BytesIO()
    document.save(out)
    assert read_bytes(out.getvalue(), "t.docx").text.split("\n") == ["合并单元格", "末格"]


# --- sniffing: the content decides ------------------------------------------------------------------


@pytest.mark.parametrize("filename", ["", "upload", "report.txt", "report.md", "青禾县.2023年报告"])
@pytest.mark.parametrize("kind", ["pdf", "docx", "html", "txt"])
def test_content_wins_over_a_lying_or_missing_suffix(kind: str, filename: str) -> None:
    text = "青禾县人民政府关于2023年度法治政府建设情况的报告\n全年办理行政复议案件132件。"
    data = {
        "pdf": formats.to_pdf,
        "docx": formats.to_docx,
        "html": formats.to_html,
        "txt": lambda t: t.encode("gbk"),
    }[kind](text)
    expected = kind if kind != "txt" else "md" if filename.endswith(".md") else "txt"
    raw = read_bytes(data, filename)
    assert raw.format == expected
    assert "全年办理行政复议案件132件。" in squash(raw.text)
    assert raw.path == (filename or "<upload>")


def test_read_path_sniffs_a_misnamed_file(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(formats.to_docx("清理规范性文件46件。"))
    assert read_path(path).format == "docx"


def test_utf8_bom_html_is_sniffed() -> None:
    data = b"\xef\xbb\xbf" + formats.to_html("全年办理行政复议案件132件。\n挽回经济损失560万元。")
    raw = read_bytes(data, "")
    assert raw.format == "html" and "挽回经济损失560万元。" in raw.text


# --- bad input ----------------------------------------------------------------------------------------


def _corrupt_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
    return out.getvalue()


BAD_BYTES: list[tuple[str, bytes, type[InputError], str]] = [
    ("empty.txt", b"", EmptyReportError, "empty file"),
    ("blank.txt", b" \n\r\n\t ", EmptyReportError, "no text"),
    ("bom-only.txt", b"\xef\xbb\xbf", EmptyReportError, "no text"),
    ("nul.txt", "报告\x00\x00正文".encode(), BinaryDataError, "NUL"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", BinaryDataError, "binary"),
    ("junk.txt", bytes(range(128, 256)) * 8, BinaryDataError, "undecodable"),
    ("ctrl.md", bytes(range(1, 9)) * 4 + "报告".encode(), BinaryDataError, "control characters"),
    ("bad-bom.txt", b"\xff\xfe\x00\xd8", BinaryDataError, "byte-order mark"),
    ("sheet.xlsx", b"a,b\n1,2\n", UnsupportedFormatError, ".docx, .htm, .html, .md, .pdf, .txt"),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, UnsupportedFormatError, ".doc"),
    ("archive.zip", _corrupt_zip(), UnsupportedFormatError, "zip"),
    ("fake.pdf", "其实是文本".encode(), DecodeError, "not a valid .pdf"),
    ("cut.pdf", formats.to_pdf("报告正文")[:400], DecodeError, "corrupt PDF"),
    ("fake.docx", b"not a zip at all", DecodeError, "not a valid .docx"),
    ("sheet.docx", _corrupt_zip(), DecodeError, "word/document.xml"),
    ("cut.docx", formats.to_docx("报告正文")[:-200], DecodeError, "docx"),
]


@pytest.mark.parametrize(("filename", "data", "error", "problem"), BAD_BYTES, ids=[b[0] for b in BAD_BYTES])
def test_bad_input_raises_the_right_error(
    tmp_path: Path, filename: str, data: bytes, error: type[InputError], problem: str
) -> None:
    path = tmp_path / filename
    path.write_bytes(data)
    for call, name in [(lambda: read_path(path), str(path)), (lambda: read_bytes(data, filename), filename)]:
        with pytest.raises(error) as caught:
            call()
        message = str(caught.value)
        assert type(caught.value) is error
        assert message.startswith(f"{name}: ") and "\n" not in message
        assert problem in message
        assert caught.value.path == name


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileMissingError, match=r"nope\.txt: no such file$"):
        read_path(tmp_path / "nope.txt")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory") as caught:
        read_path(tmp_path)
    assert type(caught.value) is InputError and str(tmp_path) in str(caught.value)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="not a regular file"):
        read_path(fifo)


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.txt"
    path.write_text("报告", encoding="utf-8")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    # chmod 000 does not stop root (CI containers), so simulate what open() would raise.
    monkeypatch.setattr(Path, "read_bytes", deny)
    with pytest.raises(InputError, match=r"locked\.txt: permission denied$"):
        read_path(path)


def test_empty_upload_with_no_name() -> None:
    with pytest.raises(EmptyReportError, match=r"^<upload>: empty file"):
        read_bytes(b"", "")


def test_supported_suffixes() -> None:
    assert {".txt", ".md", ".html", ".htm", ".pdf", ".docx"} == ingest.SUPPORTED_SUFFIXES
    upper = read_bytes("报告".encode(), "REPORT.TXT")
    assert upper.format == "txt"
