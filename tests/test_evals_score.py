"""The scorer on small hand-made cases; every expected number is worked out by hand in the comments."""

from __future__ import annotations

import pytest

from service.evals.golden import GoldenMeta, GoldenReport
from service.evals.record import RecordItem, ReportRecord, SectionScore
from service.evals.score import aggregate, evaluate_report, meta_value_matches
from service.models import Category, Genre, Provenance, ReportMeta, Span

# Already normalized (full-width punctuation, one paragraph per line), so offsets are easy to check.
TEXT = "\n".join(
    [
        "青禾区人民政府关于2023年度法治政府建设情况的报告",
        "一、主要成效",
        "（一）深化政府职能转变。全面推行权责清单制度。",
        "（二）完善依法行政制度体系。严格规范性文件合法性审核。",
        "二、党政主要负责人履行推进法治建设第一责任人职责情况",
        "区政府主要负责人认真履行第一责任人职责。",
        "三、存在的不足",
        "一是部分干部运用法治思维的能力有待增强；二是行政执法规范化水平仍需提升；"
        "三是基层法治宣传覆盖不够均衡；四是行政复议纠错率偏低。",
        "四、2024年工作计划",
        "（一）持续推进法治政府示范创建。对标示范指标查漏补缺。",
        "（二）加强行政执法监督。开展执法案卷评查。",
    ]
)

PROBLEMS = [
    "部分干部运用法治思维的能力有待增强",
    "行政执法规范化水平仍需提升",
    "基层法治宣传覆盖不够均衡",
    "行政复议纠错率偏低",
]


def golden(**overrides: object) -> GoldenReport:
    data: dict[str, object] = {
        "report": "reports/qinghe.txt",
        "genre": "rule_of_law_report",
        "meta": {
            "title": "青禾区人民政府 关于 2023 年度法治政府建设情况的 报 告",
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
        "problems": [{"title": q, "quote": q} for q in PROBLEMS],
        "plans": [
            {"title": "示范创建", "quote": "持续推进法治政府示范创建"},
            {"title": "执法监督", "quote": "开展执法案卷评查"},
        ],
    }
    data.update(overrides)
    g = GoldenReport.model_validate(data)
    g._id = "qinghe"
    return g


def span(quote: str) -> Span:
    start = TEXT.index(quote)
    return Span(quote=quote, start=start, end=start + len(quote))


def item(*quotes: str, category: Category = Category.other) -> RecordItem:
    return RecordItem(title=quotes[0][:12], evidence=[span(q) for q in quotes], category=category)


def perfect_items() -> dict[str, list[RecordItem]]:
    return {
        "achievements": [
            item("深化政府职能转变", "全面推行权责清单制度。"),
            item("完善依法行政制度体系", "严格规范性文件合法性审核。"),
        ],
        "leadership": [item("区政府主要负责人认真履行第一责任人职责。")],
        "problems": [item(q) for q in PROBLEMS],
        "plans": [
            item("持续推进法治政府示范创建", "对标示范指标查漏补缺。"),
            item("加强行政执法监督", "开展执法案卷评查。"),
        ],
    }


RIGHT_META = ReportMeta(
    genre=Genre.rule_of_law_report,
    title="青禾区人民政府关于2023年度法治政府建设情况的报告",
    issuer="青禾区人民政府",
    region="青禾区",
    year=2023,
    published="2024-02-20",
    doc_number=None,
)


def score(
    items: dict[str, list[RecordItem]],
    *,
    meta: ReportMeta = RIGHT_META,
    g: GoldenReport | None = None,
    provenance: Provenance | None = None,
    error: str | None = None,
) -> ReportRecord:
    record = ReportRecord(
        id="qinghe", path="reports/qinghe.txt", meta=meta, items=items, schema_valid=error is None,
        provenance=provenance, error=error,
    )  # fmt: skip
    return evaluate_report(g or golden(), record, None if error else TEXT)


def assert_perfect(s: SectionScore) -> None:
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)


def test_a_perfect_run_scores_one_everywhere() -> None:
    rec = score(perfect_items())
    for section in ("achievements", "leadership", "problems", "plans"):
        assert_perfect(rec.scores.sections[section])
    assert_perfect(rec.scores.items)
    assert rec.scores.items.matched == 9
    assert rec.scores.meta_accuracy == 1.0
    assert rec.scores.grounding_rate == 1.0
    assert rec.scores.schema_valid_rate == 1.0
    assert rec.scores.category_agreement is None  # no golden entry names a category
    assert all(m.how == "overlap" for ms in rec.matches.values() for m in ms)


def test_dropping_one_of_four_problems_loses_exactly_that_recall() -> None:
    items = perfect_items()
    del items["problems"][2]
    rec = score(items)
    problems = rec.scores.sections["problems"]
    assert (problems.matched, problems.predicted, problems.golden) == (3, 3, 4)
    assert problems.precision == 1.0
    assert problems.recall == 0.75
    assert problems.f1 == pytest.approx(2 * 0.75 / 1.75, abs=1e-4)  # 0.8571
    for section in ("achievements", "leadership", "plans"):
        assert_perfect(rec.scores.sections[section])
    assert rec.scores.items.recall == pytest.approx(8 / 9, abs=1e-4)
    missed = [i for i in range(4) if rec.matched_item("problems", i) is None]
    assert missed == [2]


def test_an_item_in_the_wrong_section_costs_precision_there_and_earns_nothing_where_it_belongs() -> None:
    items = perfect_items()
    items["plans"].append(items["problems"].pop())  # 行政复议纠错率偏低 filed as a plan
    rec = score(items)
    problems, plans = rec.scores.sections["problems"], rec.scores.sections["plans"]
    # problems: 3 matched of 3 predicted, 4 expected
    assert (problems.precision, problems.recall) == (1.0, 0.75)
    # plans: 2 matched of 3 predicted, 2 expected
    assert plans.precision == pytest.approx(2 / 3, abs=1e-4)
    assert plans.recall == 1.0
    assert plans.f1 == pytest.approx(0.8, abs=1e-4)  # 2·(2/3)·1 / (5/3)


def test_one_item_cannot_stand_for_several_entries() -> None:
    items = perfect_items()
    whole = "部分干部运用法治思维的能力有待增强；二是行政执法规范化水平仍需提升；三是基层法治宣传覆盖不够均衡；四是行政复议纠错率偏低"
    items["problems"] = [item(whole)]  # overlaps all four problems
    problems = score(items).scores.sections["problems"]
    assert (problems.matched, problems.precision, problems.recall) == (1, 1.0, 0.25)


def test_the_best_assignment_is_found_when_one_item_overlaps_two_entries() -> None:
    items = perfect_items()
    # The first item covers problems 1 and 2; the second only problem 1. Greedy by overlap would give
    # problem 1 to the first item and leave the second unmatched; one-to-one matching finds both.
    items["problems"] = [
        item("部分干部运用法治思维的能力有待增强；二是行政执法规范化水平仍需提升"),
        item("部分干部运用法治思维"),
    ]
    rec = score(items)
    assert rec.scores.sections["problems"].matched == 2
    assert {(m.golden, m.item) for m in rec.matches["problems"]} == {(0, 1), (1, 0)}


def test_metadata_accuracy_is_blind_to_spacing_and_punctuation() -> None:
    # The golden title keeps its stray PDF spaces; the extracted title has none: still right.
    assert score(perfect_items()).scores.meta_fields["title"] == 1.0
    wrong = RIGHT_META.model_copy(update={"region": "青禾县", "published": "2024-02-21"})
    rec = score(perfect_items(), meta=wrong)
    assert rec.scores.meta_fields == {
        "genre": 1.0,
        "meeting": 1.0,  # null in both
        "year": 1.0,
        "region": 0.0,
        "issuer": 1.0,
        "published": 0.0,
        "doc_number": 1.0,  # null in both
        "title": 1.0,
    }
    assert rec.scores.meta_accuracy == pytest.approx(6 / 8, abs=1e-4)


def test_metadata_alternates_and_formats() -> None:
    g = golden(
        meta={
            "title": "青禾区人民政府关于2023年度法治政府建设情况的报告",
            "issuer": "青禾区法治政府建设领导小组办公室",
            "region": "青禾区",
            "year": 2023,
            "published": "2024-02-20",
            "doc_number": "青政〔2024〕3号",
            "alternates": {"issuer": ["青禾区", "青禾区人民政府"]},
        }
    )
    meta = RIGHT_META.model_copy(update={"published": "2024年2月20日", "doc_number": "青政[2024]3号"})
    assert score(perfect_items(), meta=meta, g=g).scores.meta_accuracy == 1.0
    no_number = meta.model_copy(update={"doc_number": None, "issuer": "青禾县人民政府"})
    fields = score(perfect_items(), meta=no_number, g=g).scores.meta_fields
    assert (fields["doc_number"], fields["issuer"]) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("field", "expected", "got", "ok"),
    [
        ("year", 2020, 2020, True),
        ("year", 2020, 2021, False),
        ("published", "2021-02-09", "2021年2月9日", True),
        ("published", "2021-02-09", None, False),
        ("doc_number", None, None, True),
        ("doc_number", None, "遂安委〔2021〕13号", False),
        (
            "issuer",
            "中共遂宁市安居区委、遂宁市安居区人民政府",
            "中共遂宁市安居区委 遂宁市安居区人民政府",
            True,
        ),
        ("region", "郑州市中原区", "中原区", False),
    ],
)
def test_meta_value_matches(field: str, expected: object, got: object, ok: bool) -> None:
    assert meta_value_matches(field, expected, got) is ok


def test_grounding_rate_counts_a_deliberately_broken_span() -> None:
    items = perfect_items()
    good = items["problems"][1].evidence[0]
    # Off by one: the quote no longer sits at [start:end].
    items["problems"][1].evidence[0] = Span(quote=good.quote, start=good.start + 1, end=good.end + 1)
    rec = score(items)
    assert rec.scores.grounded_items == 8
    assert rec.scores.grounding_rate == pytest.approx(8 / 9, abs=1e-4)
    assert rec.items["problems"][1].grounded is False
    # Its span is not usable, so it is matched by the similarity of its quote, not by position.
    assert {m.item: m.how for m in rec.matches["problems"]}[1] == "similarity"
    assert rec.scores.sections["problems"].recall == 1.0


def test_category_agreement_only_where_golden_entries_name_one() -> None:
    cats = [Category.law_enforcement, Category.law_enforcement, Category.legal_publicity_training, None]
    g = golden(
        problems=[
            {"title": q, "quote": q, **({"category": c.value} if c else {})}
            for q, c in zip(PROBLEMS, cats, strict=True)
        ]
    )
    items = perfect_items()
    given = [Category.law_enforcement, Category.other, Category.legal_publicity_training, Category.other]
    items["problems"] = [item(q, category=c) for q, c in zip(PROBLEMS, given, strict=True)]
    s = score(items, g=g).scores
    assert (s.category_pairs, s.category_agreed) == (3, 2)
    assert s.category_agreement == pytest.approx(2 / 3, abs=1e-4)


def test_empty_sections_are_vacuously_perfect_and_spurious_items_cost_precision() -> None:
    g = golden(leadership=[])
    items = perfect_items()
    items["leadership"] = []
    assert_perfect(score(items, g=g).scores.sections["leadership"])
    spurious = score(perfect_items(), g=g).scores.sections["leadership"]
    assert (spurious.precision, spurious.recall, spurious.f1) == (0.0, 1.0, 0.0)


def test_a_failed_report_scores_nothing() -> None:
    rec = score({}, error="backend failed")
    s = rec.scores
    assert (s.errors, s.schema_valid_rate, s.meta_accuracy, s.items.recall) == (1, 0.0, 0.0, 0.0)
    assert s.grounding_rate is None  # no items to ground


def test_pooled_scores_and_provenance_totals() -> None:
    items = perfect_items()
    del items["problems"][0]
    a = score(
        perfect_items(),
        provenance=Provenance(backend="x", schema_hash="h", llm_calls=3, prompt_tokens=100, completion_tokens=20, cost_usd=0.01, elapsed_ms=500),
    )  # fmt: skip
    b = score(
        items,
        provenance=Provenance(backend="x", schema_hash="h", llm_calls=2, prompt_tokens=50, completion_tokens=10, cost_usd=0.02, elapsed_ms=300, cache_hit=True),
    )  # fmt: skip
    c = score({}, error="boom")
    total = aggregate([a.scores, b.scores, c.scores])
    # problems: 4 + 3 matched of 4 + 3 predicted, 4 + 4 + 4 expected
    assert total.sections["problems"].recall == pytest.approx(7 / 12, abs=1e-4)
    assert total.sections["problems"].precision == 1.0
    assert (total.reports, total.errors) == (3, 1)
    assert total.schema_valid_rate == pytest.approx(2 / 3, abs=1e-4)
    assert total.meta_accuracy == pytest.approx(2 / 3, abs=1e-4)  # the failed report gets no field right
    assert (total.calls, total.prompt_tokens, total.completion_tokens, total.tokens) == (5, 150, 30, 180)
    assert total.cost_usd == pytest.approx(0.03)
    assert (total.latency_ms, total.cache_hits) == (800, 1)
    assert total.grounding_rate == 1.0


def test_meta_model_rejects_alternates_for_unknown_fields() -> None:
    with pytest.raises(ValueError, match="unknown meta fields"):
        GoldenMeta.model_validate({"alternates": {"issuer": ["x"], "mayor": ["y"]}})
