"""Inspections stay unannounced (issue 11, finding 6; 四不两直): an operator saw the
unannounced inspections planned for its own station (``/console/inspections`` listed
``unannounced S0001 … planned``) and the citizen-chosen (你点我检) requests for its
nozzles. The station's side — an operator's console and the station's public page —
now sees them only once the visit is recorded; regulators and inspectors see all. The
rule is in the query layer (``anxin.supervision.inspections``), tested there on SQLite
and PostgreSQL, and through the pages and HTTP routes."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest
from factory import T0, City
from fastapi.testclient import TestClient
from sessions_helper import signed_in

from anxin.contract.times import US_PER_DAY
from anxin.serve.runtime import build
from anxin.store.database import Store
from anxin.supervision import inspections as I

ALL_OK = {k: (True, "") for k in I.MANUAL_ITEMS}


def _plan(store: Store, registry) -> dict[str, int]:
    """S1: an unannounced, a citizen-chosen (from a request) and a routine inspection,
    all planned; S2: an unannounced one."""
    ids = {
        "unannounced": I.schedule(
            store,
            station_id="S1",
            inspector="li",
            scheduled_us=T0 + US_PER_DAY,
            kind="unannounced",
            actor="zhao",
            now_us=T0,
        ),
        "routine": I.schedule(
            store,
            station_id="S1",
            inspector="li",
            scheduled_us=T0 + 2 * US_PER_DAY,
            kind="routine",
            actor="zhao",
            now_us=T0,
        ),
        "other": I.schedule(
            store,
            station_id="S2",
            inspector="li",
            scheduled_us=T0 + US_PER_DAY,
            kind="unannounced",
            actor="zhao",
            now_us=T0,
        ),
    }
    ids["request"] = I.citizen_request(store, registry, nozzle_id="S1-N2", contact="138", now_us=T0)
    ids["request_open"] = I.citizen_request(store, registry, nozzle_id="S1-N1", now_us=T0)  # not scheduled yet
    ids["citizen"] = I.schedule_citizen(
        store, ids["request"], inspector="li", scheduled_us=T0 + 3 * US_PER_DAY, actor="zhao", now_us=T0
    )
    return ids


def _seen(store: Store, *, station_view: bool, stations=None) -> set[int]:
    return {int(i["id"]) for i in I.listing(store, station_ids=stations, station_view=station_view)}


def test_the_query_layer_hides_unvisited_unannounced_inspections(store: Store) -> None:
    registry = City().registry()
    ids = _plan(store, registry)
    # The regulator's and inspector's view: everything.
    assert _seen(store, station_view=False) == {ids["unannounced"], ids["routine"], ids["other"], ids["citizen"]}
    assert len(I.citizen_requests(store)) == 2
    # The station's side: only what was announced; no request for its nozzles.
    assert _seen(store, station_view=True, stations={"S1"}) == {ids["routine"]}
    assert I.get(store, ids["unannounced"], station_view=True) is None
    assert I.get(store, ids["citizen"], station_view=True) is None
    assert I.get(store, ids["routine"], station_view=True) is not None
    assert I.citizen_requests(store, station_ids={"S1"}, station_view=True) == []
    # Once visited, they are the station's to see.
    I.record_visit(
        store,
        registry,
        ids["unannounced"],
        checklist=ALL_OK,
        test_fill_runs=None,
        findings=None,
        actor="li",
        now_us=T0 + US_PER_DAY,
    )
    I.record_visit(
        store,
        registry,
        ids["citizen"],
        checklist=ALL_OK,
        test_fill_runs=None,
        findings=None,
        actor="li",
        now_us=T0 + 3 * US_PER_DAY,
    )
    assert _seen(store, station_view=True, stations={"S1"}) == {ids["unannounced"], ids["routine"], ids["citizen"]}
    assert I.get(store, ids["citizen"], station_view=True) is not None
    assert [r["id"] for r in I.citizen_requests(store, station_ids={"S1"}, station_view=True)] == [ids["request"]]
    # S2's unannounced inspection stays hidden from S2's side.
    assert _seen(store, station_view=True, stations={"S2"}) == set()


@pytest.fixture
def console(tmp_path: Path):
    city = City()
    reg = tmp_path / "registry.json"
    reg.write_bytes(msgspec.json.encode(city.registry_dict()))
    _, service, app = build(db=str(tmp_path / "db.sqlite"), registry=reg, admin_token="admin-token-0123456789-abc")
    yield service, app
    service.store.close()


def test_finding_6_operators_do_not_see_planned_unannounced_inspections(console) -> None:
    service, app = console
    store, registry = service.store, service.registry
    ids = _plan(store, registry)
    operator, regulator, public = TestClient(app), TestClient(app), TestClient(app)
    signed_in(operator, store, "wang", "operator", ("S1",))
    signed_in(regulator, store, "zhao", "regulator")

    page = operator.get("/console/inspections")
    assert page.status_code == 200
    text = page.text
    assert "unannounced" not in text and "citizen" not in text and "S1-N2" not in text, text
    assert f'/console/inspections/{ids["routine"]}"' in text  # the announced one is there
    for key in ("unannounced", "citizen", "other"):
        assert operator.get(f"/console/inspections/{ids[key]}").status_code == 404, key  # as if none existed
    assert operator.get(f"/console/inspections/{ids['routine']}").status_code == 200
    # Regulators see all of it, requests included.
    text = regulator.get("/console/inspections").text
    for key in ("unannounced", "citizen", "other", "routine"):
        assert f'/console/inspections/{ids[key]}"' in text, key
    assert "S1-N2" in text and regulator.get(f"/console/inspections/{ids['unannounced']}").status_code == 200
    # The public page shows no planned inspection.
    assert "四不两直" not in public.get("/p/S1-N1").text

    I.record_visit(
        store,
        registry,
        ids["unannounced"],
        checklist={**ALL_OK, I.SEALS_INTACT: (False, "铅封断")},
        test_fill_runs=None,
        findings="铅封断",
        actor="li",
        now_us=T0 + US_PER_DAY,
    )
    text = operator.get("/console/inspections").text
    assert f'/console/inspections/{ids["unannounced"]}"' in text and "四不两直" in text
    assert f'/console/inspections/{ids["citizen"]}"' not in text  # still planned
    assert operator.get(f"/console/inspections/{ids['unannounced']}").status_code == 200
    assert operator.get(f"/console/inspections/{ids['citizen']}").status_code == 404
    pub = public.get("/p/S1-N1").text
    assert "四不两直" in pub and re.search(r"发现问题（项） 1", pub)
    I.record_visit(
        store,
        registry,
        ids["citizen"],
        checklist=ALL_OK,
        test_fill_runs=None,
        findings=None,
        actor="li",
        now_us=T0 + 3 * US_PER_DAY,
    )
    text = operator.get("/console/inspections").text
    assert f'/console/inspections/{ids["citizen"]}"' in text and "S1-N2" in text  # the request, done
    assert "你点我检" in public.get("/p/S1-N1").text
