"""Issue 16, item 6 — deploy/grafana/anxin-dashboard.json: valid JSON a Grafana imports
(every panel on the ``datasource`` variable, no two panels on the same cells), and every
PromQL expression's metric names among what the processes export — scraped from a
running ``anxin serve`` app after real uploads, a receiver's app and a worker's
metrics server — so a renamed metric cannot leave a panel silently empty."""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import msgspec
from factory import T0, City, line
from fastapi.testclient import TestClient
from live import free_port

from anxin.cluster.metrics import serve_metrics
from anxin.cluster.receiver import Receiver
from anxin.cluster.receiver_app import create_receiver_app
from anxin.contract.times import US_PER_MIN
from anxin.ingest.service import IngestService
from anxin.observe.metrics import Latency
from anxin.serve.app import create_app
from anxin.serve.config import ServeConfig
from anxin.store.database import Store

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "anxin-dashboard.json"
ADMIN = "a" * 32
FUNCTIONS = {"sum", "rate", "increase", "histogram_quantile", "topk", "max", "min", "avg", "count", "irate"}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (its functions must be known ones)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings
    e = re.sub(r"\{[^}]*\}", "", e)  # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)  # range selectors
    e = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", e)  # grouping labels
    names = set()
    for m in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group()
        if e[m.end() :].lstrip().startswith("("):
            assert word in FUNCTIONS, f"unknown PromQL function {word!r} in {expr!r}"
        elif word not in KEYWORDS:
            names.add(word)
    return names


def exported(text: str) -> set[str]:
    """Every series name an exposition can carry, from its TYPE lines (a histogram's
    _bucket, _count, _sum even before its first observation) and its samples."""
    names = set()
    for ln in text.splitlines():
        if ln.startswith("# TYPE "):
            _, _, name, kind = ln.split(" ", 3)
            names.add(name)
            if kind == "histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            elif kind == "summary":
                names |= {f"{name}_count", f"{name}_sum"}
        elif ln and not ln.startswith("#"):
            names.add(re.split(r"[{ ]", ln, maxsplit=1)[0])
    return names


def test_the_metric_name_reader_reads_promql() -> None:
    assert metric_names('histogram_quantile(0.95, sum by (le, rule) (rate(a_bucket{x="y}"}[5m])))') == {"a_bucket"}
    assert metric_names("topk(10, b) / 2^30 + sum without (c) (d_total offset 5m)") == {"b", "d_total"}


def _scrapes(tmp_path: Path) -> str:
    city = City()
    svc = IngestService(Store(str(tmp_path / "db.sqlite")), clock=lambda: T0 + 10 * US_PER_MIN)
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
    cfg = ServeConfig(db=svc.store.url, admin_token=ADMIN, clock_every_s=0)
    c = TestClient(create_app(cfg, svc), client=("127.0.0.1", 50000))
    tok = c.post("/v1/stations/S1/token", headers={"Authorization": f"Bearer {ADMIN}"}).json()["token"]
    m = city.metering("S1-N1", T0, 30_000)
    body = line(m) + b"\n" + line(city.sale(m, volume_ml=30_500)) + b"\nnot json"
    h = {"Authorization": f"Bearer {tok}", "Content-Type": "application/x-ndjson", "X-Anxin-Edge-Backlog": "3"}
    assert c.post("/v1/records", content=body, headers=h).status_code == 207
    serve = c.get("/metrics")
    assert serve.status_code == 200
    # A receiver's app (its stream not started: its metrics are there all the same).
    receiver = Receiver(ServeConfig(db=svc.store.url), Store(svc.store.url))
    rec = TestClient(create_receiver_app(ServeConfig(db=svc.store.url), receiver), client=("127.0.0.1", 50001))
    received = rec.get("/metrics")
    assert received.status_code == 200
    # A worker's metrics server (anxin worker --metrics), over a worker owning one partition.
    port = free_port()
    engines = {3: SimpleNamespace(seq=7, fed=5, set_aside=0)}
    worker = SimpleNamespace(engines=engines, processed=5, alarms=[], latency=Latency())
    serve_metrics(worker, f"127.0.0.1:{port}")  # type: ignore[arg-type]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        worked = r.read().decode()
    return "\n".join([serve.text, received.text, worked])


def test_every_panel_reads_metrics_the_processes_export(tmp_path) -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["uid"] and dash["title"] and dash["schemaVersion"] >= 36
    assert any(v["type"] == "datasource" and v["name"] == "datasource" for v in dash["templating"]["list"])
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len(panels) >= 15 and len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
    cells: set[tuple[int, int]] = set()
    for p in dash["panels"]:
        g = p["gridPos"]
        mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
        assert g["x"] + g["w"] <= 24 and not mine & cells, p["title"]
        cells |= mine
    have = exported(_scrapes(tmp_path))
    # What the issue asks to see is on the dashboard.
    wanted = {
        "anxin_upload_request_seconds_bucket",
        "anxin_ingest_line_seconds_bucket",
        "anxin_sale_alarm_seconds_bucket",
        "anxin_build_info",
        "process_cpu_seconds_total",
        "python_gc_collections_total",
        "anxin_receiver_published_total",
        "anxin_receiver_duplicates_total",
        "anxin_receiver_rejects_total",
        "anxin_receiver_publish_seconds_bucket",
    }
    used: set[str] = set()
    for p in panels:
        assert p["datasource"]["uid"] == "${datasource}" and p["targets"], p["title"]
        for t in p["targets"]:
            names = metric_names(t["expr"])
            assert names, t["expr"]
            assert names <= have, f"{p['title']}: {sorted(names - have)} not exported"
            used |= names
    assert wanted <= used, sorted(wanted - used)
