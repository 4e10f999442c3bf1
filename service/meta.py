"""Report metadata from the normalized text: title, issuer, region, year reported on, date, 文号."""

from __future__ import annotations

import itertools
import re
from collections import Counter

from service.models import ReportMeta

_HEAD_LINES = 25  # metadata and title live in the first lines of a page or document

_TITLE = re.compile(r"^.{2,60}?(?:法治政府|依法行政|法治建设).{0,30}?(?:报告|情况|总结)$")
_YEAR_IN_TITLE = re.compile(r"(\d{4})年(?:度)?")
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{1,10}[〔\[【（(]\d{4}[〕\]】）)]\d{1,4}号")
_DATE_FIELD = re.compile(
    r"(?P<key>发布日期|发布时间|公开日期|日期)[:：\]】]?\s*(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})"
)
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_ORG_SUFFIX = re.compile(r"(?:人民政府|政府|委员会|区委|市委|县委|州委|党委|办公室|司法局|领导小组)$")
_REGION = re.compile(
    r"((?:[\u4e00-\u9fff]{2,7}?(?:省|自治区))?(?:[\u4e00-\u9fff]{2,6}?(?:市|州|盟|地区))?(?:[\u4e00-\u9fff]{1,6}?(?:区|县|市|旗))?)"
)
# A city name right after a boundary ("2020年郑州市政务…"), not the tail of a word ("确定区市").
_PREFECTURE = re.compile(r"(?:(?<=[年省，。、在和与对及“])|^)([\u4e00-\u9fff]{2}市)", re.M)


def _title(lines: list[str]) -> str | None:
    head = lines[:_HEAD_LINES]
    candidates = [(i, ln) for i, ln in enumerate(head) if _TITLE.match(ln) and "。" not in ln]
    if not candidates:
        # A title wrapped over two lines (PDF): "…关于2020年度法治政府建" + "设情况的报告"
        candidates = [
            (i, a + b)
            for i, (a, b) in enumerate(itertools.pairwise(head))
            if "。" not in a + b and _TITLE.match(a + b)
        ]
    return min(candidates, key=lambda c: (not c[1].endswith("报告"), c[0]))[1] if candidates else None


def _issuer(title: str | None) -> str | None:
    if not title:
        return None
    head = title.split("关于", 1)[0] if "关于" in title else _YEAR_IN_TITLE.split(title, 1)[0]
    head = head.strip("，、 ")
    if not head:
        return None
    # Joint issuers run together once PDF spaces are gone: 中共X区委X区人民政府 → 中共X区委、X区人民政府
    head = re.sub(r"(中共[\u4e00-\u9fff]+?[区市县州省]委)(?=[\u4e00-\u9fff]+?人民政府$)", r"\1、", head)
    return head


def _region(issuer: str | None, text: str) -> str | None:
    if not issuer:
        return None
    last = issuer.split("、")[-1].removeprefix("中共")
    last = _ORG_SUFFIX.sub("", last)
    m = _REGION.match(last)
    region = m.group(1) if m and m.group(1) else None
    if region and re.fullmatch(r"[\u4e00-\u9fff]{1,4}[区县]", region):
        # A bare district (中原区): name its city, the one the report itself mentions most.
        cities = Counter(
            c for c in _PREFECTURE.findall(text) if c not in ("全市", "本市", "我市", "城市", "各市")
        )
        if cities:
            region = cities.most_common(1)[0][0] + region
    return region


def _published(lines: list[str]) -> str | None:
    fields = [m for ln in lines[:_HEAD_LINES] for m in _DATE_FIELD.finditer(ln)]
    if fields:
        # 发布日期 wins over a bare 日期 such as 成文日期 (the signing date), whichever comes first.
        field = next((f for f in fields if f.group("key") != "日期"), fields[0])
        _, y, mo, d = field.groups()
        return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}"
    # A printed document: the signature date at the end (not the 印发 line).
    for ln in reversed(lines[-8:]):
        m = _CN_DATE.search(ln)
        if m and "印发" not in ln[m.end() : m.end() + 3]:
            y, mo, d = m.groups()
            return f"{int(y):04d}-{int(mo):02d}-{int(d):02d}"
    return None


def _year(title: str | None, lines: list[str], published: str | None) -> int | None:
    if title:
        m = _YEAR_IN_TITLE.search(title)
        if m:
            return int(m.group(1))
    for ln in lines[:_HEAD_LINES]:
        m = re.match(r"^(\d{4})年(?:以来)?[，,是]", ln)
        if m:
            return int(m.group(1))
    return int(published[:4]) - 1 if published else None


def _doc_number(lines: list[str]) -> str | None:
    for ln in lines[:_HEAD_LINES]:
        if "〔" in ln or "[" in ln or "【" in ln:
            m = _DOC_NUMBER.search(ln)
            if m and (ln == m.group(0) or "文号" in ln or "字号" in ln):
                return m.group(0)
    return None


def extract_meta(text: str) -> ReportMeta:
    lines = text.split("\n")
    title = _title(lines)
    issuer = _issuer(title)
    published = _published(lines)
    return ReportMeta(
        title=title,
        issuer=issuer,
        region=_region(issuer, text),
        year=_year(title, lines, published),
        published=published,
        doc_number=_doc_number(lines),
    )
