"""``anxin witness explain TANK`` (issue 12): the tank's data built as the engine builds it
(from a data directory as ``anxin check`` reads it, or from a store's ledger: the same
data), its diagnostics printed in the user's language through the catalog (the renderer
tested here on a stand-in built from the ``TankDiagnostics`` struct), an unknown tank or
unusable options a one-line exit 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from anxin.check.explain import _engine, engine_from_dir, engine_from_store, render, tank_data, window
from anxin.check.pipeline import merged
from anxin.check.reader import data_files
from anxin.cli import app
from anxin.contract.parse import Parsed
from anxin.contract.registry import load_registry
from anxin.contract.times import US_PER_DAY, parse_ts
from anxin.demo.live import replay
from anxin.engine.stats.models import (
    DeliveryInfo,
    MeterEstimate,
    SegmentInfo,
    TankDiagnostics,
    TankEstimate,
)
from anxin.ingest.service import IngestService
from anxin.sim import ScenarioSet, simulate
from anxin.store.database import Store

runner = CliRunner()


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.setenv("ANXIN_LANG", "zh")  # (restored afterwards: --lang writes it)


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("explain") / "city"
    simulate(out, stations=2, days=2, seed=3, scenarios=ScenarioSet.parse("honest"), workers=1, group_size=2)
    return out


def _stand_in() -> TankDiagnostics:
    t0 = parse_ts("2026-03-01T00:00:00+08:00")
    h = 3_600_000_000
    est = TankEstimate(
        tank_id="S0001-T1",
        station_id="S0001",
        loss_l_per_h=0.12,
        loss_ci95_l_per_h=(-0.2, 0.44),
        leak_suspected=False,
        hours=47.9,
        readings_used=570,
        readings_rejected={"frozen": 3},
        meters=[
            MeterEstimate(
                nozzle_id="S0001-D1-N1",
                segment=110000,
                error_permille=0.8,
                ci95_permille=(-2.9, 4.5),
                n=140,
                status="insufficient",
                pooled_permille=0.6,
                pooled_ci95_permille=(0.1, 1.1),
            ),
            MeterEstimate(
                nozzle_id="S0001-D1-N2",
                segment=111000,
                error_permille=4.2,
                ci95_permille=(3.3, 5.1),
                n=310,
                status="violation",
            ),
        ],
        residual_sd_ml=640.0,
        scale_anchored=True,
        deliveries_declared=2,
        deliveries_inconsistent=1,
        pooled_permille=0.6,
        pooled_ci95_permille=(0.1, 1.1),
        chart_correction=[(1_200_000, -35.5), (1_400_000, 12.0)],
        method="witness.method.anchored",
    )
    return TankDiagnostics(
        tank_id="S0001-T1",
        station_id="S0001",
        estimate=est,
        segments=[
            SegmentInfo(
                index=0,
                start_us=t0,
                end_us=t0 + 10 * h,
                readings=120,
                level_min_um=1.2e6,
                level_max_um=1.5e6,
                cause="window",
            ),
            SegmentInfo(
                index=1,
                start_us=t0 + 11 * h,
                end_us=t0 + 47 * h,
                readings=430,
                level_min_um=1.1e6,
                level_max_um=2.1e6,
                cause="delivery",
            ),
        ],
        deliveries=[
            DeliveryInfo(
                start_us=t0 + 10 * h,
                end_us=t0 + 11 * h,
                declared_ml=9_990_000,
                implied_ml=9_985_000,
                used=True,
                reason="used",
            ),
            DeliveryInfo(
                start_us=t0 + 30 * h,
                end_us=t0 + 31 * h,
                declared_ml=5_000_000,
                implied_ml=4_200_000,
                used=False,
                reason="contradicted",
            ),
        ],
        anchor_pull_permille=-0.35,
        anchor_pull_se_permille=0.2,
        residual_by_level=[(1_150_000.0, 120.0, 40), (1_650_000.0, -80.0, 300)],
        residual_by_hour=[(0, 15.0, 24), (13, -22.0, 24)],
        residual_lag1=0.41,
        notes=["witness.note.insufficient"],
    )


def _rendered(language: str) -> str:
    console = Console(record=True, width=120, force_terminal=False)
    render(
        _stand_in(),
        console,
        language,
        since=parse_ts("2026-02-01T00:00:00+08:00"),
        until=parse_ts("2026-03-03T00:00:00+08:00"),
    )
    return console.export_text()


def test_the_renderer_speaks_chinese_and_names_everything() -> None:
    text = _rendered("zh")
    for words in (
        "油罐见证诊断 · 油罐 S0001-T1 · 加油站 S0001",
        "2026-02-01 00:00 – 2026-03-03 00:00",
        "无法区分",
        "超差（超出 ±3‰ 法定限）",
        "+0.60‰ [+0.10, +1.10]",  # the pooled figure
        "未见渗漏",
        "2 次，其中 1 次与油罐数据矛盾",
        "窗口起点",
        "进油",
        "与油罐数据矛盾，未采用",
        "-160.00‰",  # 4 200 L shown against 5 000 L declared
        "-0.35‰ (± 0.20‰)",
        "+0.41",  # lag-1
        "-35.5",  # a correction (mL)
        "该罐各油枪无法相互区分",
        "进油单锚定容积表比例的联合拟合",  # the method
    ):
        assert words in text, (words, text)
    assert "1,200" in text and "13" in text  # a level band (mm) and a local hour
    # no raw keys or field names on a Chinese page
    assert not re.search(
        r"\b(insufficient|violation|contradicted|window|delivery|witness\.\w+|pooled_permille)\b", text
    )


def test_a_long_chart_correction_is_shown_in_part() -> None:
    diag = _stand_in()
    assert diag.estimate is not None
    diag.estimate.chart_correction = [(1_000_000 + 10_000 * i, float(i)) for i in range(100)]
    console = Console(record=True, width=120, force_terminal=False)
    render(diag, console, "zh")
    text = console.export_text()
    assert "共 100 个登记液位点" in text and "+99.0" in text and "+0.0" in text  # the first and the last


def test_the_renderer_in_english() -> None:
    text = _rendered("en")
    for words in ("cannot be told apart", "contradicted by the tank, dropped", "start of the window", "no leak found"):
        assert words in text, (words, text)


def _full_engine(city: Path):
    """The city's records fed to one engine, as anxin check --workers 0 feeds them."""
    reg = load_registry(city / "registry.json")
    eng = _engine(reg, None)
    for _t, _fi, _n, p, v in merged(data_files(city), reg):
        if isinstance(p, Parsed):
            eng.feed(p, v)
    return reg, eng


def test_tank_data_is_the_engines(city: Path) -> None:
    reg, full = _full_engine(city)
    for tank in reg.tanks[:3]:
        mine = engine_from_dir(city, reg, tank.station_id)
        span = window(mine, tank.tank_id, until=None, days=30)
        assert span is not None
        since, until = span
        data = tank_data(mine, tank.tank_id, since, until)
        assert data.reading_t and data.dispensings
        assert data == full.tanklogs.tank_data(tank.tank_id, since, until)
        assert data.reading_t[-1] == until - 1  # the default window ends with the tank's last reading
    # a window: --until and --days
    tank = reg.tanks[0]
    mine = engine_from_dir(city, reg, tank.station_id)
    until = parse_ts("2026-03-02T12:00:00+08:00")
    since, end = window(mine, tank.tank_id, until=until, days=0.5) or (0, 0)
    data = tank_data(mine, tank.tank_id, since, end)
    assert end == until and since == until - US_PER_DAY // 2
    assert data.reading_t and min(data.reading_t) >= since and max(data.reading_t) < until


def test_the_ledger_gives_the_same_data(city: Path, store: Store) -> None:
    service = IngestService(store)
    service.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    replay(city, service, speed=0)
    reg = load_registry(city / "registry.json")
    tank = reg.tanks[1]
    from_dir = engine_from_dir(city, reg, tank.station_id)
    from_db = engine_from_store(store, reg, tank.station_id)
    span = window(from_dir, tank.tank_id, until=None, days=30)
    assert span is not None and span == window(from_db, tank.tank_id, until=None, days=30)
    assert tank_data(from_db, tank.tank_id, *span) == tank_data(from_dir, tank.tank_id, *span)


def test_unknown_tank_and_bad_options_exit_2(city: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["witness", "explain", "NO-SUCH-TANK", str(city)])
    assert res.exit_code == 2 and "未登记的油罐：NO-SUCH-TANK" in res.output, res.output
    db = tmp_path / "db.sqlite"
    service = IngestService(Store(str(db)))
    service.set_registry((city / "registry.json").read_bytes(), author="test", reason="test city")
    tank = load_registry(city / "registry.json").tanks[0].tank_id
    res = runner.invoke(app, ["witness", "explain", tank, str(city), "--db", str(db)])
    assert res.exit_code == 2 and "二选一" in res.output
    res = runner.invoke(app, ["witness", "explain", tank, str(city), "--until", "yesterday"])
    assert res.exit_code == 2 and "--until" in res.output
    res = runner.invoke(app, ["witness", "explain", tank, str(tmp_path / "nowhere")])
    assert res.exit_code == 2
    res = runner.invoke(app, ["witness", "explain", tank, str(city), "--until", "2020-01-01T00:00:00+08:00"])
    assert res.exit_code == 2 and "没有液位数据" in res.output
    res = runner.invoke(app, ["witness", "explain", "NO-SUCH-TANK", "--db", str(db), "--lang", "en"])
    assert res.exit_code == 2 and "Unknown tank: NO-SUCH-TANK" in res.output, res.output
