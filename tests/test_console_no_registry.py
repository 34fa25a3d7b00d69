"""A new platform, before its administrator loads the station registry: every console
page opens (empty lists, not a server error), in either language."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sessions_helper import signed_in

from anxin.serve.runtime import build

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


@pytest.fixture(scope="module")
def clients(tmp_path_factory) -> list[TestClient]:
    """A regulator and an administrator (each page is some role's) on a platform with no registry."""
    root = tmp_path_factory.mktemp("no-registry")
    _, service, app = build(db=str(root / "db.sqlite"), admin_token="admin-token-0123456789", cookie_secure=False)
    assert service.registry is None
    out = []
    for role in ("regulator", "admin"):
        c = TestClient(app)
        signed_in(c, service.store, role, role)
        out.append(c)
    return out


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_before_the_registry_is_loaded(clients: list[TestClient], page: str, lang: str) -> None:
    codes = [c.get(f"{page}?lang={lang}").status_code for c in clients]
    assert set(codes) <= {200, 403} and 200 in codes, (page, codes)  # no server error; the page is someone's
