"""A POS settlement export (结算导出, CSV or XLSX) as contract ``settlement`` records,
on the station's side: read with :mod:`anxin.tabular` and a column map, every row
converted exactly (元 → 分, 升 → mL, the POS's time format and zone) and checked by
the contract's own parser, then queued in the edge agent's outbox in one transaction.
The agent uploads them with the station's token like any line it reads: a settlement
is the station's own record, unsigned, authenticated by the station's credentials
(contract v1.1 §C) — so the file is imported where those credentials are, never
through the regulator's console, which may not speak for a station.

Nothing is half-imported: a file with any bad row queues nothing and every bad row is
named (line, column, what is wrong). Amounts are converted, never corrected: a sale
whose amount disagrees with its volume and price is the platform's AMOUNT_MISMATCH to
raise, not the importer's to hide. A second import of the same file sends the same
orders, which the platform counts as duplicates (natural key station + order)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import msgspec

from anxin.contract.parse import Reject, parse_line
from anxin.edge.outbox import Outbox
from anxin.tabular import ColumnMap, FieldType, Schema, TableError, bind, convert, parse_map, read_table
from anxin.tabular.errors import problem

SCHEMA: Schema = {
    "station_id": FieldType("text"),
    "order_id": FieldType("text"),
    "nozzle_id": FieldType("text"),
    "pump_seq": FieldType("integer", required=False),  # null: a legacy POS (contract v1 §3)
    "ts": FieldType("time"),
    "volume_ml": FieldType("quantity", "volume"),
    "unit_price_fen": FieldType("quantity", "money"),  # per litre
    "amount_fen": FieldType("quantity", "money"),
    "paid_fen": FieldType("quantity", "money"),
    "payment": FieldType("text"),
}

OPTIONAL = frozenset(f for f, ft in SCHEMA.items() if not ft.required)

# What a Chinese POS export typically says; a vendor's own map names only what differs.
DEFAULT_MAP: ColumnMap = parse_map(
    {
        "kind": "settlement",
        "timezone": "+08:00",
        "skip": ["合计", "总计", "小计"],  # an export's totals
        "fields": {
            "station_id": {"columns": ["加油站编号", "站点编号", "油站编号"]},
            "order_id": {"columns": ["订单号", "交易流水号", "流水号"]},
            "nozzle_id": {"columns": ["油枪编号", "油枪号", "枪号"]},
            "pump_seq": {"columns": ["泵码序号", "加油序号"]},
            "ts": {
                "columns": ["交易时间", "结算时间"],
                "formats": ["%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d%H%M%S"],
            },
            "volume_ml": {"columns": ["升数", "加油量(L)", "数量(升)"], "unit": "L"},
            "unit_price_fen": {"columns": ["单价(元/升)", "单价"], "unit": "元"},
            "amount_fen": {"columns": ["应收金额(元)", "金额", "应收金额"], "unit": "元"},
            "paid_fen": {"columns": ["实收金额(元)", "实收金额", "实付金额"], "unit": "元"},
            "payment": {
                "columns": ["支付方式"],
                "values": {
                    "微信": "wechat",
                    "微信支付": "wechat",
                    "支付宝": "alipay",
                    "银联": "unionpay",
                    "银联卡": "unionpay",
                    "现金": "cash",
                    "加油卡": "fuel_card",
                    "wechat": "wechat",
                    "alipay": "alipay",
                    "unionpay": "unionpay",
                    "cash": "cash",
                    "fuel_card": "fuel_card",
                },
            },
        },
    },
    SCHEMA,
    kind="settlement",
)


def load_pos_map(data: bytes) -> ColumnMap:
    """A vendor's column map; the fields it leaves out are :data:`DEFAULT_MAP`'s."""
    from anxin.tabular import load_map

    return load_map(data, SCHEMA, kind="settlement", defaults=DEFAULT_MAP)


@dataclass(slots=True)
class PosFile:
    records: list[tuple[int, dict]] = field(default_factory=list)  # (line, settlement); empty on any error
    errors: list[TableError] = field(default_factory=list)
    rows: int = 0
    format: str = "csv"
    encoding: str | None = None


def read_pos(data: bytes, *, cmap: ColumnMap | None = None, station_id: str | None = None) -> PosFile:
    """Settlements from a POS export. ``station_id``: the station whose agent imports —
    the value of a file without a station column, and what every row must name."""
    cmap = cmap or DEFAULT_MAP
    if station_id is not None and cmap.fields["station_id"].value is None:
        fields = dict(cmap.fields)
        fields["station_id"] = replace(fields["station_id"], value=station_id)
        cmap = replace(cmap, fields=fields)
    table = read_table(data, sheet=cmap.sheet, header_row=cmap.header_row)
    rows = cmap.records_of(table.rows)
    out = PosFile(rows=len(rows), format=table.format, encoding=table.encoding)
    if table.errors:
        out.errors = table.errors
        return out
    binding = bind(table.header, cmap, optional=OPTIONAL)
    if binding.errors:
        out.errors = binding.errors
        return out
    width, tz = len(table.header), cmap.tz
    columns = {f: binding.columns.get(f, f) for f in cmap.fields}
    first_line: dict[str, int] = {}
    for row in rows:
        if len(row.cells) != width:
            out.errors.append(TableError(row.line, None, problem("cell_count", cells=len(row.cells), expected=width)))
            continue
        rec: dict[str, object] = {"kind": "settlement"}
        ok = True
        for f, fm in cmap.fields.items():
            i = binding.index.get(f)
            value, why = convert(row.cells[i] if i is not None else fm.value or "", fm, SCHEMA[f], tz)
            if why is not None:
                out.errors.append(TableError(row.line, columns[f], why))
                ok = False
            rec[f] = value
        if not ok:
            continue
        if station_id is not None and rec["station_id"] != station_id:
            why = problem("other_station", station=rec["station_id"], own=station_id)
            out.errors.append(TableError(row.line, columns["station_id"], why))
            continue
        order = str(rec["order_id"])
        if order in first_line:
            why = problem("order_twice", order=order, first_line=first_line[order])
            out.errors.append(TableError(row.line, columns["order_id"], why))
            continue
        first_line[order] = row.line
        got = parse_line(msgspec.json.encode(rec))
        if isinstance(got, Reject):  # what the cells could not show (the contract's own bounds)
            out.errors.append(TableError(row.line, None, problem("contract_reject", reason=got.reason)))
            continue
        out.records.append((row.line, rec))
    if out.errors:
        out.records = []  # all or nothing
    return out


def queue(outbox: Outbox, parsed: PosFile, *, source: str) -> int:
    """The file's settlements into the outbox, in one transaction, named ``source``:
    the line numbers are the file's, so a line the platform refuses is shown (``anxin
    edge status``) as ``source:line``. How many were queued."""
    if parsed.errors:
        raise ValueError("a file with errors is not queued")
    outbox.append(source, [(line, msgspec.json.encode(rec)) for line, rec in parsed.records])
    return len(parsed.records)
