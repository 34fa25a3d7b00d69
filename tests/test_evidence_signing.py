"""Evidence that stands in front of a court (issue 11, deliverable 8): the case bundle's
manifest is signed by the platform's own key (Ed25519 by default, SM2 on request, or a
key configured from a file), the key is published (in the bundle, at
``/v1/platform/keys``, by ``anxin bundle key``), ``anxin bundle verify`` catches a
manifest re-signed by another key unless that key is trusted, and an RFC 3161
timestamp from a configured authority — here a local TSA made of ``openssl ts -reply``
— is requested, stored and checked (``openssl ts -verify`` accepts what is stored)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from factory import T0, City, line
from fastapi.testclient import TestClient
from rich.console import Console
from typer.testing import CliRunner

from anxin.ingest.service import IngestService
from anxin.serve.runtime import build
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.supervision import bundle as B
from anxin.supervision import cases as C
from anxin.supervision import signing as S
from anxin.supervision import timestamp as TS
from anxin.supervision.cli import register

ADMIN = "admin-token-for-evidence-0123456789"


def _case(store: Store) -> int:
    """A complaint's case on S1, with the station's day of records in the ledger."""
    city = City()
    svc = IngestService(store)
    svc.set_registry(msgspec.json.encode(city.registry_dict()), author="test", reason="test")
    svc.ingest("S1", [line(r) for r in city.honest_day("S1-N1", T0, 4)], source="http:S1")
    with store.engine.begin() as c:
        cid = c.execute(
            T.complaints.insert().values(
                received_us=T0, event_ts_us=T0, station_id="S1", text="少加油", status="received"
            )
        ).inserted_primary_key[0]
    return C.open_case(store, station_id="S1", source=f"complaint:{cid}", summary="投诉", actor="zhao", now_us=T0)


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    return buf.getvalue()


def _cli(tmp_path: Path, *args: str):
    app = typer_app()
    return CliRunner().invoke(app, ["bundle", *args])


def typer_app():
    import typer

    app = typer.Typer()

    def fail(msg: str) -> None:
        raise typer.Exit(2)

    register(app, Console(width=200), fail)
    return app


def test_the_manifest_is_signed_by_the_platforms_own_key(store: Store, tmp_path: Path) -> None:
    case_id = _case(store)
    data = B.export_bundle(store, case_id, now_us=T0 + 1)
    assert data == B.export_bundle(store, case_id, now_us=T0 + 1)  # one key, made once: deterministic
    files = _files(data)
    sig = json.loads(files[B.SIGNATURE])
    key = S.platform_key(store)
    assert sig["alg"] == "ed25519" and sig["key_id"] == key.key_id and sig["public_key"] == key.public_key
    assert sig["key_id"] == "anxin-ed25519-" + hashlib.sha256(f"ed25519:{key.public_key}".encode()).hexdigest()[:16]
    # The signature, checked independently: Ed25519 over the exact MANIFEST.json bytes.
    pub = serialization.load_der_public_key(
        bytes.fromhex("302a300506032b6570032100") + base64.b64decode(sig["public_key"])
    )
    pub.verify(base64.b64decode(sig["signature"]), files[B.MANIFEST])  # type: ignore[union-attr]
    # Published: one key, no private half, stable across processes' calls.
    assert [k["key_id"] for k in S.published_keys(store)] == [key.key_id]
    assert "private" not in json.dumps(S.published_keys(store))
    report = B.verify_bundle(data, trusted_keys={f"ed25519:{key.public_key}"})
    assert report.ok and report.signer_trusted and report.signed_by == key.key_id, report.problems
    # The CLI needs a trusted key to say "verified".
    good = tmp_path / "case.zip"
    good.write_bytes(data)
    res = _cli(tmp_path, "verify", str(good), "--trust-key", key.public_key)
    assert res.exit_code == 0 and "证据包核验通过" in res.output, res.output
    res = _cli(tmp_path, "verify", str(good))
    assert res.exit_code == 1 and "--trust-key" in res.output
    keyfile = tmp_path / "keys.json"
    keyfile.write_text(json.dumps({"current": key.key_id, "keys": S.published_keys(store)}))
    assert _cli(tmp_path, "verify", str(good), "--trust-key", str(keyfile)).exit_code == 0
    # A manifest removed from the signature's reach: not signed, not verified.
    unsigned = {k: v for k, v in files.items() if k != B.SIGNATURE}
    r = B.verify_bundle(_zip(unsigned))
    assert not r.ok and f"{B.MANIFEST}: not signed ({B.SIGNATURE} missing)" in [m.text("en") for m in r.problems]


def test_a_bundle_re_signed_by_another_key_is_caught(store: Store, tmp_path: Path) -> None:
    case_id = _case(store)
    files = _files(B.export_bundle(store, case_id, now_us=T0 + 1))
    platform = f"ed25519:{S.platform_key(store).public_key}"
    # Someone edits the case, recomputes the manifest and signs it with a key of their own.
    doc = json.loads(files["case.json"])
    doc["case"]["summary"] = "无违法行为"
    files["case.json"] = json.dumps(doc, ensure_ascii=False).encode()
    listed = json.loads(files[B.MANIFEST])
    listed["files"]["case.json"] = hashlib.sha256(files["case.json"]).hexdigest()
    files[B.MANIFEST] = json.dumps(listed).encode()
    forger_signer = S.Ed25519Signer(Ed25519PrivateKey.generate())
    forger = S.PlatformKey("ed25519", forger_signer.public_key_text, forger_signer)
    files[B.SIGNATURE] = json.dumps(S.sign_manifest(files[B.MANIFEST], forger)).encode()
    forged = _zip(files)
    r = B.verify_bundle(forged, trusted_keys={platform})
    assert not r.ok and r.files_ok and r.signer_trusted is False
    assert [(m.key, m.params["key_id"]) for m in r.problems] == [("signer_untrusted", forger.key_id)], r.problems
    path = tmp_path / "forged.zip"
    path.write_bytes(forged)
    res = _cli(tmp_path, "verify", str(path), "--trust-key", platform)
    assert res.exit_code == 1 and "不在可信公钥之列" in res.output
    # The platform's own database as the source of trust.
    url = str(store.engine.url.render_as_string(hide_password=False))
    if store.dialect == "sqlite":
        url = url.removeprefix("sqlite:///")
    res = _cli(tmp_path, "verify", str(path), "--db", url)
    assert res.exit_code == 1 and "不在可信公钥之列" in res.output, res.output
    # Unless that key is given as trusted.
    assert B.verify_bundle(forged, trusted_keys={f"ed25519:{forger.public_key}"}).ok
    assert _cli(tmp_path, "verify", str(path), "--trust-key", forger.public_key).exit_code == 0


def test_sm2_and_a_configured_key(store: Store, tmp_path: Path, monkeypatch) -> None:
    case_id = _case(store)
    sm2 = S.platform_key(store, alg="sm2")
    data = B.export_bundle(store, case_id, now_us=T0 + 1, key=sm2)
    sig = json.loads(_files(data)[B.SIGNATURE])
    assert sig["alg"] == "sm2" and sig["public_key"].startswith("04") and len(sig["public_key"]) == 130
    assert B.verify_bundle(data, trusted_keys={f"sm2:{sm2.public_key}"}).ok
    # A key from a file (ANXIN_SIGNING_KEY_FILE): PEM Ed25519, as openssl genpkey writes it.
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (tmp_path / "signing.pem").write_bytes(pem)
    monkeypatch.setenv("ANXIN_SIGNING_KEY_FILE", str(tmp_path / "signing.pem"))
    reg = tmp_path / "registry.json"
    reg.write_bytes(msgspec.json.encode(City().registry_dict()))
    cfg, service, app = build(db=str(tmp_path / "serve.sqlite"), registry=reg, admin_token=ADMIN)
    configured = S.configured_key(service.store, cfg)
    keys = TestClient(app).get("/v1/platform/keys").json()  # public, no token
    assert keys["current"] == configured.key_id and [k["key_id"] for k in keys["keys"]] == [configured.key_id]
    with service.store.engine.connect() as c:
        assert c.execute(T.platform_keys.select()).one().private_key is None  # only its public half is kept
    with pytest.raises(S.KeyFormatError):
        S.parse_key_text("rsa:abcd")
    assert S.parse_key_text("sm2:" + "01" * 32)[0] == "sm2"
    service.store.close()


# ------------------------------------------------------------------ RFC 3161
def _tsa(tmp_path: Path) -> tuple[str, Path, ThreadingHTTPServer]:
    """A minimal time-stamping authority: a self-made CA, a TSA certificate (critical
    extended key usage timeStamping) and ``openssl ts -reply`` behind an HTTP endpoint."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    now = dt.datetime.now(dt.UTC)
    ca_key, tsa_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anxin test TSA CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    tsa = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anxin test TSA")]))
        .issuer_name(ca_name)
        .public_key(tsa_key.public_key())
        .serial_number(2)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    d = tmp_path / "tsa"
    d.mkdir()
    (d / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "tsa.pem").write_bytes(tsa.public_bytes(serialization.Encoding.PEM))
    (d / "tsa.key").write_bytes(
        tsa_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    (d / "serial").write_text("01\n")
    (d / "tsa.cnf").write_text(
        f"""[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = {d}/serial
crypto_device = builtin
signer_cert = {d}/tsa.pem
signer_key = {d}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""
    )
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            query = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            ok = self.headers.get("Content-Type") == "application/timestamp-query"
            with lock:
                (d / "req.tsq").write_bytes(query)
                res = subprocess.run(
                    [
                        openssl,
                        "ts",
                        "-reply",
                        "-config",
                        str(d / "tsa.cnf"),
                        "-queryfile",
                        str(d / "req.tsq"),
                        "-out",
                        str(d / "resp.tsr"),
                    ],
                    capture_output=True,
                    check=False,
                )
                body = (d / "resp.tsr").read_bytes() if res.returncode == 0 and ok else b""
            self.send_response(200 if body else 400)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/tsa", d, server


def test_the_timestamp_request_is_rfc_3161() -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    digest = hashlib.sha256(b"MANIFEST").digest()
    req = TS.timestamp_request(digest, 0x1234_5678_9ABC)
    out = subprocess.run(
        [openssl, "ts", "-query", "-in", "/dev/stdin", "-text"], input=req, capture_output=True, check=True
    ).stdout.decode()
    assert "Version: 1" in out and "Hash Algorithm: sha256" in out and "Certificate required: yes" in out
    assert "0x123456789ABC" in out and digest.hex()[:8] in out.replace(" ", "").replace("-", "").lower()


def test_an_rfc_3161_timestamp_of_the_manifest_is_stored_and_checked(store: Store, tmp_path: Path) -> None:
    url, d, server = _tsa(tmp_path)
    try:
        case_id = _case(store)
        data = B.export_bundle(store, case_id, now_us=T0 + 1, tsa_url=url)
    finally:
        server.shutdown()
    files = _files(data)
    assert B.TIMESTAMP in files and json.loads(files[B.SIGNATURE])["timestamp"] == B.TIMESTAMP
    stamp = TS.check(files[B.TIMESTAMP], files[B.MANIFEST])
    assert stamp.digest == hashlib.sha256(files[B.MANIFEST]).digest()
    when = dt.datetime.fromisoformat(stamp.gen_time.replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.UTC) - when).total_seconds()) < 300
    report = B.verify_bundle(data, trusted_keys={f"ed25519:{S.platform_key(store).public_key}"})
    assert report.ok and report.timestamp == stamp.gen_time, report.problems
    # The authority's own signature: what a court's expert runs.
    (tmp_path / "MANIFEST.json").write_bytes(files[B.MANIFEST])
    (tmp_path / "MANIFEST.tsr").write_bytes(files[B.TIMESTAMP])
    res = subprocess.run(
        [
            "openssl",
            "ts",
            "-verify",
            "-in",
            str(tmp_path / "MANIFEST.tsr"),
            "-data",
            str(tmp_path / "MANIFEST.json"),
            "-CAfile",
            str(d / "ca.pem"),
            "-untrusted",
            str(d / "tsa.pem"),
        ],
        capture_output=True,
        check=False,
    )
    assert res.returncode == 0 and b"Verification: OK" in res.stdout, res.stdout + res.stderr
    # A timestamp of another manifest is named.
    other = dict(files, **{B.TIMESTAMP: files[B.TIMESTAMP]})
    other[B.MANIFEST] = files[B.MANIFEST] + b" "
    r = B.verify_bundle(_zip(other))
    said = [m.text("en") for m in r.problems]
    assert f"{B.TIMESTAMP}: the timestamp is of other data (its imprint differs)" in said, said
    assert f"{B.TIMESTAMP}：该时间戳证明的是其他数据（消息摘要不一致）" in [m.text("zh") for m in r.problems]
    with pytest.raises(TS.TimestampError):
        TS.parse_response(b"\x30\x03\x02\x01\x02")  # status 2: rejection
    with pytest.raises(TS.TimestampError):
        TS.parse_response(files[B.TIMESTAMP][:40])


def test_an_authority_that_fails_leaves_the_bundle_without_a_timestamp(store: Store, caplog) -> None:
    case_id = _case(store)
    data = B.export_bundle(store, case_id, now_us=T0 + 1, tsa_url="http://127.0.0.1:9/tsa")
    files = _files(data)
    assert B.TIMESTAMP not in files and json.loads(files[B.SIGNATURE])["timestamp"] is None
    assert any("without its timestamp" in r.getMessage() for r in caplog.records)
