"""Issue 13, item 6: the bar a reviewer applies. The demo replays a city and serves its
console; every page a regulator, an inspector and a station operator can reach from the
overview and the public page (following the links, as they would) is read in zh-CN the
way a person reads it — the visible text, titles, placeholders and labels, not the
scripts — and fails if it shows a snake_case or UPPER_CASE identifier, a lifecycle
state left in English, or an English sentence (proper names and codes a regulator knows
— JJG, SM2, QR, CSV, PDF, NIST — allowed). What a station sent under names of its own
is evidence and is shown as it came, under its own heading: that heading's contents are
not the page's words. (The English twin — no Chinese on an English page but names —
is still to come.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import httpx2
from rich.console import Console

from anxin.demo.live import run_demo

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
UPPER = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")
STATES = re.compile(
    r"\b(overdue|failed|received|decided|done|routine|open|closed|risk|new|acknowledged|dispatched|pending|"
    r"passed|valid|expired|unannounced|substantiated|rejected|assigned|visited|ok|watch|violation|insufficient)\b"
)
SENTENCE = re.compile(r"\b[A-Za-z]{2,}(?:[ ,'’-]+[A-Za-z]{2,}){2,}\b")
KNOWN = re.compile(r"JJG|SM2|Ed25519|NIST|GB/T|QR|CSV|PDF|XLSX|ECharts|anxin|SAMR|OpenAPI|Handbook", re.I)
SKIP = ("logout", "stream", ".csv", ".xlsx", ".pdf", ".zip", "export", "certificate", "lang=")


class _Reader(HTMLParser):
    """What a person reads on a page, and where its links lead."""

    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.links: list[str] = []
        self._hidden = 0
        self._as_sent = 0  # inside the list of fields a record carried under its own names

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "style", "noscript"):
            self._hidden += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "code" and self._as_sent:
            self._hidden += 1
        for k in ("title", "placeholder", "aria-label", "alt"):
            if a.get(k):
                self.text.append(a[k] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript") or (tag == "code" and self._as_sent):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if data.strip() == "记录中的其他字段（原样）":
            self._as_sent = 1
        if not self._hidden and data.strip():
            self.text.append(data.strip())


def offences(text: str) -> set[str]:
    found = {m.group(0) for rx in (SNAKE, UPPER, STATES) for m in rx.finditer(text)}
    found |= {m.group(0) for m in SENTENCE.finditer(text) if not KNOWN.search(m.group(0))}
    return found


def _crawl(base: str, user: str, limit: int) -> dict[str, set[str]]:
    c = httpx2.Client(base_url=base, headers={"Accept-Language": "zh-CN"}, follow_redirects=True, timeout=60)
    token = re.search(r'name="form_token" value="([^"]+)"', c.get("/console/login").text)[1]
    form = {"username": user, "password": "anxin-demo-2026", "next": "/console", "form_token": token}
    assert c.post("/console/login", data=form).status_code == 200
    seen: set[str] = set()
    queue, bad = ["/console", "/p/S0001-D1-N1"], {}
    while queue and len(seen) < limit:
        path = queue.pop(0)
        if path in seen:
            continue
        seen.add(path)
        r = c.get(path)
        if "text/html" not in r.headers.get("content-type", ""):
            continue
        reader = _Reader()
        reader.feed(r.text)
        found = offences(" \n ".join(reader.text))
        if found:
            bad[path] = found
        for href in reader.links:
            u = urlparse(urljoin(base + path, href))
            if u.netloc != urlparse(base).netloc or not u.path.startswith(("/console", "/p/")):
                continue
            target = u.path + (f"?{u.query}" if u.query and "before=" not in u.query else "")
            if not any(s in target for s in SKIP) and target not in seen:
                queue.append(target)
    assert len(seen) > 20, f"{user} reached only {sorted(seen)}"
    return bad


def test_every_page_reads_in_chinese(tmp_path: Path) -> None:
    from live import free_port

    port = free_port()
    found: dict[str, dict[str, set[str]]] = {}

    def visit() -> None:
        for user, limit in (("regulator", 250), ("inspector", 120), ("operator", 120)):
            found[user] = _crawl(f"http://127.0.0.1:{port}", user, limit)

    console = Console(file=open(tmp_path / "console.txt", "w"), width=120)  # noqa: SIM115
    run_demo(
        out=tmp_path / "d", stations=3, days=2, seed=7, speed=0, console=console, serve=True, port=port, wait=visit
    )
    assert set(found) == {"regulator", "inspector", "operator"}
    report = {user: {p: sorted(w) for p, w in pages.items()} for user, pages in found.items() if pages}
    assert not report, report


def test_the_reader_catches_what_a_reviewer_would() -> None:
    """The check itself: what it must catch and what it must let pass."""
    assert offences("说明 difference_ml 已受理") == {"difference_ml"}
    assert offences("VOLUME_MISMATCH") == {"VOLUME_MISMATCH"}
    assert offences("状态 received") == {"received"}
    assert offences("nozzle is not registered") == {"nozzle is not registered"}
    assert offences("JJG 443 检定 · SM2 签名 · QR 码 · 下载 CSV") == set()
    r = _Reader()
    r.feed("<h3>记录中的其他字段（原样）</h3><dl><dt><code>vendor_note</code></dt></dl><script>var a_b = 1;</script>")
    assert offences(" ".join(r.text)) == set()
