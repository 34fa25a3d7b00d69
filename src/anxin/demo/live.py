"""``anxin demo``: a small simulated city replayed live on an accelerated clock.

The city is simulated into ``demo-data/city`` (with its ground truth beside it),
then its records "arrive" as the accelerated clock passes their event time, through
the live service's own ingest path (``IngestService``: parsed, authenticated,
appended to the SQLite ledger, fed to the engine, alarms stored), and every alarm
shows up in a live terminal view as it is raised. At the
end the batch checker runs on the very same files, to show that batch and live
raise the same alarms, and the alarms are scored against the ground truth.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table

from anxin.check.pipeline import REJECT_T
from anxin.check.run import run_check
from anxin.contract.alarm import LIVE_ONLY_RULES, SEVERITY, Alarm
from anxin.contract.times import LOCAL_TZ, format_ts
from anxin.demo.queries import alarm_ids_and_counts
from anxin.i18n import alarm_text, lang, rule_name
from anxin.i18n.po import table
from anxin.ingest.service import IngestService
from anxin.keyed import render
from anxin.sim.replay import arrival_items
from anxin.store.database import Store

_enc = msgspec.json.Encoder()
COLOURS = {"critical": "bold red", "major": "yellow", "minor": "cyan"}


class DemoResult(msgspec.Struct, kw_only=True):
    data_dir: str
    db: str
    check_dir: str
    records: int
    alarms_by_rule: dict[str, int]
    live_alarm_ids: int
    batch_alarm_ids: int
    batch_equals_live: bool


def _t(key: str, /, **params: Any) -> str:
    """The demo's words (the catalog's ``demo`` table) in the process's language."""
    return render("demo", key, params)


class LiveView:
    """The terminal view: clock, counters, the latest alarms, alarms per rule."""

    def __init__(self, stations: int) -> None:
        self.stations = stations
        self.latest: deque[Alarm] = deque(maxlen=14)
        self.by_rule: Counter[str] = Counter()
        self.records = 0
        self.clock = ""

    def render(self) -> Group:
        head = Table.grid(padding=(0, 3))
        head.add_row(
            f"[bold]{_t('sim_clock')}[/] {self.clock}",
            f"[bold]{_t('stations')}[/] {self.stations}",
            f"[bold]{_t('records_in')}[/] {self.records:,}",
            f"[bold red]{_t('alarms')}[/] {sum(self.by_rule.values()):,}",
        )
        feed = Table(expand=True, show_edge=False)
        for col, width in (
            (_t("col_time"), 8),
            (_t("col_nozzle_order"), 24),
            (_t("col_rule"), 30),
            (_t("col_message"), None),
        ):
            feed.add_column(col, overflow="ellipsis", no_wrap=True, min_width=width, ratio=None if width else 1)
        for a in reversed(self.latest):
            feed.add_row(
                a.ts[11:19],
                a.nozzle_id or a.station_id if not a.order_id else f"{a.nozzle_id} {a.order_id}",
                f"[{COLOURS[a.severity]}]{rule_name(a.rule)}",
                alarm_text(a),
            )
        rules = Table(show_header=False, show_edge=False)
        for rule, n in sorted(self.by_rule.items(), key=lambda kv: -kv[1]):
            rules.add_row(f"[{COLOURS[SEVERITY[rule]]}]{rule_name(rule)}", f"{n:,}")
        return Group(
            Panel(head, title=_t("title")),
            Panel(feed, title=_t("live_alarms")),
            Panel(rules, title=_t("by_rule")),
        )

    def add(self, alarm: Alarm) -> None:
        self.latest.append(alarm)
        self.by_rule[alarm.rule] += 1


def open_service(data_dir: Path, db_path: Path) -> IngestService:
    """A fresh demo database with the city's registry and its (schematic) district map, and
    the live service's ingest path."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    service = IngestService(Store(str(db_path)))
    service.set_registry((data_dir / "registry.json").read_bytes(), author="anxin demo", reason="demo city")
    if service.registry is not None:  # its districts on the overview: schematic, and said to be
        from anxin.demo.districts import load_schematic_map

        load_schematic_map(service.store, service.registry)
    return service


def replay(
    data_dir: Path,
    service: IngestService,
    *,
    speed: float,
    on_alarm: Callable[[Alarm], None] = lambda a: None,
    on_tick: Callable[[int, int], None] = lambda t, n: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Upload the city's records through the live service's ingest path as the
    accelerated clock passes their event time (``speed`` simulated seconds per real
    second; 0 = as fast as possible): every station's waiting lines go up together,
    as its edge agent would send them, about ten times a second."""
    registry = service.registry
    if registry is None:
        raise RuntimeError("the demo replays a city whose registry is loaded first (open_service)")

    def announce(alarms: list[Alarm]) -> None:
        for a in alarms:
            on_alarm(a)

    service.subscribe(announce)
    default = registry.stations[0].station_id
    waiting: dict[str, list[bytes]] = defaultdict(list)
    first_t: int | None = None
    started = clock()
    n = 0

    def flush() -> None:
        for sid, lines in waiting.items():
            service.ingest(sid, lines, source=f"demo:{sid}")
        waiting.clear()

    step = 0.1 * speed * 1e6 if speed > 0 else float("inf")  # event-time µs per upload round
    next_round = float("-inf")  # the first record's time, once it comes
    for t, sid, raw in arrival_items(data_dir):
        if t != REJECT_T:
            if first_t is None:
                first_t = next_round = t
            if t >= next_round:
                flush()
                if speed > 0:
                    due = started + (t - first_t) / 1e6 / speed
                    while (wait := due - clock()) > 0:
                        sleep(min(wait, 0.1))
                next_round = t + step
                on_tick(t, n)
        waiting[sid or default].append(raw)
        n += 1
    flush()
    service.final_look()
    return n


def run_demo(
    *,
    out: Path,
    stations: int,
    days: int,
    seed: int,
    speed: float,
    console: Console,
    serve: bool = False,
    port: int = 8080,
    wait: Callable[[], None] | None = None,
    end: dt.date | None = None,
) -> DemoResult:
    from anxin.sim import ScenarioSet, evaluate, render_evaluation, simulate

    data_dir, check_dir, db = out / "city", out / "city.check", out / "anxin.sqlite"
    console.print(_t("simulating", stations=stations, days=days))
    # The city's days end today (at this local midnight, so no record is from the future):
    # the console's "now" — verification due dates, the statistics' period, the dates of
    # the complaints and inspections a user enters — then agrees with the data.
    end_day = end or dt.datetime.now(LOCAL_TZ).date()
    start = end_day - dt.timedelta(days=days)
    # every scenario, the firmware and self-lock ones of contract v1.1 §F too
    scenarios = ScenarioSet.parse("all,firmware")
    simulate(data_dir, stations=stations, days=days, seed=seed, scenarios=scenarios, workers=1, start=start)
    service = open_service(data_dir, db)
    web = None
    if serve:
        from anxin.demo.console import ConsoleServer, demo_users

        accounts = demo_users(service)
        web = ConsoleServer(service, port=port)
        if web.start():
            console.print(_t("console_at", url=f"{web.url}/console"), style="bold")
            roles = table("role")
            for name, role, password in accounts:
                said = roles.get(role, (role, role))[0 if lang() == "zh" else 1]
                console.print(f"  {_t('account', user=name, password=password, role=said)}")
            console.print(f"  {_t('public_page', url=f'{web.url}/p/S0001-D1-N1')}")
        else:
            console.print(_t("port_busy", port=port), style="yellow")
            web = None
    view = LiveView(stations)
    if console.is_terminal and speed > 0:
        with Live(view.render(), console=console, refresh_per_second=4) as live:

            def tick(t: int, n: int) -> None:
                view.clock, view.records = format_ts(t)[:19].replace("T", " "), n
                live.update(view.render())

            records = replay(data_dir, service, speed=speed, on_alarm=view.add, on_tick=tick)
            view.records = records
            live.update(view.render())
    else:  # not a terminal (CI, a pipe): no live view, the summary at the end
        records = replay(data_dir, service, speed=speed, on_alarm=view.add)
        view.records = records
        console.print(view.render())
    store = service.store
    if serve:  # the console's supervision pages get believable work to show
        from anxin.demo.supervision import populate

        populate(service)
    # (rules of the platform's clock are live only: not compared)
    live_ids, by_rule = alarm_ids_and_counts(store, not_rules=LIVE_ONLY_RULES)
    summary = run_check(data_dir, check_dir, workers=0)
    batch_ids = {msgspec.json.decode(x)["alarm_id"] for x in (check_dir / "alarms.jsonl").read_bytes().splitlines()}
    same = batch_ids == live_ids
    console.print(
        _t("same" if same else "differ"),
        style="bold green" if same else "bold red",
    )
    render_evaluation(evaluate(data_dir, check_dir), console, lang=lang())
    console.print(_t("where"))
    console.print(f"  {_t('city_data', path=data_dir, lines=f'{summary.lines:,}')}")
    console.print(f"  {_t('ledger', path=db)}")
    console.print(f"  {_t('batch_output', path=check_dir)}")
    if web is not None:
        _receipt_example(service, web.url, out, console)
        console.print(_t("still_running", url=f"{web.url}/console"), style="bold")
        try:
            (wait or _forever)()
        except KeyboardInterrupt:
            pass
        web.stop()
    store.close()
    return DemoResult(
        data_dir=str(data_dir),
        db=str(db),
        check_dir=str(check_dir),
        records=records,
        alarms_by_rule=by_rule,
        live_alarm_ids=len(live_ids),
        batch_alarm_ids=len(batch_ids),
        batch_equals_live=same,
    )


def _receipt_example(service: IngestService, base: str, out: Path, console: Console) -> None:
    """A receipt of an honest sale, as its QR code would carry it (每一笔可验证), and the code."""
    from anxin.receipt.digest import receipt_path
    from anxin.receipt.queries import example
    from anxin.register.qr import qr_svg

    if service.registry is None or not service.registry.stations:
        return
    receipt = example(service.store, service.registry, service.registry.stations[0].station_id)
    if receipt is not None:
        url = base + receipt_path(receipt)
        (out / "receipt-qr.svg").write_text(qr_svg(url), encoding="utf-8")
        console.print(f"  {_t('receipt_page', url=url)}")
        console.print(f"  {_t('receipt_qr', path=out / 'receipt-qr.svg')}")


def _forever() -> None:
    while True:
        time.sleep(3600)
