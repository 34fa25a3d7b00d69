"""Who is asking: the session cookie, the CSRF token of forms, the language, and the
template environment shared by the console's pages."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from anxin.auth import User, can, check_csrf, session_user, station_scope
from anxin.web.composed import checklist_note, finding, link_why
from anxin.web.evidence import event_data, event_name
from anxin.web.language import LANG_COOKIE, language_of
from anxin.web.texts import (
    audit_action,
    audit_reason,
    audit_subject,
    case_source,
    checklist_label,
    flow_point,
    rule_label,
    state_word,
    words,
)

COOKIE = "anxin_session"
# A row id in a path: larger than the databases' 64-bit keys is refused (422), never a 500.
DbId = Annotated[int, PathParam(ge=0, le=2**63 - 1)]
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


def now_us() -> int:
    return time.time_ns() // 1000


def language(request: Request) -> str:
    return language_of(request)


@dataclass
class Viewer:
    """The signed-in user of a request (or nobody), with the page's language."""

    user: User | None
    csrf: str
    lang: str

    @property
    def signed_in(self) -> User:
        """The signed-in user: a page behind a viewer dependency of :mod:`anxin.web.deps`,
        which sends nobody to the login, has one."""
        if self.user is None:
            raise RuntimeError("no signed-in user: the page must depend on anxin.web.deps first")
        return self.user

    def can(self, permission: str) -> bool:
        return self.user is not None and can(self.user, permission)

    @property
    def stations(self) -> frozenset[str] | None:
        return None if self.user is None else station_scope(self.user)

    def sees(self, station_id: str) -> bool:
        scope = self.stations
        return self.user is not None and (scope is None or station_id in scope)


def viewer(request: Request, store) -> Viewer:
    lang = language(request)
    token = request.cookies.get(COOKIE)
    found = session_user(store, token, now_us=now_us()) if token else None
    if found is None:
        return Viewer(None, "", lang)
    user, csrf = found
    return Viewer(user, csrf, lang)


def _station_name(request: Request, station_id: str | None) -> str:
    """A station's registered name (the registry is in memory: no database call), or ''."""
    reg = getattr(getattr(request.app.state, "service", None), "registry", None)
    st = None if reg is None or not station_id else reg.station_by_id.get(station_id)
    return "" if st is None else st.name


def _risk_reasons(risk: Any, lang: str) -> str:
    """A station's risk, part by part, in the reader's words (the catalog's ``risk``)."""
    from anxin.supervision.risk import explain

    return words(lang)["risk_sep"].join(explain(r, lang) for r in risk.reasons)


def render(request: Request, v: Viewer, name: str, status: int = 200, **ctx: Any) -> HTMLResponse:
    w = words(v.lang)
    resp = templates.TemplateResponse(
        request,
        name,
        {
            "w": w,
            "lang": v.lang,
            "user": v.user,
            "csrf": v.csrf,
            "can_audit": v.can("audit.view"),
            "can_users": v.can("user.manage"),
            "can_export": v.can("export.agency"),
            "rule_label": lambda r: rule_label(r, v.lang),
            "state": lambda group, s: state_word(group, s, v.lang),
            "case_source": lambda s: case_source(s, v.lang),
            "event_name": lambda e: event_name(e, v.lang),
            "event_data": lambda e, d: event_data(e, d, v.lang),
            "audit_action": lambda a: audit_action(a, v.lang),
            "audit_reason": lambda r: audit_reason(r, v.lang),
            "audit_subject": lambda s: audit_subject(s, v.lang),
            "checklist": lambda item: checklist_label(item, v.lang),
            "checklist_note": lambda item: checklist_note(item, v.lang),
            "finding": lambda rect: finding(rect, v.lang),
            "link_why": lambda link: link_why(link, v.lang),
            "station_name": lambda sid: _station_name(request, sid),
            "risk_reasons": lambda risk: _risk_reasons(risk, v.lang),
            "flow_points": lambda pts: w["risk_sep"].join(flow_point(p, w) for p in pts if isinstance(p, dict)),
            **ctx,
        },
        status_code=status,
    )
    if request.query_params.get("lang") in ("zh", "en"):
        resp.set_cookie(LANG_COOKIE, v.lang, max_age=365 * 86400, samesite="lax")
    return resp


def to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={request.url.path}", status_code=303)


def forbidden(request: Request, v: Viewer) -> HTMLResponse:
    w = words(v.lang)
    return render(request, v, "error.html", 403, title=w["not_allowed"], message=w["not_allowed"])


def not_found(request: Request, v: Viewer) -> HTMLResponse:
    w = words(v.lang)
    return render(request, v, "error.html", 404, title=w["not_found"], message=w["not_found"])


def bad_request(request: Request, v: Viewer, field: str, value: Any) -> HTMLResponse:
    """400 naming the query or form field whose value cannot be used."""
    w = words(v.lang)
    shown = str(value)
    shown = shown if len(shown) <= 80 else shown[:80] + "…"
    return render(request, v, "error.html", 400, title=w["bad_request"], message=f"{field}: {w['bad_value']} {shown!r}")


def query_int(request: Request, name: str, *, lo: int = 0, hi: int = 2**63 - 1) -> int | None:
    """An integer query parameter within [lo, hi] (None when absent or empty); raises
    BadParam naming it otherwise."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not lo <= int(text) <= hi:
        raise BadParam(name, text)
    return int(text)


class BadParam(ValueError):
    """A query parameter whose value cannot be used (a page answers 400 naming it)."""

    def __init__(self, field: str, value: Any) -> None:
        super().__init__(f"{field}: {value!r}")
        self.field = field
        self.value = value


def csrf_ok(v: Viewer, form: Any) -> bool:
    return v.user is not None and check_csrf(v.csrf, str(form.get("csrf", "")))


def as_json(data: Any) -> str:
    """JSON for a <script type="application/json"> block (no "</" can close the tag)."""
    return msgspec.json.encode(data).decode().replace("</", "<\\/")


def form_number(form: Any, name: str, default: float | None = None, *, whole: bool = True) -> Any:
    """A number from a form field, or ``default`` when it is empty; a ValueError naming
    the field otherwise (pages turn it into a 400 with that message)."""
    text = str(form.get(name) or "").strip()
    if not text:
        if default is None:
            raise ValueError(f"{name}: a number is required")
        return default
    try:
        return int(text) if whole else float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a {'whole ' if whole else ''}number") from None
