"""The demo city, replayed and served once per test process for the tests that read its
pages (tests/test_page_text.py, tests/test_console_screenshots.py): ``anxin demo``'s own
machinery (:func:`anxin.demo.live.run_demo`) with its real accounts, and the crawl a
person makes of its pages by following the links from the overview and a public page.

A test module uses it with ``pytest_plugins = ["demo_city"]`` (the ``demo_city`` fixture
is then one for the whole session, not one per module) and the xdist group
``demo-city``, so the modules that share the city run in the worker that built it."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx2
import msgspec
import pytest
from live import free_port
from rich.console import Console
from sqlalchemy import select

from anxin.demo.live import run_demo
from anxin.store import schema as S
from anxin.store.database import Store
from anxin.supervision.inspections import MANUAL_ITEMS
from anxin.web.language import LANG_COOKIE

PASSWORD = "anxin-demo-2026"  # the demo accounts' (anxin.demo.console.demo_users)
PUBLIC = "/p/S0001-D1-N1"  # a nozzle's public page, as after a scan of its QR code
# what the crawl does not follow: leaving, the live stream, downloads, the language switch
SKIP = ("logout", "stream", ".csv", ".xlsx", ".pdf", ".zip", "export", "certificate", "lang=")
# Chinese on an English page: ideographs, and the CJK and full-width punctuation around them
CJK = re.compile(r"[\u2e80-\u2fff\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]+")


@dataclass
class Demo:
    base: str
    names: set[str]  # the Chinese the data carries (:func:`data_names`)
    db: Path  # its database (SQLite)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def data_names(db: Path) -> set[str]:
    """The Chinese an English page may show because the data carries it: every text of the
    registry (station names, operators, districts, institutes), the accounts' names, and
    what people typed into the platform — complaints, replies, case summaries, parties,
    violations and decisions, on-site results, inspection findings and notes, a draw's
    name, the reasons given in the audit log by a signed-in person."""
    store = Store(str(db))
    try:
        with store.engine.connect() as c:
            doc = c.execute(select(S.registry_versions.c.document).order_by(S.registry_versions.c.version)).scalars()
            typed: list[Any] = [msgspec.json.decode(d) for d in doc]
            accounts = c.execute(select(S.users.c.username, S.users.c.display_name)).all()
            typed += [name for _, name in accounts]
            people = {username for username, _ in accounts}
            for table, cols in (
                (S.complaints, ("text", "contact", "reply")),
                (S.cases, ("summary", "parties", "violations", "decision")),
                (S.work_orders, ("result",)),
                (S.alarm_states, ("closed_reason",)),
                (S.inspections, ("findings",)),
                (S.inspection_plans, ("name",)),
            ):
                typed += [list(row) for row in c.execute(select(*(table.c[k] for k in cols))).all()]
            for (checklist,) in c.execute(select(S.inspections.c.checklist)).all():  # the inspector's notes
                typed += [(checklist or {}).get(item, {}).get("note", "") for item in MANUAL_ITEMS]
            audit = S.audit_log.c
            typed += [r for a, r in c.execute(select(audit.actor, audit.reason)).all() if a in people]
    finally:
        store.close()
    return {s.strip() for s in _strings(typed) if CJK.search(s)}


@contextmanager
def served_demo(out: Path) -> Iterator[Demo]:
    """The demo city replayed into ``out`` and its console served until the block ends."""
    port = free_port()
    up, finished, failed = threading.Event(), threading.Event(), []

    def until_done() -> None:  # the demo's console is up: serve until the block ends
        up.set()
        finished.wait()

    def serve() -> None:
        console = Console(file=open(out / "console.txt", "w"), width=120)  # noqa: SIM115
        try:
            run_demo(
                out=out / "d",
                stations=3,
                days=2,
                seed=7,
                speed=0,
                console=console,
                serve=True,
                port=port,
                wait=until_done,
            )
        except BaseException as exc:  # the caller reports it
            failed.append(exc)
        finally:
            up.set()
            console.file.close()

    thread = threading.Thread(target=serve, name="demo-city", daemon=True)
    thread.start()
    up.wait(900)
    try:
        if failed or not thread.is_alive():
            raise RuntimeError(f"the demo did not come up: {failed}")
        db = out / "d" / "anxin.sqlite"
        yield Demo(f"http://127.0.0.1:{port}", data_names(db), db)
    finally:
        finished.set()
        thread.join(120)


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """One demo city for every module that reads its pages (built once, up until the end)."""
    with served_demo(tmp_path_factory.mktemp("demo-city")) as d:
        yield d


def client(base: str, lang: str) -> httpx2.Client:
    """A browser reading ``lang``: a Chinese one by its Accept-Language; an English reader
    presses the language switch, and its cookie keeps the choice from then on."""
    if lang == "zh":
        return httpx2.Client(base_url=base, headers={"Accept-Language": "zh-CN"}, follow_redirects=True, timeout=60)
    c = httpx2.Client(base_url=base, headers={"Accept-Language": "zh-CN,zh;q=0.9"}, follow_redirects=True, timeout=60)
    assert c.get("/console/login?lang=en").status_code == 200
    assert c.cookies.get(LANG_COOKIE) == "en"
    return c


def login(c: httpx2.Client, user: str, lang: str = "zh") -> None:
    """Sign ``c`` in as the demo account ``user`` through the login form."""
    page = c.get("/console/login")
    assert f'lang="{"zh-CN" if lang == "zh" else "en"}"' in page.text
    token = re.search(r'name="form_token" value="([^"]+)"', page.text)[1]
    form = {"username": user, "password": PASSWORD, "next": "/console", "form_token": token}
    assert c.post("/console/login", data=form).status_code == 200


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.links.append(href)


def links_of(html: str) -> list[str]:
    reader = _Links()
    reader.feed(html)
    return reader.links


def crawl(c: httpx2.Client, limit: int, start: Iterable[str] = ("/console", PUBLIC)) -> Iterator[tuple[str, Any]]:
    """Every page reachable from ``start`` by the links a person follows (breadth first, at
    most ``limit``), as ``(path, response)`` for its HTML pages: the console's and the
    public ones, not the downloads, the stream, leaving, nor a list's next page."""
    base = str(c.base_url).rstrip("/")
    seen: set[str] = set()
    queue = list(start)
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        r = c.get(path)
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        yield path, r
        for href in links_of(r.text):
            u = urlparse(urljoin(base + path, href))
            if u.netloc != urlparse(base).netloc or not u.path.startswith(("/console", "/p/")):
                continue
            target = u.path + (f"?{u.query}" if u.query and "before=" not in u.query else "")
            if not any(s in target for s in SKIP) and target not in seen:
                queue.append(target)
