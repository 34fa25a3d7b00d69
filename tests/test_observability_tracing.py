"""Issue 16, item 6 — optional OpenTelemetry traces ([otel]): with tracing on, one upload
through ``anxin serve``'s app that raises an alarm is one trace, upload → ingest →
ledger append → engine → alarms stored → announced (the SDK's in-memory exporter);
off, the span sites are a shared no-op and anxin imports nothing of OpenTelemetry —
without it installed the service ingests as before and turning tracing on says what
to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import msgspec
import pytest
from factory import T0, City, line
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from anxin.contract.times import US_PER_MIN
from anxin.ingest.service import IngestService
from anxin.observe import tracing
from anxin.serve.app import create_app
from anxin.serve.config import ServeConfig
from anxin.store.database import Store

ADMIN = "a" * 32


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.enable(provider)
    try:
        yield exporter
    finally:
        tracing.disable()
        provider.shutdown()


def test_one_upload_that_raises_an_alarm_is_one_trace_down_to_the_announcement(tmp_path, spans) -> None:
    city = City()
    svc = IngestService(Store(str(tmp_path / "db.sqlite")), clock=lambda: T0 + 10 * US_PER_MIN)
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
    c = TestClient(create_app(ServeConfig(db=svc.store.url, admin_token=ADMIN, clock_every_s=0), svc))
    tok = c.post("/v1/stations/S1/token", headers={"Authorization": f"Bearer {ADMIN}"}).json()["token"]
    h = {"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson"}
    m = city.metering("S1-N1", T0, 30_000)
    sale = city.sale(m, volume_ml=m["volume_ml"] + 500)  # VOLUME_MISMATCH
    spans.clear()
    assert c.post("/v1/records", content=line(m) + b"\n" + line(sale), headers=h).status_code == 200
    got = {s.name: s for s in spans.get_finished_spans()}
    chain = ["anxin.upload", "anxin.ingest", "anxin.ledger.append", "anxin.engine.feed", "anxin.alarms.store"]
    assert set(chain) | {"anxin.alarms.announce"} <= got.keys(), sorted(got)
    upload = got["anxin.upload"]
    assert upload.parent is None
    assert {s.context.trace_id for s in got.values()} == {upload.context.trace_id}  # one trace
    ingest = got["anxin.ingest"]
    assert ingest.parent.span_id == upload.context.span_id  # across the thread pool
    for name in ("anxin.ledger.append", "anxin.engine.feed", "anxin.alarms.store", "anxin.alarms.announce"):
        assert got[name].parent.span_id == ingest.context.span_id, name
    assert got["anxin.ingest"].attributes["anxin.lines"] == 2 and got["anxin.ingest"].attributes["anxin.source"]
    assert got["anxin.engine.feed"].attributes["anxin.records"] == 2
    assert got["anxin.alarms.announce"].attributes["anxin.alarms"] == 1
    order = [got[n].start_time for n in ("anxin.ledger.append", "anxin.engine.feed", "anxin.alarms.store")]
    assert order == sorted(order) and got["anxin.alarms.announce"].start_time >= got["anxin.alarms.store"].end_time
    # Off again: the same upload path opens no span.
    tracing.disable()
    spans.clear()
    assert c.post("/v1/records", content=line(m), headers=h).status_code == 409
    assert spans.get_finished_spans() == ()


def test_without_opentelemetry_nothing_of_it_is_imported_and_asking_for_it_names_the_extra(
    tmp_path, monkeypatch
) -> None:
    """A child process where ``opentelemetry`` cannot be imported (as in an install
    without [otel] whose web framework does not bring the API along)."""
    script = textwrap.dedent(
        f"""
        import sys, msgspec
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        sys.meta_path.insert(0, Block())
        sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
        from factory import T0, City, line
        from anxin.ingest.service import IngestService
        from anxin.observe import tracing
        from anxin.store.database import Store
        city = City()
        svc = IngestService(Store({str(tmp_path / "db.sqlite")!r}), clock=lambda: T0 + 600_000_000)
        svc.set_registry(msgspec.json.encode(city.registry_dict()), author="t", reason="t")
        r = svc.ingest("S1", [line(city.metering("S1-N1", T0, 30_000))], source="http")
        assert r.accepted == 1, r
        assert not [m for m in sys.modules if m.startswith("opentelemetry")]
        from anxin.cli_common import missing_extra
        try:
            tracing.enable()
        except ImportError as exc:
            print(missing_extra(exc))
        """
    )
    monkeypatch.setenv("ANXIN_LANG", "en")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pip install 'anxin[otel]'" in done.stdout


def test_anxin_serve_with_otel_on_names_the_extra_when_the_exporter_is_missing(tmp_path, monkeypatch) -> None:
    """``ANXIN_OTEL=true anxin serve`` where the OTLP exporter is not installed: one line
    naming the [otel] extra, exit 2, nothing served; ``ANXIN_OTEL=perhaps``: the
    configuration's own error."""
    import uvicorn
    from typer.testing import CliRunner

    from anxin.cli import app

    served: list = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: served.append(a))
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    monkeypatch.setenv("ANXIN_OTEL", "true")
    res = CliRunner().invoke(app, ["--lang", "en", "serve", "--db", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2 and "pip install 'anxin[otel]'" in res.output and not served, res.output
    assert not tracing.enabled()
    monkeypatch.setenv("ANXIN_OTEL", "perhaps")
    res = CliRunner().invoke(app, ["--lang", "en", "serve", "--db", str(tmp_path / "x.sqlite")])
    assert res.exit_code == 2 and "otel" in res.output and not served, res.output
