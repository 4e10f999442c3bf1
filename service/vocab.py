"""The Chinese-text knowledge govbrief reads reports with, declared once and imported everywhere.

Character classes, numerals, sentence ends, organisation names, and the words a careful reader uses
to tell what part of an annual report a passage is: a review of the year (成效), shortcomings admitted
(问题), or the coming year's work (计划). Patterns here are plain building blocks; the stages that use
them (normalize, outline, meta, the rules backend) decide what a match means.
"""

from __future__ import annotations

import re

# --- characters -------------------------------------------------------------------------------------

#: CJK ideographs: Extension A, the unified block, compatibility ideographs.
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_CHAR = re.compile(f"[{CJK}]")


def is_cjk(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" or "\uf900" <= ch <= "\ufaff"


def is_cjk_text_char(ch: str) -> bool:
    """A character Chinese text is made of: ideographs, CJK and full-width punctuation, general
    punctuation (“” — …), enclosed numbers (①)."""
    return "\u3000" <= ch <= "\u9fff" or "\u2000" <= ch <= "\u24ff" or "\uff00" <= ch <= "\uffef"


#: A sentence ends at one of these (a `；` ends a clause, not a sentence).
SENTENCE_ENDS = "。！？"

# --- numerals ---------------------------------------------------------------------------------------

#: The numerals of heading markers (`一、`, `（十）`, `二十一是`).
NUMERALS = "一二三四五六七八九十"
_DIGITS = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}


def chinese_number(s: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 二十三 → 23, 一百零五 → 105; 0 for anything else."""
    if not s or any(ch not in _DIGITS and ch not in "十百" for ch in s):
        return 0
    total, current = 0, 0
    for ch in s:
        if ch == "百":
            total += (current or 1) * 100
            current = 0
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
        else:
            current = _DIGITS[ch]
    return total + current


# --- organisations ----------------------------------------------------------------------------------

#: What the name of a government body or Party organ ends with.
ORG_SUFFIX = (
    r"人民政府|政府办公室|政府办公厅|政府|委员会|[区市县州省旗]委|党委|党组|办公室|办公厅|领导小组|办事处|"
    r"[厅局委办署]"
)
ORG_NAME = re.compile(rf"[{CJK}]{{2,30}}?(?:{ORG_SUFFIX})")

# --- what part of a report a heading names -----------------------------------------------------------

#: A heading about the 党政主要负责人's duty (第一责任人).
LEADERSHIP_WORDS = re.compile(r"第一责任人|主要负责人|党政主要|一把手")
#: What a shortcoming is called (the nouns of "存在的问题", "薄弱环节").
PROBLEM_NOUNS = r"问题|不足|短板|差距|困难|薄弱环节|瓶颈"
#: What the coming year's work is called (the nouns of "2022年工作打算", "下一步工作重点").
PLAN_NOUNS = r"打算|计划|安排|思路|重点|目标|设想|举措|措施|方向|建议|展望"
#: When the coming year's work is to be done.
NEXT_TIME = r"下一步|下步|今后|明年|来年|新的一年"
#: A heading about shortcomings.
PROBLEM_WORDS = re.compile(rf"{PROBLEM_NOUNS}|薄弱|挑战")
#: A heading about the coming year's work.
PLAN_WORDS = re.compile(
    r"打算|计划|安排|思路|下一步|下步|工作重点|重点工作|重点任务|主要任务|工作任务|目标任务|展望|努力方向|"
    r"工作目标|今后|总体要求|政策取向|总体部署|工作部署|建议|明年|新的一年"
)
#: A chapter that frames the coming year's work rather than listing it ("2019年经济社会发展总体要求和
#: 政策取向"): where a report has one beside its tasks chapter, only its targets are plans.
FRAMING_WORDS = re.compile(r"总体要求|政策取向|总体部署|指导思想")
#: The sentence stating a plan's targets ("今年经济社会发展的主要预期目标是：…").
TARGETS = re.compile(r"(?:主要)?预期目标|主要目标(?:是|为)")
#: A heading about work done: a review, results, what was carried out.
REVIEW_WORDS = re.compile(
    r"回顾|总结|成效|成绩|成果|进展|取得|完成情况|工作情况|开展情况|落实情况|推进情况|建设情况|履职情况|"
    r"主要工作|主要做法|做法|过去|去年"
)
#: A year named in a heading ("2023年工作回顾", "对2018年政府工作的建议").
YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})年")

# --- what a sentence says -----------------------------------------------------------------------------

#: The turn where a review admits its shortcomings: "在肯定成绩的同时，我们也清醒看到……",
#: "但也要看到……", "与……要求相比，还存在……差距", "政府工作也存在不足".
PROBLEM_TURN = re.compile(
    r"清醒(?:地)?(?:看到|认识到)|(?:同时|但|但是)，?(?:也|还|更)?要看到|(?:更|也)要看到[^。]{0,12}(?:困难|问题|挑战|不足)|"
    r"(?:肯定|看到)成绩的同时|相比[^。]{0,20}(?:还|仍)?(?:存在|有)[^。]{0,20}(?:差距|不足)|"
    r"(?:也|还|仍|仍然|依然)(?:存在|面临|有)[^。]{0,16}(?:问题|不足|短板|差距|困难|挑战|薄弱环节)|"
    r"(?:问题|不足|短板|差距|困难)(?:和|与)(?:问题|不足|短板|差距|困难|挑战)|存在不足|缺点和不足"
)
#: Words that a stated problem is made of ("仍需增强", "不到位", "隐患不容忽视").
PROBLEM_STATEMENT = re.compile(
    r"不够|不足|不强|不高|不力|不到位|不平衡|不充分|不规范|不完善|不健全|不严|不明显|不容忽视|滞后|薄弱|短板|"
    r"仍需|仍然|依然|有待|较大|较多|乏力|下行|困难|压力|风险|隐患|问题|矛盾|挑战|差距|突出|偏[低高弱少]|"
    r"欠缺|缺乏|难以|不少|尚未|还没有|少数|一些|个别|形式主义|官僚主义"
)
#: A sentence about the coming year's work: what will, must or is aimed to be done. Only the modal
#: forms count: "要" in 重要/需要/要求 and "将" in "将…纳入" (done) say nothing of the future.
FUTURE_MODAL = re.compile(
    r"(?:我们|我[区市县省州局委]|全[区市县省州])将|将(?:继续|进一步|持续|全面|着力|加快|深入|坚持|重点|不断|大力|围绕|聚焦|"
    r"以|按照|认真|积极|切实|统筹|扎实|力争)|(?<![重主需只必])要(?:坚持|加快|继续|进一步|着力|持续|深入|全面|加强|推动|推进|"
    r"强化|把|以|在|确保|抓好|做好|扎实|大力|切实|更加|积极|严格|不断|注重|围绕|聚焦|健全|完善|落实|突出|加大|深化|提高)|"
    r"力争|争取|拟|预期|今年(?:再|要|将)|明年|下一步|今后"
)
#: A sentence about work done: completed, achieved, counted.
PAST = re.compile(
    r"完成|实现|同比|增长了?|下降了?|达到|累计|共计|共[有办受审出开组举培]|已|取得|获得|获评|荣获|成功|出台了?|"
    r"制定了?|印发了?|开展了?|办理了?|受理|审结|查处|化解|[0-9０-９]+(?:件|项|次|人次|家|个|万|亿)|了"
)
#: Opening words of a sentence that starts the coming year's work inside a mixed section.
PLAN_OPENING = re.compile(
    r"^(?:下一步|下步|今后|明年|新的一年|\d{4}年(?:是|，|,|我|全|将|要|本)|[我本][区市县镇省州局].{0,6}将|"
    r".{0,12}(?:工作打算|重点做好|工作安排|工作计划|工作思路)[如以]?)"
)
