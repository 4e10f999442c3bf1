"""Find stated numbers with their unit and what they count: 废止涉企规范性文件28件."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = "个工作日|件次|人次|户次|场次|批次|余次|万元|亿元|平方米|个百分点|%|％|㎡|件|项|个|家|次|人|场|期|条|份|起|元|户|名|所|批|天|类|部|篇|宗|笔|套|支|处|场所|村|社区"
_NUMBER = re.compile(
    rf"(?P<num>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?)(?P<mult>万|亿)?(?P<approx>余|多)?(?P<unit>{_UNITS})(?![\u4e00-\u9fff]{{0}}年)"
)
_LABEL_STOP = "，。；：、（）《》“”！？\n"
_LABEL_TRIM_HEAD = re.compile(
    r"^(?:其中|共计|共|累计|全年|全区|全市|全县|已|并|还|今年|截至目前|目前|先后|分别|再次|此外|同时|\d{4}年)+"
)
_LABEL_TRIM_TAIL = re.compile(r"(?:达到|达|为|共计|共|累计|约|近|超过|超|逾|均|分别|合计|总计|计)+$")


# Labels that are the tail of a phrase, not the thing counted ("跑动次数由", "组织全县", "交通运输等").
_BAD_LABEL = re.compile(r"(?:由|和|与|及|等|或|从|在|对|向|把|将|全县|全区|全市|全省)$")


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
    start: int  # evidence span: from the label to the unit
    end: int


def find_metrics(
    text: str, start: int = 0, end: int | None = None, *, limit: int | None = None
) -> list[FoundMetric]:
    """Metrics stated in text[start:end], in order; offsets are absolute. `limit`: only the first ones."""
    end = len(text) if end is None else end
    out: list[FoundMetric] = []
    for m in _NUMBER.finditer(text, start, end):
        if limit is not None and len(out) >= limit:
            break
        if m.start() > 0 and text[m.start() - 1] in "0123456789.-/〔[":
            continue  # part of a date, a 文号 or a range
        unit = m.group("unit")
        value = float(m.group("num").replace(",", ""))  # 1,361 (thousands separators)
        mult = m.group("mult")
        if mult and unit not in ("元",):
            value = round(value * (10_000 if mult == "万" else 100_000_000), 6)
        elif mult:
            unit = mult + unit
        if unit == "％":
            unit = "%"
        # The label: the words just before the number, back to the previous clause break.
        i = m.start()
        while i > start and text[i - 1] not in _LABEL_STOP and m.start() - i < 24:
            i -= 1
        raw_label = text[i : m.start()]
        label = _LABEL_TRIM_TAIL.sub("", _LABEL_TRIM_HEAD.sub("", raw_label))
        if len(label) < 2 or not re.search(r"[\u4e00-\u9fff]", label) or _BAD_LABEL.search(label):
            continue
        label_start = i + raw_label.index(label)
        value_out = int(value) if value.is_integer() else value
        out.append(
            FoundMetric(label=label, value=float(value_out), unit=unit, start=label_start, end=m.end())
        )
    return out
