"""Users, roles and sessions of the regulator console, on SQLite and real PostgreSQL: the
permission matrix, password rules (length, the common-password list) and argon2id, login
with its throttle (delays, no lockout; the clock injected), the same answer and the same
work for every refusal, failed logins aggregated in the audit log, sessions, CSRF, and
the ``anxin user`` commands."""

from __future__ import annotations

import time

import pytest
import typer
from argon2 import PasswordHasher, Type
from rich.console import Console
from sqlalchemy import update
from typer.testing import CliRunner

from anxin import audit, auth
from anxin.auth import passwords, sessions, throttle
from anxin.auth.cli import register
from anxin.auth.roles import ROLE_PERMISSIONS, User
from anxin.store import schema as T
from anxin.store import throttle as counters
from anxin.store.database import Store

T0 = 1_772_294_400_000_000  # 2026-03-01T00:00:00+08:00
MIN = 60_000_000
PW = "油价公道 correct horse"


@pytest.fixture(autouse=True)
def _chinese(monkeypatch):
    monkeypatch.setenv("ANXIN_LANG", "zh")


def _user(role: str, stations=()) -> User:
    return User(id=1, username="u", display_name="U", role=role, stations=list(stations))


def _add(store: Store, username: str = "zhang.wei", role: str = "regulator", **kw) -> User:
    return auth.create_user(
        store,
        username=username,
        display_name="张伟",
        role=role,
        password=kw.pop("password", PW),
        actor="admin",
        reason="new colleague",
        now_us=T0,
        **kw,
    )


# ------------------------------------------------------------ roles (no database)
def test_the_permission_matrix() -> None:
    expected = {  # permission: admin regulator inspector operator public
        "public.view": "11111",
        "complaint.submit": "11111",
        "alarm.view": "11110",
        "alarm.triage": "01000",
        "alarm.report": "00100",
        "registry.view": "11110",
        "registry.edit": "11000",
        "verification.view": "11110",
        "verification.edit": "01100",
        "complaint.view": "01100",
        "complaint.contact": "01000",  # (an inspector: only a complaint assigned to them, supervision.complaints)
        "user.manage": "10000",
        "audit.view": "11000",
        "export.agency": "01000",
    }
    assert set(expected) == auth.PERMISSIONS
    for perm, row in expected.items():
        users = [_user(r) for r in auth.ROLES] + [None]
        assert "".join("1" if auth.can(u, perm) else "0" for u in users) == row, perm
    assert set(ROLE_PERMISSIONS) == {*auth.ROLES, "public"}
    with pytest.raises(ValueError):
        auth.can(_user("admin"), "alarm.veiw")  # a typo is an error, not a quiet "no"
    assert not auth.can(_user("superuser"), "alarm.view")  # a role this code does not know: nothing


def test_station_scope() -> None:
    for role in ("admin", "regulator", "inspector"):
        assert auth.station_scope(_user(role)) is None
    assert auth.station_scope(_user("operator", ["S0001", "S0002"])) == frozenset({"S0001", "S0002"})
    assert auth.station_scope(_user("operator")) == frozenset()  # an operator with no stations sees nothing
    assert auth.station_scope(None) == frozenset()
    assert auth.station_scope(_user("superuser")) == frozenset()


# ------------------------------------------------------------ passwords (no database)
def test_password_rules(monkeypatch) -> None:
    monkeypatch.setenv("ANXIN_LANG", "zh")
    with pytest.raises(auth.PasswordRejected, match="密码至少需要 12 个字符"):
        auth.check_password_rules("m7#Kp2vQ9x!")
    monkeypatch.setenv("ANXIN_LANG", "en")
    with pytest.raises(auth.PasswordRejected, match="at least 12 characters"):
        auth.check_password_rules("短密码")
    for bad in (" " * 12, "a" * 12, "x" * 2000, "ok-length-but-\ud800"):
        with pytest.raises(auth.PasswordRejected):
            auth.check_password_rules(bad)
    with pytest.raises(auth.PasswordRejected, match="username"):
        auth.check_password_rules("Zhang.Wei.123", username="zhang.wei.123")
    auth.check_password_rules("m7#Kp2vQ9x!L")  # exactly 12 is enough
    auth.check_password_rules("加油站计量监测平台的密码")


def test_a_common_password_is_refused(monkeypatch) -> None:
    """Finding 8: ``1234567890`` was an accepted password. Now: 12 characters at least, and
    not in the shipped list of common passwords, nor a simple variation of one."""
    monkeypatch.setenv("ANXIN_LANG", "zh")
    with pytest.raises(auth.PasswordRejected):
        auth.check_password_rules("1234567890")
    for common in (
        "123456789012",  # a run of digits
        "qwertyuiopas"[:10] + "[]",  # a keyboard row
        "Password2026!",  # a listed one with digits and a mark after it
        "iloveyou12345",
        "woaini1314520",
        "passwordpassword",  # a listed one twice
        "abcabcabcabc",  # a short piece repeated
        "zyxwvutsrqpo",  # a run backwards
    ):
        with pytest.raises(auth.PasswordRejected, match="常见密码"):
            auth.check_password_rules(common)
    assert len(passwords.common_passwords()) > 19_000  # the list is shipped and read
    assert {"1234567890", "password", "woaini1314"} <= passwords.common_passwords()


def test_argon2id_verify_and_rehash() -> None:
    h = auth.hash_password(PW)
    assert h.startswith("$argon2id$")
    assert auth.verify_password(h, PW) and not auth.verify_password(h, PW + "x")
    assert not auth.verify_password("not a hash", PW)
    assert not auth.needs_rehash(h)
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(PW)
    assert auth.verify_password(old, PW) and auth.needs_rehash(old)


# ------------------------------------------------------------ accounts
def test_create_user_validates_and_is_audited(store: Store) -> None:
    user = _add(store, username=" Zhang.Wei ", district="东城区")
    assert user == auth.get_user(store, "ZHANG.WEI") and user.username == "zhang.wei" and user.district == "东城区"
    op = _add(store, username="op1", role="operator", stations=["S0002", "S0001", "S0001"])
    assert op.stations == ["S0001", "S0002"]
    with pytest.raises(auth.UserError, match="已存在"):
        _add(store, username="ZHANG.wei")
    for kw, msg in [
        ({"role": "boss"}, "未知角色"),
        ({"stations": ["S1"]}, "operator"),
        ({"username": "张伟"}, "用户名"),
        ({"password": "short"}, "12"),
        ({"password": "1234567890123"}, "常见密码"),
    ]:
        with pytest.raises(auth.AuthError, match=msg):
            _add(store, **{"username": "new.one", **kw})
    assert [u["username"] for u in auth.list_users(store)] == ["op1", "zhang.wei"]
    (e,) = audit.entries(store, subject="user:zhang.wei")
    assert (e.actor, e.action, e.reason) == ("admin", "user.create", "new colleague")
    assert e.data == {"role": "regulator", "display_name": "张伟", "stations": [], "district": "东城区"}
    assert audit.verify(store).ok


def test_login_session_and_logout(store: Store) -> None:
    user = _add(store)
    ok = auth.login(store, "Zhang.Wei", PW, now_us=T0 + MIN)
    assert isinstance(ok, auth.LoginOk) and ok.user == user and ok.expires_us == T0 + MIN + auth.SESSION_US
    assert auth.session_user(store, ok.token, now_us=T0 + 2 * MIN) == (user, ok.csrf)
    assert auth.session_user(store, ok.token, now_us=ok.expires_us - 1) == (user, ok.csrf)
    assert auth.session_user(store, ok.token, now_us=ok.expires_us) is None  # 12 h, then log in again
    assert auth.session_user(store, ok.token + "x", now_us=T0) is None
    assert auth.session_user(store, None, now_us=T0) is None
    with store.engine.connect() as c:  # the store keeps only the token's hash
        stored = c.execute(T.sessions.select()).all()
    assert len(stored) == 1 and ok.token.encode() not in bytes(stored[0].token_sha256)
    again = auth.login(store, "zhang.wei", PW, now_us=T0 + 3 * MIN)
    assert auth.logout(store, again.token) and not auth.logout(store, again.token)
    assert auth.session_user(store, again.token, now_us=T0 + 4 * MIN) is None
    assert auth.session_user(store, ok.token, now_us=T0 + 4 * MIN) is not None  # the other session lives on
    actions = [e.action for e in audit.entries(store, actor="zhang.wei")]
    assert actions == ["login.success", "login.success"]


REFUSED = auth.LoginRefused(reason="用户名或密码错误，或尝试过于频繁，请稍后再试")


def _fail(store: Store, name: str, n: int, *, at: int, address: str = "203.0.113.9") -> None:
    for i in range(n):
        assert auth.login(store, name, f"wrong password {i}", now_us=at + i, address=address) == REFUSED


def test_every_refusal_gets_the_same_answer_after_the_same_work(store: Store, monkeypatch) -> None:
    _add(store)
    _add(store, username="old.li")
    auth.deactivate(store, username="old.li", actor="admin", reason="调离", now_us=T0)
    _fail(store, "zhang.wei", throttle.FREE_ACCOUNT, at=T0)  # zhang.wei is now throttled
    calls: list[str] = []
    real = sessions.verify_password
    monkeypatch.setattr(sessions, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    for name, password in (
        ("li.si", "wrong password!"),  # no such account
        ("old.li", PW),  # deactivated, right password
        ("zhang.wei", PW),  # throttled, right password
        ("名字\x00", "x"),  # cannot even be a username
    ):
        assert auth.login(store, name, password, now_us=T0 + 10, address="198.51.100.7") == REFUSED, name
    assert len(calls) == 4  # one argon2 verification each
    assert calls[0] == calls[2] == calls[3] == passwords.dummy_hash()  # no account, throttled: the dummy hash
    assert all("wrong password" not in str(e) and PW not in str(e) for e in audit.entries(store, limit=1000))


def test_timing_does_not_tell_a_throttled_account_from_an_unknown_name(store: Store) -> None:
    """Finding 8: the "locked" answer took 13 ms against ≈ 400 ms for any other: it told
    which usernames exist. Every refusal now costs one argon2 verification."""
    _add(store)
    _add(store, username="li.si")
    _fail(store, "zhang.wei", throttle.FREE_ACCOUNT + 1, at=T0)
    timings: dict[str, list[float]] = {}
    for round_ in range(3):
        for name in ("zhang.wei", "nobody.here", "li.si"):  # throttled, unknown, wrong password
            t = time.perf_counter()
            r = auth.login(store, name, "wrong password!", now_us=T0 + 20 + round_, address="198.51.100.7")
            timings.setdefault(name, []).append(time.perf_counter() - t)
            assert r == REFUSED
    fastest = {k: min(v) for k, v in timings.items()}
    assert max(fastest.values()) < 2.5 * min(fastest.values()), fastest


def test_failed_logins_slow_down_but_lock_no_one_out(store: Store) -> None:
    """Finding 8: five failed logins locked any account (a denial of service anyone could
    cause). Now failures delay further attempts from elsewhere, and the owner at the
    browser the account was used from before still gets in with the right password."""
    _add(store)
    ok = auth.login(store, "zhang.wei", PW, now_us=T0, address="10.1.2.3")
    assert isinstance(ok, auth.LoginOk) and ok.device  # this browser is now a known place
    start = T0 + MIN
    _fail(store, "zhang.wei", throttle.FREE_ACCOUNT, at=start)  # someone guessing from another address …
    for k in range(1, 21):  # … and on, every 30 s for 10 minutes
        assert (
            auth.login(store, "zhang.wei", f"guess {k}", now_us=start + k * 30_000_000, address="203.0.113.9")
            == REFUSED
        )
    bucket = counters.peek(store, ["login:user:zhang.wei"], now_us=start + 11 * MIN)["login:user:zhang.wei"]
    assert throttle.FREE_ACCOUNT + 5 <= bucket.count < throttle.FREE_ACCOUNT + 20  # the delays let few through
    soon = bucket.last_us + 1_000_000
    assert auth.login(store, "zhang.wei", PW, now_us=soon, address="203.0.113.9") == REFUSED  # throttled, even right
    again = auth.login(store, "zhang.wei", PW, now_us=soon, address="10.1.2.3", device=ok.device)
    assert isinstance(again, auth.LoginOk)  # the owner, at the usual place: in at once
    # Without the device cookie, the right password is admitted once the delay has passed.
    late = bucket.last_us + throttle.delay_us(bucket.count, throttle.FREE_ACCOUNT)
    assert isinstance(auth.login(store, "zhang.wei", PW, now_us=late, address="10.9.9.9"), auth.LoginOk)
    # A device cookie is for its account only, and a forged one is worth nothing.
    _add(store, username="li.si")
    _fail(store, "li.si", throttle.FREE_ACCOUNT, at=late)
    assert auth.login(store, "li.si", PW, now_us=late + 10, address="10.1.2.3", device=ok.device) == REFUSED
    assert auth.login(store, "li.si", PW, now_us=late + 10, device="forged.AAAAAAAAAAAAAAAAAAAAAA") == REFUSED


def test_the_throttle_delay_grows_and_each_account_has_its_own(store: Store) -> None:
    _add(store)
    _add(store, username="li.si")
    _fail(store, "zhang.wei", throttle.FREE_ACCOUNT, at=T0)
    last = T0 + throttle.FREE_ACCOUNT - 1
    assert throttle.delay_us(throttle.FREE_ACCOUNT, throttle.FREE_ACCOUNT) == throttle.BASE_DELAY_US
    assert auth.login(store, "zhang.wei", PW, now_us=last + 1_000_000) == REFUSED  # within the 2 s: not even tried
    assert isinstance(auth.login(store, "li.si", PW, now_us=last + 1, address="203.0.113.9"), auth.LoginOk)
    wrong = last + throttle.BASE_DELAY_US
    assert auth.login(store, "zhang.wei", "wrong again!", now_us=wrong) == REFUSED  # admitted, and wrong: 4 s now
    assert auth.login(store, "zhang.wei", PW, now_us=wrong + 3_000_000) == REFUSED
    assert isinstance(auth.login(store, "zhang.wei", PW, now_us=wrong + 4_000_000), auth.LoginOk)
    assert throttle.delay_us(100, throttle.FREE_ACCOUNT) == throttle.MAX_DELAY_US
    auth.set_password(store, username="li.si", password="新密码 new secret", actor="admin", reason="x", now_us=T0)
    _fail(store, "li.si", throttle.FREE_ACCOUNT, at=T0 + MIN)
    auth.set_password(store, username="li.si", password="新密码 new secret", actor="admin", reason="x", now_us=T0)
    assert isinstance(auth.login(store, "li.si", "新密码 new secret", now_us=T0 + MIN + 10), auth.LoginOk)  # lifted


def test_failed_logins_are_one_audit_entry_per_account_and_window(store: Store) -> None:
    """Finding 8 (the audit part): one entry per account name and 15-minute window, with
    the count, the reasons and the addresses — not one per attempt."""
    _add(store)
    for i in range(30):
        address = ("203.0.113.9", "203.0.113.10", "198.51.100.7")[i % 3]
        auth.login(store, "zhang.wei", f"guess {i}", now_us=T0 + i * 10_000_000, address=address)
    for i in range(5):
        auth.login(store, "mallory", f"guess {i}", now_us=T0 + i, address="203.0.113.9")
    assert [e.action for e in audit.entries(store, limit=100)] == ["user.create"]  # the windows are open
    assert auth.flush_failures(store, now_us=T0 + 16 * MIN) == 2
    got = {e.subject: e for e in audit.entries(store, limit=100) if e.action == "login.failure"}
    assert set(got) == {"user:zhang.wei", "user:mallory"}
    z, m = got["user:zhang.wei"], got["user:mallory"]
    assert z.actor == "zhang.wei" and z.data["count"] == 30 and sum(z.data["why"].values()) == 30
    assert z.data["why"]["password"] >= throttle.FREE_ACCOUNT and "throttled" in z.data["why"]
    assert sorted(z.data["addresses"]) == ["198.51.100.7", "203.0.113.10", "203.0.113.9"]
    assert (z.data["first_us"], z.data["last_us"]) == (T0, T0 + 290_000_000)
    assert m.actor == "anonymous" and m.data["count"] == 5 and m.data["why"] == {"unknown_user": 5}
    assert auth.flush_failures(store, now_us=T0 + 17 * MIN) == 0  # written once
    assert audit.verify(store).ok


def test_argon2_parameters_change_rehashes_at_login(store: Store) -> None:
    _add(store)
    old = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1, type=Type.ID).hash(PW)
    with store.engine.begin() as c:
        c.execute(update(T.users).values(password_hash=old))
    assert isinstance(auth.login(store, "zhang.wei", PW, now_us=T0), auth.LoginOk)
    with store.engine.connect() as c:
        now = c.execute(T.users.select()).one().password_hash
    assert now != old and not auth.needs_rehash(now) and auth.verify_password(now, PW)
    assert audit.entries(store, limit=1)[0].data["rehashed"] is True


def test_set_password_and_deactivate_end_sessions(store: Store) -> None:
    _add(store)
    s1 = auth.login(store, "zhang.wei", PW, now_us=T0)
    for i in range(5):
        auth.login(store, "zhang.wei", f"wrong password {i}", now_us=T0 + i)
    auth.set_password(
        store, username="zhang.wei", password="新密码 new secret", actor="admin", reason="忘记密码", now_us=T0 + MIN
    )
    assert auth.session_user(store, s1.token, now_us=T0 + MIN) is None
    assert auth.login(store, "zhang.wei", PW, now_us=T0 + MIN) == REFUSED  # the old one is wrong (not throttled)
    s2 = auth.login(store, "zhang.wei", "新密码 new secret", now_us=T0 + MIN)
    assert isinstance(s2, auth.LoginOk)
    auth.deactivate(store, username="zhang.wei", actor="admin", reason="调离", now_us=T0 + 2 * MIN)
    assert auth.session_user(store, s2.token, now_us=T0 + 2 * MIN) is None
    assert auth.login(store, "zhang.wei", "新密码 new secret", now_us=T0 + 3 * MIN) == REFUSED
    with pytest.raises(auth.UserError):
        auth.deactivate(store, username="nobody", actor="admin", reason="x", now_us=T0)
    auth.flush_failures(store, now_us=T0 + 20 * MIN)
    acts = [e.action for e in audit.entries(store, subject="user:zhang.wei")][::-1]
    assert acts == [
        "user.create",
        "login.success",
        "user.password",
        "login.success",
        "user.deactivate",
        "login.failure",
    ]
    failure = audit.entries(store, subject="user:zhang.wei", limit=1)[0].data
    assert failure["count"] == 7 and failure["why"] == {"password": 6, "inactive": 1}
    assert audit.verify(store).ok


def test_check_csrf() -> None:
    assert auth.check_csrf("abc123", "abc123")
    assert not auth.check_csrf("abc123", "abc124")
    assert not auth.check_csrf("abc123", "")
    assert not auth.check_csrf("abc123", None)
    assert not auth.check_csrf(None, None)
    assert not auth.check_csrf("abc123", "abc123\ud800")


# ------------------------------------------------------------ command line
def test_cli_user_add_list_passwd(store: Store, monkeypatch) -> None:
    app = typer.Typer()
    app.callback()(lambda: None)

    def fail(message: str) -> None:
        print(f"error: {message}")
        raise typer.Exit(2)

    register(app, Console(width=200), fail)
    run = lambda *a, input=None: CliRunner().invoke(app, [*a, "--db", store.url], input=input)  # noqa: E731
    res = run(
        "user",
        "add",
        "op1",
        "--role",
        "operator",
        "--name",
        "王经理",
        "--station",
        "S0001",
        "--station",
        "S0002",
        input=f"{PW}\n",
    )
    assert res.exit_code == 0 and "已创建用户" in res.output, res.output
    assert auth.get_user(store, "op1").stations == ["S0001", "S0002"]
    assert isinstance(auth.login(store, "op1", PW, now_us=T0), auth.LoginOk)
    res = run("user", "add", "bad", "--role", "operator", "--name", "X", input="short\n")
    assert res.exit_code == 2 and "密码至少需要 12 个字符" in res.output
    assert run("user", "add", "x2", "--role", "admin", "--name", "X", input="").exit_code == 2  # no password
    assert run("user", "add", "x3", "--role", "king", "--name", "X", input=f"{PW}\n").exit_code == 2
    res = run("user", "list")
    assert res.exit_code == 0 and "op1" in res.output and "加油站经营者" in res.output and "S0001 S0002" in res.output
    assert run("user", "passwd", "op1", input="another password\n").exit_code == 0
    assert isinstance(auth.login(store, "op1", "another password", now_us=T0), auth.LoginOk)
    (created,) = audit.entries(store, subject="user:op1", limit=100)[-1:]
    assert created.actor == "system" and created.action == "user.create"
    assert PW not in str(audit.entries(store, limit=100))
