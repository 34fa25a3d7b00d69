"""Import of a verification file (CSV or XLSX) through the one ingest path: the records land in the
ledger and the engine exactly as an upload of the station would (``IngestService.ingest``),
so a second import of the same file gives duplicates, never second records."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from anxin.contract.records import Verification
from anxin.contract.registry import Registry
from anxin.ingest.principals import Principal
from anxin.ingest.service import IngestService, NoRegistry
from anxin.register.csvfile import CsvError, ParsedCsv, parse_csv, row_problem
from anxin.tabular import ColumnMap
from anxin.verification import beta_for_product, evaluate_verification


@dataclass(frozen=True, slots=True)
class CertificateOutcome:
    certificate_no: str
    station_id: str
    nozzle_id: str
    ts: str
    line: int  # the certificate's first line in the file
    status: str  # accepted | duplicate | quarantined | rejected | not_imported
    reason: str | None = None
    passed: bool | None = None  # the platform's JJG 443 verdict (None: not evaluated)


@dataclass(slots=True)
class ImportReport:
    outcomes: list[CertificateOutcome] = field(default_factory=list)
    errors: list[CsvError] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def imported(self) -> bool:
        """Whether anything was handed to the ingest service."""
        return any(o.status != "not_imported" for o in self.outcomes)


def registry_errors(parsed: ParsedCsv, reg: Registry) -> list[CsvError]:
    """Certificates naming a station or nozzle the registry does not know (or a nozzle of
    another station): named here by line and column rather than quarantined later."""
    out: list[CsvError] = []
    col = parsed.columns
    for rec, line in zip(parsed.records, parsed.lines):
        sid, nid, cert = rec["station_id"], rec["nozzle_id"], rec["certificate_no"]
        nozzle = reg.nozzle_by_id.get(nid)
        if sid not in reg.station_by_id:
            out.append(CsvError(line, col.get("station_id"), row_problem("station_unknown", cert=cert, station=sid)))
        elif nozzle is None:
            out.append(CsvError(line, col.get("nozzle_id"), row_problem("nozzle_unknown", cert=cert, nozzle=nid)))
        elif nozzle.station_id != sid:
            problem = row_problem("nozzle_elsewhere", cert=cert, nozzle=nid, station=nozzle.station_id)
            out.append(CsvError(line, col.get("nozzle_id"), problem))
    return out


def _verdict(rec: dict, reg: Registry) -> bool:
    v = msgspec.convert(rec, Verification, strict=False)
    nozzle = reg.nozzle_by_id[rec["nozzle_id"]]
    product = reg.product_by_id.get(nozzle.product)
    return evaluate_verification(
        v, beta_y_per_c=beta_for_product(product.expansion_ppm_per_c if product else None)
    ).passed


def import_csv(
    service: IngestService,
    data: bytes,
    *,
    source: str,
    allow_partial: bool = False,
    principal: Principal | None = None,
    cmap: ColumnMap | None = None,
) -> ImportReport:
    """Parse ``data`` (CSV or XLSX read with ``cmap``, see ``anxin.register.csvfile``) and ingest its verifications, one
    upload per station. With any error nothing is ingested unless ``allow_partial``:
    then the certificates without errors are. ``principal``: who imports (a console
    user, contract v1.1 §C; recorded as the records' sender). Raises ``NoRegistry``
    like ``ingest``."""
    reg = service.registry
    if reg is None:
        raise NoRegistry("the platform has no registry yet")
    parsed = parse_csv(data, cmap=cmap)
    unknown = registry_errors(parsed, reg)
    errors = sorted(parsed.errors + unknown, key=lambda e: e.line)
    report = ImportReport(errors=errors)
    by_station: dict[str, list[tuple[dict, int]]] = {}
    for rec, line in zip(parsed.records, parsed.lines):
        if not any(e.line == line for e in unknown):  # (one certificate per first line)
            by_station.setdefault(rec["station_id"], []).append((rec, line))
    go = allow_partial or not errors
    for sid, items in by_station.items():
        if not go or not items:
            report.outcomes.extend(_outcome(rec, line, "not_imported", "the file has errors") for rec, line in items)
            continue
        result = service.ingest(sid, [msgspec.json.encode(rec) for rec, _ in items], source=source, principal=principal)
        for (rec, line), r in zip(items, result.results):
            passed = _verdict(rec, reg) if r.status in ("accepted", "duplicate") else None
            report.outcomes.append(_outcome(rec, line, r.status, r.reason, passed))
    report.outcomes.sort(key=lambda o: o.line)
    return report


def _outcome(rec: dict, line: int, status: str, reason: str | None, passed: bool | None = None) -> CertificateOutcome:
    return CertificateOutcome(
        certificate_no=rec["certificate_no"],
        station_id=rec["station_id"],
        nozzle_id=rec["nozzle_id"],
        ts=rec["ts"],
        line=line,
        status=status,
        reason=reason,
        passed=passed,
    )
