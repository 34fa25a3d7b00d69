"""The receipt page in Debian's chromium (tests/test_receipt_browser.py, the page's journeys;
tests/test_receipt_script.py, its script against the platform's code): the demo city's
receipts, and how a test reads the page's two verdicts or changes what the page receives.
A test module uses it with ``pytest_plugins = ["demo_city", "receipt_pages"]``."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from anxin.contract.registry import load_registry
from anxin.receipt.digest import receipt_path
from anxin.receipt.queries import example
from anxin.register.qr import qr_svg
from anxin.store.database import Store

VERDICT = "#browser-verdict .verdict-line"


@pytest.fixture(scope="module")
def receipts(demo_city):
    """The demo's receipt (the one it prints, of its first station) and one of an SM2 nozzle."""
    registry = load_registry(demo_city.db.parent / "city" / "registry.json")
    store = Store(str(demo_city.db), migrate=False)
    try:
        printed = example(store, registry, registry.stations[0].station_id)
        sm2 = next(
            (r for st in registry.stations if (r := example(store, registry, st.station_id, alg="sm2")) is not None),
            None,
        )
        ed = example(store, registry, registry.stations[0].station_id, alg="ed25519")
    finally:
        store.close()
    assert printed and sm2 and ed, "the demo city has honest sales of both key kinds"
    # The QR code the demo wrote carries exactly this receipt's link (segno is deterministic).
    svg = (demo_city.db.parent / "receipt-qr.svg").read_text(encoding="utf-8")
    assert svg.startswith("<svg") and svg == qr_svg(demo_city.base + receipt_path(printed))
    return {"printed": receipt_path(printed), "sm2": receipt_path(sm2), "ed25519": receipt_path(ed)}


def own_verdict(page) -> str:
    page.wait_for_function(f"document.querySelector('{VERDICT}').dataset.verdict !== 'pending'", timeout=30_000)
    return page.get_attribute(VERDICT, "data-verdict")


def server_verdict(page) -> str:
    return page.get_attribute("#server-verdict .verdict-line", "data-verdict")


def served_as(page, change: Callable[[str], str]) -> None:
    """Every receipt page this tab loads arrives changed by ``change`` (its HTML)."""

    def handle(route) -> None:
        response = route.fetch()
        body = response.text()
        changed = change(body)
        assert changed != body, "the change did not apply"
        route.fulfill(response=response, body=changed)

    page.route(re.compile(r".*/r/[^?]*$"), handle)
