"""Report metadata from the normalized text: genre, title, issuer, region, year reported on, date, 文号,
and the meeting a 政府工作报告 was delivered at.

Metadata lives in a report's first lines (a web page's fields, a document's title block) and, for a
printed document, in its signature at the end. The year reported on is the year the report is about,
not the year it came out: a 政府工作报告 delivered in March 2024 reviews 2023.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter

from service.models import Genre, ReportMeta
from service.normalize import HEADING_START
from service.vocab import CJK, ORG_SUFFIX, YEAR

_HEAD_LINES = 25  # metadata and title live in the first lines of a page or document

_RULE_OF_LAW = r"法治政府|依法行政|法治建设|法治工作"
_TITLE_END = r"(?:报告|情况|总结|计划|打算|要点|思路)"
# A title line: short, no full stop, ending like a report's title.
_TITLE = re.compile(rf"^[^。！？]{{2,80}}?{_TITLE_END}$")
_RULE_OF_LAW_TITLE = re.compile(rf"^.{{2,60}}?(?:{_RULE_OF_LAW}).{{0,30}}?(?:报告|情况|总结)$")
_GWR_TITLE = re.compile(r"政府工作报告$")
_SUMMARY_TITLE = re.compile(r"总结|工作情况|工作报告|述职")
# 政府工作报告 opens by addressing the congress: "我代表国务院，向大会报告政府工作".
_GWR_ADDRESS = re.compile(r"我代表(?P<who>[^，,。]{2,30}?)[，,]?向大会(?:作|做)?报告")
_GWR_DELIVERED = re.compile(
    r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日在(?P<meeting>[^。\n]{4,60}?(?:大会|会议))上"
)
_DOC_NUMBER = re.compile(rf"[{CJK}]{{1,10}}[〔\[【（(]\d{{4}}[〕\]】）)]\d{{1,4}}号")

# Date fields of a web page, best first: 发布 beats 更新 beats 成文 (the signing date) beats a bare 日期.
_DATE_KEYS = ("发布日期", "发布时间", "公开日期", "发文日期", "时间", "更新时间", "成文日期", "日期")
_DATE_FIELD = re.compile(
    r"(?P<key>发布日期|发布时间|公开日期|发文日期|更新时间|成文日期|日期|时间)\s*[\]】]?\s*[:：]?\s*"
    r"(?P<y>\d{4})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})"
)
_CN_DATE = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
# A page header's own date ("今天是:2019年10月31日 星期三", "2019年12月3日星期二") is never the report's.
_TODAY = re.compile(r"今天是|今日|星期[一二三四五六日天]|周[一二三四五六日]|礼拜")
_SOURCE_FIELD = re.compile(
    rf"(?:文章来源|信息来源|来源|发布机构|发文机关|发布单位)\s*[\]】]?\s*[:：]?\s*([{CJK}（）]{{2,30}})"
)

_ORG_END = re.compile(rf"(?:{ORG_SUFFIX})$")
_REGION = re.compile(
    rf"((?:[{CJK}]{{2,7}}?(?:省|自治区))?(?:[{CJK}]{{2,6}}?(?:市|州|盟|地区))?(?:[{CJK}]{{1,6}}?(?:区|县|市|旗))?)"
)
# A city name right after a boundary ("2020年郑州市政务…"), not the tail of a word ("确定区市").
_PREFECTURE = re.compile(rf"(?:(?<=[年省，。、在和与对及“])|^)([{CJK}]{{2}}市)", re.M)
# Where a title names its subject after the year ("2020年静海区法治政府建设情况报告").
_PLACE_AFTER_YEAR = re.compile(
    rf"^(?:\d{{4}}年度?)([{CJK}]{{2,12}}?(?:省|自治区|市|州|盟|区|县|旗|镇|乡|街道))"
)
_NATIONAL = ("国务院", "中华人民共和国国务院")


def _date(y: str, m: str, d: str) -> str | None:
    year, month, day = int(y), int(m), int(d)
    if not (1949 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _title(lines: list[str]) -> str | None:
    head = [
        ln
        for ln in lines[:_HEAD_LINES]
        if "。" not in ln and not ln.startswith(("——", "—")) and not HEADING_START.match(ln)
    ]
    candidates = [(i, ln) for i, ln in enumerate(head) if _TITLE.match(ln) and not _is_field_line(ln)]
    if not any(_names_genre(t) for _, t in candidates):
        # A title wrapped over two lines (PDF, wiki): "…关于2020年度法治政府建" + "设情况的报告", "政府工作报" + "告"
        candidates += [
            (i, a + b)
            for i, (a, b) in enumerate(itertools.pairwise(head))
            if _names_genre(a + b) and _TITLE.match(a + b) and not _is_field_line(a)
        ]

    def rank(c: tuple[int, str]) -> tuple[bool, bool, int]:
        i, t = c
        return (not _names_genre(t), not t.endswith("报告"), i)

    candidates = [c for c in candidates if len(c[1]) >= 4]
    return min(candidates, key=rank)[1] if candidates else None


def _names_genre(title: str) -> bool:
    return bool(_RULE_OF_LAW_TITLE.match(title) or _GWR_TITLE.search(title) or _SUMMARY_TITLE.search(title))


def _is_field_line(line: str) -> bool:
    """A web page's metadata field ("[ 发布日期 ] 2021-02-26", "索引号 …", "统一编号")."""
    return bool(
        re.match(
            r"^[\[【•·\s]*(?:索引号|主题分类|体裁分类|组配分类|关键词|标签|所属|来源|发布|成文|统一编号|公开|文号)",
            line,
        )
    )


def detect_genre(title: str | None, lines: list[str], text: str) -> Genre:
    """What kind of annual report this is: its title says so, or the way it opens."""
    head = "\n".join(lines[:_HEAD_LINES])
    if title and re.search(_RULE_OF_LAW, title):
        return Genre.rule_of_law_report
    if (title and _GWR_TITLE.search(title)) or _GWR_ADDRESS.search(head) or "各位代表" in head[:200]:
        return Genre.government_work_report
    if title and _SUMMARY_TITLE.search(title):
        return Genre.work_summary
    # No title: the report's own words (a rule-of-law report says 法治政府建设 throughout).
    if len(re.findall("法治政府建设", text)) >= 5:
        return Genre.rule_of_law_report
    return Genre.unknown


def _source(lines: list[str]) -> str | None:
    """The body a page's source field names; with spaces gone the next field runs on
    ("来源：市司法局发布时间：…"), so the name is the longest run that ends like one."""
    for ln in lines[:_HEAD_LINES]:
        m = _SOURCE_FIELD.search(ln)
        if m:
            ends = [e.end() for e in re.finditer(ORG_SUFFIX, m.group(1))]
            if ends:
                return m.group(1)[: ends[-1]]
    return None


def _issuer(title: str | None, genre: Genre, lines: list[str]) -> str | None:
    if genre == Genre.government_work_report:
        m = _GWR_ADDRESS.search("\n".join(lines[:60]))
        if m:
            return _placed(m.group("who"), title, lines)
    if not title:
        return None
    head = title.split("关于", 1)[0] if "关于" in title else YEAR.split(title, 1)[0]
    head = head.strip("，、 ")
    # Joint issuers run together once PDF spaces are gone: 中共X区委X区人民政府 → 中共X区委、X区人民政府
    head = re.sub(rf"(中共[{CJK}]+?[区市县州省]委)(?=[{CJK}]+?人民政府$)", r"\1、", head)
    place = head
    if not head:
        m = _PLACE_AFTER_YEAR.match(title)
        place = m.group(1) if m else ""
    if place and _ORG_END.search(place):
        return place
    # The title names a place only ("中原区2020年度…", "2020年静海区…"): the page's source field names
    # the body, possibly relative to the place ("市司法局", "司法局").
    source = _source(lines)
    if source and place:
        if source.startswith(place[:2]):
            return source
        if source[0] in "省市区县" and place.endswith(source[0]):
            return place + source[1:]
        return place + source
    return place or source


# The congress a report was delivered to names the place: "青禾市第十七届人民代表大会第三次会议".
_CONGRESS_PLACE = re.compile(rf"([{CJK}]{{2,20}}?(?:省|自治区|市|州|盟|区|县|旗))第[{CJK}]{{1,3}}届")


def _placed(who: str, title: str | None, lines: list[str]) -> str:
    """ "我代表市人民政府" names the body relative to its place; the meeting or the title names the place."""
    if who in _NATIONAL or who[0] not in "省市区县州旗":
        return who
    for ln in lines[:_HEAD_LINES]:
        m = _GWR_DELIVERED.search(ln)
        place = _CONGRESS_PLACE.search(m.group("meeting")) if m else None
        if place and place.group(1).endswith(who[0]):
            return place.group(1) + who[1:]
    m = re.match(rf"^([{CJK}]{{2,20}}?(?:省|自治区|市|州|盟|区|县|旗))", title or "")
    if m and m.group(1).endswith(who[0]):
        return m.group(1) + who[1:]
    return who


def _region(issuer: str | None, text: str) -> str | None:
    if not issuer:
        return None
    if issuer in _NATIONAL:
        return "中国"
    last = issuer.split("、")[-1].removeprefix("中共")
    last = _ORG_END.sub("", last)
    last = re.sub(r"(?:人民政府|政府)$", "", last)
    m = _REGION.match(last)
    region = m.group(1) if m and m.group(1) else None
    if region and re.fullmatch(rf"[{CJK}]{{1,4}}[区县]", region):
        # A bare district (中原区): name its city, the one the report itself mentions most.
        cities = Counter(
            c for c in _PREFECTURE.findall(text) if c not in ("全市", "本市", "我市", "城市", "各市")
        )
        if cities:
            region = cities.most_common(1)[0][0] + region
    return region


def _published(lines: list[str]) -> str | None:
    fields = [m for ln in lines[:_HEAD_LINES] if not _TODAY.search(ln) for m in _DATE_FIELD.finditer(ln)]
    for key in _DATE_KEYS:
        for f in fields:
            if f.group("key") == key and (date := _date(f.group("y"), f.group("m"), f.group("d"))):
                return date
    for ln in lines[:_HEAD_LINES]:
        m = _GWR_DELIVERED.search(ln)
        if m:
            return _date(m.group("y"), m.group("m"), m.group("d"))
    # A printed document: the signature date at the end (not the 印发 line, not a page's clock).
    for ln in reversed(lines[-8:]):
        m = _CN_DATE.search(ln)
        if m and "印发" not in ln[m.end() : m.end() + 3] and not _TODAY.search(ln):
            return _date(*m.groups())
    return None


def _meeting(lines: list[str]) -> str | None:
    for ln in lines[:_HEAD_LINES]:
        m = _GWR_DELIVERED.search(ln)
        if m:
            return m.group("meeting")
    return None


def _year(title: str | None, genre: Genre, lines: list[str], published: str | None) -> int | None:
    if genre == Genre.government_work_report:
        # Delivered early in the year, about the year before; the date line says when.
        for ln in lines[:_HEAD_LINES]:
            m = _GWR_DELIVERED.search(ln)
            if m:
                return int(m.group("y")) - 1
        return None  # the outline reads it from the review's heading ("一、2023年工作回顾")
    if title:
        m = YEAR.search(title)
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
    genre = detect_genre(title, lines, text)
    issuer = _issuer(title, genre, lines)
    published = _published(lines)
    return ReportMeta(
        genre=genre,
        title=title,
        issuer=issuer,
        region=_region(issuer, text),
        year=_year(title, genre, lines, published),
        published=published,
        doc_number=_doc_number(lines),
        meeting=_meeting(lines),
    )
