"""Build the other input formats from a report's text, at test time.

Nothing here is checked in as a binary fixture: every variant is made from the seeds or the sample
so that the tests can say exactly which sentences must survive the round trip.
"""

from __future__ import annotations

import html
import io
import os
import re
import struct
import zipfile
import zlib

import docx
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

#: Page chrome the HTML builder wraps around the report; none of it may survive extraction.
CHROME = (
    "青禾县人民政府门户网站欢迎您",
    "走进青禾",
    "无障碍浏览",
    "网站地图",
    "相关文件推荐",
    "版权所有：青禾县人民政府办公室",
    "京ICP备00000000号",
    "trackPageView",
    "window.siteConfig",
)

_L1 = re.compile(r"^[一二三四五六七八九十]+、")
_L2 = re.compile(r"^[（(][一二三四五六七八九十]+[）)]")

# reportlab ships this Adobe CID font's metrics; viewers (and pypdf) need no font file for it.
_PDF_FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(_PDF_FONT))


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def to_gbk(text: str) -> bytes:
    return text.encode("gbk")


def to_gb18030(text: str) -> bytes:
    return text.encode("gb18030")


def to_utf8_bom(text: str) -> bytes:
    return text.encode("utf-8-sig")


def to_utf16(text: str) -> bytes:
    return text.encode("utf-16")  # little-endian with a BOM


def to_html(text: str, *, charset: str = "utf-8", title: str | None = None) -> bytes:
    """A government-portal page: header, nav menu, breadcrumb, sidebar, footer, scripts, and the
    report in `<div class="content"><article>`, one `<p>` (or heading) per line, after an `<h1>`
    with `title` when one is given."""
    body = [f"<h1>{html.escape(title)}</h1>"] if title else []
    for line in paragraphs(text):
        tag = "h2" if _L1.match(line) else "h3" if _L2.match(line) else "p"
        body.append(f"<{tag}>{html.escape(line)}</{tag}>")
    page = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta http-equiv="Content-Type" content="text/html; charset={charset}">
<title>{html.escape(title or "年度报告")}_青禾县人民政府</title>
<style>.nav li {{ float: left; }}</style>
<script>window.siteConfig = {{ name: "青禾县人民政府门户网站欢迎您" }};</script>
</head>
<body>
<header><div class="logo">青禾县人民政府门户网站欢迎您</div>
<div class="tools"><a href="/wza">无障碍浏览</a> | <a href="/map">网站地图</a></div></header>
<nav class="nav"><ul><li><a href="/">首页</a></li><li><a href="/zwgk">政务公开</a></li>
<li><a href="/zwfw">政务服务</a></li><li><a href="/hdjl">互动交流</a></li><li><a href="/zjqh">走进青禾</a></li></ul></nav>
<div class="breadcrumb">当前位置：<a href="/">首页</a> &gt; <a href="/zwgk">政务公开</a> &gt; 年度报告</div>
<div class="main">
<div class="content"><article>
{chr(10).join(body)}
</article></div>
<aside class="sidebar"><h4>相关文件推荐</h4><ul><li><a href="/a">关于印发2023年政务公开工作要点的通知</a></li>
<li><a href="/b">关于开展2023年度依法行政考核的通知</a></li></ul></aside>
</div>
<footer><p>版权所有：青禾县人民政府办公室</p><p>京ICP备00000000号</p></footer>
<script>var _paq = []; _paq.push(["trackPageView"]);</script>
</body>
</html>
"""
    return page.encode(charset)


def to_docx(text: str, *, table: list[list[str]] | None = None) -> bytes:
    """One paragraph per line (`一、` lines as headings), then an optional table."""
    document = docx.Document()
    for line in paragraphs(text):
        if _L1.match(line):
            document.add_heading(line, level=1)
        else:
            document.add_paragraph(line)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def docx_bomb(unpacked: int, *, padding: int = 0, chunk: int = 1 << 20, declare: int | None = None) -> bytes:
    """A valid .docx whose word/document.xml unpacks to about `unpacked` bytes of text in one run.

    Built by hand so that making a 1 GiB bomb costs a CRC pass, not a deflate pass: one chunk of
    text is deflated once, after a full flush (so it refers to nothing before it), and its bytes
    are repeated. `padding` adds a stored part of random bytes (an "image") to fatten the file.
    """
    base = zipfile.ZipFile(io.BytesIO(to_docx("一、主要成效")))
    parts = {n: base.read(n) for n in base.namelist() if n != "word/document.xml"}
    xml = base.read("word/document.xml").decode()
    body_at = xml.index("<w:body>") + len("<w:body>")
    head = (xml[:body_at] + "<w:p><w:r><w:t>").encode()
    tail = ("</w:t></w:r></w:p>" + xml[xml.index("<w:sectPr") :]).encode()
    piece = ("法治政府建设" * (chunk // 18)).encode()  # whole characters: chunk rounded down to 18 bytes
    chunk = len(piece)
    repeats = max(unpacked // chunk, 1)
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = z.compress(head) + z.flush(zlib.Z_FULL_FLUSH)
    block = z.compress(piece) + z.flush(zlib.Z_FULL_FLUSH)
    last = z.compress(tail) + z.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head)
    for _ in range(repeats):
        crc = zlib.crc32(piece, crc)
    crc = zlib.crc32(tail, crc)
    size = len(head) + chunk * repeats + len(tail)
    bomb = (first + block * repeats + last, crc, size if declare is None else declare, 8)

    entries = [(n.encode(), _deflated(d)) for n, d in parts.items()]
    entries.insert(2, (b"word/document.xml", bomb))
    if padding:
        junk = os.urandom(padding)
        entries.append((b"word/media/image1.png", (junk, zlib.crc32(junk), len(junk), 0)))
    out, directory = io.BytesIO(), io.BytesIO()
    for name, (data, crc32, size, method) in entries:
        offset = out.tell()
        out.write(
            struct.pack(
                "<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc32, len(data), size, len(name), 0
            )
        )
        out.write(name + data)
        directory.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\x01\x02",
                20,
                20,
                0,
                method,
                0,
                0x21,
                crc32,
                len(data),
                size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    at = out.tell()
    out.write(directory.getvalue())
    out.write(
        struct.pack(
            "<4s4H2LH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(directory.getvalue()), at, 0
        )
    )
    return out.getvalue()


def _deflated(data: bytes) -> tuple[bytes, int, int, int]:
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush(), zlib.crc32(data), len(data), 8


def to_pdf(text: str, *, width: int = 36, page_numbers: bool = False) -> bytes:
    """A PDF with a real Chinese text layer. Lines are wrapped every `width` characters, so
    sentences break mid-word across lines (and pages) the way real PDF exports do."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=True)  # invariant: same bytes every run
    page_w, page_h = A4
    size, leading, margin = 11, 16, 56
    lines = [chunk for para in paragraphs(text) for chunk in _wrap(para, width)]
    per_page = int((page_h - 2 * margin) // leading)
    for number, start in enumerate(range(0, len(lines), per_page), start=1):
        pdf.setFont(_PDF_FONT, size)
        y = page_h - margin
        for line in lines[start : start + per_page]:
            pdf.drawString(margin, y, line)
            y -= leading
        if page_numbers:
            pdf.drawCentredString(page_w / 2, margin / 2, f"— {number} —")
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def to_blank_pdf() -> bytes:
    """A page with only a drawing on it: what a scan looks like to a text extractor."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=True)
    pdf.rect(100, 100, 300, 500, fill=1)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def _wrap(line: str, width: int) -> list[str]:
    line = line.replace("\t", " ")
    return [line[i : i + width] for i in range(0, len(line), width)]
