"""Comparison across the briefs of a batch: counts per report × category, recurring problems, and
plan follow-ups between consecutive years of the same place.

Recurring problems are grouped by single linkage: two problems (of any reports) are linked when
their wording is close once the boilerplate is stripped (rapidfuzz ratio on the core words), when
they share a category AND a topic keyword from a small lexicon of the genre's recurring themes
(行政执法, 法治宣传教育, 合法性审查…), or when they share two topic keywords whatever their categories
(categories are a backend's guess: 行政执法监督力度不够 is filed under law enforcement by one report
and oversight by another). A group counts as recurring when it spans `min_places`
different places: the same report filed twice (or the same county's two years) is one place, so
copies never make a problem "recur". Keywords decide the group's label, so a reader sees why its
members are together.

Follow-ups: for each place with reports for years N and N+1, each plan of year N is matched to the
most similar achievement of year N+1 (same scoring). A match is "followed_up" with both evidence
quotes; no match is "not_mentioned". This is a lead for a reader, not a verdict: an achievement can
follow a plan in words the lexicon doesn't know.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from service.models import CATEGORY_LABELS_ZH, CORE_SECTIONS, Brief, Category, Item
from service.vocab import ORG_SUFFIX

SECTIONS: tuple[str, ...] = tuple(s.value for s in CORE_SECTIONS)
SECTION_LABELS_ZH = {s.value: s.short_zh for s in CORE_SECTIONS}

#: Topic keywords of the genre: canonical name → the words that signal it. Deliberately short and
#: specific; a word like 工作 or 机制 would tie every problem to every other.
TOPICS: dict[str, tuple[str, ...]] = {
    "行政执法": ("行政执法", "执法"),
    "执法监督": ("执法监督", "监督力度", "监督力量", "监督作用"),
    "三项制度": ("三项制度",),
    "法治宣传教育": ("法治宣传", "普法", "法治培训", "法治教育", "培训教育", "学法", "宣传教育"),
    "法治意识": ("法治意识", "法治思维", "法治观念", "法治氛围", "遇事找法"),
    "依法行政能力": ("依法行政能力", "能力素质", "业务能力", "法律素养", "专业素质", "执法人员素质"),
    "法治队伍与人才": ("法律人才", "法治人才", "法治力量", "执法力量", "专业力量", "队伍建设"),
    "基层法治": ("基层", "乡镇", "镇（街道）", "村（社区）"),
    "重大行政决策": ("行政决策", "重大决策", "决策程序", "决策后评估"),
    "合法性审查": ("合法性审查", "合法性审核", "法制审核"),
    "规范性文件": ("规范性文件",),
    "行政复议": ("行政复议", "复议"),
    "行政应诉": ("行政应诉", "出庭应诉", "败诉", "行政诉讼"),
    "矛盾纠纷化解": ("矛盾纠纷", "纠纷化解", "调解", "诉源治理", "枫桥经验"),
    "公共法律服务": ("法律服务", "法律援助", "法律顾问", "公职律师"),
    "数字法治": ("数字化", "信息化", "数字法治", "智慧", "互联网+", "一网通办", "大数据"),
    "营商环境": ("营商环境", "市场主体", "涉企"),
    "放管服改革": ("放管服", "简政放权", "行政审批", "审批制度", "证明事项"),
    "政务公开": ("政务公开", "信息公开", "政府信息"),
    "权力监督": ("权力监督", "制约监督", "人大监督", "审计监督", "社会监督", "督察"),
    "应急法治": ("应急", "突发事件", "防汛", "安全生产"),
    "考核与责任落实": ("考核", "述法", "第一责任人", "责任落实"),
}

# Words every problem and plan is made of; stripped before comparing wording, so that two problems
# that both "有待进一步提高" don't look alike for that alone.
_BOILERPLATE = re.compile(
    r"还需要?|仍需|需要|有待|进一步|不断|持续|切实|着力|全面|深入|加大|加强|强化|提升|提高|完善|健全|推进|推动|"
    r"不够|不足|不强|不高|不到位|不平衡|不规范|不鲜明|较为|仍然|依然|存在|现象|问题|工作|水平|力度|机制|体系|建设|"
    r"法治政府|我[区县市]|[，。、；：“”‘’（）()《》！？\s\d]"
)
#: Wording this close (rapidfuzz ratio, 0–100, of the core words) is the same problem.
SIMILAR_WORDING = 72
#: Core words shorter than this are too short to compare by wording (keywords must decide).
_MIN_CORE = 4
_PLACE_SUFFIX = re.compile(rf"(?:法治政府建设领导小组|人民政府办公室|司法局|{ORG_SUFFIX})$")
_PARTY = re.compile(r"^中共|委$")


@dataclass(frozen=True)
class ItemRef:
    """One item of one report, as the comparison shows it."""

    report: str
    place: str
    year: int | None
    section: str
    title: str
    summary: str
    category: str
    quotes: tuple[str, ...]  # every evidence span's quote, in order
    keywords: tuple[str, ...]

    @property
    def quote(self) -> str:
        return self.quotes[0] if self.quotes else ""


@dataclass
class ReportRow:
    name: str
    title: str | None
    issuer: str | None
    region: str | None
    year: int | None
    place: str
    counts: dict[str, dict[str, int]]  # category → section → count
    totals: dict[str, int]


@dataclass
class ProblemGroup:
    label: str
    keywords: list[str]
    categories: list[str]
    places: list[str]
    members: list[ItemRef] = field(default_factory=list)


@dataclass
class FollowUp:
    place: str
    year: int
    next_year: int
    report: str
    next_report: str
    plan: ItemRef
    status: str  # followed_up | not_mentioned
    achievement: ItemRef | None
    shared_keywords: list[str]
    score: float
    achievement_quote: str | None


@dataclass
class Comparison:
    reports: list[ReportRow]
    recurring: list[ProblemGroup]
    followups: list[FollowUp]
    categories: list[str] = field(default_factory=lambda: [c.value for c in Category])


# --- features -----------------------------------------------------------------------------------


def keywords(text: str) -> tuple[str, ...]:
    return tuple(topic for topic, words in TOPICS.items() if any(w in text for w in words))


def core_words(text: str) -> str:
    return _BOILERPLATE.sub("", text)


def place_of(brief: Brief, fallback: str) -> str:
    """Who reports: the region when known, else the issuer without its office suffix."""
    region = (brief.report.region or "").strip()
    if region:
        return region
    issuer = (brief.report.issuer or "").split("、")[-1].strip()
    issuer = _PARTY.sub("", _PLACE_SUFFIX.sub("", issuer))
    return issuer or fallback


def same_place(a: str, b: str) -> bool:
    """`郑州市中原区` and `中原区` are one place; `舟山市普陀区` and `上海市普陀区` are two."""
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 2 and long_.endswith(short)


def _ref(report: str, place: str, year: int | None, section: str, item: Item) -> ItemRef:
    return ItemRef(
        report=report,
        place=place,
        year=year,
        section=section,
        title=item.title,
        summary=item.summary,
        category=item.category.value,
        quotes=tuple(span.quote for span in item.evidence),
        keywords=keywords(f"{item.title} {item.summary}"),
    )


def _related(a: ItemRef, b: ItemRef) -> tuple[bool, list[str], float]:
    """(linked?, shared keywords, wording similarity)."""
    shared = [k for k in a.keywords if k in b.keywords]
    ca, cb = core_words(a.title), core_words(b.title)
    similarity = fuzz.ratio(ca, cb) if min(len(ca), len(cb)) >= _MIN_CORE else 0.0
    linked = similarity >= SIMILAR_WORDING or (bool(shared) and a.category == b.category) or len(shared) >= 2
    return linked, shared, similarity


# --- the comparison -----------------------------------------------------------------------------


def build_comparison(briefs: Iterable[tuple[str, Brief]], *, min_places: int = 2) -> Comparison:
    rows: list[ReportRow] = []
    problems: list[ItemRef] = []
    by_report: dict[str, tuple[ReportRow, Brief]] = {}
    for name, brief in briefs:
        place = place_of(brief, name)
        counts = {c.value: dict.fromkeys(SECTIONS, 0) for c in Category}
        for section in SECTIONS:
            for item in brief.sections()[section]:
                counts[item.category.value][section] += 1
        row = ReportRow(
            name=name,
            title=brief.report.title,
            issuer=brief.report.issuer,
            region=brief.report.region,
            year=brief.report.year,
            place=place,
            counts=counts,
            totals={s: len(brief.sections()[s]) for s in SECTIONS},
        )
        rows.append(row)
        by_report[name] = (row, brief)
        problems += [_ref(name, place, row.year, "problems", item) for item in brief.problems]
    return Comparison(
        reports=rows,
        recurring=recurring_problems(problems, min_places=min_places),
        followups=followups(by_report),
    )


def recurring_problems(problems: list[ItemRef], *, min_places: int = 2) -> list[ProblemGroup]:
    n = len(problems)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if problems[i].report == problems[j].report:
                continue  # two problems of one report are grouped only through other reports
            if _related(problems[i], problems[j])[0]:
                parent[find(i)] = find(j)

    members: dict[int, list[ItemRef]] = defaultdict(list)
    for i, p in enumerate(problems):
        members[find(i)].append(p)
    groups = []
    for items in members.values():
        places = _distinct_places(p.place for p in items)
        if len(places) < min_places:
            continue
        kw = Counter(k for p in items for k in set(p.keywords))
        # A keyword most members share names the group; the category labels it otherwise.
        common = [k for k, c in kw.most_common() if c >= 2]
        cats = Counter(p.category for p in items)
        label = "、".join(common[:2]) if common else CATEGORY_LABELS_ZH[Category(cats.most_common(1)[0][0])]
        groups.append(
            ProblemGroup(
                label=label,
                keywords=common,
                categories=[c for c, _ in cats.most_common()],
                places=places,
                members=sorted(items, key=lambda p: (p.place, p.year or 0, p.report)),
            )
        )
    groups.sort(key=lambda g: (-len(g.places), -len(g.members), g.label))
    return groups


def _distinct_places(places: Iterable[str]) -> list[str]:
    out: list[str] = []
    for p in places:
        if not any(same_place(p, q) for q in out):
            out.append(p)
    return out


def followups(by_report: dict[str, tuple[ReportRow, Brief]]) -> list[FollowUp]:
    # One report per (place, year): copies of a report would only repeat the same links.
    per_place: dict[str, dict[int, tuple[ReportRow, Brief]]] = defaultdict(dict)
    for row, brief in by_report.values():
        if row.year is None:
            continue
        key = next((p for p in per_place if same_place(p, row.place)), row.place)
        per_place[key].setdefault(row.year, (row, brief))
    links: list[FollowUp] = []
    for place, years in sorted(per_place.items()):
        for year in sorted(years):
            if year + 1 not in years:
                continue
            row, brief = years[year]
            next_row, next_brief = years[year + 1]
            achievements = [
                _ref(next_row.name, place, year + 1, "achievements", it) for it in next_brief.achievements
            ]
            for plan_item in brief.plans:
                plan = _ref(row.name, place, year, "plans", plan_item)
                links.append(_follow(place, year, row.name, next_row.name, plan, achievements))
    return links


def _follow(
    place: str, year: int, report: str, next_report: str, plan: ItemRef, achievements: list[ItemRef]
) -> FollowUp:
    best: tuple[float, ItemRef, list[str]] | None = None
    for ach in achievements:
        linked, shared, similarity = _related(plan, ach)
        if not linked:
            continue
        score = len(shared) * 20 + (15 if plan.category == ach.category else 0) + similarity / 2
        if best is None or score > best[0]:
            best = (score, ach, shared)
    if best is None:
        return FollowUp(
            place, year, year + 1, report, next_report, plan, "not_mentioned", None, [], 0.0, None
        )
    score, ach, shared = best
    return FollowUp(
        place,
        year,
        year + 1,
        report,
        next_report,
        plan,
        "followed_up",
        ach,
        shared,
        round(score, 1),
        _evidence_for(plan, ach, shared),
    )


def _evidence_for(plan: ItemRef, ach: ItemRef, shared: list[str]) -> str | None:
    """The achievement's evidence quote that best answers the plan: the one naming most of the shared
    topics' words, closest in wording to the plan's title."""
    if not ach.quotes:
        return None
    words = {w for k in shared for w in TOPICS[k]}
    plan_core = core_words(plan.title)

    def score(quote: str) -> float:
        return sum(10 for w in words if w in quote) + fuzz.partial_ratio(plan_core, core_words(quote))

    return max(ach.quotes, key=score)
