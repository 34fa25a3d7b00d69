"""A station's POS export end to end (issue 16 item 4): a simulated city's sales written
as a Chinese POS export (GBK CSV, 元 and 升, Chinese payment words) come back from
``anxin edge import-pos`` as the very settlement records the city sent, and the edge
agent uploads them with the station's token to ``anxin serve``: every sale in the
ledger once, nothing refused; a second import is duplicates only."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from test_edge_agent import STATION, Platform, edge_cli, status

from anxin.edge.posfile import read_pos
from anxin.i18n.po import table
from anxin.sim import ScenarioSet, simulate

HEADER = "加油站编号,订单号,油枪编号,泵码序号,交易时间,升数,单价(元/升),应收金额(元),实收金额(元),支付方式"


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pos-city") / "data"
    simulate(out, stations=1, days=1, seed=11, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    return out


def settlements(city: Path) -> list[dict]:
    out = []
    for f in sorted(city.glob("*.jsonl")):
        for line in f.read_bytes().splitlines():
            rec = msgspec.json.decode(line)
            if rec.get("kind") == "settlement":
                out.append(rec)
    return out


def yuan(fen: int) -> str:
    return str(Decimal(fen) / 100)


def pos_export(recs: list[dict]) -> bytes:
    """The sales as a POS's 销售明细 export saved by Chinese Excel: GBK, 元, 升, 微信支付."""
    words = {k: zh for k, (zh, _) in table("payment").items()}
    lines = [HEADER]
    for r in recs:
        when = r["ts"][:23].replace("T", " ")  # local time as the POS shows it (the map's zone: +08:00)
        lines.append(
            ",".join(
                [
                    r["station_id"],
                    r["order_id"],
                    r["nozzle_id"],
                    "" if r["pump_seq"] is None else str(r["pump_seq"]),
                    when,
                    str(Decimal(r["volume_ml"]) / 1000),
                    yuan(r["unit_price_fen"]),
                    yuan(r["amount_fen"]),
                    yuan(r["paid_fen"]),
                    words[r["payment"]],
                ]
            )
        )
    return ("\r\n".join(lines) + "\r\n").encode("gbk")


def test_a_pos_export_reads_back_as_the_records_the_station_sent(city: Path) -> None:
    recs = settlements(city)
    assert len(recs) > 100
    got = read_pos(pos_export(recs), station_id=STATION)
    assert got.errors == [] and got.encoding == "gb18030"
    assert [r for _, r in got.records] == recs


def test_the_agent_uploads_an_imported_export_with_the_stations_token(tmp_path: Path, city: Path) -> None:
    recs = settlements(city)
    export = tmp_path / "销售明细.csv"
    export.write_bytes(pos_export(recs))
    platform = Platform(tmp_path, city / "registry.json").start()
    try:
        token = platform.token()
        outbox = tmp_path / "edge" / "outbox.sqlite"
        r = edge_cli("edge", "import-pos", str(export), "--outbox", str(outbox), "--station", STATION)
        assert r.returncode == 0, r.stdout.decode() + r.stderr.decode()
        assert f"已将 {len(recs)} 条结算记录放入发件箱" in r.stdout.decode().replace("\n", "")
        run = ["edge", "run", "--server", platform.url, "--outbox", str(outbox), "--once"]
        r = edge_cli(*run, token=token)
        assert r.returncode == 0, r.stderr.decode()
        st = status(outbox)
        assert st["backlog"] == 0 and st["counters"]["accepted"] == len(recs) and st["counters"]["rejected"] == 0
        assert platform.ledger() == len(recs) and platform.server_rejects() == []
        # the same export again: the platform's natural key (station, order) makes them duplicates
        r = edge_cli("edge", "import-pos", str(export), "--outbox", str(outbox), "--station", STATION)
        assert r.returncode == 0
        assert edge_cli(*run, token=token).returncode == 0
        assert status(outbox)["counters"]["duplicate"] == len(recs) and platform.ledger() == len(recs)
    finally:
        platform.stop()
