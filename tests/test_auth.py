"""Users, roles and sessions of the regulator console, on SQLite and real PostgreSQL: the
permission matrix, password rules and argon2id, login with lockout (the clock injected),
the same answer for unknown users, sessions, CSRF, and the ``anxin user`` commands."""

from __future__ import annotations

import time

import pytest
import typer
from argon2 import PasswordHasher, Type
from rich.console import Console
from sqlalchemy import update
from typer.testing import CliRunner

from anxin import audit, auth
from anxin.auth import passwords, sessions
from anxin.auth.cli import register
from anxin.auth.roles import ROLE_PERMISSIONS, User
from anxin.store import schema as T
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
        "user.manage": "10000",
        "audit.view": "11000",
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
    with pytest.raises(auth.PasswordRejected, match="密码至少需要 10 个字符"):
        auth.check_password_rules("123456789")
    monkeypatch.setenv("ANXIN_LANG", "en")
    with pytest.raises(auth.PasswordRejected, match="at least 10 characters"):
        auth.check_password_rules("短密码")
    for bad in (" " * 12, "a" * 12, "x" * 2000, "ok-length-but-\ud800"):
        with pytest.raises(auth.PasswordRejected):
            auth.check_password_rules(bad)
    with pytest.raises(auth.PasswordRejected, match="username"):
        auth.check_password_rules("Zhang.Wei.1", username="zhang.wei.1")
    auth.check_password_rules("1234567890")  # exactly 10 is enough
    auth.check_password_rules("加油站计量监测平台密码")


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
        ({"password": "short"}, "10"),
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


def test_wrong_password_and_unknown_user_get_the_same_answer(store: Store, monkeypatch) -> None:
    _add(store)
    calls: list[str] = []
    real = sessions.verify_password
    monkeypatch.setattr(sessions, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    timings = {}
    for name in ("zhang.wei", "li.si", "zhang.wei", "li.si", "名字\x00"):
        t = time.perf_counter()
        r = auth.login(store, name, "wrong password!", now_us=T0)
        timings.setdefault(name, []).append(time.perf_counter() - t)
        assert r == auth.LoginRefused(reason="用户名或密码错误", code="bad_credentials")
    assert len(calls) == 5 and calls[1] == passwords.dummy_hash()  # an unknown name is checked against a hash too
    assert min(timings["li.si"]) > 0.3 * min(timings["zhang.wei"])
    log = audit.entries(store)
    assert [(e.actor, e.data.get("why")) for e in log[::-1]] == [
        ("admin", None),
        ("zhang.wei", "password"),
        ("anonymous", "unknown_user"),
        ("zhang.wei", "password"),
        ("anonymous", "unknown_user"),
        ("anonymous", "unknown_user"),
    ]
    assert all("wrong password" not in str(e) for e in log)  # never the password
    assert audit.verify(store).ok


def test_lockout_after_five_failures_and_unlock_after_fifteen_minutes(store: Store) -> None:
    _add(store)
    _add(store, username="li.si")
    for i in range(4):
        assert auth.login(store, "zhang.wei", f"wrong password {i}", now_us=T0 + i).code == "bad_credentials"
    assert isinstance(auth.login(store, "zhang.wei", PW, now_us=T0 + 10), auth.LoginOk)  # a success resets the count
    for i in range(4):
        assert auth.login(store, "zhang.wei", f"wrong password {i}", now_us=T0 + 20 + i).code == "bad_credentials"
    locked = auth.login(store, "zhang.wei", "wrong password 5", now_us=T0 + MIN)
    assert locked.code == "locked" and locked.locked_until_us == T0 + 16 * MIN
    assert "账户已锁定" in locked.reason and "2026-03-01 00:16:00" in locked.reason
    refused = auth.login(store, "zhang.wei", PW, now_us=T0 + 16 * MIN - 1)  # even the right password, while locked
    assert refused.code == "locked" and refused.locked_until_us == T0 + 16 * MIN
    assert isinstance(auth.login(store, "li.si", PW, now_us=T0 + 2 * MIN), auth.LoginOk)  # per user
    assert isinstance(auth.login(store, "zhang.wei", PW, now_us=T0 + 16 * MIN), auth.LoginOk)
    actions = [(e.action, e.data.get("why")) for e in audit.entries(store, actor="zhang.wei")][::-1]
    assert actions == [("login.failure", "password")] * 4 + [("login.success", None)] + [
        ("login.failure", "password")
    ] * 4 + [("login.lockout", "password"), ("login.failure", "locked"), ("login.success", None)]
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
    assert auth.login(store, "zhang.wei", PW, now_us=T0 + MIN).code == "bad_credentials"  # lockout cleared
    s2 = auth.login(store, "zhang.wei", "新密码 new secret", now_us=T0 + MIN)
    assert isinstance(s2, auth.LoginOk)
    auth.deactivate(store, username="zhang.wei", actor="admin", reason="调离", now_us=T0 + 2 * MIN)
    assert auth.session_user(store, s2.token, now_us=T0 + 2 * MIN) is None
    assert auth.login(store, "zhang.wei", "新密码 new secret", now_us=T0 + 3 * MIN).code == "bad_credentials"
    with pytest.raises(auth.UserError):
        auth.deactivate(store, username="nobody", actor="admin", reason="x", now_us=T0)
    acts = [e.action for e in audit.entries(store, subject="user:zhang.wei")][::-1]
    assert acts[0] == "user.create" and "user.password" in acts and acts[-2:] == ["user.deactivate", "login.failure"]
    assert audit.entries(store, subject="user:zhang.wei", limit=1)[0].data == {"why": "inactive"}
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
    assert res.exit_code == 2 and "密码至少需要 10 个字符" in res.output
    assert run("user", "add", "x2", "--role", "admin", "--name", "X", input="").exit_code == 2  # no password
    assert run("user", "add", "x3", "--role", "king", "--name", "X", input=f"{PW}\n").exit_code == 2
    res = run("user", "list")
    assert res.exit_code == 0 and "op1" in res.output and "加油站经营者" in res.output and "S0001 S0002" in res.output
    assert run("user", "passwd", "op1", input="another password\n").exit_code == 0
    assert isinstance(auth.login(store, "op1", "another password", now_us=T0), auth.LoginOk)
    (created,) = audit.entries(store, subject="user:op1", limit=100)[-1:]
    assert created.actor == "system" and created.action == "user.create"
    assert PW not in str(audit.entries(store, limit=100))
