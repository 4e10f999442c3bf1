"""Property-based run of the OpenAPI description: whatever the spec allows (and some of what it
does not), the service never answers 5xx, and its answers match what the spec says."""

from __future__ import annotations

import os
import tempfile

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks

from service.api import create_app
from service.settings import Settings

_DATA = tempfile.TemporaryDirectory(prefix="govbrief-schemathesis-")
app = create_app(
    Settings(data_dir=_DATA.name, cache_dir=_DATA.name, backend="rules", api_keys=None, llm_model=None)
)
schema = schemathesis.openapi.from_asgi("/openapi.json", app)

# Small by default so that the run stays well under a minute; raise it for a deeper search.
MAX_EXAMPLES = int(os.environ.get("GOVBRIEF_SCHEMATHESIS_EXAMPLES", "25"))

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=CHECKS)
