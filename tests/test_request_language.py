"""Issue 13, item 1 (its first part): every web request speaks its own reader's
language — ``?lang=``, the language cookie, then the browser's ``Accept-Language`` — and
never the process's: a message the shared code looks up (a password the policy refuses,
shown on the console's user page) followed ``ANXIN_LANG`` of the server, so one
reader's language could reach another's page."""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from anxin.auth import create_user
from anxin.i18n import lang, language_scope, negotiate, t
from anxin.serve.runtime import build
from anxin.sim import ScenarioSet, simulate

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize(
    ("query", "cookie", "accept", "want"),
    [
        (None, None, None, "zh"),  # Chinese first
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, None, "en;q=0.5, zh-TW;q=0.8", "zh"),  # by quality, not by order
        (None, None, "fr-FR, de;q=0.9", "zh"),  # neither: Chinese
        (None, None, "en;q=zzz, zh;q=0", "zh"),  # a malformed or zero quality counts for nothing
        (None, "en", "zh-CN", "en"),  # the switch's cookie over the browser
        ("zh", "en", "en-US", "zh"),  # the link over both
        ("xx", "yy", None, "zh"),  # unknown values are ignored
    ],
)
def test_a_requests_language_is_negotiated(query, cookie, accept, want) -> None:
    assert negotiate(query, cookie, accept) == want


def test_a_language_scope_is_its_own_tasks_and_threads_alone(monkeypatch) -> None:
    monkeypatch.setenv("ANXIN_LANG", "zh")
    seen: dict[str, list[str]] = {}

    async def reader(name: str, language: str) -> None:
        with language_scope(language):
            for _ in range(20):
                await asyncio.sleep(0)  # the two readers interleave
                seen.setdefault(name, []).append(t("pw_blank"))
                # work handed to a thread (as the pages do) keeps the reader's language
                seen[name].append(await asyncio.to_thread(lang))

    async def both() -> None:
        await asyncio.gather(reader("a", "en"), reader("b", "zh"))

    asyncio.run(both())
    assert set(seen["a"]) == {"en", _en("pw_blank")} and set(seen["b"]) == {"zh", _zh("pw_blank")}
    assert _en("pw_blank") != _zh("pw_blank")
    assert os.environ["ANXIN_LANG"] == "zh" and lang() == "zh"  # the process is untouched

    out: list[str] = []

    def thread() -> None:
        out.append(lang())

    with language_scope("en"):
        th = threading.Thread(target=thread)  # a plain thread starts from the process's
        th.start()
        th.join()
    assert out == ["zh"]


def _en(key: str) -> str:
    with language_scope("en"):
        return t(key)


def _zh(key: str) -> str:
    with language_scope("zh"):
        return t(key)


# Its module-scoped fixtures are costly: built once, in one worker, not once in each.
pytestmark = pytest.mark.xdist_group("request-language")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("lang")
    simulate(root / "city", stations=1, days=1, seed=3, scenarios=ScenarioSet.honest(), workers=1, group_size=1)
    _, service, app = build(db=str(root / "db.sqlite"), registry=root / "city" / "registry.json", cookie_secure=False)
    create_user(
        service.store,
        username="admin",
        display_name="管理员",
        role="admin",
        password=PASSWORD,
        actor="test",
        reason="test",
        now_us=time.time_ns() // 1000,
    )
    return app


def _signed_in(app, **headers) -> TestClient:
    c = TestClient(app, headers=headers)
    token = re.search(r'name="form_token" value="([^"]+)"', c.get("/console/login").text)[1]
    data = {"username": "admin", "password": PASSWORD, "next": "/console", "form_token": token}
    assert c.post("/console/login", data=data, follow_redirects=False).status_code == 303
    return c


def _short_password(c: TestClient, **params) -> str:
    page = c.get("/console/users", params=params).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)[1]
    form = {"csrf": csrf, "username": "li.si", "display_name": "李四", "role": "inspector", "password": "short"}
    r = c.post("/console/users/create", data=form, params=params)
    assert r.status_code == 400  # refused, on the page, naming why
    return r.text


@pytest.mark.parametrize(("process", "reader", "want"), [("en", "zh", "zh"), ("zh", "en", "en")])
def test_the_policys_refusal_is_in_the_readers_language_not_the_servers(app, monkeypatch, process, reader, want):
    monkeypatch.setenv("ANXIN_LANG", process)  # as `anxin serve --lang …` sets it
    c = _signed_in(app, **({"Accept-Language": "en-US,en"} if reader == "en" else {"Accept-Language": "zh-CN"}))
    text = _short_password(c)
    with language_scope(want):
        expected = t("pw_too_short").format(n=12)
    with language_scope(process):
        other = t("pw_too_short").format(n=12)
    assert expected in text and other not in text
    assert os.environ["ANXIN_LANG"] == process
