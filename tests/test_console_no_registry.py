"""A new platform, before its administrator loads the station registry: every console
page opens (empty lists, not a server error), in either language."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from anxin.auth import create_user
from anxin.serve.runtime import build

PASSWORD = "a-long-enough-password-1"
PAGES = [
    "/console",
    "/console/alarms",
    "/console/audit",
    "/console/cases",
    "/console/complaints",
    "/console/inspections",
    "/console/oversight",
    "/console/register",
    "/console/register/new",
    "/console/risk",
    "/console/statistics",
    "/console/users",
    "/console/workorders",
]


def _signed_in(app, username: str) -> TestClient:
    c = TestClient(app)
    token = re.search(r'name="form_token" value="([^"]+)"', c.get("/console/login").text).group(1)
    form = {"username": username, "password": PASSWORD, "next": "/console/audit", "form_token": token}
    assert c.post("/console/login", data=form).status_code in (200, 403)
    return c


@pytest.fixture(scope="module")
def clients(tmp_path_factory) -> list[TestClient]:
    """A regulator and an administrator (each page is some role's) on a platform with no registry."""
    root = tmp_path_factory.mktemp("no-registry")
    _, service, app = build(db=str(root / "db.sqlite"), admin_token="admin-token-0123456789", cookie_secure=False)
    assert service.registry is None
    for username, role in (("zhang", "regulator"), ("admin1", "admin")):
        create_user(
            service.store,
            username=username,
            display_name=username,
            role=role,
            password=PASSWORD,
            actor="test",
            reason="test",
            now_us=time.time_ns() // 1000,
        )
    return [_signed_in(app, "zhang"), _signed_in(app, "admin1")]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_before_the_registry_is_loaded(clients: list[TestClient], page: str, lang: str) -> None:
    codes = [c.get(f"{page}?lang={lang}").status_code for c in clients]
    assert set(codes) <= {200, 403} and 200 in codes, (page, codes)  # no server error; the page is someone's
