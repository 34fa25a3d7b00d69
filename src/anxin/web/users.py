"""User administration in the browser (用户管理, admin only): the accounts with their
state, a new account, a password reset (which also lifts a lockout), deactivation.
Every change goes through ``anxin.auth`` and so into the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from anxin.auth import ROLE_NAMES_EN, ROLE_NAMES_ZH, ROLES, create_user, deactivate, list_users, set_password
from anxin.auth.passwords import AuthError
from anxin.contract.times import format_ts
from anxin.web.deps import CanManageUsers, CsrfForm, Forbidden, Registry, Store
from anxin.web.session import Viewer, now_us, render
from anxin.web.texts import words

router = APIRouter(include_in_schema=False)


async def page(
    request: Request, v: Viewer, store: Store, registry: Registry, message: str | None = None, failed: bool = False
):
    rows = await run_in_threadpool(list_users, store)
    stations = [s.station_id for s in registry.stations]
    return render(
        request,
        v,
        "users.html",
        400 if failed else 200,
        page="users",
        rows=rows,
        roles=ROLES,
        role_names=ROLE_NAMES_ZH if v.lang == "zh" else ROLE_NAMES_EN,
        stations=stations,
        message=message,
        failed=failed,
        fmt=format_ts,
        now=now_us(),
    )


@router.get("/console/users")
async def users(request: Request, v: CanManageUsers, store: Store, registry: Registry):
    return await page(request, v, store, registry)


@router.post("/console/users/{action}")
async def change(request: Request, v: CanManageUsers, form: CsrfForm, action: str, store: Store, registry: Registry):
    who, now = v.signed_in.username, now_us()
    reason = str(form.get("reason", "")).strip() or action
    name = str(form.get("username", "")).strip()
    try:
        if action == "create":
            await run_in_threadpool(
                lambda: create_user(
                    store,
                    username=name,
                    display_name=str(form.get("display_name", "")),
                    role=str(form.get("role", "")),
                    password=str(form.get("password", "")),
                    stations=[str(s) for s in form.getlist("stations")],
                    district=str(form.get("district", "")).strip() or None,
                    actor=who,
                    reason=reason,
                    now_us=now,
                )
            )
        elif action == "password":
            await run_in_threadpool(
                lambda: set_password(
                    store,
                    username=name,
                    password=str(form.get("password", "")),
                    actor=who,
                    reason=reason,
                    now_us=now,
                )
            )
        elif action == "deactivate":
            if name == who:
                raise AuthError(words(v.lang)["cannot_deactivate_self"])
            await run_in_threadpool(lambda: deactivate(store, username=name, actor=who, reason=reason, now_us=now))
        else:
            raise Forbidden(v)  # no such change (as before: 403, nothing written)
    except AuthError as exc:
        return await page(request, v, store, registry, str(exc), failed=True)
    return RedirectResponse("/console/users", status_code=303)
