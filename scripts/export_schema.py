"""Write the Brief's JSON Schema to schemas/brief.schema.json (checked by tests/test_schema_export.py).

python scripts/export_schema.py            # write it
python scripts/export_schema.py --check    # exit 1 when the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from service.models import brief_json_schema  # noqa: E402

TARGET = ROOT / "schemas" / "brief.schema.json"


def render() -> str:
    """The exact file contents: stable key order as pydantic emits it, UTF-8, trailing newline."""
    return json.dumps(brief_json_schema(), ensure_ascii=False, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when the file is stale")
    args = parser.parse_args(argv)
    text = render()
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else None
    if args.check:
        if current != text:
            print(
                f"{TARGET.relative_to(ROOT)} is stale: run python scripts/export_schema.py", file=sys.stderr
            )
            return 1
        return 0
    if current != text:
        TARGET.parent.mkdir(parents=True, exist_ok=True)
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET.relative_to(ROOT)}")
    else:
        print(f"{TARGET.relative_to(ROOT)} is up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
