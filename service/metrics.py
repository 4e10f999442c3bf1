"""Find stated numbers with their unit and what they count: 废止涉企规范性文件28件.

The label is the noun phrase the number counts. Usually that is the words before the number
("废止涉企规范性文件28件"); when those are only a verb, a subject or a preposition and a noun follows
the unit ("组织55名新提任区管干部参与…", "对区本级21件合作协议…"), it is that noun, after the verb
when there is one: "组织…新提任区管干部". `…` marks words of the text left out of a label. A number
whose label would not say what is counted is dropped rather than given a meaningless label.

The unit is written as the text writes it: "80余次" has the unit 余次, "1个环节" 个环节, so that the
evidence span (label start to unit end) always ends with the unit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.vocab import CJK, is_cjk

_CJK = CJK
_UNITS = "个工作日|个百分点|件次|人次|户次|场次|批次|万元|亿元|平方米|%|％|㎡|件|项|个|家|次|人|场|期|条|份|起|元|户|名|所|批|天|类|部|篇|宗|笔|套|支|处|村|社区"
# Measure words made of 个 and the noun counted: "1个环节", "3个镇", "27个方面" (not "个月", "个村级").
_COMPOUND = "环节|部门|乡镇|镇街|镇乡街道|镇乡|街道|镇|村社|村|社区|单位|领域|方面|工作组|事项|行业|窗口|专班|小组|站点|网点"
_NUMBER = re.compile(
    rf"(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<mult>万|亿)?(?P<approx>余|多)?"
    rf"(?P<unit>个(?:{_COMPOUND})(?!级)|{_UNITS})(?!月)"
)
# Units that say by themselves what is measured: money, area, time.
_SELF_DESCRIBING = re.compile(r"元$|㎡$|平方米$|个工作日$|天$")
# Units after which a noun may name what is counted ("55名干部", "1次全面督察").
_COUNTER = re.compile(
    r"^(?:余|多)?(?:个|件|项|家|次|人|场|期|条|份|起|户|名|所|批|类|部|篇|宗|笔|套|支|处|件次|人次|场次|批次)$"
)

_LABEL_STOP = "，。；：、（）《》“”！？\n"
_LABEL_MAX = 24
_LABEL_TRIM_HEAD = re.compile(
    r"^(?:其中|共计|共|累计|全年|全区|全市|全县|已|并|还|今年|截至目前|目前|先后|分别|再次|此外|同时|将|把|\d{4}年)+"
)
_LABEL_TRIM_TAIL = re.compile(
    r"(?:达到|达|为|共计|共|累计|约|近|不超过|不少于|不低于|不到|超过|超|逾|均|分别|合计|总计|计)+$"
)

# Labels that are the tail of a phrase, not the thing counted ("跑动次数由", "将法治建设成效作为",
# "交通运输等", "全国第"), or a comparison ("较2019年的").
_BAD_LABEL = re.compile(
    r"(?:由|和|与|及|等|或|从|在|对|向|把|将|作|被|给|于|第|全县|全区|全市|全省)$|由(?:原来|过去|之前|此前)的?$|^较"
)

# Verbs that say nothing about what is counted ("组织55名", "完成36个", "开展了1次").
_LIGHT_VERB = (
    "充实调整|组织|完成|开展|举办|召开|办理|出动|实现|达到|推进|推动|发挥|打造|整合|选聘|选派|指导|授予|公示|"
    "现有|共有|拥有|新增|涉及|覆盖|充实|调整|制定|出台|印发|明确|梳理|组建|成立|配备|投入|落实|参与|参加|"
    "举行|帮助|提供|形成|创建|聘请|聘任|启动|上升|下降|增长|提高|提升|减少|降低|进行|加强|强化|深化|建成|"
    "设立|引导|动员|发动|培养|增加|有"
)
_MODIFIER = (
    "其中|已经|已|共计|共|累计|先后|积极|充分|进一步|高标准|精准|全面|深入|持续|集中|分批次|依法|认真|主动|逐一|"
    "成功|还|并|再|又|均|分别|联合|统一|专门|及时|切实|了"
)
_REGION = (
    "我区|我市|我县|我镇|本区|本市|本县|全区|全市|全县|全省|全国|全镇|区本级|市本级|县本级|本级|市级|区级|县级|"
    "省级|镇级|乡级|各级|各地|目前|今年|全年|年内|当年"
)
_PREPOSITION = "对|向|在|从|将|把|为|给|于|由|以|按|经|通过|的"
_NOT_SUBSTANCE = re.compile(rf"{_LIGHT_VERB}|{_MODIFIER}|{_REGION}|{_PREPOSITION}")
_ENDS_WITH_VERB = re.compile(rf"(?:{_LIGHT_VERB})了?$")
_STARTS_WITH_VERB = re.compile(rf"(?:{_LIGHT_VERB}|组成)")

# Words that end the noun after a unit ("55名干部参与…", "124名领导干部向宪法宣誓"): the verbs and
# prepositions that usually follow what is counted.
_POST_STOP = re.compile(
    r"以及|以上|左右|参与|参加|进行|担任|通过|组建|完成|实施|实行|推行|开展|作为|涉及|成立|接受|达到|实现|进驻|"
    r"入驻|纳入|进入|划转|延伸|下沉|整合|上线|办理|办结|录入|录存|上传|发布|公布|正在|依法|获得|得到|荣获|签订|"
    r"建立|负责(?!人)|年度|试点|累计|提供|提出|开通|覆盖|惠及|落户|落地|入选|评为|列入|整改|投入|使用|发放|签约|结对|"
    r"配备|设立|获评|具有|聘请|营造|下降|上升|增加|增长|减少|降低|同比|全部|分别"
)
# One-character stops, unless they are part of a word ("行为", "公共", "存在", "有效", "报告").
_POST_STOP1 = "的向在对和与及或等到均被为报已有是将把从给让获较比共"
_STOP1_WORDS = frozenset(
    re.findall(
        r"\S+",
        "行为 作为 认为 成为 因为 公共 存在 现在 所在 内在 参与 给与 普及 "
        "以及 涉及 危及 惠及 所有 具有 拥有 享有 没有 还有 只有 特有 固有 "
        "就是 还是 都是 或是 但是 也是 即将 通报 年报 举报 上报 简报 快报 "
        "月报 周报 专报 申报 填报 汇报 预报 海报 比对 核对 针对 面对 应对 "
        "平等 同等 对等 高等 中等 被告 调和 总和 共和 有效 有关 有序 有力 "
        "对象 对外 和解 在线 在编 在职 在岗 在校 报告 报表 是否 为民 给予 "
        "从业 把关 比例 比重 较大 较为 等级 到期 获奖 获得 已有 共享 共建 "
        "共治 共同 外向 定向 导向 取向 双向 方向 意向 流向 面向 倾向 ",
    )
)
_POST_MAX = 12


def format_number(value: float) -> str:
    """A metric's value as a report writes it: 28.0 → "28", 32604.23 → "32604.23" (`:g` would give
    "32604.2", and "1.2e+06" for 1200000)."""
    text = repr(float(value))
    if "e" in text:
        text = f"{value:f}".rstrip("0").rstrip(".")
    return text.removesuffix(".0")


@dataclass(frozen=True)
class FoundMetric:
    label: str
    value: float
    unit: str
    start: int  # evidence span: from the label (or the number) to the unit
    end: int


def _has_substance(label: str) -> bool:
    """Words of its own beyond verbs, adverbs, places-as-scope and prepositions: a noun-ish word of
    two or more characters ("行政复议案件", "受理"), not "组织", "已完成", "对区本级"."""
    rest = _NOT_SUBSTANCE.sub("", label.replace("…", ""))
    return len(re.findall(rf"[{_CJK}]", rest)) >= 2


def _scan_back(text: str, start: int, number_start: int) -> tuple[int, str]:
    """The words before a number back to the previous clause break: (their start, the label text).

    Quoted names and book titles right before are read past when the words after them say too little:
    "学习《宪法》《条例》等法律法规27次" → "学习…法律法规", "开展“法治体检进企业”活动126场次" →
    "“法治体检进企业”活动"."""
    i = number_start
    while i > start and text[i - 1] not in _LABEL_STOP and number_start - i < _LABEL_MAX:
        i -= 1
    so_far = text[i:number_start]
    j = i
    while j > start and text[j - 1] in "》”":
        k = text.rfind("《" if text[j - 1] == "》" else "“", start, j - 1)
        if k == -1 or j - k > 40:
            break
        j = k
    if j == i or not (so_far.startswith("等") or (len(so_far) <= 2 and i - j <= 18)):
        return i, so_far
    h = j
    while h > start and text[h - 1] not in _LABEL_STOP and j - h < _LABEL_MAX:
        h -= 1
    if so_far.startswith("等"):
        # "…法律法规" would say nothing the plain words do not: elide only after words of its own
        own = _LABEL_TRIM_HEAD.sub("", text[h:j])
        return (h + (j - h - len(own)), own + "…" + so_far[1:]) if own else (i + 1, so_far[1:])
    return h, text[h:number_start]


def _enumeration_start(text: str, start: int, label_start: int) -> int:
    """Where an enumeration the number totals begins: "向东禅、保石、白马3个镇" → at 东禅."""
    i = label_start
    while i > start and text[i - 1] == "、":
        j = i - 1
        while j > start and text[j - 1] not in _LABEL_STOP:
            j -= 1
        element = text[j : i - 1]
        if not element or len(element) > 6 or re.search(r"\d", element):
            return label_start
        i = j
    m = re.match(r"向|在|对|将|把|从|与|和|包括|涵盖", text[i:label_start])
    return i + (m.end() if m else 0)


def _post_stops(text: str, j: int) -> bool:
    if _POST_STOP.match(text, j):
        return True
    ch = text[j]
    return (
        ch in _POST_STOP1 and text[j : j + 2] not in _STOP1_WORDS and text[j - 1 : j + 1] not in _STOP1_WORDS
    )


def _post_noun(text: str, pos: int, end: int) -> str | None:
    """The noun right after a unit ("55名新提任区管干部参与" → 新提任区管干部), or None."""
    if pos < end and (_post_stops(text, pos) or _STARTS_WITH_VERB.match(text, pos)):
        return None
    j = pos
    while j < end and is_cjk(text[j]) and not (j > pos and _post_stops(text, j)):
        j += 1
        if j - pos > _POST_MAX:
            return None  # no clear end: a clause, not a noun
    noun = text[pos:j]
    if len(noun) < 2:
        return None
    after = text[j : j + 2]
    if after[:1] in ("“", "《", '"') or (after[:1] == "、" and not after[1:2].isdigit()):
        return None  # a noun that runs on into a name, or a list of modifiers ("12个专业性、行业性…")
    return noun


def _label(text: str, start: int, end: int, m: re.Match[str], unit: str) -> tuple[str, int] | None:
    """(label, evidence start) for the number matched by `m`, or None when nothing says what it counts."""
    i, raw = _scan_back(text, start, m.start())
    # A label never holds another figure: "精准制定27个方面232条…" labels 232 by what follows 27个方面.
    inner = [n.end() for n in _NUMBER.finditer(text, i, m.start())]
    if inner and "…" not in raw:
        i, raw = inner[-1], text[inner[-1] : m.start()]
    if 0 < len(raw) <= 4 and i > start and text[i - 1] == "、":
        e = _enumeration_start(text, start, i)
        if e < i:
            i, raw = e, text[e : m.start()]
    label = _LABEL_TRIM_TAIL.sub("", _LABEL_TRIM_HEAD.sub("", raw))
    label_start = i + raw.find(label) if label and raw.find(label) != -1 else m.start()
    post = _post_noun(text, m.end(), end) if _COUNTER.match(unit) else None
    junk = not label or bool(_BAD_LABEL.search(label)) or label.endswith("的")
    if post:
        verb = _ENDS_WITH_VERB.search(label) if label else None
        if verb and re.fullmatch(r"(?:现|共|拥)?有了?", verb.group(0)):
            return post, m.start()  # "现有8名工作人员" counts 工作人员
        if verb:
            v = verb.group(0).removesuffix("了")
            return f"{v}…{post}", label_start + verb.start()
        if junk or not _has_substance(label):
            return post, m.start()
        return f"{label}…{post}", label_start
    if label.endswith("的") and not _BAD_LABEL.search(label[:-1]):
        label = label[:-1]  # "占全区综合执法事项的21.2%"
        junk = not label
    if junk or not re.search(rf"[{_CJK}]", label):
        return None
    if not _has_substance(label) and not (_SELF_DESCRIBING.search(unit) and len(label) >= 2):
        return None
    return label, label_start


def find_metrics(
    text: str, start: int = 0, end: int | None = None, *, limit: int | None = None
) -> list[FoundMetric]:
    """Metrics stated in text[start:end], in order; offsets are absolute. `limit`: only the first ones."""
    end = len(text) if end is None else end
    out: list[FoundMetric] = []
    for m in _NUMBER.finditer(text, start, end):
        if limit is not None and len(out) >= limit:
            break
        if m.start() > 0 and text[m.start() - 1] in "0123456789.-/〔[第":
            continue  # part of a date, a 文号 or a range; an ordinal ("全国第2期")
        unit = m.group("unit")
        value = float(m.group("num").replace(",", ""))  # 1,361 (thousands separators)
        mult = m.group("mult")
        approx = m.group("approx") or ""
        if unit == "％":
            unit = "%"
        if mult and unit != "元":
            value = round(value * (10_000 if mult == "万" else 100_000_000), 6)
            unit = approx + unit  # 12万余件 → 120000, 余件
        elif mult:
            unit = mult + approx + unit  # 1.2万余元 → 1.2, 万余元
        else:
            unit = approx + unit  # 80余次 → 80, 余次
        found = _label(text, start, end, m, unit)
        if found is None:
            continue
        label, label_start = found
        value_out = int(value) if value.is_integer() else value
        out.append(
            FoundMetric(label=label, value=float(value_out), unit=unit, start=label_start, end=m.end())
        )
    return out
