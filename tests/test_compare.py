"""`govbrief compare` on real batches, checked against expectations written by hand from the reports.

What the five seed reports' 存在问题 chapters say (read from the texts, not from govbrief's output):

    万州 2020  少数干部法治意识不够牢固 · 基层干部依法行政能力素质还需提升 · 行政执法监督的力度广度深度不够 ·
               法治宣传还需加力
    安居 2020  行政执法不规范现象仍然存在 · 行政执法监督力度不够
    中原 2020  推动严格规范公正文明执法需要进一步加大力度 · 行政复议体制机制有待完善 · 公共法律服务还需加强
    普陀 2021  法治政府建设数字化水平有待提高 · 行政执法的力量和水平还需提升 · 基层合法性审查工作机制需健全
    铜川 2021  法治培训教育的个性化、精准度、实用性有待提高 · 行政执法“三项制度”推进不平衡 ·
               社会矛盾纠纷多元预防调处化解综合机制特色不鲜明

Hence, by hand: law enforcement (行政执法) is a problem in all five places; 万州 and 安居 name the same
one in nearly the same words (行政执法监督力度不够), so they must sit in one group; 万州 (法治宣传) and 铜川
(法治培训教育) share a legal-publicity-and-training problem; 普陀's digitalisation and 中原's public legal
services are said by no other report. No place reports twice, so there is nothing to follow up.

For follow-ups, QINGHE_2022 below is a fictional year-2022 report of the sample's county
(青禾县, see service/samples/README.md). Its four plans against the 2023 sample's achievements, by
hand: 综合行政执法改革 → 2023 (四)1 深化综合行政执法改革; 规范性文件集中清理 → 2023 (二)2 开展规范性文件集中清理;
政务公开标准化规范化 → 2023 (五)2 扎实推进政务公开 (基层政务公开标准化规范化建设); 应急管理法治保障 → nothing
in 2023 mentions 应急 or 突发事件: not mentioned.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from service import render
from service.backends.rules import RulesBackend
from service.batch import BatchOptions, BatchRunner, collect_inputs
from service.cli import app
from service.compare import build_comparison, load_briefs, write_comparison
from service.ingest import sample_path
from service.models import Brief
from service.pipeline import summarize_path

runner = CliRunner()
#: Fictional, like the sample it precedes (service/samples/README.md): every name and number made up.
QINGHE_2022 = """\
青禾县人民政府关于2022年度法治政府建设情况的报告
发布日期：2023-03-10 09:00    来源：青禾县司法局

青政发〔2023〕4号

临川市人民政府：

2022年，青禾县坚持以习近平新时代中国特色社会主义思想为指导，深入学习贯彻习近平法治思想，认真落实《法治政府建设实施纲要（2021—2025年）》，统筹推进依法行政各项工作。本文件为虚构的测试材料，县名、数字均为编造。现将有关情况报告如下。

一、2022年法治政府建设主要成效

（一）深化“放管服”改革，优化法治化营商环境

全年取消行政许可事项5项，县级政务服务事项网上可办率95.2%。推行企业开办“一窗通办”，企业开办时间压缩至2个工作日以内。

（二）加强行政规范性文件管理

严格落实行政规范性文件合法性审核机制，全年审核规范性文件15件，提出修改意见41条，备案审查率100%。

（三）推进行政执法规范化

组织全县行政执法人员参加执法资格考试，新增持证执法人员86人。开展行政执法案卷评查，评查案卷300卷，发现问题95个。

二、党政主要负责人履行推进法治建设第一责任人职责情况

县政府主要负责人认真履行推进法治建设第一责任人职责，主持召开县政府常务会议专题研究法治政府建设工作4次，全年集体学法10次。

三、存在问题及2023年工作打算

2022年，我县法治政府建设取得了一定成效，但仍存在一些问题和不足：基层综合行政执法力量不足；规范性文件清理不够及时；政务公开的标准化规范化程度不高。

2023年，我县将重点做好以下工作：

（一）深化综合行政执法改革。推进乡镇（街道）综合行政执法改革，整合执法队伍，将更多执法事项下放乡镇（街道）实施，全面落实行政执法“三项制度”。

（二）开展规范性文件集中清理。围绕民法典实施和优化营商环境，组织各部门开展行政规范性文件集中清理，建立规范性文件动态清理工作机制。

（三）推进政务公开标准化规范化。在各乡镇（街道）设立政务公开专区，提高政府信息主动公开质量，依法办理政府信息公开申请。

（四）加强应急管理法治保障。修订县级突发事件总体应急预案，组织开展防汛防台应急演练，提升依法应对突发事件的能力。

青禾县人民政府
2023年3月8日
"""


def _batch(paths: list[Path], out: Path) -> Path:
    BatchRunner(RulesBackend(), collect_inputs([str(p) for p in paths]), BatchOptions(outdir=out)).run()
    return out


@pytest.fixture(scope="module")
def seeds_out(tmp_path_factory: pytest.TempPathFactory, seed_paths: list[Path]) -> Path:
    return _batch(seed_paths, tmp_path_factory.mktemp("seeds") / "out")


@pytest.fixture(scope="module")
def compared(seeds_out: Path) -> dict[str, Any]:
    result = runner.invoke(app, ["compare", str(seeds_out)])
    assert result.exit_code == 0, result.output
    return dict(json.loads((seeds_out / "compare.json").read_text(encoding="utf-8")))


def _group_of(data: dict[str, Any], place: str, title_part: str) -> int | None:
    for n, g in enumerate(data["recurring_problems"]):
        if any(place in m["place"] and title_part in m["title"] for m in g["members"]):
            return n
    return None


def test_recurring_problems_of_the_five_reports(compared: dict[str, Any]) -> None:
    groups = compared["recurring_problems"]
    law = _group_of(compared, "万州", "行政执法监督")
    assert law is not None
    assert _group_of(compared, "安居", "行政执法监督力度不够") == law
    assert "行政执法" in groups[law]["label"]
    places = groups[law]["places"]
    for place in ("万州", "安居", "中原", "普陀", "铜川"):
        assert any(place in p for p in places), f"{place} states a law-enforcement problem"

    publicity = _group_of(compared, "铜川", "法治培训")
    assert publicity is not None and publicity != law
    assert _group_of(compared, "万州", "法治宣传") == publicity
    assert sorted(p[-3:] for p in groups[publicity]["places"]) == ["万州区", "铜川市"]

    assert _group_of(compared, "普陀", "数字化") is None
    assert _group_of(compared, "中原", "公共法律服务") is None
    assert compared["followups"] == []


def test_table_counts(compared: dict[str, Any], seeds_out: Path) -> None:
    rows = list(csv.DictReader((seeds_out / "compare.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert len(rows) == 5
    for row in rows:
        brief = Brief.model_validate_json((seeds_out / f"{row['report']}.json").read_text(encoding="utf-8"))
        for section in ("achievements", "problems", "plans"):
            items = brief.sections()[section]
            assert int(row[f"total:{section}"]) == len(items)
            per_category = [int(row[f"{c}:{section}"]) for c in compared["categories"]]
            assert sum(per_category) == len(items)
            for item in items:
                assert int(row[f"{item.category.value}:{section}"]) >= 1
    long_rows = list(
        csv.DictReader((seeds_out / "compare_long.csv").read_text(encoding="utf-8-sig").splitlines())
    )
    assert len(long_rows) == 5 * len(compared["categories"])
    problems = list(csv.DictReader((seeds_out / "problems.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert {r["group"] for r in problems} == {
        str(n) for n in range(1, len(compared["recurring_problems"]) + 1)
    }
    html = (seeds_out / "compare.html").read_text(encoding="utf-8")
    assert "多地共有的问题" in html and "行政执法" in html


def test_plans_followed_up_next_year(tmp_path: Path) -> None:
    report_2022 = tmp_path / "qinghe_2022.txt"
    report_2022.write_text(QINGHE_2022, encoding="utf-8")
    out = _batch([report_2022, sample_path()], tmp_path / "out")
    comparison = build_comparison(load_briefs(out))
    links = {f.plan.title: f for f in comparison.followups}
    assert len(links) == 4 and {f.year for f in links.values()} == {2022}

    def link(part: str) -> Any:
        return next(f for title, f in links.items() if part in title)

    assert link("综合行政执法").status == "followed_up"
    assert "综合行政执法" in (link("综合行政执法").achievement_quote or "")
    assert link("规范性文件").status == "followed_up"
    assert "规范性文件" in (link("规范性文件").achievement_quote or "")
    assert link("政务公开").status == "followed_up"
    assert "政务公开" in (link("政务公开").achievement_quote or "")
    emergency = link("应急")
    assert emergency.status == "not_mentioned" and emergency.achievement is None
    for f in links.values():
        assert f.plan.quote  # the plan's own evidence is shown with it
    # The same county's two years are one place: its problems don't "recur across places".
    assert comparison.recurring == []
    written = write_comparison(comparison, tmp_path / "cmp")
    html = (tmp_path / "cmp" / "compare.html").read_text(encoding="utf-8")
    assert "已跟进" in html and "未提及" in html and len(written) == 6


def test_copies_of_one_report_are_one_place(tmp_path: Path, seed_paths: list[Path]) -> None:
    for n in range(3):
        shutil.copy(seed_paths[0], tmp_path / f"copy{n}.txt")
    out = _batch(sorted(tmp_path.glob("copy*.txt")), tmp_path / "out")
    comparison = build_comparison(load_briefs(out))
    assert len(comparison.reports) == 3 and comparison.recurring == []


def test_html_escapes_report_text(tmp_path: Path, seed_paths: list[Path]) -> None:
    evil = '<script>alert("x")</script>'
    briefs = []
    for n, p in enumerate(seed_paths[:2]):
        brief = summarize_path(p, RulesBackend())
        brief.report.title = evil
        brief.problems[0].title = f"行政执法监督力度不够{evil}"
        briefs.append((f"r{n}{evil}", brief))
    write_comparison(build_comparison(briefs), tmp_path)
    html = (tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_reads_summarize_outputs_and_briefs_jsonl(tmp_path: Path, seed_paths: list[Path]) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    for p in seed_paths[:2]:
        (plain / f"{p.stem}.json").write_text(
            render.to_json(summarize_path(p, RulesBackend())), encoding="utf-8"
        )
    (plain / "manifest.json").write_text("{}", encoding="utf-8")  # not a brief: skipped
    assert [n for n, _ in load_briefs(plain)] == sorted(p.stem for p in seed_paths[:2])

    jsonl = tmp_path / "jsonl"
    jsonl.mkdir()
    lines = [summarize_path(p, RulesBackend()).model_dump_json() for p in seed_paths[:3]]
    (jsonl / "briefs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert len(load_briefs(jsonl)) == 3


def test_compare_cli_errors(tmp_path: Path) -> None:
    result = runner.invoke(app, ["compare", str(tmp_path / "nope")])
    assert result.exit_code == 2
    result = runner.invoke(app, ["compare", str(tmp_path)])
    assert result.exit_code == 2 and "no briefs" in result.stderr
