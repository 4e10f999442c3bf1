"""The Brief's top-level fields, in order, as issue 2 fixes them (other tools read them)."""

BRIEF_FIELDS = [
    "schema_version",
    "source",
    "report",
    "overview",
    "achievements",
    "problems",
    "plans",
    "leadership",
    "warnings",
    "provenance",
]
