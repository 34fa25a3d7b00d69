"""The evidence bundle (证据包) of a case: one ZIP a court, the operator's lawyer or another
authority can verify offline, without the platform's database.

Contents:

* ``case.json`` — the case (parties, violations, decision), its source, the registry
  version used, and an index of ``records.jsonl`` (line → ledger id, kind, natural key,
  whether the platform quarantined it at arrival).
* ``records.jsonl`` — ledger lines exactly as the station sent them, signatures
  included: for an alarm's case, the records its evidence names and ±1 h of that
  nozzle's metering, event and settlement records (the station's, when the alarm has
  no nozzle); for a complaint's or an inspection's case, the station's local day.
* ``alarms.jsonl`` — the alarms of the same window, with their triage status.
* ``registry.json`` — the registry document (contract section 2) as stored: the
  published public keys, including retired keys with their retirement time.
* ``audit.jsonl`` — the audit entries whose subject is the case or its source, with
  their chain hashes.
* ``MANIFEST.json`` — SHA-256 of every other file.
* ``MANIFEST.sig.json`` — the platform's own signature of ``MANIFEST.json``, with its
  public key (:mod:`anxin.supervision.signing`: Ed25519 by default, or SM2).
* ``MANIFEST.tsr`` — optional: an RFC 3161 timestamp of ``MANIFEST.json`` from the
  configured time-stamping authority (:mod:`anxin.supervision.timestamp`).
* ``README.txt`` — how to verify, in Chinese and English.

:func:`verify_bundle` checks the manifest, its signature (and, given the keys to trust,
that the signer is one of them: a bundle altered and re-signed with another key is
caught), the timestamp if there is one (its imprint is the manifest's), every signed
record's signature against the bundle's registry (anxin's own parser and verifiers),
and each audit entry's hash. A record the platform itself quarantined (forged or from
an unknown device) is expected not to verify: it is counted in ``signatures_bad`` and
noted, not a problem.

The bundle is made and checked here; what it holds is read by :mod:`.queries`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Collection
from typing import Any

import msgspec

from anxin.audit.chain import canonical as audit_canonical
from anxin.audit.chain import entry_hash
from anxin.contract.parse import Reject, parse_line
from anxin.contract.registry import RegistryError, parse_registry
from anxin.crypto.keys import KeyRing, KeyVerdict, authenticate
from anxin.keyed import KeyedError, Message
from anxin.store.database import Store
from anxin.supervision.cases import as_dict, get
from anxin.supervision.signing import PlatformKey, check_manifest_signature, platform_key, sign_manifest
from anxin.supervision.timestamp import TimestampError, request_timestamp
from anxin.supervision.timestamp import check as check_timestamp

log = logging.getLogger("anxin.bundle")

HOUR_US = 3_600_000_000
DAY_US = 24 * HOUR_US
LOCAL_OFFSET_US = 8 * HOUR_US  # China Standard Time: the station's day is the local day
FILES = ("case.json", "records.jsonl", "alarms.jsonl", "registry.json", "audit.jsonl", "README.txt")
MANIFEST = "MANIFEST.json"
SIGNATURE = "MANIFEST.sig.json"  # the platform's signature of MANIFEST.json (not listed in it)
TIMESTAMP = "MANIFEST.tsr"  # an RFC 3161 TimeStampResp of MANIFEST.json, when a TSA is configured
MAX_UNCOMPRESSED = 2 * 1024**3  # refuse a bundle that would expand beyond 2 GiB (a ZIP bomb)
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same case exports to the same bytes

README = """\
证据包 — 加油机计量远程监管平台（安心）
=======================================

本证据包可离线核验，无需访问平台数据库。

文件
  case.json      案件：当事人、违法事实、处罚决定、案件来源，以及 records.jsonl 各行的索引
  records.jsonl  加油站上传的原始记录，逐字节保持原样（含计量模块签名）
  alarms.jsonl   同一时段的报警及其处置状态
  registry.json  登记信息（含各油枪公钥及已停用公钥的停用时间）
  audit.jsonl    与本案及其来源有关的审计日志条目（含哈希链）
  MANIFEST.json  上述每个文件的 SHA-256
  MANIFEST.sig.json  平台自身密钥对 MANIFEST.json 的签名（Ed25519 或 SM2），含其公钥
  MANIFEST.tsr   （如有）可信时间戳机构对 MANIFEST.json 的 RFC 3161 时间戳

核验步骤
  0. 用平台公布的公钥（监管部门公开的文件，或 GET /v1/platform/keys）核对 MANIFEST.sig.json
     中的公钥，并验证其对 MANIFEST.json 原始字节的签名；不要只相信证据包自带的公钥。
     如有 MANIFEST.tsr：openssl ts -verify -in MANIFEST.tsr -data MANIFEST.json -CAfile 时间戳机构证书.pem
  1. 计算每个文件的 SHA-256，与 MANIFEST.json 逐一比对（如 sha256sum case.json）。
  2. 对 records.jsonl 中每条计量/事件记录：按数据契约第 5 节取规范字节（去掉 sig 字段后
     的规范 JSON），用 registry.json 中该油枪（或其在记录时间仍有效的旧密钥）的公钥
     验证 sig（Ed25519 或 SM2/SM3，用户标识 1234567812345678）。
  3. 审计条目：hash = SHA-256(prev_hash ‖ 条目规范 JSON)，算法见 anxin.audit.chain。
  一键核验：anxin bundle verify 证据包.zip --trust-key 平台公钥

平台在接收时已隔离的记录（case.json 索引中 quarantined 为 true，如伪造签名）本身就是
证据，其签名预期无法通过验证。

Evidence bundle — anxin, remote metrological monitoring of fuel dispensers
=========================================================================

This bundle can be verified offline, without the platform's database.

Files
  case.json      the case: parties, violations, decision, source, and an index of records.jsonl
  records.jsonl  the records exactly as the station uploaded them (module signatures included)
  alarms.jsonl   the alarms of the same window with their triage status
  registry.json  the registry (every nozzle's public key; retired keys with their retirement time)
  audit.jsonl    the audit-log entries about this case and its source (with their chain hashes)
  MANIFEST.json  the SHA-256 of every file above
  MANIFEST.sig.json  the platform's own signature of MANIFEST.json (Ed25519 or SM2), with its public key
  MANIFEST.tsr   (if present) an RFC 3161 timestamp of MANIFEST.json from a time-stamping authority

To verify
  0. Compare the public key in MANIFEST.sig.json with the one the platform publishes (the
     regulator's published documents, or GET /v1/platform/keys), and verify its signature
     over the exact bytes of MANIFEST.json: do not trust the key the bundle carries alone.
     With MANIFEST.tsr: openssl ts -verify -in MANIFEST.tsr -data MANIFEST.json -CAfile tsa-ca.pem
  1. Hash every file with SHA-256 and compare with MANIFEST.json (e.g. sha256sum case.json).
  2. For every metering and event record in records.jsonl: take its canonical bytes
     (contract section 5: the canonical JSON without the sig field) and verify sig with
     the nozzle's public key in registry.json (or a retired key still valid at the
     record's time): Ed25519, or SM2 with SM3 and user id 1234567812345678.
  3. Audit entries: hash = SHA-256(prev_hash || canonical JSON of the entry); the recipe
     is in anxin.audit.chain.
  In one step: anxin bundle verify BUNDLE.zip --trust-key PLATFORM_PUBLIC_KEY

Records the platform quarantined on arrival (quarantined = true in case.json's index,
e.g. a forged signature) are evidence themselves and are expected not to verify.
"""


def finding(key: str, /, **params: Any) -> Message:
    """A problem or a note of the report: a key of the catalog's ``bundle_check`` table
    and its parameters (file names, lines, key ids; a nested error or verdict as a
    :class:`~anxin.keyed.Message`), worded when shown (``.text(lang)``)."""
    return Message(ctx="bundle_check", key=key, params=params)


def _verdict(verdict: KeyVerdict) -> Message:
    return finding(f"verdict.{verdict.name}")


class BundleReport(msgspec.Struct, kw_only=True):
    """What :func:`verify_bundle` found; ``problems`` and ``notes`` are keys and
    parameters (language-neutral: ``msgspec.json.encode(report)``), worded with
    ``.text(lang)``."""

    ok: bool
    files_ok: bool
    signatures_checked: int = 0
    signatures_bad: int = 0
    problems: list[Message] = []
    notes: list[Message] = []  # expected failures (records quarantined at arrival), what to check by hand
    signed_by: str | None = None  # the manifest's signer, key id (when its signature verifies)
    signer_trusted: bool | None = None  # one of the trusted keys (None: none were given)
    timestamp: str | None = None  # the TSA's time of the manifest (RFC 3339), if timestamped


class BundleError(KeyedError, LookupError):
    """The case or what its bundle needs (a registry) is missing: a key of the
    catalog's ``bundle_error`` table (``exc.text(lang)``)."""

    context = "bundle_error"


def _json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _jsonl(objs: list[Any]) -> bytes:
    return b"".join(json.dumps(o, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n" for o in objs)


def _local_day(t_us: int) -> tuple[int, int]:
    start = (t_us + LOCAL_OFFSET_US) // DAY_US * DAY_US - LOCAL_OFFSET_US
    return start, start + DAY_US


def _evidence_keys(evidence: Any, nozzle_id: str | None) -> set[str]:
    """Natural keys of the records an alarm's evidence names (metering/event by nozzle/seq,
    settlements by station/order)."""
    keys: set[str] = set()
    if not isinstance(evidence, dict):
        return keys
    for value in evidence.values():
        if isinstance(value, dict):
            if (
                value.get("nozzle_id") is not None
                and value.get("seq") is not None
                and value.get("kind") != "settlement"
            ):
                keys.add(f"{value['nozzle_id']}/{value['seq']}")
            if value.get("kind") == "settlement" and value.get("order_id") is not None:
                keys.add(f"{value['station_id']}/{value['order_id']}")
    for name in ("seq", "previous_seq"):
        if nozzle_id is not None and type(evidence.get(name)) is int:
            keys.add(f"{nozzle_id}/{evidence[name]}")
    return keys


def _settlement_nozzle(body: bytes) -> str | None:
    try:
        return json.loads(body).get("nozzle_id")
    except (ValueError, AttributeError):
        return None


def export_bundle(
    store: Store,
    case_id: int,
    *,
    now_us: int,
    key: PlatformKey | None = None,
    tsa_url: str | None = None,
) -> bytes:
    """The case's evidence bundle as ZIP bytes, its manifest signed with ``key`` (the
    platform's, :func:`anxin.supervision.signing.platform_key`, by default) and, with
    ``tsa_url``, timestamped (RFC 3161; an authority that fails is logged and the bundle
    goes out without it). Deterministic for the same data, key and no timestamp."""
    case = get(store, case_id)
    got = bundle_rows(store, case_id, station_id=case.station_id, now_us=now_us)
    start, end, nozzle, ev_keys, source_alarms = got.start, got.end, got.nozzle, got.evidence_keys, got.source_alarms
    alarm_source = got.source.startswith("alarm:")
    records, index = [], []
    for r in got.ledger:
        if alarm_source and nozzle is not None and r.natural_key not in ev_keys:
            of = r.natural_key.rsplit("/", 1)[0] if r.kind in ("metering", "event") else _settlement_nozzle(r.body)
            if of != nozzle:
                continue
        records.append(bytes(r.body).rstrip(b"\r\n"))
        index.append(
            {
                "line": len(records),
                "ledger_id": int(r.id),
                "kind": r.kind,
                "natural_key": r.natural_key,
                "event_time_us": int(r.event_time_us),
                "received_us": int(r.received_us),
                "verdict": r.verdict,
                "quarantined": bool(r.quarantined),
            }
        )
    alarms = [
        {
            "alarm_id": a.alarm_id,
            "rule": a.rule,
            "severity": a.severity,
            "station_id": a.station_id,
            "nozzle_id": a.nozzle_id,
            "tank_id": a.tank_id,
            "seq": a.seq,
            "order_id": a.order_id,
            "ts": a.ts,
            "message": a.message,
            "evidence": a.evidence,
            "status": a.triage_status or "new",
            "source_of_case": a.alarm_id in source_alarms,
        }
        for a in got.alarms
    ]
    reg = got.registry
    if reg is None:
        raise BundleError("no_registry", case_id=case_id)
    audit = [
        {
            "seq": int(e.seq),
            "ts_us": int(e.ts_us),
            "actor": e.actor,
            "action": e.action,
            "subject": e.subject,
            "reason": e.reason,
            "data": e.data,
            "prev_hash": bytes(e.prev_hash).hex(),
            "hash": bytes(e.hash).hex(),
        }
        for e in got.audit
    ]
    case_doc = {
        "format": "anxin-evidence-bundle/1",
        "exported_us": now_us,
        "case": as_dict(case),
        "window": {"start_us": start, "end_us": end, "nozzle_id": nozzle},
        "registry_version": int(reg.version),
        "records": index,
    }
    files = {
        "case.json": _json(case_doc),
        "records.jsonl": b"".join(line + b"\n" for line in records),
        "alarms.jsonl": _jsonl(alarms),
        "registry.json": bytes(reg.document),
        "audit.jsonl": _jsonl(audit),
        "README.txt": README.encode("utf-8"),
    }
    manifest = {"algorithm": "sha256", "files": {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}}
    files[MANIFEST] = _json(manifest)
    stamp = None
    if tsa_url:
        try:
            stamp = request_timestamp(tsa_url, files[MANIFEST])
        except TimestampError as exc:
            log.warning("evidence bundle exported without its timestamp", extra={"case": case_id, "error": str(exc)})
    signing_key = key if key is not None else platform_key(store)
    files[SIGNATURE] = _json(sign_manifest(files[MANIFEST], signing_key, timestamp=TIMESTAMP if stamp else None))
    if stamp is not None:
        files[TIMESTAMP] = stamp.response
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


def _read(data: bytes) -> tuple[dict[str, bytes] | None, list[Message]]:
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError) as exc:
        return None, [finding("not_zip", detail=str(exc))]
    with z:
        infos = z.infolist()
        if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED or len(infos) > 1000:
            return None, [finding("too_large", files=len(infos))]
        out: dict[str, bytes] = {}
        problems: list[Message] = []
        for i in infos:
            if i.filename in out:
                problems.append(finding("file_twice", file=i.filename))
                continue
            try:
                out[i.filename] = z.read(i)
            except (zipfile.BadZipFile, OSError, RuntimeError, ValueError) as exc:  # CRC error, encrypted…
                problems.append(finding("file_unreadable", file=i.filename, detail=str(exc)))
    return out, problems


def _check_manifest(files: dict[str, bytes], problems: list[Message]) -> bool:
    raw = files.get(MANIFEST)
    if raw is None:
        problems.append(finding("manifest_missing", file=MANIFEST))
        return False
    try:
        listed = json.loads(raw)["files"]
        assert isinstance(listed, dict) and all(isinstance(v, str) for v in listed.values())
    except (ValueError, KeyError, TypeError, AssertionError):
        problems.append(finding("manifest_invalid", file=MANIFEST))
        return False
    ok = True
    for name in FILES:
        if name not in listed:
            problems.append(finding("manifest_lacks", manifest=MANIFEST, file=name))
            ok = False
    for name, want in sorted(listed.items()):
        got = files.get(name)
        if got is None:
            problems.append(finding("file_missing", file=name, manifest=MANIFEST))
            ok = False
        elif hashlib.sha256(got).hexdigest() != want.lower():
            problems.append(finding("file_altered", file=name, manifest=MANIFEST))
            ok = False
    for name in sorted(set(files) - set(listed) - {MANIFEST, SIGNATURE, TIMESTAMP}):
        problems.append(finding("file_not_listed", file=name, manifest=MANIFEST))
        ok = False
    return ok


def _check_signature(
    files: dict[str, bytes], trusted: Collection[str] | None, problems: list[Message], notes: list[Message]
) -> tuple[str | None, bool | None, str | None]:
    """(signer key id, trusted?, timestamp) of the manifest; what is wrong in ``problems``."""
    manifest, raw = files.get(MANIFEST), files.get(SIGNATURE)
    if manifest is None:
        return None, None, None
    when = None
    tsr = files.get(TIMESTAMP)
    if tsr is not None:
        try:
            when = check_timestamp(tsr, manifest).gen_time
            notes.append(finding("timestamped", file=TIMESTAMP, when=when))
        except TimestampError as exc:
            problems.append(finding("timestamp_invalid", file=TIMESTAMP, error=exc.message))
    if raw is None:
        problems.append(finding("not_signed", manifest=MANIFEST, file=SIGNATURE))
        return None, None, when
    try:
        doc = json.loads(raw)
    except ValueError:
        doc = None
    problem, signer = check_manifest_signature(manifest, doc)
    if problem is not None:
        problems.append(finding("signature_invalid", file=SIGNATURE, error=problem))
        return None, None, when
    assert isinstance(doc, dict) and signer is not None
    key_id = str(doc["key_id"])
    is_trusted = None if trusted is None else signer in trusted
    if is_trusted is False:
        problems.append(finding("signer_untrusted", file=SIGNATURE, key_id=key_id))
    elif is_trusted is None:
        notes.append(finding("signer_unchecked", file=SIGNATURE, key_id=key_id))
    return key_id, is_trusted, when


def verify_bundle(data: bytes, *, trusted_keys: Collection[str] | None = None) -> BundleReport:
    """Verify a bundle from its bytes alone: manifest hashes, the manifest's signature
    (by one of ``trusted_keys``, each ``alg:public_key``, when given; None: the signer
    is reported, not judged), the timestamp if any, record signatures against the
    bundle's registry, audit-entry hashes."""
    files, problems = _read(data)
    if files is None:
        return BundleReport(ok=False, files_ok=False, problems=problems)
    files_ok = _check_manifest(files, problems) and not problems
    notes: list[Message] = []
    signed_by, signer_trusted, timestamp = _check_signature(files, trusted_keys, problems, notes)
    quarantined: set[int] = set()
    station = None
    try:
        case_doc = json.loads(files.get("case.json", b"{}"))
        quarantined = {int(x["line"]) for x in case_doc.get("records", []) if x.get("quarantined")}
        station = case_doc.get("case", {}).get("station_id")
    except (ValueError, TypeError, KeyError, AttributeError):
        problems.append(finding("case_invalid", file="case.json"))
    ring = None
    try:
        ring = KeyRing.from_registry(parse_registry(files.get("registry.json", b""), "registry.json"))
    except RegistryError as exc:
        problems.append(
            finding("registry_invalid", file="registry.json", detail=exc.params.get("problem", exc.message))
        )
    checked = bad = 0
    for n, line in enumerate(files.get("records.jsonl", b"").splitlines(), 1):
        p = parse_line(line)
        if isinstance(p, Reject):
            problems.append(finding("record_unreadable", file="records.jsonl", line=n, detail=p.reason))
            continue
        rec = p.rec
        kind = finding(f"kind.{rec.__struct_config__.tag}")
        ref = f"{getattr(rec, 'nozzle_id', '')}/{getattr(rec, 'seq', getattr(rec, 'order_id', ''))}"
        if station is not None and rec.station_id != station:
            problems.append(
                finding(
                    "record_other_station",
                    file="records.jsonl",
                    line=n,
                    kind=kind,
                    record=ref,
                    station=rec.station_id,
                    case_station=station,
                )
            )
        if p.canonical is None or ring is None:
            continue
        checked += 1
        verdict = authenticate(p, ring)
        assert verdict is not None  # p.canonical is set: a signed record always gets a verdict
        if verdict != KeyVerdict.OK:
            bad += 1
            said = _verdict(verdict)
            if n in quarantined:  # evidence itself (quarantined on arrival), expected not to verify
                notes.append(
                    finding("record_quarantined", file="records.jsonl", line=n, kind=kind, record=ref, verdict=said)
                )
            else:
                problems.append(
                    finding("record_signature", file="records.jsonl", line=n, kind=kind, record=ref, verdict=said)
                )
    for n, line in enumerate(files.get("audit.jsonl", b"").splitlines(), 1):
        try:
            e = json.loads(line)
            content = audit_canonical(
                ts_us=e["ts_us"],
                actor=e["actor"],
                action=e["action"],
                subject=e["subject"],
                reason=e["reason"],
                data=e["data"],
            )
            good = entry_hash(bytes.fromhex(e["prev_hash"]), content).hex() == e["hash"]
        except (ValueError, KeyError, TypeError):
            good = False
        if not good:
            problems.append(finding("audit_hash", file="audit.jsonl", line=n))
    return BundleReport(
        ok=files_ok and not problems,
        files_ok=files_ok,
        signatures_checked=checked,
        signatures_bad=bad,
        problems=problems,
        notes=notes,
        signed_by=signed_by,
        signer_trusted=signer_trusted,
        timestamp=timestamp,
    )


# What a bundle holds, read (it uses the window's helpers above: imported last).
from anxin.supervision.bundle.queries import bundle_rows  # noqa: E402
