"""A small simulated city in a live service, for the agency export tests
(tests/test_exports*.py): 4 stations over 2 days with every kind of cheating and fault
(forged and cloned modules, unknown devices, duplicate numbers, nozzles without an
independent module…), uploaded station by station as the stations would, and the
figures worked out again straight from the simulator's files (:func:`reference`).

A test module uses it with ``pytest_plugins = ["exports_city"]``."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sessions_helper import signed_in
from sqlalchemy import update

from anxin.contract.parse import Parsed, parse_line
from anxin.contract.records import Metering, Settlement
from anxin.contract.registry import Registry
from anxin.contract.times import LOCAL_TZ, to_us
from anxin.crypto.keys import KeyRing, KeyVerdict, authenticate
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate
from anxin.sim.replay import arrival_items, arrival_lines, by_sender, uploads
from anxin.store import schema as T

ADMIN = "admin-token-0123456789"
START, END = dt.date(2026, 3, 1), dt.date(2026, 3, 2)


@dataclass
class City:
    root: Path
    data: Path
    service: Any
    app: Any
    clients: dict[str, TestClient]
    csrf: dict[str, str]

    @property
    def registry(self) -> Registry:
        return self.service.registry


def reference(data: Path, reg: Registry) -> dict[tuple[str, str, str], Counter[str]]:
    """(station, day, product) → the figures, from the simulator's lines in the order they
    were uploaded: a metering record counts when its nozzle is the station's registered
    one and its signature verifies with the registry's key — signed metering only from a
    nozzle with an independent module, the rest as the main board's; the first record of
    a (nozzle, seq) or an order only; days are local dates of ``end`` and ``ts``."""
    ring = KeyRing.from_registry(reg)
    seen: set[tuple[str, ...]] = set()
    out: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for _t, _sid, raw in arrival_items(data):
        p = parse_line(raw)
        if not isinstance(p, Parsed) or not isinstance(p.rec, Metering | Settlement):
            continue
        rec = p.rec
        nozzle = reg.nozzle_by_id.get(rec.nozzle_id)
        if nozzle is None or nozzle.station_id != rec.station_id:
            continue  # an unknown device: quarantined
        if isinstance(rec, Metering):
            if authenticate(p, ring) != KeyVerdict.OK:
                continue
            key: tuple[str, ...] = ("m", rec.nozzle_id, str(rec.seq))
            day = rec.end.astimezone(LOCAL_TZ).date().isoformat()
        else:
            key = ("s", rec.station_id, rec.order_id)
            day = rec.ts.astimezone(LOCAL_TZ).date().isoformat()
        if key in seen:
            continue
        seen.add(key)
        c = out[(rec.station_id, day, nozzle.product)]
        if isinstance(rec, Metering):
            if nozzle.anti_cheat:
                c["metered_n"] += 1
                c["metered_ml"] += rec.volume_ml
                price = reg.posted_price(rec.station_id, nozzle.product, to_us(rec.start))
                assert price is not None
                c["metered_value_fen"] += (rec.volume_ml * price + 500) // 1000
            else:
                c["board_n"] += 1
                c["board_ml"] += rec.volume_ml
        else:
            c["settled_n"] += 1
            c["settled_ml"] += rec.volume_ml
            c["settled_fen"] += rec.amount_fen
            if not nozzle.anti_cheat:
                c["settled_board_ml"] += rec.volume_ml
                c["settled_board_fen"] += rec.amount_fen
    return out


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> City:
    root = tmp_path_factory.mktemp("exports")
    simulate(root / "city", stations=4, days=2, seed=7, scenarios=ScenarioSet.parse("all"), workers=1, group_size=4)
    _, service, app = build(
        db=str(root / "db.sqlite"),
        registry=root / "city" / "registry.json",
        admin_token=ADMIN,
        cookie_secure=False,
    )
    for sid, lines, sender in by_sender(uploads(arrival_lines(root / "city"), "S0001")):
        service.ingest(sid if sender == "station" else None, lines, source="test")
    clients, csrf = {}, {}
    people = (
        ("city", "regulator", (), None),
        ("binjiang", "regulator", (), "滨江区"),
        ("inspector", "inspector", (), None),
        ("operator", "operator", ("S0002",), None),
        ("admin", "admin", (), None),
    )
    for who, role, stations, district in people:
        c = TestClient(app, headers={"Accept-Language": "zh-CN"})
        csrf[who] = signed_in(c, service.store, f"exp_{who}", role, stations)
        if district:
            with service.store.engine.begin() as conn:
                conn.execute(update(T.users).where(T.users.c.username == f"exp_{who}").values(district=district))
        clients[who] = c
    clients["anon"] = TestClient(app)
    return City(root, root / "city", service, app, clients, csrf)
