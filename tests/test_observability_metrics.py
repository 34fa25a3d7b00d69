"""Issue 16, item 6 — /metrics as operators expect it: the client library's process, GC
and platform collectors beside anxin's own, ``anxin_build_info``, and latency histograms
(the upload request, ingest time per line, sale → alarm) that move with real uploads
through ``anxin serve``'s app; label values a hostile station cannot multiply."""

from __future__ import annotations

import platform
import secrets

import msgspec
from factory import T0, City, line
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import anxin
from anxin.contract.times import US_PER_MIN, US_PER_S
from anxin.crypto.schemes import SM2_BACKEND
from anxin.ingest.service import IngestService
from anxin.serve.app import create_app
from anxin.serve.config import ServeConfig
from anxin.store.database import Store

ADMIN, METRICS = "a" * 32, "m" * 32


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def _live(tmp_path, clock: Clock) -> tuple[TestClient, City, dict[str, str]]:
    city = City()
    svc = IngestService(Store(str(tmp_path / "db.sqlite")), clock=clock)
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
    cfg = ServeConfig(db=svc.store.url, admin_token=ADMIN, metrics_token=METRICS, clock_every_s=0, cookie_secure=False)
    c = TestClient(create_app(cfg, svc))
    tok = c.post("/v1/stations/S1/token", headers={"Authorization": f"Bearer {ADMIN}"}).json()["token"]
    return c, city, {"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson"}


def samples(c: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"})
    assert r.status_code == 200
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(r.text)
        for s in fam.samples
    }


def value(got: dict, name: str, **labels: str) -> float:
    return got[(name, tuple(sorted(labels.items())))]


def test_metrics_carry_the_process_the_build_and_latencies_that_move_with_uploads(tmp_path) -> None:
    clock = Clock(T0 + 10 * US_PER_MIN)
    c, city, h = _live(tmp_path, clock)
    before = samples(c)
    # The client library's collectors, hidden before by the per-request registry.
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert (name, ()) in before, name
    assert any(n == "python_gc_objects_collected_total" for n, _ in before)
    assert value(before, "python_info", **_python_info_labels(before)) == 1.0
    build = {"version": anxin.__version__, "python": platform.python_version(), "sm2_backend": SM2_BACKEND}
    assert value(before, "anxin_build_info", **build) == 1.0
    assert value(before, "anxin_ingest_line_seconds_count") == 0.0

    # A sale whose metering came 40 s before it, the volumes 500 mL apart: VOLUME_MISMATCH
    # when the settlement arrives. The receipt times are the service's clock.
    m = city.metering("S1-N1", T0, 30_000)
    sale = city.sale(m, volume_ml=m["volume_ml"] + 500)
    assert c.post("/v1/records", content=line(m), headers=h).status_code == 200
    clock.now += 40 * US_PER_S
    assert c.post("/v1/records", content=line(sale) + b"\nnot json", headers=h).status_code == 207
    assert c.post("/v1/records", content=line(m), headers={**h, "Authorization": "Bearer nope"}).status_code == 401
    after = samples(c)

    assert value(after, "anxin_alarms_total", rule="VOLUME_MISMATCH") == 1.0
    assert value(after, "anxin_sale_alarm_seconds_count", rule="VOLUME_MISMATCH") == 1.0
    assert value(after, "anxin_sale_alarm_seconds_sum", rule="VOLUME_MISMATCH") == 40.0
    assert value(after, "anxin_sale_alarm_seconds_bucket", rule="VOLUME_MISMATCH", le="15.0") == 0.0
    assert value(after, "anxin_sale_alarm_seconds_bucket", rule="VOLUME_MISMATCH", le="60.0") == 1.0
    assert value(after, "anxin_sale_alarm_unmeasured_total") == 0.0
    # Two uploads reached the ingest path (the 401 did not): two observations, each its
    # time over its lines — positive, far below a second per line.
    assert value(after, "anxin_ingest_line_seconds_count") == 2.0
    assert 0.0 < value(after, "anxin_ingest_line_seconds_sum") < 2.0
    assert value(after, "anxin_upload_request_seconds_count", code="200") == 1.0
    assert value(after, "anxin_upload_request_seconds_count", code="207") == 1.0
    assert value(after, "anxin_upload_request_seconds_count", code="401") == 1.0
    assert value(after, "anxin_upload_request_seconds_bucket", code="200", le="+Inf") == 1.0
    assert value(after, "process_cpu_seconds_total") >= value(before, "process_cpu_seconds_total")
    # Behind a proxy's path prefix (uvicorn --root-path puts it in front of the path): still the upload.
    behind = TestClient(c.app, root_path="/anxin")
    assert behind.post("/anxin/v1/records", content=line(m), headers=h).status_code == 409
    assert value(samples(c), "anxin_upload_request_seconds_count", code="409") == 1.0


def _python_info_labels(got: dict) -> dict[str, str]:
    ((_, labels),) = [k for k in got if k[0] == "python_info"]
    return dict(labels)


def test_a_hostile_station_cannot_multiply_the_series(tmp_path) -> None:
    """Every label value comes from a bounded set (a status code, a rule, a reject class,
    a registry station), never from what a station writes: two floods of lines full of
    fresh random kinds, stations, nozzles, orders, fields, content types and headers add
    the same few series, and none of their strings is on /metrics."""
    clock = Clock(T0 + 10 * US_PER_MIN)
    c, city, h = _live(tmp_path, clock)
    m = city.metering("S1-N1", T0, 30_000)
    assert c.post("/v1/records", content=line(m), headers=h).status_code == 200

    def flood() -> list[str]:
        marks = [f"zz{secrets.token_hex(6)}" for _ in range(40)]
        lines = []
        for i, x in enumerate(marks):
            junk = [
                {"kind": x},
                {**m, "kind": "metering", "station_id": x, "seq": 9000 + i},
                {**m, "nozzle_id": x, "seq": 9000 + i},
                city.sale(m, order_id=x, station_id="S1", nozzle_id=x),
                {**city.sale(m), "order_id": x, x: x},
                {**m, "key_id": x, "seq": 9100 + i},
            ]
            lines += [line(j) for j in junk] + [x.encode(), b'{"' + x.encode() + b'": 1}']
        c.post("/v1/records", content=b"\n".join(lines), headers={**h, "X-Anxin-Edge-Backlog": marks[0]})
        c.post("/v1/records", content=b"x", headers={**h, "Content-Type": f"application/{marks[1]}"})
        c.post("/v1/records", content=b"x", headers={"Authorization": f"Bearer {marks[2]}"})
        c.post(f"/v1/records?{marks[3]}=1", content=line(m), headers=h)
        return marks

    first = flood()
    series_1 = set(samples(c))
    second = flood()
    series_2 = set(samples(c))
    text = c.get("/metrics", headers={"Authorization": f"Bearer {METRICS}"}).text
    assert not [x for x in first + second if x in text]
    grown = {k for k in series_2 - series_1 if not k[0].startswith(("process_", "python_gc_"))}
    assert grown == set(), sorted(grown)
    assert len(series_2) < 400, len(series_2)
