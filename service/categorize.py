"""Assign a work-area Category to an item from its words (rules backend; LLM fallback)."""

from __future__ import annotations

import re

from service.models import Category
from service.vocab import NEXT_TIME, PLAN_NOUNS, PROBLEM_NOUNS

# Order breaks ties: the more specific areas first.
_KEYWORDS: list[tuple[Category, str]] = [
    (
        Category.party_leadership,
        r"第一责任人|党政主要负责人|主要负责人|党的领导|党对法治政府建设的领导|党建统领|述法|一把手|领导职责|领导小组|推进机制|督察考核|目标考核|关键少数|责任意识|示范创建",
    ),
    (Category.emergency_response, r"疫情|应急|突发|防控|防汛|抗灾|新冠"),
    (
        Category.digital_government,
        r"数字|信息化|智治|互联网\+|一网通办|大数据|智慧|数智|在线|掌上办|电子|平台",
    ),
    (Category.rule_making, r"规范性文件|立法|制度体系|备案审查|规章|合法性审核|文件清理"),
    (Category.major_decisions, r"重大行政决策|决策|合法性审查|法律顾问|合同|公众参与|专家论证|风险评估"),
    (Category.law_enforcement, r"执法|处罚|行政检查|三项制度|裁量|持证|监管|双随机"),
    (
        Category.disputes_reconsideration,
        r"复议|应诉|纠纷|调解|矛盾|信访|诉讼|枫桥|争议|法律援助|公共法律服务",
    ),
    (
        Category.oversight_transparency,
        r"监督|政务公开|信息公开|制约|督察|督查|审计|问责|人大|政协|诚信|公开|通报|约谈",
    ),
    (
        Category.functions_business,
        r"营商环境|放管服|审批|职能|权责清单|市场主体|商事|信用|政务服务|负面清单|企业|证明事项|公共服务",
    ),
    (
        Category.legal_publicity_training,
        r"普法|法治宣传|宣传教育|学法|培训|法治教育|法治意识|法治思维|八五|七五|法治观念|法治文化|考试|法治信仰|依法治理",
    ),
]
_COMPILED = [(cat, re.compile(p)) for cat, p in _KEYWORDS]


def categorize(title: str, body: str = "") -> Category:
    """The area the heading's own words name; the body only breaks ties (a 政府职能 section that
    reports mostly on 疫情 is still about government functions)."""
    best, best_score = Category.other, (0, 0)
    head = body[:300]
    for cat, pattern in _COMPILED:
        score = (len(pattern.findall(title)), len(pattern.findall(head)))
        if score > best_score:
            best, best_score = cat, score
    return best


# --- headings that only name a part of the report ---------------------------------------------------

_PROBLEM_WORD = rf"(?:当前|目前|工作中|仍然|还|一些)?(?:存在的?|面临的?|主要的?|突出的?)?(?:{PROBLEM_NOUNS})"
_PLAN_WORD = (
    rf"(?:(?:{NEXT_TIME}|\d{{4}}年度?)的?)?(?:法治政府建设)?(?:主要)?(?:工作)?(?:{PLAN_NOUNS})"
    rf"|(?:{NEXT_TIME}|\d{{4}}年度?)的?(?:主要)?(?:工作)?"
)
_PART = rf"(?:{_PROBLEM_WORD}|{_PLAN_WORD})"
_SECTION_WORD = re.compile(rf"^{_PART}(?:(?:和|与|及|暨|、|以及){_PART})*(?:如下)?$")


def is_section_word(title: str) -> bool:
    """A heading that only names a part of the report ("存在问题", "2022年工作打算", "下一步工作计划"),
    not a problem or a plan of its own."""
    words = title.strip("。：:；;，, \n")
    return bool(words) and bool(_SECTION_WORD.match(words))
