"""Loading the golden set, and the guard that every golden quote can still be found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from evals_helpers import GOLDEN, REPO_ROOT, make_repo

from service.evals.golden import EvalError, Split, load_golden_dir, load_golden_file
from service.evals.match import TextIndex
from service.evals.runner import report_text
from service.models import SECTION_NAMES, Genre

GOLDEN_DIR = REPO_ROOT / "evals" / "golden"


def test_the_checked_in_golden_files_load() -> None:
    goldens = load_golden_dir(GOLDEN_DIR)
    by_genre = {genre: sorted(g.id for g in goldens if g.genre == genre) for genre in Genre}
    assert [i.split("_")[0] for i in by_genre[Genre.rule_of_law_report]] == [
        "000",
        "001",
        "002",
        "003",
        "004",
    ]
    assert by_genre[Genre.government_work_report] == [f"gwr_{y}" for y in range(2015, 2020)]
    for g in goldens:
        assert g.path == (REPO_ROOT / g.report).resolve()
        assert g.path.is_relative_to(REPO_ROOT / "evals" / "reports")  # in the repository, not beside it
        assert g.problems and g.achievements and g.plans
        assert g.meta.genre == g.genre
    # Both genres are represented in both splits, so a prompt tuned on dev is judged on test of each.
    assert {(g.genre, g.split) for g in goldens} == {
        (genre, split)
        for genre in (Genre.rule_of_law_report, Genre.government_work_report)
        for split in Split
    }


def test_every_golden_quote_is_found_once_and_exactly_in_the_normalized_text(seed_paths: list[Path]) -> None:
    """If normalize() changes so that a golden quote no longer appears verbatim, the eval would fall
    back to fuzzy locating; this says so directly instead."""
    del seed_paths  # only here to skip when the seeds are absent
    for g in load_golden_dir(GOLDEN_DIR):
        text = report_text(g)
        assert text is not None, g.id
        index = TextIndex(text)
        for section in SECTION_NAMES:
            for entry in g.entries(section):
                found = index.locate(entry.quote)
                assert found is not None, (g.id, section, entry.quote)
                assert (found.how, len(found.spans)) == ("exact", 1), (g.id, section, entry.quote, found)


def test_report_paths_are_relative_to_the_repo_root_or_absolute(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    (g,) = load_golden_dir(golden_dir)
    assert g.path == (tmp_path / "repo" / "reports" / "qinghe.txt").resolve()
    assert g.id == "qinghe"
    absolute = dict(GOLDEN, report=str(tmp_path / "repo" / "reports" / "qinghe.txt"))
    (golden_dir / "qinghe.json").write_text(json.dumps(absolute, ensure_ascii=False), encoding="utf-8")
    assert load_golden_dir(golden_dir)[0].path == tmp_path / "repo" / "reports" / "qinghe.txt"


def test_a_misspelt_key_is_an_error_naming_file_and_field(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    bad = json.loads(json.dumps(GOLDEN))
    bad["problems"][0] = {"title": "x", "qoute": "部分干部"}
    path = golden_dir / "bad.json"
    path.write_text(json.dumps(bad, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(EvalError, match=r"bad\.json.*problems\.0"):
        load_golden_file(path)


def test_missing_reports_and_empty_dirs_are_errors(tmp_path: Path) -> None:
    golden_dir = make_repo(tmp_path)
    (tmp_path / "repo" / "reports" / "qinghe.txt").unlink()
    with pytest.raises(EvalError, match="missing"):
        load_golden_dir(golden_dir)
    with pytest.raises(EvalError, match="no golden files"):
        load_golden_dir(tmp_path / "repo" / "reports")
    with pytest.raises(EvalError, match="not found"):
        load_golden_dir(tmp_path / "nowhere")
