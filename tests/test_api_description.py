"""The API description (``/openapi.json``) is one to generate clients from: every operation
has a hand-chosen id, a tag with a description, its security scheme (no raw header
parameters) and a typed body for each answer; the webhook is described; the examples
are valid against their schemas and are what the service really answers."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from factory import one_nozzle_registry
from starlette.testclient import TestClient

from anxin.serve import api_examples
from anxin.serve.apidoc import OPERATIONS
from anxin.serve.runtime import build

ADMIN = "api-description-admin-token-0123"
METHODS = {"get", "put", "post", "delete", "patch"}
VECTORS = json.loads((Path(__file__).resolve().parents[1] / "docs" / "vectors" / "vectors.json").read_text())


def vectors_registry() -> dict[str, Any]:
    """Nozzle N0001-1 of station S0001 with the vectors' test key ed25519-a (K as in its records)."""
    (key,) = [k for k in VECTORS["keys"] if k["name"] == "ed25519-a"]
    return one_nozzle_registry(
        key_id=key["key_id"],
        public_key=key["public_key"],
        unit_price_fen=785,
        verified_until="2026-09-01T00:00:00.000+08:00",
        name="示例站",
    )


@pytest.fixture(scope="module")
def served() -> Any:
    with tempfile.TemporaryDirectory(prefix="anxin-apidoc-") as d:
        registry = Path(d) / "registry.json"
        registry.write_text(json.dumps(vectors_registry(), ensure_ascii=False), encoding="utf-8")
        _, _, app = build(db=str(Path(d) / "db.sqlite"), registry=registry, admin_token=ADMIN)
        with TestClient(app) as c:
            yield c, c.get("/openapi.json").json()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, o) for p, item in spec["paths"].items() for m, o in item.items() if m in METHODS]


def test_every_operation_has_a_hand_chosen_id_and_a_described_tag(served) -> None:
    _, spec = served
    found = {(m, p): o for m, p, o in operations(spec)}
    assert set(found) == set(OPERATIONS), "a route without its entry in anxin.serve.apidoc.OPERATIONS, or a stale one"
    ids = [o["operationId"] for o in found.values()]
    assert len(ids) == len(set(ids)) and all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", i) for i in ids), ids
    assert found["post", "/v1/records"]["operationId"] == "uploadRecords"
    assert found["get", "/v1/alarms"]["operationId"] == "listAlarms"
    described = {t["name"]: t["description"] for t in spec["tags"]}
    assert all(described.get(t) for o in found.values() for t in o["tags"])
    assert all(o.get("summary") for o in found.values())
    undescribed = [
        (k, q["name"]) for k, o in found.items() for q in o.get("parameters", []) if not q.get("description")
    ]
    assert not undescribed


def test_only_the_http_api_is_described(served) -> None:
    _, spec = served
    assert spec["openapi"].startswith("3.1")
    assert all(p.startswith("/v1/") or p in ("/healthz", "/readyz", "/metrics") for p in spec["paths"])


def test_tokens_are_security_schemes_not_header_parameters(served) -> None:
    _, spec = served
    schemes = spec["components"]["securitySchemes"]
    assert set(schemes) == {"station", "institute", "reader", "admin", "metrics", "agency"}
    assert all(s == {**s, "type": "http", "scheme": "bearer"} and s["description"] for s in schemes.values())
    for method, path, o in operations(spec):
        assert not [p for p in o.get("parameters", []) if p["name"].lower() == "authorization"], (method, path)
        security = o.get("security", [])
        if path == "/v1/records":
            assert security == [{"station": []}, {"institute": []}]
        elif path.startswith("/v1/alarms"):
            assert security == [{"reader": []}]
        elif path == "/metrics":
            assert security == [{"metrics": []}, {}]
        elif path == "/v1/firmware":  # the institute's register (contract v1.1 §F)
            assert security == [{"institute": []}], path
        elif path.startswith("/v1/exports/"):
            assert security == [{"agency": []}], path
        elif path in ("/v1/platform/keys", "/v1/complaints", "/healthz", "/readyz"):
            assert security == [], path
        else:
            assert security == [{"admin": []}], path
        if security and security[-1]:
            assert "401" in o["responses"]


def test_every_answer_is_typed(served) -> None:
    _, spec = served
    for method, path, o in operations(spec):
        for status, response in o["responses"].items():
            content = response.get("content")
            assert content, (method, path, status)
            for media, body in content.items():
                schema = body.get("schema", {})
                if media == "application/json":
                    assert "$ref" in schema or schema.get("items", {}).get("$ref"), (method, path, status, schema)
                else:
                    assert schema.get("type") == "string", (method, path, status, media)
            if int(status) >= 400:
                assert content["application/json"]["schema"]["$ref"].endswith(
                    ("/Error", "/Readiness", "/UploadResult", "/Challenge")
                )


def _validator(spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]})


def test_the_webhook_is_described_and_its_example_valid(served) -> None:
    _, spec = served
    hook = spec["webhooks"]["alarm"]["post"]
    assert {p["name"] for p in hook["parameters"]} == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    body = hook["requestBody"]["content"]["application/json"]
    assert body["schema"]["$ref"].endswith("/AlarmEvent")
    _validator(spec, "AlarmEvent").validate(body["examples"]["alarm"]["value"])


def test_the_examples_are_valid_and_real(served) -> None:
    c, spec = served
    upload = spec["paths"]["/v1/records"]["post"]
    for status in ("200", "207"):
        for example in upload["responses"][status]["content"]["application/json"]["examples"].values():
            _validator(spec, "UploadResult").validate(example["value"])
    page = spec["paths"]["/v1/alarms"]["get"]["responses"]["200"]["content"]["application/json"]["examples"]["one"]
    _validator(spec, "AlarmPage").validate(page["value"])
    bodies = upload["requestBody"]["content"]["application/x-ndjson"]["examples"]
    assert bodies["sale"]["value"] == api_examples.UPLOAD_BODY
    lines = {v["name"]: v["line"] for v in VECTORS["vectors"]}  # the signed lines are the published vectors
    assert api_examples.METERING == lines["metering-ed25519"]
    assert api_examples.K_FACTOR_CHANGE == lines["event-k-factor-change-ed25519"]
    assert api_examples.CHANGED_BYTE == lines["metering-ed25519-changed-byte"]

    token = c.post("/v1/stations/S0001/token", headers={"Authorization": f"Bearer {ADMIN}"}).json()["token"]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    first = c.post("/v1/records", content=bodies["sale"]["value"].encode(), headers=headers)
    assert (first.status_code, first.json()) == (200, api_examples.ACCEPTED)
    again = c.post("/v1/records", content=bodies["mixed"]["value"].encode(), headers=headers)
    assert (again.status_code, again.json()) == (207, api_examples.MIXED)


def test_the_tokens_are_read_as_before(served) -> None:
    """The schemes only describe: the header is read as it always was."""
    c, _ = served
    assert c.get("/v1/registry", headers={"Authorization": f"bearer {ADMIN} "}).status_code == 200
    for value in (None, "Bearer", f"Basic {ADMIN}", "Bearer nope"):
        r = c.get("/v1/registry", headers={"Authorization": value} if value else {})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json() == {"detail": "administration needs the admin token (Authorization: Bearer …)"}
    r = c.get("/v1/alarms", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["detail"].startswith("reading alarms needs")


def test_a_receiver_describes_its_upload_the_same_way() -> None:
    from unittest import mock

    from anxin.cluster.receiver_app import create_receiver_app
    from anxin.serve.config import ServeConfig

    spec = create_receiver_app(ServeConfig(), mock.MagicMock()).openapi()  # (the description only: never started)
    ids = {o["operationId"] for _, _, o in operations(spec)}
    assert ids == {"uploadRecords", "getHealth", "getReadiness", "getMetrics"}
    assert spec["paths"]["/v1/records"]["post"]["security"] == [{"station": []}, {"institute": []}]
    assert set(spec["components"]["securitySchemes"]) == {"station", "institute", "metrics"}
    assert "webhooks" not in spec  # the read side sends them
