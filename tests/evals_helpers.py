"""A tiny self-contained golden set (one made-up report, golden entries written by hand for it), so
that the eval CLI, drift and comparison tests run without the real seeds."""

from __future__ import annotations

import json
from pathlib import Path

from service.backends.rules import RulesBackend
from service.evals.golden import load_golden_dir
from service.evals.record import RunRecord
from service.evals.runner import run_golden, run_settings
from service.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]

# Raw, as a web page would give it: ASCII punctuation that normalize() makes full-width.
REPORT = """青禾区人民政府关于2023年度法治政府建设情况的报告
发布日期:2024-02-20
一、2023年法治政府建设主要成效
(一)深化政府职能转变。全面推行权责清单制度,清理行政许可事项12项。
(二)完善依法行政制度体系。严格规范性文件合法性审核,审核文件35件。
二、党政主要负责人履行推进法治建设第一责任人职责情况
区政府主要负责人认真履行第一责任人职责,专题研究法治政府建设工作4次。
三、存在的不足
一是部分干部运用法治思维的能力有待增强;二是行政执法规范化水平仍需提升;三是基层法治宣传覆盖不够均衡。
四、2024年工作计划
(一)持续推进法治政府示范创建。对标示范指标查漏补缺。
(二)加强行政执法监督。开展执法案卷评查。
"""

GOLDEN = {
    "report": "reports/qinghe.txt",
    "genre": "rule_of_law_report",
    "split": "dev",
    "meta": {
        "title": "青禾区人民政府关于2023年度法治政府建设情况的报告",
        "issuer": "青禾区人民政府",
        "region": "青禾区",
        "year": 2023,
        "published": "2024-02-20",
        "doc_number": None,
    },
    "achievements": [
        {"heading": "深化政府职能转变", "quote": "深化政府职能转变"},
        {"heading": "完善依法行政制度体系", "quote": "完善依法行政制度体系"},
    ],
    "leadership": [{"title": "履行第一责任人职责", "quote": "区政府主要负责人认真履行第一责任人职责"}],
    "problems": [
        {"title": "干部法治思维能力待增强", "quote": "部分干部运用法治思维的能力有待增强"},
        {"title": "执法规范化水平需提升", "quote": "行政执法规范化水平仍需提升"},
        {"title": "基层普法覆盖不均衡", "quote": "基层法治宣传覆盖不够均衡"},
    ],
    "plans": [
        {"title": "示范创建", "quote": "持续推进法治政府示范创建"},
        {"title": "执法监督", "quote": "加强行政执法监督"},
    ],
    "notes": "Made up for the tests.",
}


def make_repo(tmp_path: Path, *, test_split: bool = False) -> Path:
    """A repository layout with one report and its golden file; returns the golden directory.
    `test_split`: a second copy of the report, `qinghe_test`, in the test split."""
    root = tmp_path / "repo"
    (root / "reports").mkdir(parents=True)
    (root / "reports" / "qinghe.txt").write_text(REPORT, encoding="utf-8")
    golden_dir = root / "evals" / "golden"
    golden_dir.mkdir(parents=True)
    (golden_dir / "qinghe.json").write_text(
        json.dumps(GOLDEN, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    if test_split:
        (root / "reports" / "qinghe_test.txt").write_text(
            REPORT.replace("青禾区", "青苗区"), encoding="utf-8"
        )
        other = json.loads(json.dumps(GOLDEN, ensure_ascii=False).replace("青禾区", "青苗区"))
        other.update(report="reports/qinghe_test.txt", split="test")
        (golden_dir / "qinghe_test.json").write_text(
            json.dumps(other, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return golden_dir


def rules_run(golden_dir: Path, label: str = "rules") -> RunRecord:
    goldens = load_golden_dir(golden_dir)
    backend = RulesBackend()
    return run_golden(goldens, backend, run_settings(backend, Settings(), golden_dir, goldens), label=label)


def without_item(record: RunRecord, report_id: str, section: str, evidence_contains: str) -> RunRecord:
    """A copy of the record with the item whose evidence contains the text removed."""
    damaged = record.model_copy(deep=True)
    report = damaged.report(report_id)
    assert report is not None, report_id
    items = report.items[section]
    hits = [i for i, it in enumerate(items) if any(evidence_contains in s.quote for s in it.evidence)]
    assert len(hits) == 1, (evidence_contains, [it.title for it in items])
    del items[hits[0]]
    return damaged
