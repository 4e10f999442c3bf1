"""Ingest: a report file (txt, md, html, pdf, docx) → `RawText`.

Only decoding happens here. Line structure is kept as the source has it (PDF line breaks, nav lines,
page numbers and all) because `normalize` needs it to undo those; the one change made is turning
`\\r\\n`/`\\r` into `\\n`. Every failure is an `InputError` subclass whose message names the file.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from importlib.resources import files
from pathlib import Path, PurePath
from typing import Any

import charset_normalizer
from lxml import html as lxml_html

from service.document import RawText
from service.errors import (
    BinaryDataError,
    DecodeError,
    EmptyReportError,
    FileMissingError,
    InputError,
    UnsupportedFormatError,
)
from service.vocab import CJK_CHAR, is_cjk_text_char

SUPPORTED_SUFFIXES = {".txt", ".md", ".html", ".htm", ".pdf", ".docx"}

_FORMAT_OF_SUFFIX = {
    ".txt": "txt",
    ".md": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

# (bom, codec for the bytes after it, name reported). Longest first: the UTF-32-LE BOM starts with
# the UTF-16-LE one.
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
    (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
]

# Labels charset-normalizer (and web pages) use for Chinese legacy encodings. gb18030 is a strict
# superset of gb2312/gbk, and charset-normalizer often says big5 for short GBK text, so all of them
# are decoded as gb18030 when that decodes cleanly.
_CHINESE_LEGACY = {"gb2312", "gbk", "gb18030", "big5", "big5hkscs", "cp936", "cp950", "hz", "euc_cn", "x-gbk"}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_\-]+)""", re.IGNORECASE)
_HTML_START = re.compile(
    rb"\s*(<\?xml[^>]*>\s*)?(<!--.*?-->\s*)*<(!doctype\s+html|html|head|body)\b", re.IGNORECASE | re.DOTALL
)
# A "suffix" such as ".2023年报告" in "青禾县.2023年报告" is part of the name, not a file type.
_REAL_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}")


def read_path(path: str | os.PathLike[str]) -> RawText:
    name = os.fspath(path)
    p = Path(name)
    if not p.exists():
        raise FileMissingError(name, "no such file")
    if p.is_dir():
        raise InputError(name, "is a directory, not a report file")
    if not p.is_file():  # a FIFO or device would block or never end
        raise InputError(name, "is not a regular file")
    try:
        data = p.read_bytes()
    except PermissionError:
        raise InputError(name, "permission denied") from None
    except OSError as e:
        raise InputError(name, f"cannot be read ({e.strerror or e})") from None
    return _read(data, name, p.name)


def read_bytes(data: bytes, filename: str) -> RawText:
    """An upload: `filename` only hints at the format (it may be empty); the content decides."""
    return _read(data, filename or "<upload>", PurePath(filename or "").name)


def sample_path() -> Path:
    """The bundled fictional report (see service/samples/README.md)."""
    resource = files("service").joinpath("samples", "qinghe_2023.txt")
    if isinstance(resource, Path):
        return resource
    # A zipped install has no file on disk to point at: copy it out once.
    target = Path(tempfile.gettempdir()) / "govbrief-qinghe_2023.txt"
    if not target.exists():
        target.write_bytes(resource.read_bytes())
    return target


def _read(data: bytes, name: str, basename: str) -> RawText:
    if not data:
        raise EmptyReportError(name, "empty file (0 bytes)")
    fmt = _format_of(data, name, _suffix(basename))
    text, encoding = _DECODERS[fmt](data, name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        raise EmptyReportError(name, f"no text in this {fmt} file")
    return RawText(
        path=name, text=text, format=fmt, sha256=hashlib.sha256(data).hexdigest(), encoding=encoding
    )


def _suffix(basename: str) -> str:
    suffix = PurePath(basename).suffix
    return suffix.lower() if _REAL_SUFFIX.fullmatch(suffix) else ""


def _format_of(data: bytes, name: str, suffix: str) -> str:
    """The content wins over the suffix: uploads and saved web pages are often misnamed."""
    sniffed = _sniff(data)
    if sniffed == "doc":
        raise UnsupportedFormatError(name, "legacy Word .doc (OLE) file; save it as .docx, .pdf or .txt")
    if sniffed == "zip":
        if suffix == ".docx":
            raise DecodeError(name, "not a valid .docx (zip archive without word/document.xml)")
        raise UnsupportedFormatError(name, f"zip archive is not a report; supported: {_supported()}")
    if sniffed is not None:
        return sniffed
    if suffix in (".pdf", ".docx"):
        raise DecodeError(name, f"not a valid {suffix} file (corrupt or wrong suffix)")
    if suffix in _FORMAT_OF_SUFFIX:
        return _FORMAT_OF_SUFFIX[suffix]
    if suffix:
        raise UnsupportedFormatError(name, f"unsupported file type {suffix!r}; supported: {_supported()}")
    return "txt"


def _sniff(data: bytes) -> str | None:
    head = data[:2048]
    # Readers accept junk before the header, so look a little further than byte 0.
    if b"%PDF-" in head[:1024] and (data.lstrip().startswith(b"%PDF-") or b"%%EOF" in data[-2048:]):
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "doc"
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                return "docx" if "word/document.xml" in z.namelist() else "zip"
        except zipfile.BadZipFile:
            return "zip"
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    if _HTML_START.match(head):
        return "html"
    return None


def _supported() -> str:
    return ", ".join(sorted(SUPPORTED_SUFFIXES))


def _decode_text(data: bytes, name: str) -> tuple[str, str]:
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom) :].decode(codec), label
            except UnicodeDecodeError:
                raise BinaryDataError(name, f"has a {label} byte-order mark but is not {label}") from None
    if b"\x00" in data:
        raise BinaryDataError(name, "binary data (NUL bytes), not text")
    try:
        text, encoding = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = _decode_legacy(data, name)
    if len(_CONTROL.findall(text[:20000])) > 8:
        raise BinaryDataError(name, "binary data (control characters), not text")
    return text, encoding


def _decode_legacy(data: bytes, name: str) -> tuple[str, str]:
    try:
        gb = data.decode("gb18030")
    except UnicodeDecodeError:
        gb = None
    # Decoding as gb18030 only works on bytes that really are GB text often enough that, when it
    # yields mostly Chinese, we trust it over charset-normalizer's guesses on short texts.
    if gb is not None and _mostly_cjk(gb):
        return gb, "gb18030"
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise BinaryDataError(name, "undecodable bytes (not UTF-8, GB18030 or any known text encoding)")
    if gb is not None and best.encoding.lower() in _CHINESE_LEGACY:
        return gb, "gb18030"
    return str(best), best.encoding


def _mostly_cjk(text: str) -> bool:
    """Chinese text plus the punctuation GB text carries (“” — ① ，)."""
    non_ascii = [ch for ch in text if ord(ch) > 0x7F]
    cjk = sum(1 for ch in non_ascii if is_cjk_text_char(ch))
    return cjk >= 0.8 * len(non_ascii)


def _decode_html_bytes(data: bytes, name: str) -> tuple[str, str]:
    """Honor a meta charset (gbk pages are common), but fall back to detection when it lies.

    Valid UTF-8 with Chinese in it is almost never GBK, while pages saying gb2312 but served as
    UTF-8 are common, so a BOM or clean UTF-8 beats the declaration.
    """
    if not any(data.startswith(bom) for bom, _, _ in _BOMS):
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
        declared = _META_CHARSET.search(data[:4096])
        if declared:
            label = declared.group(1).decode("ascii").lower()
            encoding = "gb18030" if label in _CHINESE_LEGACY else label
            try:
                return data.decode(encoding), encoding
            except (LookupError, UnicodeDecodeError):
                pass
    return _decode_text(data, name)


def _read_html(data: bytes, name: str) -> tuple[str, str]:
    # Imported here: trafilatura (and lxml) cost ~0.3 s at start-up, and only HTML needs them.
    import trafilatura

    markup, encoding = _decode_html_bytes(data, name)
    # Plain-text output keeps one paragraph (or heading, or <br> line) per line; favor_recall keeps
    # the short lines (headings, 一是… points) that precision mode drops; no dedup across calls.
    # Tables stay in (a report may hold a data table), but a page laid out with tables would come
    # out as one `| … | … |` line holding the whole report: those tables become plain blocks first.
    text = trafilatura.extract(
        _unwrap_layout_tables(markup),
        output_format="txt",
        include_tables=True,
        include_comments=False,
        include_images=False,
        favor_recall=True,
        deduplicate=False,
    )
    fallback = _html_fallback_text(markup)
    # Trafilatura can also pick the wrong block of an odd page (a sidebar, the footer): when it
    # keeps less than half of the page's Chinese text, every text node (chrome and all; normalize
    # drops that) beats it.
    if not text or not text.strip() or _cjk_count(text) < 0.5 * _cjk_count(fallback):
        text = fallback
    return text, encoding


_LAYOUT_BLOCKS = frozenset(
    (
        "p",
        "div",
        "table",
        "ul",
        "ol",
        "li",
        "section",
        "article",
        "blockquote",
        "pre",
        *(f"h{i}" for i in range(1, 7)),
    )
)
_TABLE_PARTS = ("tbody", "thead", "tfoot", "tr", "td", "th", "caption")
_CJK_CHARS = CJK_CHAR


def _cjk_count(text: str) -> int:
    return len(_CJK_CHARS.findall(text))


def _is_layout_table(table: lxml_html.HtmlElement) -> bool:
    """A table used to lay out a page, not to hold data: a cell holds blocks (paragraphs, lists,
    another table), `<br>`-separated lines of prose, or a long text."""
    for cell in table.iter("td", "th"):
        text_len = len(cell.text_content().strip())
        for el in cell.iterdescendants():
            tag = el.tag if isinstance(el.tag, str) else ""
            if tag in _LAYOUT_BLOCKS or (tag == "br" and text_len >= 100):
                return True
        if text_len >= 200:
            return True
    return False


def _unwrap_layout_tables(markup: str) -> str:
    """Layout tables (and their rows and cells) become `<div>`s, so that their paragraphs stay
    paragraphs; data tables are left alone. The markup is returned as it is when it has none."""
    if "<table" not in markup.lower():
        return markup
    try:
        root = lxml_html.document_fromstring(markup)
    except Exception:  # lxml raises several types (ParserError, ValueError) for junk input
        return markup
    layout = [t for t in root.iter("table") if _is_layout_table(t)]
    if not layout:
        return markup
    # Only a layout table's own rows and cells: a data table nested inside keeps its own.
    owned = [el for table in layout for el in table.iter(*_TABLE_PARTS) if _owning_table(el) is table]
    for el in [*layout, *owned]:
        el.tag = "div"
    result: str = lxml_html.tostring(root, encoding="unicode")
    return result


def _owning_table(el: lxml_html.HtmlElement) -> lxml_html.HtmlElement | None:
    parent = el.getparent()
    while parent is not None and parent.tag != "table":
        parent = parent.getparent()
    return parent


_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "template")
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_BLOCK_TAGS = ("p", "div", "br", "li", "tr", "td", "th", "table", "section", "article", "pre", *_HEADINGS)


def _html_fallback_text(markup: str) -> str:
    """Trafilatura gives up on tiny or odd pages; then take every text node outside page chrome."""
    parser = lxml_html.HTMLParser(encoding="utf-8")
    try:
        root = lxml_html.document_fromstring(markup.encode("utf-8"), parser=parser)
    except Exception:  # lxml raises several types (ParserError, ValueError) for junk input
        return ""
    for el in root.xpath("//" + " | //".join(_DROP_TAGS)):
        el.drop_tree()
    for el in root.iter(*_BLOCK_TAGS):
        el.text = "\n" + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    lines = (line.strip() for line in root.text_content().split("\n"))
    return "\n".join(line for line in lines if line)


@contextlib.contextmanager
def _quiet_pypdf() -> Iterator[None]:
    """pypdf logs (and warns about) every flaw it works around ("EOF marker not found", "Object 5 0
    not defined") on stderr; govbrief reports a PDF it cannot read in one line of its own."""
    logger = logging.getLogger("pypdf")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _read_pdf(data: bytes, name: str) -> tuple[str, None]:
    from pypdf import PdfReader  # here, not at start-up: only PDFs need it (~0.1 s to import)

    # pypdf raises a zoo of exception types on damaged files; all of them mean "corrupt" here.
    try:
        with _quiet_pypdf():
            reader = PdfReader(io.BytesIO(data))
            locked = reader.is_encrypted and not reader.decrypt("")
            pages = [] if locked else [page.extract_text() or "" for page in reader.pages]
    except Exception as e:
        raise DecodeError(name, f"corrupt PDF ({_one_line(e)})") from None
    if locked:
        raise DecodeError(name, "encrypted PDF (needs a password)")
    if not any(page.strip() for page in pages):
        raise DecodeError(name, f"no text layer (scanned PDF?) in {len(pages)} page(s)")
    return "\n".join(page.rstrip("\n") for page in pages), None


def _read_docx(data: bytes, name: str) -> tuple[str, None]:
    import docx  # here, not at start-up: only .docx files need it
    from docx.table import Table

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as e:  # zip, XML and package errors alike
        raise DecodeError(name, f"corrupt .docx ({_one_line(e)})") from None

    lines: list[str] = []

    def walk(container: Any) -> None:  # the document, or a table cell
        for block in container.iter_inner_content():
            if isinstance(block, Table):
                seen: set[object] = set()
                for row in block.rows:
                    for cell in row.cells:
                        # A merged cell is returned once per grid column it spans.
                        if cell._tc not in seen:
                            seen.add(cell._tc)
                            walk(cell)
            else:
                lines.append(block.text)

    walk(document)
    return "\n".join(lines), None


def _one_line(e: Exception) -> str:
    first = (str(e).splitlines() or [""])[0]
    return f"{type(e).__name__}: {first}"[:200]


_DECODERS: dict[str, Callable[[bytes, str], tuple[str, str | None]]] = {
    "txt": _decode_text,
    "md": _decode_text,
    "html": _read_html,
    "pdf": _read_pdf,
    "docx": _read_docx,
}
