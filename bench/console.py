"""Server time of the console's overview and alarm list at 100 k alarms (issue 5;
target ≤ 300 ms each), on SQLite (and PostgreSQL with ``--backends sqlite,postgresql``).

    .venv/bin/python bench/console.py [--alarms 100000] [--stations 200] [--repeat 5]

A registry of ``--stations`` simulated stations; ``--alarms`` alarms spread over them,
30 days and every rule (a tenth of them triaged to some status), stored through the
store's own path. Each page is requested ``--repeat`` times in-process (the ASGI app
with a signed-in regulator); the median and the worst are printed.
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from anxin.auth import create_user  # noqa: E402
from anxin.contract.alarm import RULES  # noqa: E402
from anxin.contract.times import US_PER_DAY  # noqa: E402
from anxin.engine.outputs import make_alarm  # noqa: E402
from anxin.serve.runtime import build  # noqa: E402
from anxin.sim import ScenarioSet, simulate  # noqa: E402
from anxin.store import schema as T  # noqa: E402

PASSWORD = "bench password 0123"


def registry(stations: int) -> Path:
    out = ROOT / "bench-data" / f"console-{stations}"
    if not (out / "registry.json").exists():
        simulate(out, stations=stations, days=1, seed=5, scenarios=ScenarioSet.honest(), workers=2)
    return out / "registry.json"


def fill(service, n: int, seed: int = 1) -> None:
    rnd = random.Random(seed)
    reg = service.registry
    nozzles = reg.nozzles
    t0 = 1_772_294_400_000_000
    rules = sorted(RULES)
    batch = []
    for i in range(n):
        nz = rnd.choice(nozzles)
        rule = rnd.choice(rules)
        ts = t0 + rnd.randrange(30 * US_PER_DAY)
        batch.append(
            make_alarm(
                rule,
                key=(nz.nozzle_id, i),
                station_id=nz.station_id,
                nozzle_id=nz.nozzle_id,
                seq=i,
                ts_us=ts,
                message=f"{rule} on {nz.nozzle_id}",
                evidence={"i": i},
            )
        )
        if len(batch) == 5000:
            service.store.save_outputs(batch)
            batch = []
    service.store.save_outputs(batch)
    states = ["acknowledged", "dispatched", "on_site", "confirmed", "false_alarm"]
    with service.store.engine.begin() as c:
        ids = [r[0] for r in c.execute(T.alarms.select().with_only_columns(T.alarms.c.alarm_id)).all()]
        c.execute(
            insert(T.alarm_states),
            [
                {"alarm_id": a, "status": rnd.choice(states), "updated_us": t0, "updated_by": "bench"}
                for a in rnd.sample(ids, len(ids) // 10)
            ],
        )


def timed(client: TestClient, path: str, repeat: int) -> tuple[float, float]:
    client.get(path)  # warm
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(path)
        times.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    return statistics.median(times), max(times)


def run(backend: str, args) -> None:
    if backend == "sqlite":
        db = str(ROOT / "bench-data" / f"console-{uuid.uuid4().hex[:6]}.sqlite")

        def drop() -> None:
            for p in Path(db).parent.glob(Path(db).name + "*"):
                p.unlink(missing_ok=True)

    else:
        from services import fresh_pg_database

        ctx = fresh_pg_database()
        db = ctx.__enter__()

        def drop() -> None:
            ctx.__exit__(None, None, None)

    try:
        _, service, app = build(
            db=db, registry=registry(args.stations), admin_token="bench-admin-token-0123456789", cookie_secure=False
        )
        t = time.perf_counter()
        fill(service, args.alarms)
        print(f"{backend}: stored {args.alarms:,} alarms in {time.perf_counter() - t:.0f} s", flush=True)
        create_user(
            service.store,
            username="bench",
            display_name="bench",
            role="regulator",
            password=PASSWORD,
            actor="bench",
            reason="bench",
            now_us=time.time_ns() // 1000,
        )
        c = TestClient(app)
        found = re.search(r'name="form_token" value="([^"]+)"', c.get("/console/login").text)
        assert found, "no CSRF token on the login page"
        token = found[1]
        c.post(
            "/console/login", data={"username": "bench", "password": PASSWORD, "next": "/console", "form_token": token}
        )
        district = service.registry.stations[0].district
        for name, path in (
            ("overview", "/console"),
            ("alarm list, no filter", "/console/alarms"),
            ("alarm list, open + rule", "/console/alarms?status=open&rule=VOLUME_MISMATCH"),
            ("alarm list, district + severity", f"/console/alarms?district={district}&severity=critical"),
            ("alarm list, one station + dates", "/console/alarms?station_id=S0007&since=2026-03-05&until=2026-03-10"),
            ("alarm list, page 50", None),
        ):
            if path is None:  # keyset paging deep into the list
                before = 100_000_000
                for _ in range(50):
                    page = c.get(f"/console/alarms?before={before}").text
                    before = int(page.split("before=")[1].split('"')[0]) if "before=" in page else before
                path = f"/console/alarms?before={before}"
            med, worst = timed(c, path, args.repeat)
            print(f"{backend:10s} {name:34s} median {med:6.0f} ms, worst {worst:6.0f} ms (target ≤ 300 ms)", flush=True)
    finally:
        drop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alarms", type=int, default=100_000)
    ap.add_argument("--stations", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backends", default="sqlite")
    args = ap.parse_args(argv)
    for backend in args.backends.split(","):
        run(backend, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
