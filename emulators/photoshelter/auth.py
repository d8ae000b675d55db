"""Session routes: token login, organisation login, logout and the user session."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from emulators.common.http import read_params
from emulators.photoshelter.state import STRICT_TIMEZONE, PSError, Session, emulator, ok

router = APIRouter()


@router.api_route("/psapi/v3/mem/authenticate", methods=["GET", "POST"])
async def authenticate(request: Request) -> Response:
    emu = emulator(request)
    params, _ = await read_params(request)
    emu.check_api_key(request, params)
    if params.get("email") != emu.email or params.get("password") != emu.password:
        raise PSError(401, "InvalidCredentials", "The email or password is incorrect")
    token = secrets.token_urlsafe(24)
    emu.sessions[token] = Session(user_id=emu.account["user_id"])
    data: dict[str, Any] = {
        "org": [{"id": emu.account["org_id"], "name": emu.account["org_name"], "member": "t"}],
        "two_factor": "f",
    }
    if params.get("mode") == "token":
        return ok({"token": token, **data})
    response = ok(data)
    response.set_cookie("PSSession", token, httponly=True)
    return response


@router.api_route("/psapi/v3/mem/organization/{org_id}/authenticate", methods=["GET", "POST"])
async def org_authenticate(org_id: str, request: Request) -> Response:
    emu = emulator(request)
    params, _ = await read_params(request)
    emu.check_api_key(request, params)
    session = emu.session_for(request, params, need_org=False)
    if org_id != emu.account["org_id"]:
        raise PSError(403, "NotOrganizationMember", f"You are not a member of organization {org_id}")
    session.org_id = org_id
    return ok({})


@router.api_route("/psapi/v3/mem/authenticate/logout", methods=["GET", "POST"])
async def logout(request: Request) -> Response:
    emu = emulator(request)
    params, _ = await read_params(request)
    emu.check_api_key(request, params)
    token = request.headers.get("x-ps-auth-token") or params.get("auth_token") or ""
    emu.sessions.pop(token, None)
    return ok({})


@router.get("/psapi/v3/mem/user/session")
async def user_session(request: Request) -> Response:
    emu = emulator(request)
    params, _ = await read_params(request)
    emu.check_api_key(request, params)
    session = emu.session_for(request, params, need_org=False)
    tz = STRICT_TIMEZONE if emu.strict else "GMT"
    return ok({"Session": {"user_id": session.user_id, "email": emu.email, "tz": tz,
                           "org_id": session.org_id or ""}})

