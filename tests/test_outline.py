"""outline + meta: the heading tree, section kinds, mixed sections split, and the report's metadata."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service import outline
from service.document import Node, Outline, SectionKind
from service.meta import extract_meta
from service.normalize import normalize

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "evals" / "golden"

REPORT = """临川市青禾县人民政府关于2022年度法治政府建设情况的报告
发布日期：2023-02-15
青政发〔2023〕3号
2022年，我县坚持以习近平法治思想为指导，扎实推进法治政府建设，现将有关情况报告如下。
一、2022年法治政府建设主要成效
(一)依法全面履行政府职能
1.深化放管服改革。全年办理审批事项1,361件，网上可办率98.6%。
2、优化营商环境。清理规范性文件46件。
- (二)完善依法行政制度体系
我县一是健全制度，出台文件5件；二是加强审查，审查合同137份；三是强化备案，已全部整改。
（三）强化行政权力制约和监督
一是主动接受人大监督，办理建议98件。
二是对督察反馈存在问题立行立改，整改率100%。
二、党政主要负责人履行推进法治建设第一责任人职责情况
1.坚持统筹谋划。县委书记带头研究部署。
2.带头尊法学法。全年学法12次。
三、存在问题及2023年工作打算
一年来，我县法治政府建设取得一定成效，但仍存在一些问题和不足：一是领导干部法治思维有待提升；二是基层执法力量薄弱；三是普法针对性不强。
2023年，我县将重点做好以下工作：
（一）深入学习贯彻习近平法治思想。持续推进学习。
（二）持续优化营商环境。深化改革。
青禾县人民政府
2023年2月10日
"""


@pytest.fixture(scope="module")
def parsed() -> tuple[str, Outline]:
    text = normalize(REPORT)
    return text, outline.parse(text)


def _find(tree: Outline, title: str) -> Node:
    return next(n for n in tree.walk() if n.title == title)


def _check_tree(text: str, tree: Outline) -> None:
    """Offsets are consistent: titles are exact, children nest, siblings are ordered."""

    def walk(nodes: list[Node], lo: int, hi: int) -> None:
        prev_end = lo
        for n in nodes:
            assert text[n.title_start : n.title_end] == n.title
            assert lo <= n.start <= n.end <= hi and n.start >= prev_end
            if n.marker:  # a heading of its own (a split-off plans half borrows its title)
                assert n.start <= n.title_start <= n.title_end <= n.end
                assert text[n.start : n.title_start].endswith(n.marker)
            prev_end = n.end
            walk(n.children, n.start, n.end)

    walk(tree.nodes, 0, len(text))


# --- heading forms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title, level, marker",
    [
        ("2022年法治政府建设主要成效", 1, "一、"),
        ("依法全面履行政府职能", 2, "（一）"),  # written "(一)"
        ("完善依法行政制度体系", 2, "（二）"),  # written "- (二)"
        ("强化行政权力制约和监督", 2, "（三）"),
        ("深化放管服改革", 3, "1."),  # run-in: "1.深化放管服改革。全年…"
        ("优化营商环境", 3, "2、"),
        ("主动接受人大监督", 4, "一是"),  # one item per paragraph
        ("对督察反馈存在问题立行立改", 4, "二是"),
        ("领导干部法治思维有待提升", 4, "一是"),  # items inside one paragraph
        ("基层执法力量薄弱", 4, "二是"),
        ("普法针对性不强", 4, "三是"),
    ],
)
def test_heading_forms(parsed: tuple[str, Outline], title: str, level: int, marker: str) -> None:
    _, tree = parsed
    node = _find(tree, title)
    assert (node.level, node.marker) == (level, marker)


def test_inline_items_after_a_subject(parsed: tuple[str, Outline]) -> None:
    """An inline list "我县一是……；二是……；三是……" opens even after 我县."""
    text, tree = parsed
    section = _find(tree, "完善依法行政制度体系")
    items = [c for c in section.children if c.level == 4]
    assert [c.marker for c in items] == ["一是", "二是", "三是"]
    assert text[items[0].start : items[0].end] == "一是健全制度，出台文件5件"
    assert text[items[2].start : items[2].end] == "三是强化备案，已全部整改"


def test_tree_shape(parsed: tuple[str, Outline]) -> None:
    text, tree = parsed
    _check_tree(text, tree)
    assert [n.kind for n in tree.nodes] == [
        SectionKind.achievements,
        SectionKind.leadership,
        SectionKind.problems,
        SectionKind.plans,
        SectionKind.closing,
    ]
    achievements = tree.nodes[0]
    assert [c.title for c in achievements.children] == [
        "依法全面履行政府职能",
        "完善依法行政制度体系",
        "强化行政权力制约和监督",
    ]
    assert [c.title for c in achievements.children[0].children] == ["深化放管服改革", "优化营商环境"]
    # A node's kind is its top-level section's, all the way down.
    assert {n.kind for n in achievements.walk()} == {SectionKind.achievements}
    assert text[tree.nodes[-1].start : tree.nodes[-1].end] == "青禾县人民政府\n2023年2月10日"


def test_path_and_kind_at(parsed: tuple[str, Outline]) -> None:
    text, tree = parsed
    at = text.index("清理规范性文件46件")
    assert [n.title for n in tree.path_at(at)] == [
        "2022年法治政府建设主要成效",
        "依法全面履行政府职能",
        "优化营商环境",
    ]
    assert tree.kind_at(at) == SectionKind.achievements
    assert tree.kind_at(text.index("现将有关情况报告如下")) == SectionKind.preamble
    assert tree.kind_at(text.index("县委书记带头")) == SectionKind.leadership
    assert tree.kind_at(text.index("基层执法力量薄弱")) == SectionKind.problems
    assert tree.kind_at(text.index("持续推进学习")) == SectionKind.plans


def test_a_problem_word_inside_achievements_is_not_a_problems_section(parsed: tuple[str, Outline]) -> None:
    text, tree = parsed
    at = text.index("对督察反馈存在问题立行立改")
    assert tree.kind_at(at) == SectionKind.achievements
    problems = [n for n in tree.nodes if n.kind == SectionKind.problems]
    assert [n.title for n in problems] == ["存在问题及2023年工作打算"]


def test_the_sample_problem_word_stays_in_achievements(sample_report_path: Path) -> None:
    text = normalize(sample_report_path.read_text(encoding="utf-8"))
    tree = outline.parse(text)
    _check_tree(text, tree)
    assert tree.kind_at(text.index("对督察反馈存在问题立行立改")) == SectionKind.achievements
    kinds = [n.kind for n in tree.nodes]
    assert kinds.count(SectionKind.problems) == 1 and kinds.count(SectionKind.plans) == 1


@pytest.mark.parametrize(
    "title, kind",
    [
        ("法治政府建设开展情况", SectionKind.achievements),
        ("2021年度主要工作开展情况", SectionKind.achievements),
        ("党政主要负责人履行推进法治建设第一责任人职责情况", SectionKind.leadership),
        ("存在的问题", SectionKind.problems),
        ("工作中存在的不足", SectionKind.problems),
        ("2021年工作打算", SectionKind.plans),
        ("下一步工作重点", SectionKind.plans),
        ("2022年工作思路", SectionKind.plans),
        ("存在问题及2022年工作打算", SectionKind.problems),  # split later
    ],
)
def test_classify(title: str, kind: SectionKind) -> None:
    assert outline.classify(title) == kind


# --- mixed problems + plans sections ------------------------------------------------------------

HEAD = (
    "临川市青禾县人民政府关于2021年度法治政府建设情况的报告\n"
    "2021年，我县扎实推进法治政府建设，现将有关情况报告如下。\n"
    "一、主要成效\n（一）依法全面履行政府职能\n全面深化改革，办理审批事项1361件。\n"
)
TAIL = "青禾县人民政府\n2022年3月1日\n"

MIXED = {
    # one paragraph: problems after an opener, then a year-led plans sentence on the same line
    "same-line": (
        "三、工作不足及2022年工作主要安排\n2021年，我县法治政府建设虽取得一定成绩，但也存在一些不足："
        "少数干部法治意识不够牢固；基层执法力量较为薄弱。2022年，我县将深入学习贯彻习近平法治思想，"
        "努力建设更高水平的法治政府。\n",
        "2022年，我县将深入学习贯彻",
        "工作不足及2022年工作主要安排",
        "2022年工作主要安排",
    ),
    # inline lists in both halves
    "inline-lists": (
        "三、存在问题和下一步工作打算\n一是执法规范化水平有待提升；二是复议体制有待完善。\n"
        "下一步，我县将重点做好以下工作：一是持续深化改革；二是加强执法监督；三是强化普法宣传。\n",
        "下一步，我县将重点做好以下工作",
        "存在问题和下一步工作打算",
        "下一步工作打算",
    ),
    # sub-headings for each half
    "sub-headings": (
        "三、存在问题及2022年工作打算\n（一）存在问题\n执法规范化水平有待提升，复议体制有待完善。\n"
        "（二）2022年工作打算\n持续深化改革，加强执法监督。\n",
        "（二）2022年工作打算",
        "存在问题及2022年工作打算",
        "2022年工作打算",
    ),
    # an un-enumerated problems paragraph, then enumerated plans
    "enumerated-plans": (
        "三、存在的问题和2022年工作安排\n执法规范化水平有待提升，复议体制有待完善。\n"
        "（一）持续深化改革。深化放管服。\n（二）加强执法监督。完善制度。\n",
        "（一）持续深化改革",
        "存在的问题和2022年工作安排",
        "2022年工作安排",
    ),
}


@pytest.mark.parametrize("case", MIXED, ids=list(MIXED))
def test_a_mixed_section_is_split_where_the_plans_begin(case: str) -> None:
    body, plans_start, problems_title, plans_title = MIXED[case]
    text = normalize(HEAD + body + TAIL)
    tree = outline.parse(text)
    _check_tree(text, tree)
    problems, plans = (n for n in tree.nodes if n.kind in (SectionKind.problems, SectionKind.plans))
    assert (problems.kind, plans.kind) == (SectionKind.problems, SectionKind.plans)
    assert (problems.title, plans.title) == (problems_title, plans_title)
    assert text.startswith(plans_start, plans.start)
    assert problems.end <= plans.start
    assert plans_start not in text[problems.start : problems.end]
    assert (
        "有待提升" in text[problems.start : problems.end] or "不够牢固" in text[problems.start : problems.end]
    )
    for n in problems.walk():
        assert n.end <= plans.start and n.kind == SectionKind.problems
    for n in plans.walk():
        assert n.start >= plans.start and n.kind == SectionKind.plans


def test_each_half_of_a_mixed_section_keeps_its_own_inline_list() -> None:
    body = MIXED["inline-lists"][0]
    text = normalize(HEAD + body + TAIL)
    tree = outline.parse(text)
    problems, plans = (n for n in tree.nodes if n.kind in (SectionKind.problems, SectionKind.plans))
    assert [c.title for c in problems.children] == ["执法规范化水平有待提升", "复议体制有待完善"]
    assert [c.title for c in plans.children] == ["持续深化改革", "加强执法监督", "强化普法宣传"]


def test_a_problems_section_without_plans_is_not_split() -> None:
    text = normalize(HEAD + "二、存在问题和不足\n一是执法力量薄弱；二是普法针对性不强。\n" + TAIL)
    tree = outline.parse(text)
    assert [n.kind for n in tree.nodes] == [
        SectionKind.achievements,
        SectionKind.problems,
        SectionKind.closing,
    ]


@pytest.mark.parametrize(
    "seed, problems_title, plans_start",
    [
        ("000", "工作不足及2021年工作主要安排", "2021年，我区将坚持"),
        ("002", "存在问题和下一步工作打算", "2021年是"),
        ("004", "存在问题及2022年工作打算", "2022年，将重点做好以下工作"),
    ],
)
def test_mixed_sections_of_the_seeds(
    seeds_dir: Path, seed: str, problems_title: str, plans_start: str
) -> None:
    path = next(seeds_dir.glob(f"{seed}_*.txt"))
    text = normalize(path.read_text(encoding="utf-8"))
    tree = outline.parse(text)
    _check_tree(text, tree)
    problems = [n for n in tree.nodes if n.kind == SectionKind.problems]
    plans = [n for n in tree.nodes if n.kind == SectionKind.plans]
    assert [n.title for n in problems] == [problems_title]
    assert len(plans) == 1
    assert text.startswith(plans_start, plans[0].start)


# --- closing matter --------------------------------------------------------------------------------

PLAN_ONLY = """某县2021年法治政府建设情况报告
一、主要成效
（一）深化改革。精简审批事项20项。
二、存在问题
一是法治意识不强；二是执法力量不足。
三、下一步工作安排
2022年，我县将继续深入推进法治政府建设，加强学习，规范执法。
"""
PLAN_PARAGRAPH = "2022年，我县将继续深入推进法治政府建设，加强学习，规范执法。"


def _plans_and_closing(text: str) -> tuple[str, str]:
    tree = outline.parse(text)
    _check_tree(text, tree)
    assert [n.kind for n in tree.nodes][-2:] == [SectionKind.plans, SectionKind.closing]
    plans, closing = tree.nodes[-2:]
    assert plans.end < closing.start
    return text[plans.body_start : plans.end], text[closing.start : closing.end]


def test_a_site_footer_after_the_signature_is_closing_matter() -> None:
    footer = (
        "主办单位：某县人民政府办公室版权所有某ICP备12345678号-1网站标识码1234567890公安备案号12345678901234"
    )
    text = normalize(PLAN_ONLY + "某县人民政府\n2022年1月5日") + "\n" + footer  # (normalize drops it)
    plans, closing = _plans_and_closing(text)
    assert plans == PLAN_PARAGRAPH
    assert closing == f"某县人民政府\n2022年1月5日\n{footer}"


@pytest.mark.parametrize(
    "lines",
    [
        [
            "中共某县委全面依法治县委员会办公室、某县人民政府办公室、某县司法局、某县行政审批服务局",
            "2022年1月5日",
        ],
        ["某县人民政府", "二〇二二年一月五日", "（此件公开发布）"],
        [
            "某县人民政府",
            "2022年1月5日",
            "抄送：市委依法治市办，市司法局，县委各部门，县人大常委会办公室，县政协办公室，县法院，县检察院。",
        ],
        [
            "某县人民政府",
            "2022年1月5日",
            "附件：某县2021年法治政府建设情况统计表及重点工作任务完成情况一览表（共12项）.pdf",
        ],
    ],
    ids=["long-signature", "chinese-date", "distribution", "attachment"],
)
def test_closing_matter_is_told_by_what_it_says_not_by_its_length(lines: list[str]) -> None:
    text = normalize(PLAN_ONLY) + "\n" + "\n".join(lines)
    plans, closing = _plans_and_closing(text)
    assert plans == PLAN_PARAGRAPH
    assert closing == "\n".join(lines)


@pytest.mark.parametrize(
    "last",
    [PLAN_PARAGRAPH, "市政府局" * 60 + "协同推进", "加强人民政府司法局办公室协同" * 10 + "。"],
    ids=["sentence", "long-unfinished", "org-words"],
)
def test_a_long_last_paragraph_is_not_closing_matter(last: str) -> None:
    text = normalize(PLAN_ONLY.replace(PLAN_PARAGRAPH, last))
    tree = outline.parse(text)
    assert tree.nodes[-1].kind == SectionKind.plans
    assert text[tree.nodes[-1].body_start : tree.nodes[-1].end] == last


# --- metadata --------------------------------------------------------------------------------------


def test_meta_of_a_synthetic_report(parsed: tuple[str, Outline]) -> None:
    _, tree = parsed
    meta = tree.meta
    assert meta.title == "临川市青禾县人民政府关于2022年度法治政府建设情况的报告"
    assert meta.issuer == "临川市青禾县人民政府"
    assert meta.region == "临川市青禾县"
    assert meta.year == 2022  # the year reported on …
    assert meta.published == "2023-02-15"  # … not the year published
    assert meta.doc_number == "青政发〔2023〕3号"


def test_the_publication_date_field_wins_over_the_signing_date_field() -> None:
    text = normalize("某区2020年度法治政府建设情况的报告\n成文日期:2021-03-31\n发布日期:2021-04-01\n正文。")
    assert extract_meta(text).published == "2021-04-01"


def test_the_signature_date_is_used_when_the_page_has_no_date_field() -> None:
    text = normalize(
        "中共某市某区委关于2020年度法治政府建设情况的报告\n正文内容写在这里，共计若干字。\n"
        "中共某市某区委\n2021年2月9日\n（此件公开发布）\n中共某市某区委办公室 2021年2月18日印发"
    )
    assert extract_meta(text).published == "2021-02-09"


def test_year_without_one_in_the_title() -> None:
    text = normalize("某市法治政府建设工作情况\n发布时间：2022-01-28\n2021年，我市稳步推进法治政府建设。")
    assert extract_meta(text).year == 2021
    text = normalize("某市法治政府建设工作情况\n发布时间：2022-01-28\n我市稳步推进法治政府建设。")
    assert extract_meta(text).year == 2021  # the year before publication


def test_a_title_wrapped_over_two_lines() -> None:
    text = normalize(
        "中共某市某区委某市某区人民政府关于2020年度法治政府建\n设情况的报告\n市委、市政府：\n正文。"
    )
    meta = extract_meta(text)
    assert meta.title == "中共某市某区委某市某区人民政府关于2020年度法治政府建设情况的报告"
    assert meta.issuer == "中共某市某区委、某市某区人民政府"
    assert meta.year == 2020


def test_no_document_number_when_the_field_is_empty() -> None:
    text = normalize(
        "某区人民政府关于2021年度法治政府建设工作的报告\n[ 发文字号 ]\n发布日期：2022-03-16\n正文。"
    )
    assert extract_meta(text).doc_number is None


def _golden_meta(stem: str) -> dict[str, object]:
    meta: dict[str, object] = json.loads((GOLDEN_DIR / f"{stem}.json").read_text(encoding="utf-8"))["meta"]
    return meta


def test_meta_of_the_seeds(seed_path: Path) -> None:
    want = _golden_meta(seed_path.stem)
    meta = extract_meta(normalize(seed_path.read_text(encoding="utf-8")))

    def squash(s: object) -> str:
        return re.sub(r"\s+", "", str(s))

    assert meta.year == want["year"]
    assert meta.region == want["region"]
    assert meta.published == want["published"]
    assert meta.doc_number == want["doc_number"]
    assert squash(meta.title) == squash(want["title"])
    # Where the report names no signing body, the golden file lists looser matches it accepts.
    alternates = want.get("alternates") or {}
    assert isinstance(alternates, dict)
    assert meta.issuer == want["issuer"] or meta.issuer in alternates.get("issuer", [])


def test_meta_of_the_sample(sample_report_path: Path) -> None:
    meta = extract_meta(normalize(sample_report_path.read_text(encoding="utf-8")))
    assert meta.title == "青禾县人民政府关于2023年度法治政府建设情况的报告"
    assert meta.issuer == "青禾县人民政府"
    assert meta.region == "临川市青禾县"
    assert (meta.year, meta.published) == (2023, "2024-03-08")
    assert meta.doc_number == "青政发〔2024〕5号"
