"""Issue 13, item 5: a screenshot of every page, in both languages, at a desktop's width
(1440 px) and a phone's (390 px) — the pictures of ``docs/console.md``.

The demo city (tests/demo_city.py, shared with tests/test_page_text.py) is crawled as its
regulator, following the links from the overview and a public page; one page of each kind
is kept (the overview, the alarm list, an alarm whose evidence has the metering record and
the sale side by side, a station, a nozzle with its meter error chart, …), with the login
page, a nozzle's public page as a citizen sees it and the user list as an administrator.
Each is opened in Debian's chromium signed in with a real account, in zh-CN (the browser's
language) and in English (the language switch, whose cookie keeps it), its charts waited
for (ECharts' canvas inside each chart; the pages ask for reduced motion, so the charts
draw without animation) and photographed whole as ``<page>.<lang>.<width>.png`` into
``$ANXIN_SCREENSHOTS`` (pytest's temporary directory without it).

Each page must answer 200 in the language asked for, with one non-empty <h1>, and every
chart drawn; nothing may be wider than the screen (the document's scroll width — a table
may scroll inside its own box), which on a phone is the check that matters. The failures
are collected and named by page, with the outermost elements that stick out.

``make screenshots`` runs this test into ``docs/screenshots`` and then makes the pictures
small for the repository (``python tests/test_console_screenshots.py shrink <folder>``:
256 colours each, the same pixels; about a third of the size)."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("demo_city")  # its asserts explain themselves, as a test's do
from demo_city import PASSWORD, Demo, client, crawl, login  # noqa: E402

from anxin.auth import create_user  # noqa: E402
from anxin.store.database import Store  # noqa: E402
from anxin.web.language import LANG_COOKIE  # noqa: E402

pytest_plugins = ["demo_city"]  # the demo city (its fixture ``demo_city``), shared with tests/test_page_text.py
pytestmark = pytest.mark.xdist_group("demo-city")  # in the worker that built it

LANGS = ("zh", "en")
WIDTHS = (1440, 390)
SLACK = 2  # px: a rounding, not a column
ADMIN = ("admin", "系统管理员", "anxin-admin-tour-2026")
# Every kind of page the tour must find (a page that disappears from the crawl fails it).
KINDS = (
    "login",
    "overview",
    "alarms",
    "alarm",
    "workorders",
    "station",
    "nozzle",
    "register",
    "register-new",
    "complaints",
    "complaint",
    "inspections",
    "inspection",
    "cases",
    "case",
    "risk",
    "oversight",
    "statistics",
    "audit",
    "users",
    "public",
)
ONE = {  # a list's name → the name of one of its items
    "alarms": "alarm",
    "workorders": "workorder",
    "stations": "station",
    "nozzles": "nozzle",
    "complaints": "complaint",
    "inspections": "inspection",
    "cases": "case",
    "p": "public",
}
# What makes a page of a kind the one to show, best first: an alarm with the metering
# record and the sale side by side; a nozzle whose meter error is beyond the limit, else one
# with looks on its chart; an inspection done, with its results.
BEST = {
    "alarm": (re.compile(r'<table class="evidence">\s*<thead><tr>(?:<th scope="col">[^<]*</th>){3}'),),
    "nozzle": (re.compile(r'data-status="violation"'), re.compile(r'id="estimate-table"')),
    "inspection": (re.compile(r"<h2>检查项</h2>"),),
}


def rank(kind: str, html: str) -> int:
    """How good a page of ``kind`` is to show (0: as any other)."""
    marks = BEST.get(kind, ())
    return next((len(marks) - i for i, rx in enumerate(marks) if rx.search(html)), 0)


def slug(path: str) -> str:
    """The kind of page a path is: ``/console`` → overview, ``/console/alarms/a1`` → alarm,
    ``/console/register/new`` → register-new, ``/p/S1-D1-N1`` → public."""
    parts = [p for p in path.split("?")[0].split("/") if p][1 if path.startswith("/console") else 0 :]
    if not parts:
        return "overview"
    if len(parts) >= 2 and parts[0] in ONE and parts[1] != "new":
        return "-".join([ONE[parts[0]], *parts[2:]])
    return ONE.get(parts[0], parts[0]) if parts[0] == "p" else "-".join(parts)


def test_slugs() -> None:
    assert [slug(p) for p in ("/console", "/console/alarms", "/console/alarms/a1", "/console/register/new")] == [
        "overview",
        "alarms",
        "alarm",
        "register-new",
    ]
    assert [slug(p) for p in ("/p/S0001-D1-N1", "/console/nozzles/S1-D1-N1", "/console/login")] == [
        "public",
        "nozzle",
        "login",
    ]


@pytest.fixture(scope="module")
def tour(demo_city: Demo) -> dict[str, str]:
    """One page of each kind the regulator reaches (slug → path), the login page and the
    user list (an administrator's: the demo has none, so one is added as ``anxin user
    add`` would)."""
    store = Store(str(demo_city.db), migrate=False)
    try:
        name, display, password = ADMIN
        create_user(
            store,
            username=name,
            display_name=display,
            role="admin",
            password=password,
            actor="anxin demo",
            reason="demo accounts",
            now_us=time.time_ns() // 1000,
        )
    finally:
        store.close()
    c = client(demo_city.base, "zh")
    login(c, "regulator")
    pages: dict[str, str] = {"login": "/console/login"}
    ranks: dict[str, int] = {}
    for path, r in crawl(c, 250):
        kind, good = slug(path), rank(slug(path), r.text)
        if kind not in pages or good > ranks[kind]:
            pages[kind], ranks[kind] = path, good
    pages["users"] = "/console/users"
    assert set(KINDS) <= set(pages), f"the crawl found no {sorted(set(KINDS) - set(pages))}"
    assert all(ranks[k] for k in BEST), f"no page shows {sorted(k for k in BEST if not ranks[k])} at its best"
    return {k: pages[k] for k in KINDS} | {k: v for k, v in pages.items() if k not in KINDS}


def _out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("ANXIN_SCREENSHOTS")
    out = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _who(kind: str) -> str | None:
    """Whose page it is: the citizen's and the login page anyone's, the users' the admin's."""
    return None if kind in ("login", "public") else "admin" if kind == "users" else "regulator"


def _signed_in(browser, base: str, user: str) -> dict:
    """The cookies of a browser signed in as ``user`` through the login form."""
    password = ADMIN[2] if user == "admin" else PASSWORD
    ctx = browser.new_context(viewport={"width": 1440, "height": 900})
    page = ctx.new_page()
    page.goto(f"{base}/console/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r".*/console$"))
    state = ctx.storage_state()
    ctx.close()
    return state


class Camera:
    """One browser context per reader (anonymous, regulator, admin), language and width."""

    def __init__(self, browser, base: str, out: Path) -> None:
        self.browser, self.base, self.out = browser, base, out
        self.states = {u: _signed_in(browser, base, u) for u in ("regulator", "admin")}
        self.contexts: dict[tuple[str | None, str, int], tuple] = {}

    def page(self, who: str | None, lang: str, width: int):
        key = (who, lang, width)
        if key not in self.contexts:
            phone = width < 600
            ctx = self.browser.new_context(
                viewport={"width": width, "height": 844 if phone else 900},
                is_mobile=phone,
                has_touch=phone,
                device_scale_factor=1,
                reduced_motion="reduce",
                storage_state=self.states.get(who) if who else None,
            )
            page = ctx.new_page()
            if lang == "en":  # the language switch, as a reader presses it; its cookie keeps it
                page.goto(f"{self.base}/console/login?lang=en")
                assert any(c["name"] == LANG_COOKIE and c["value"] == "en" for c in ctx.cookies())
            self.contexts[key] = (ctx, page)
        return self.contexts[key][1]

    def close(self) -> None:
        for ctx, _ in self.contexts.values():
            ctx.close()

    def shoot(self, kind: str, path: str, lang: str, width: int) -> list[str]:
        """Open the page, wait for its charts, photograph it; what is wrong with it."""
        page = self.page(_who(kind), lang, width)
        response = page.goto(self.base + path)
        wrong = []
        if response is None or response.status != 200:
            return [f"answered {response and response.status}"]
        html_lang = page.locator("html").get_attribute("lang")
        if html_lang != ("zh-CN" if lang == "zh" else "en"):
            wrong.append(f"in {html_lang}, not {lang}")
        h1 = page.locator("main h1")
        if h1.count() != 1 or not h1.inner_text().strip():
            wrong.append(f"{h1.count()} <h1>")
        charts = page.locator(".chart")
        for i in range(charts.count()):
            chart = charts.nth(i)
            try:
                chart.locator("canvas, svg").first.wait_for(timeout=10_000)
            except Exception:
                wrong.append(f"chart #{chart.get_attribute('id')} not drawn")
        if page.locator("#map").count():  # the overview's map: drawn once its districts' GeoJSON came
            try:
                page.locator("#map[data-drawn]").wait_for(timeout=10_000)
            except Exception:
                wrong.append("the map not drawn")
        page.screenshot(path=str(self.out / f"{kind}.{lang}.{width}.png"), full_page=True)
        wide = page.evaluate("document.scrollingElement.scrollWidth")
        if wide > width + SLACK:
            wrong.append(f"{wide} px wide at {width} px: {', '.join(_too_wide(page, width))}")
        return wrong


def _too_wide(page, width: int) -> list[str]:
    """The outermost elements that reach past the screen's right edge (not those inside a
    box that scrolls or clips them)."""
    return page.evaluate(
        """(width) => {
          const out = [];
          for (const e of document.querySelectorAll('body *')) {
            if (e.getBoundingClientRect().right <= width + 2 || out.some(o => o.contains(e))) continue;
            let p = e.parentElement, clipped = false;
            for (; p && p !== document.body; p = p.parentElement) {
              if (getComputedStyle(p).overflowX !== 'visible') { clipped = true; break; }
            }
            if (!clipped) out.push(e);
          }
          return out.slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
            + (typeof e.className === 'string' && e.className.trim() ? '.' + e.className.trim().split(/ +/).join('.') : '')
            + ' (' + Math.round(e.getBoundingClientRect().right) + ' px)');
        }""",
        width,
    )


@pytest.fixture(scope="module")
def camera(browser, demo_city: Demo, tour: dict[str, str], tmp_path_factory) -> Iterator[Camera]:
    cam = Camera(browser, demo_city.base, _out(tmp_path_factory))
    yield cam
    cam.close()


def _sets() -> list[tuple[str, int]]:
    return [(lang, width) for width in WIDTHS for lang in LANGS]


@pytest.mark.parametrize(("lang", "width"), _sets(), ids=[f"{lang}-{w}" for lang, w in _sets()])
def test_every_page_photographed(camera: Camera, tour: dict[str, str], lang: str, width: int) -> None:
    wrong = {}
    for kind, path in tour.items():
        found = camera.shoot(kind, path, lang, width)
        if found:
            wrong[f"{kind} ({path})"] = found
    assert not wrong, wrong
    shots = {p.name for p in camera.out.glob(f"*.{lang}.{width}.png")}
    assert shots >= {f"{kind}.{lang}.{width}.png" for kind in tour}, sorted(shots)


def shrink(folder: Path) -> None:
    """The pictures made small for the repository: 256 colours each, the same pixels. The
    palette is the picture's own most used colours, exactly (the page's grey, the cards'
    white, the text), and an octree's for the rest (the charts' and legends' colours, which
    a median cut would drop), each pixel to its nearest."""
    import numpy as np
    from PIL import Image

    for path in sorted(folder.glob("*.png")):
        before = path.stat().st_size
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        packed = np.asarray(rgb, dtype=np.int64) @ np.array([1 << 16, 1 << 8, 1])
        colours, index, counts = np.unique(packed.ravel(), return_inverse=True, return_counts=True)
        palette = colours
        if len(colours) > 256:
            common = colours[np.argsort(counts)[::-1][:128]].tolist()
            octree = rgb.quantize(colors=128, method=Image.Quantize.FASTOCTREE).getpalette()[: 3 * 128]
            rest = [r << 16 | g << 8 | b for r, g, b in zip(octree[0::3], octree[1::3], octree[2::3], strict=True)]
            palette = np.array(list(dict.fromkeys(common + rest)))

        def channels(c):
            return np.stack([c >> 16 & 255, c >> 8 & 255, c & 255], axis=-1)

        have, want = channels(colours), channels(palette)
        nearest = np.concatenate(
            [((have[i : i + 4096, None] - want[None]) ** 2).sum(-1).argmin(1) for i in range(0, len(have), 4096)]
        )
        small = Image.fromarray(nearest[index].reshape(packed.shape).astype(np.uint8), "P")
        small.putpalette(want.astype(np.uint8).ravel().tolist())
        small.save(path, optimize=True)
        print(f"{path.name}: {before // 1024} → {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":  # make screenshots: python tests/test_console_screenshots.py shrink docs/screenshots
    if sys.argv[1:2] != ["shrink"] or len(sys.argv) != 3:
        sys.exit("usage: python tests/test_console_screenshots.py shrink <folder>")
    shrink(Path(sys.argv[2]))
