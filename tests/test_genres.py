"""The annual-report family on reports govbrief was not built on.

Every report here is fictional and written for these tests in the shapes the genre takes in the wild
(a city's 政府工作报告, the five-year form, a department's year-end summary, a web page of a district's
rule-of-law report); none of them is in evals/ or was used to develop the rules. Each test states what a
careful reader of that report would expect.
"""

from __future__ import annotations

import pytest

from service import pipeline
from service.backends.rules import RulesBackend
from service.document import RawText, SectionKind
from service.models import Brief, Genre


def brief_of(text: str, path: str = "report.txt") -> Brief:
    raw = RawText(path=path, text=text, format="txt", sha256="0" * 64)
    return pipeline.summarize_raw(raw, RulesBackend())


def kinds_of(text: str) -> list[tuple[str, SectionKind]]:
    raw = RawText(path="report.txt", text=text, format="txt", sha256="0" * 64)
    doc = pipeline.analyze(raw)
    return [(n.title, n.kind) for n in doc.outline.nodes if n.kind != SectionKind.closing]


def quotes(items: list) -> str:
    return "\n".join(s.quote for it in items for s in it.evidence)


CITY_GWR = """政府工作报告
——2024年1月15日在青禾市第十七届人民代表大会第三次会议上
青禾市市长 李明
各位代表：
现在，我代表市人民政府，向大会报告工作，请予审议，并请市政协委员和其他列席人员提出意见。
一、2023年工作回顾
过去一年，面对复杂严峻的外部环境，我们坚持稳中求进工作总基调，全市经济社会发展取得新成效。
（一）坚持稳中求进，经济运行持续向好。全市地区生产总值完成1520亿元，同比增长6.1%。规模以上工业增加值增长7.2%。
（二）坚持改革创新，发展活力不断增强。完成市场主体登记改革，新增市场主体2.3万户，营商环境评价位居全省第三。
（三）坚持民生为本，群众获得感持续提升。新增城镇就业3.1万人，新建改扩建中小学12所，完成老旧小区改造86个。
各位代表！这些成绩的取得，是全市人民团结奋斗的结果。在此，我代表市人民政府，向全市人民表示衷心感谢！
在肯定成绩的同时，我们也清醒认识到，发展中还存在一些困难和问题：经济回升向好的基础还不稳固，有效需求不足；科技创新能力不强，产业链供应链韧性有待提升；部分企业经营困难，稳就业压力较大；一些干部担当作为不够，形式主义、官僚主义仍然存在。对此，我们将采取有力措施，认真加以解决。
二、2024年工作总体要求和目标任务
今年是实施“十四五”规划的关键一年。政府工作的总体要求是：坚持稳中求进工作总基调，推动高质量发展。
全市经济社会发展的主要预期目标是：地区生产总值增长6%左右；城镇新增就业3万人以上；居民人均可支配收入增长与经济增长同步。
三、2024年重点工作
（一）大力推进现代化产业体系建设。实施制造业强链补链行动，力争新增规模以上工业企业60家。
（二）持续扩大有效需求。实施消费提振行动，完成固定资产投资增长5%以上。
（三）着力保障和改善民生。新增城镇就业3万人以上，新建公办幼儿园5所。
四、全面加强政府自身建设
（一）坚持依法行政。严格执行重大行政决策程序，自觉接受人大法律监督和政协民主监督。
（二）坚持廉洁从政。锲而不舍落实中央八项规定精神，持续纠治“四风”。
各位代表！
新征程上，我们将在市委的坚强领导下，奋发进取，为建设现代化青禾而不懈奋斗！
"""


def test_a_city_government_work_report_reads_right_side_out() -> None:
    brief = brief_of(CITY_GWR)
    r = brief.report
    assert r.genre == Genre.government_work_report
    assert (r.issuer, r.region, r.year) == ("青禾市人民政府", "青禾市", 2023)  # reviews 2023, delivered 2024
    assert (r.published, r.meeting) == ("2024-01-15", "青禾市第十七届人民代表大会第三次会议")
    assert r.title == "政府工作报告"

    achievements = [it.title for it in brief.achievements]
    assert achievements == [
        "坚持稳中求进，经济运行持续向好",
        "坚持改革创新，发展活力不断增强",
        "坚持民生为本，群众获得感持续提升",
    ]

    # The turn inside the review: one problem per problem stated, none of the turn's own words.
    problems = quotes(brief.problems)
    assert len(brief.problems) == 4
    for stated in (
        "经济回升向好的基础还不稳固",
        "科技创新能力不强",
        "稳就业压力较大",
        "形式主义、官僚主义仍然存在",
    ):
        assert stated in problems
    assert "清醒认识到" not in problems and "对此" not in problems

    plans = quotes(brief.plans)
    assert "地区生产总值增长6%左右" in plans  # the year's targets are a plan
    for task in (
        "大力推进现代化产业体系建设",
        "持续扩大有效需求",
        "着力保障和改善民生",
        "坚持依法行政",
        "坚持廉洁从政",
    ):
        assert task in plans
    # The review never leaks into the plans, the plans never into the achievements.
    assert "同比增长6.1%" not in plans
    assert "力争新增规模以上工业企业" not in quotes(brief.achievements)
    assert "奋发进取" not in plans  # the speech's closing words are no plan
    assert not any("structure" in w for w in brief.warnings)


FIVE_YEAR = """政府工作报告
——2023年1月10日在青禾省第十四届人民代表大会第一次会议上
各位代表：
现在，我代表省人民政府，向大会报告政府工作，请予审议。
一、过去五年工作回顾
五年来，我们坚定不移推动高质量发展，全省经济实力迈上新台阶。
——综合实力显著增强。全省生产总值突破2万亿元，年均增长6.2%。
——创新动能加速集聚。高新技术企业数量达到8600家，是五年前的2.5倍。
——民生福祉持续增进。累计新增城镇就业260万人，城乡居民收入年均增长7.5%。
同时也要看到，我们的工作与人民群众的期待相比还存在不少差距。发展不平衡不充分问题依然突出。城乡区域发展差距较大。生态环境保护任务依然艰巨。
二、今后五年的目标任务
今后五年，我们将着力建设创新强省，全省生产总值年均增长6%左右。
三、2023年工作安排
（一）着力扩大内需。实施扩大内需战略，力争社会消费品零售总额增长7%。
（二）着力稳定就业。落实就业优先政策，确保城镇新增就业50万人以上。
"""


def test_the_five_year_form() -> None:
    brief = brief_of(FIVE_YEAR)
    r = brief.report
    assert (r.genre, r.issuer, r.region, r.year) == (
        Genre.government_work_report,
        "青禾省人民政府",
        "青禾省",
        2022,
    )
    assert [it.title for it in brief.achievements] == [
        "综合实力显著增强",
        "创新动能加速集聚",
        "民生福祉持续增进",
    ]
    problems = quotes(brief.problems)
    for stated in ("发展不平衡不充分问题依然突出", "城乡区域发展差距较大", "生态环境保护任务依然艰巨"):
        assert stated in problems
    plans = quotes(brief.plans)
    assert "着力扩大内需" in plans and "着力稳定就业" in plans and "今后五年" in plans
    assert "年均增长6.2%" not in plans


def test_headings_that_name_years_are_weighed_against_the_year_reported_on() -> None:
    """The State Council's form: a review named by its year, then that year's and next year's tasks."""
    text = (
        "各位代表：\n现在，我代表国务院，向大会报告政府工作，请予审议。\n"
        "一、2023年工作回顾\n过去一年，国内生产总值增长5.2%，城镇新增就业1244万人。经济回升向好。\n"
        "二、2024年经济社会发展总体要求和政策取向\n今年发展主要预期目标是：国内生产总值增长5%左右；城镇新增就业1200万人以上。\n"
        "三、2024年政府工作任务\n（一）大力推进现代化产业体系建设，加快发展新质生产力。要推动产业链供应链优化升级。\n"
        "（二）深入实施科教兴国战略，强化高质量发展的基础支撑。要加强高质量教育体系建设。\n"
    )
    kinds = kinds_of(text)
    assert kinds == [
        ("2023年工作回顾", SectionKind.achievements),
        ("2024年经济社会发展总体要求和政策取向", SectionKind.plans),
        ("2024年政府工作任务", SectionKind.plans),
    ]
    brief = brief_of(text)
    assert brief.report.year == 2023 and brief.report.issuer == "国务院" and brief.report.region == "中国"
    assert len(brief.plans) == 3  # the targets, and one per task sub-section


DEPARTMENT_SUMMARY = """青禾县应急管理局2023年工作总结和2024年工作计划
2023年，我局在县委、县政府的坚强领导下，全力防范化解重大安全风险，全县安全生产形势总体平稳。
一、2023年工作开展情况
（一）安全生产专项整治深入开展。全年排查企业1260家次，整改隐患3421项，生产安全事故起数同比下降18%。
（二）防灾减灾能力持续提升。建成应急避难场所12处，组织应急演练46场次。
（三）应急队伍建设不断加强。组建乡镇应急救援队伍15支，培训应急队员800人次。
二、存在的问题
一是部分企业主体责任落实不到位，安全投入不足；二是基层应急力量依然薄弱，专业装备短缺；三是应急指挥信息化水平不高。
三、2024年工作计划
1.深化安全生产治本攻坚。聚焦危化品、交通运输等重点行业，开展三年行动。
2.提升防灾减灾救灾能力。完善自然灾害监测预警体系。
3.推进应急管理数字化。建设县级应急指挥平台。
"""


def test_a_department_year_end_summary_with_next_years_plan() -> None:
    brief = brief_of(DEPARTMENT_SUMMARY)
    r = brief.report
    assert (r.genre, r.issuer, r.year) == (Genre.work_summary, "青禾县应急管理局", 2023)
    assert len(brief.achievements) == 3 and len(brief.problems) == 3 and len(brief.plans) == 3
    assert "安全投入不足" in quotes(brief.problems)
    assert "推进应急管理数字化" in quotes(brief.plans)


WEB_PAGE = """今天是:2019年10月31日 星期三
首页 > 政务公开 > 法治政府建设
2020年静海区法治政府建设情况报告
文章来源:司法局 更新时间:2021/03/29 浏览次数:126
2020年，静海区在天津市委、市政府的坚强领导下，扎实推进法治政府建设，取得明显成效。
一、2020年法治政府建设主要工作
（一）依法全面履行政府职能。深化“放管服”改革，取消行政许可事项12项。
（二）完善依法行政制度体系。审核规范性文件36件，清理规范性文件120件。
二、存在的问题
一是个别部门依法行政意识不强；二是基层执法人员专业素质有待提高。
三、2021年工作安排
（一）加强党对法治政府建设的领导。
（二）深化行政执法体制改革。
"""


def test_a_web_page_of_a_districts_rule_of_law_report() -> None:
    r = brief_of(WEB_PAGE, "page.html.txt").report
    assert r.genre == Genre.rule_of_law_report
    assert r.published == "2021-03-29"  # never the page header's own date
    assert r.issuer == "静海区司法局" and r.year == 2020
    assert r.region is not None and r.region.endswith("静海区")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("时间:2018-05-03", "2018-05-03"),
        ("发布时间：2021.3.9 来源：区政府办", "2021-03-09"),
        ("更新时间:2021/03/29", "2021-03-29"),
        ("成文日期：2022年1月5日", "2022-01-05"),
        ("2019年12月3日星期二", None),
        ("今天是:2019年10月31日 星期三", None),
    ],
)
def test_web_page_date_fields(line: str, expected: str | None) -> None:
    text = (
        f"{line}\n青禾县2021年度法治政府建设情况报告\n一、主要成效\n"
        "（一）推进依法行政。全年办理行政复议案件12件，审核规范性文件21件，开展执法检查86次。\n"
    )
    assert brief_of(text).report.published == expected


@pytest.mark.parametrize(
    "turn",
    [
        "但也要看到，我县法治政府建设还存在一些薄弱环节。",
        "与上级要求和群众期盼相比，我县法治政府建设还存在一定差距。",
        "在肯定成绩的同时，我们也清醒看到，工作中还存在不少问题。",
    ],
)
def test_a_review_that_turns_to_its_shortcomings_yields_problems(turn: str) -> None:
    text = (
        "青禾县2022年度法治政府建设情况报告\n一、2022年工作情况\n"
        "（一）推进依法行政。全年审核规范性文件21件。\n（二）规范行政执法。全年开展执法检查86次。\n"
        f"{turn}行政执法人员素质参差不齐。规范性文件备案审查不够及时。基层法治力量依然薄弱。\n"
        "二、2023年工作打算\n（一）深入推进依法行政。\n（二）全面提升执法质效。\n"
    )
    brief = brief_of(text)
    assert len(brief.achievements) == 2
    problems = quotes(brief.problems)
    assert len(brief.problems) == 3, problems
    assert "行政执法人员素质参差不齐" in problems and "基层法治力量依然薄弱" in problems
    assert "全年开展执法检查86次" not in problems


def test_a_report_of_no_recognised_shape_says_so() -> None:
    text = (
        "有关情况\n"
        "一、关于城市更新\n今年，我们完成老旧小区改造20个，新建口袋公园8个，市民反映良好。\n"
        "二、关于乡村振兴\n今年，我们建成高标准农田3万亩，新增农民专业合作社45家。\n"
    )
    brief = brief_of(text)
    assert brief.report.genre == Genre.unknown
    assert any("structure was not recognised" in w for w in brief.warnings)
    assert any("genre not recognised" in w for w in brief.warnings)
    assert brief.achievements  # read as a review, and said so
    assert not brief.plans


def test_sections_of_a_rule_of_law_report_keep_their_order_of_kinds() -> None:
    """A problems-and-plans section still splits; a heading that names a task's problem is no problems part."""
    text = (
        "青禾县2021年度法治政府建设情况报告\n一、2021年法治政府建设情况\n（一）深化放管服改革。取消审批事项8项。\n"
        "二、存在问题及2022年工作打算\n我县法治政府建设还存在一些不足：执法不够规范；普法针对性不强。2022年，我县将重点做好以下工作：\n"
        "（一）着力解决群众反映强烈的突出问题。\n（二）提升依法行政水平。\n"
    )
    kinds = [kind for _, kind in kinds_of(text)]
    assert kinds == [SectionKind.achievements, SectionKind.problems, SectionKind.plans]
    brief = brief_of(text)
    assert len(brief.problems) == 2 and len(brief.plans) == 2


def test_a_report_whose_headings_name_no_year_is_about_the_year_its_review_names() -> None:
    text = (
        "各位代表：\n现在，我代表国务院，向大会报告政府工作，请予审议。\n一、过去一年和五年工作回顾\n"
        "2022年是党和国家历史上极为重要的一年。过去一年，国内生产总值增长3%，城镇新增就业1206万人。"
        "2022年粮食产量再创新高。五年来，经济实力明显跃升。\n"
        "二、对今年政府工作的建议\n今年发展主要预期目标是：国内生产总值增长5%左右。要着力扩大国内需求。\n"
    )
    brief = brief_of(text)
    assert brief.report.year == 2022
    assert [kind for _, kind in kinds_of(text)] == [SectionKind.achievements, SectionKind.plans]


def test_a_turn_deep_in_a_thanks_paragraph_that_announces_a_list() -> None:
    text = (
        "青禾县2023年政府工作报告\n各位代表：\n现在，我代表县人民政府，向大会报告工作，请予审议。\n"
        "一、2023年工作回顾\n（一）经济稳中向好。地区生产总值增长5.8%。\n（二）民生持续改善。新增就业6200人。\n"
        "各位代表！这些成绩来之不易。这是全县人民团结奋斗的结果。在此，我代表县人民政府表示衷心感谢！"
        "同时也要清醒看到，我县发展还存在一些困难和问题：产业结构不优，新兴产业占比偏低；财政收支矛盾突出；"
        "城乡公共服务差距较大。\n"
        "二、2024年工作安排\n（一）做强实体经济。力争规上工业增加值增长7%。\n"
    )
    brief = brief_of(text)
    assert brief.report.genre == Genre.government_work_report and brief.report.year == 2023
    assert len(brief.problems) == 3
    assert "财政收支矛盾突出" in quotes(brief.problems)
    assert "衷心感谢" not in quotes(brief.problems)


def test_the_five_parts_of_a_rule_of_law_report() -> None:
    """The parts 督察工作规定 art. 25 asks for, in its order; "other matters" is neither review nor plans."""
    text = (
        "青禾市司法局2022年度法治政府建设情况报告\n"
        "一、2022年度推进法治政府建设的主要举措和成效\n（一）深化行政执法改革。全年办理行政处罚案件320件。\n"
        "（二）加强普法宣传。开展送法下乡活动46场次。\n"
        "二、存在的不足和原因\n一是执法人员专业素质有待提高；二是普法形式较为单一。\n"
        "三、党政主要负责人履行推进法治建设第一责任人职责情况\n局主要负责人带头学法，主持召开专题会议4次。\n"
        "四、2023年度推进法治政府建设的主要安排\n（一）持续深化执法改革。\n（二）创新普法方式。\n"
        "五、其他需要报告的情况\n无。今年我局未发生行政诉讼败诉案件，全年共收到群众来信12件。\n"
    )
    assert [kind for _, kind in kinds_of(text)] == [
        SectionKind.achievements,
        SectionKind.problems,
        SectionKind.leadership,
        SectionKind.plans,
        SectionKind.other,
    ]
    brief = brief_of(text)
    assert brief.report.genre == Genre.rule_of_law_report and brief.report.issuer == "青禾市司法局"
    assert (len(brief.achievements), len(brief.problems), len(brief.plans)) == (2, 2, 2)


def test_a_review_of_run_in_paragraphs_gives_one_achievement_each() -> None:
    text = (
        "青禾县人民政府2023年工作总结\n一、2023年工作完成情况\n"
        "过去一年，全县上下团结一心，较好完成了全年目标任务。\n"
        "狠抓项目建设。全年实施重点项目86个，完成投资125亿元。\n"
        "优化营商环境。新增市场主体3200户，政务服务事项全部实现网上可办。\n"
        "改善民生福祉。新增城镇就业5200人，新建幼儿园4所。\n"
        "二、2024年工作思路\n（一）扩大有效投资。力争完成投资135亿元。\n"
    )
    brief = brief_of(text)
    assert [it.title for it in brief.achievements] == ["狠抓项目建设", "优化营商环境", "改善民生福祉"]
    assert "较好完成了全年目标任务" not in quotes(brief.achievements)
