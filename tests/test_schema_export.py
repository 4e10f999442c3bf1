"""schemas/brief.schema.json is the committed export of Brief.model_json_schema(); stale fails."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from contract import BRIEF_FIELDS

from service.models import Brief, schema_hash

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "schemas" / "brief.schema.json"
FIX = "the Brief schema changed: run `python scripts/export_schema.py` and commit schemas/brief.schema.json"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("export_schema", ROOT / "scripts" / "export_schema.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_schema_is_the_models_schema() -> None:
    assert SCHEMA.exists(), FIX
    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert committed == Brief.model_json_schema(), FIX
    assert schema_hash(committed) == schema_hash()


def test_the_file_is_exactly_what_the_script_writes() -> None:
    assert SCHEMA.read_text(encoding="utf-8") == _script().render(), FIX


def test_the_contract_fields_are_in_the_schema() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    defs = schema["$defs"]
    assert list(schema["properties"]) == BRIEF_FIELDS
    assert set(defs["Item"]["properties"]) == {"title", "summary", "category", "metrics", "evidence"}
    assert set(defs["Span"]["properties"]) == {"quote", "start", "end", "sentence_ids"}
    assert set(defs["Metric"]["properties"]) == {"label", "value", "unit", "evidence"}
    assert {"path", "sha256", "chars", "text"} <= set(defs["Source"]["properties"])
    assert set(defs["ReportMeta"]["properties"]) == {
        "genre",
        "meeting",
        "title",
        "issuer",
        "region",
        "year",
        "published",
        "doc_number",
    }
    assert set(defs["Genre"]["enum"]) == {
        "rule_of_law_report",
        "government_work_report",
        "work_summary",
        "unknown",
    }


def test_check_mode_detects_a_stale_file(tmp_path: Path) -> None:
    script = _script()
    stale = tmp_path / "brief.schema.json"
    stale.write_text('{"stale": true}\n', encoding="utf-8")
    script.TARGET = stale
    script.ROOT = tmp_path
    assert script.main(["--check"]) == 1
    assert script.main([]) == 0
    assert stale.read_text(encoding="utf-8") == script.render()
    assert script.main(["--check"]) == 0
