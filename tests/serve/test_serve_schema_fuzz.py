"""Property-based API test: schemathesis against the app's own OpenAPI schema (bounded), no 5xx, schema-valid."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from serve_helpers import AUTH

MAX_EXAMPLES = 25


@pytest.fixture(scope="module")
def fuzz_app(settings_factory):
    from schemathesis.python import asgi

    from serve.app import create_app

    app = create_app(settings_factory(max_windows=8))
    client = asgi.get_client(app)
    with client:  # starts the lifespan once; schemathesis reuses it for every case
        import time

        deadline = time.monotonic() + 60
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "model did not load"
            time.sleep(0.05)
        yield app
    asgi.shutdown_lifespans()


CHECKS = [schemathesis.checks.not_a_server_error, schemathesis.checks.status_code_conformance,
          schemathesis.checks.content_type_conformance, schemathesis.checks.response_schema_conformance]


def test_api_never_5xx_and_matches_its_schema(fuzz_app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/v1/classify", "/v1/annotations", "/v1/model", "/readyz"}
    seen: dict[str, set[int]] = {}
    for operation in operations:
        run_operation(operation, seen.setdefault(f"{operation.method.upper()} {operation.path}", set()))
    assert 200 in seen["POST /v1/classify"] and 201 in seen["POST /v1/annotations"], seen  # valid bodies ran too
    assert 422 in seen["POST /v1/classify"], seen


def run_operation(operation, statuses: set[int]) -> None:
    """Hypothesis-driven cases for one operation (admin routes get the token so their bodies are exercised)."""
    admin = operation.path.startswith(("/v1/annotations", "/v1/admin", "/ls/"))

    @given(case=operation.as_strategy())
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call(headers=AUTH if admin else None)
        statuses.add(response.status_code)
        assert response.status_code < 500, f"{operation.method} {operation.path}: {response.text}"
        case.validate_response(response, checks=CHECKS)

    check()
