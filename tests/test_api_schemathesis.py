"""Schemathesis against the live service's OpenAPI spec: generated requests for every
operation (valid and invalid, with and without credentials) never get a 5xx, and every
answer is one the description lists — its status code, content type, headers and body
schema (the description's models are documentation only: this is what keeps them true)."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate

ADMIN = "schemathesis-admin-token-0123456789"
_dir = Path(tempfile.mkdtemp(prefix="anxin-st-"))
atexit.register(shutil.rmtree, _dir, ignore_errors=True)
simulate(_dir / "city", stations=1, days=1, seed=2, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
_, _service, app = build(db=str(_dir / "db.sqlite"), registry=_dir / "city" / "registry.json", admin_token=ADMIN)

# Upload bodies: real records (some mangled), random bytes, and mixes of both.
_lines = [ln for f in sorted((_dir / "city").glob("*.jsonl")) for ln in f.read_bytes().splitlines()[:200]]
_line = st.sampled_from(_lines) | st.binary(max_size=300) | st.sampled_from(_lines).map(lambda b: b[: len(b) // 2])
schemathesis.openapi.media_type("application/x-ndjson", st.lists(_line, max_size=20).map(b"\n".join))

_station_token = app.state.tokens.issue("S0001")
schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path="/v1/alarms/stream")
pytestmark = pytest.mark.xdist_group("schemathesis")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# One pytest item per operation, each with its own id: schemathesis' own parametrize
# gives all of them one node id, and pytest-xdist then runs only one of them.
OPERATIONS = sorted(result.ok().label for result in schema.get_all_operations())


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_server_errors(label: str) -> None:
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    cases = operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE)

    @given(case=cases)
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case) -> None:
        if case.path == "/v1/records":  # bodies get through to the ingest path (bad tokens: test_serve_api)
            headers = {"Authorization": f"Bearer {_station_token}"}
        else:
            headers = {} if (case.headers or {}).get("Authorization") else {"Authorization": f"Bearer {ADMIN}"}
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()
