"""Webhook targets checked at every delivery (issue 11, finding 8): the address guard
accepted ``0x7f000001``, ``2130706433``, ``127.1``, ``0``, ``0177.0.0.1`` and
``localhost.`` and checked only when the webhook was added, so four deliveries reached
127.0.0.1. Now every form is normalised, every resolved address must be global, the
check runs at each delivery, and the connection goes to the address checked (one DNS
lookup, the host name kept for Host and TLS). A receiver on 127.0.0.1 and a resolver
under the test's control (``socket.getaddrinfo`` patched in-process) show it."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import socket
import ssl
import threading
import time
from pathlib import Path

import msgspec
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from factory import City
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_webhooks import Receiver, _alarm, standard_webhooks_ok

from anxin.notify.webhooks import WebhookDispatcher, verify
from anxin.serve.runtime import build
from anxin.store import schema as T
from anxin.store.database import Store

ADMIN = "admin-token-for-webhook-targets-0123"
ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
SECRET = "whsec_" + base64.b64encode(b"a webhook secret of 24 b").decode()
NAME = "hooks.example.test"
LOOPBACK_FORMS = ("0x7f000001", "2130706433", "127.1", "0", "0177.0.0.1", "localhost.", "LocalHost")
IPV6_FORMS = ("[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]", "[2002:7f00:1::]")


class Resolver:
    """``socket.getaddrinfo`` under the test's control for :data:`NAME`; counts lookups."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *answers: list[str]) -> None:
        self.answers = list(answers)  # one list of addresses per lookup; the last one repeats
        self.lookups: list[str] = []
        real = socket.getaddrinfo

        def fake(host, port, *args, **kwargs):
            if host == NAME:
                self.lookups.append(host)
                addrs = self.answers[0] if len(self.answers) == 1 else self.answers.pop(0)
                return [
                    (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in addrs
                ]
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", fake)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def store(migrated_sqlite):
    s = Store(str(migrated_sqlite))
    yield s
    s.close()


def _deliver(store: Store, url: str, *, allow_private: bool = False, attempts: int = 1) -> dict:
    store.webhook_add(url, SECRET)
    store.save_outputs([_alarm()])
    now = [time.time() + 1]
    private = {"allow_private": True} if allow_private else {}  # (the default refuses)
    d = WebhookDispatcher(store, timeout_s=2.0, clock=lambda: now[0], **private)
    try:
        for _ in range(attempts):
            d.run_once()
            now[0] += 3600  # the next attempt is due
    finally:
        d.close()
    with store.engine.connect() as c:
        return dict(c.execute(select(T.webhook_deliveries)).one()._mapping)


def test_the_numeric_forms_are_normalised() -> None:
    from anxin.notify import targets

    for form in LOOPBACK_FORMS[:5]:
        assert str(targets.literal_address(form)) in ("127.0.0.1", "0.0.0.0"), form
        assert targets.host_problem(form) is not None, form
    for form in LOOPBACK_FORMS[5:] + IPV6_FORMS + ("10.1.2.3", "100.64.0.1", "169.254.169.254", "[fe80::1%25eth0]"):
        assert targets.host_problem(form) is not None, form
    for form in ("8.8.8.8", "8.8.8.8.", "[2001:4860:4860::8888]", "alarms.example.gov.cn", "1.2.3.4.5"):
        assert targets.host_problem(form) is None, form


def test_finding_8_the_admin_api_refuses_every_form(tmp_path: Path, monkeypatch) -> None:
    city = City()
    reg = tmp_path / "registry.json"
    reg.write_bytes(msgspec.json.encode(city.registry_dict()))
    _, _, app = build(db=str(tmp_path / "db.sqlite"), registry=reg, admin_token=ADMIN, console=False)
    c = TestClient(app)
    Resolver(monkeypatch, ["93.184.215.14", "127.0.0.1"])  # a name with one inside address among global ones
    for host in (*LOOPBACK_FORMS, *IPV6_FORMS, NAME):
        r = c.post("/v1/webhooks", json={"url": f"http://{host}:8080/hook", "secret": SECRET}, headers=ADMIN_H)
        assert r.status_code == 422 and "webhook refused" in r.json()["detail"], (host, r.text)
    # A global one is taken; without a secret one is made (whsec_…) and shown once.
    r = c.post("/v1/webhooks", json={"url": "https://[2001:4860:4860::8888]/hook"}, headers=ADMIN_H)
    assert r.status_code == 200 and r.json()["secret"].startswith("whsec_")
    assert len(base64.b64decode(r.json()["secret"][6:])) == 24
    assert "secret" not in str(c.get("/v1/webhooks", headers=ADMIN_H).json()["webhooks"])
    # webhook_allow_private still allows a receiver on the LAN.
    _, _, lan = build(
        db=str(tmp_path / "lan.sqlite"), registry=reg, admin_token=ADMIN, console=False, webhook_allow_private=True
    )
    r = TestClient(lan).post("/v1/webhooks", json={"url": "http://0x7f000001/x", "secret": SECRET}, headers=ADMIN_H)
    assert r.status_code == 200


@pytest.mark.parametrize("form", ["0x7f000001", "2130706433", "127.1", "0177.0.0.1", "localhost."])
def test_finding_8_a_stored_loopback_form_gets_nothing_at_delivery(store, receiver, form) -> None:
    """A webhook stored before the guard knew these forms (or by hand) is refused at
    delivery: nothing reaches 127.0.0.1."""
    port = receiver.server.server_address[1]
    row = _deliver(store, f"http://{form}:{port}/hook")
    assert receiver.count() == 0
    assert row["status"] == "pending" and row["attempts"] == 1
    assert row["last_error"].startswith("webhook target refused"), row["last_error"]


def test_finding_8_a_name_that_moves_inside_is_refused_at_delivery(store, receiver, monkeypatch) -> None:
    port = receiver.server.server_address[1]
    resolver = Resolver(monkeypatch, ["127.0.0.1"])  # was global when added; now points at the platform
    row = _deliver(store, f"http://{NAME}:{port}/hook", attempts=2)
    assert receiver.count() == 0 and len(resolver.lookups) == 2  # checked again at the second attempt
    assert "resolves to 127.0.0.1" in row["last_error"] and "not global" in row["last_error"]


def test_every_resolved_address_must_be_global(store, receiver, monkeypatch) -> None:
    port = receiver.server.server_address[1]
    Resolver(monkeypatch, ["93.184.215.14", "127.0.0.1"])
    row = _deliver(store, f"http://{NAME}:{port}/hook")
    assert receiver.count() == 0 and "127.0.0.1" in row["last_error"]


def test_the_connection_is_pinned_to_the_checked_address(store, receiver, monkeypatch) -> None:
    """A rebinding resolver: the first answer is "global" (127.0.0.1 is taken as such
    here, the receiver's address), every later one points inside. One lookup, the
    connection to the address checked, the Host header the name's."""
    from anxin.notify import targets

    port = receiver.server.server_address[1]
    real = targets.address_problem
    monkeypatch.setattr(
        targets, "address_problem", lambda ip: None if str(ip) == "127.0.0.1" else real(ip)
    )  # this test's stand-in for a global address it can listen on
    resolver = Resolver(monkeypatch, ["127.0.0.1"], ["10.255.255.1"])
    row = _deliver(store, f"http://{NAME}:{port}/hook")
    assert row["status"] == "delivered", row["last_error"]
    assert resolver.lookups == [NAME]  # resolved once: no second lookup between check and connect
    ((headers, _body),) = receiver.got
    assert headers["host"] == f"{NAME}:{port}"


def test_webhook_allow_private_delivers_to_the_lan(store, receiver, monkeypatch) -> None:
    port = receiver.server.server_address[1]
    resolver = Resolver(monkeypatch, ["127.0.0.1"])
    row = _deliver(store, f"http://{NAME}:{port}/hook", allow_private=True)
    assert row["status"] == "delivered" and receiver.count() == 1 and resolver.lookups == [NAME]


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, NAME)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(NAME)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_tls_names_the_host_not_the_pinned_address(store, tmp_path, monkeypatch) -> None:
    """Connected to the checked address, TLS still says (SNI) and checks the URL's host
    name: a certificate the platform does not trust is refused, not delivered to."""
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    seen: list[str | None] = []
    ctx.sni_callback = lambda _sock, server_name, _ctx: seen.append(server_name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            ctx.wrap_socket(conn, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    Resolver(monkeypatch, ["127.0.0.1"])
    row = _deliver(store, f"https://{NAME}:{port}/hook", allow_private=True)
    thread.join(5)
    listener.close()
    assert seen == [NAME]  # SNI: the host name, though the socket went to 127.0.0.1
    assert row["status"] == "pending" and "CERTIFICATE_VERIFY_FAILED" in row["last_error"]


def test_a_captured_delivery_cannot_be_replayed_under_a_new_id(store, receiver) -> None:
    from anxin.notify.webhooks import new_secret

    row = _deliver(store, receiver.url, allow_private=True)
    assert row["status"] == "delivered"
    ((headers, body),) = receiver.got
    now = int(headers["webhook-timestamp"])
    assert standard_webhooks_ok(SECRET, headers, body, now=now) and verify(SECRET, headers, body, now=now)
    for forged in (
        {**headers, "webhook-id": headers["webhook-id"] + "x"},  # a new id for the same body and signature
        {**headers, "webhook-timestamp": str(now + 60)},  # a fresh timestamp
        {**headers, "webhook-signature": "v2," + headers["webhook-signature"][3:]},  # an unknown version
    ):
        assert not standard_webhooks_ok(SECRET, forged, body, now=now)
        assert not verify(SECRET, forged, body, now=now)
    # The signature is the Standard Webhooks one, computed by hand.
    key = base64.b64decode(SECRET[6:])
    mac = hmac.new(key, f"{headers['webhook-id']}.{now}.".encode() + body, hashlib.sha256).digest()
    assert headers["webhook-signature"] == "v1," + base64.b64encode(mac).decode()
    assert new_secret().startswith("whsec_") and new_secret() != new_secret()
