"""Admin API routes: ping, usage, metadata fields, resource listings, update and delete
(with the hourly rate limit and its headers)."""


from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from emulators.cloudinary import events
from emulators.cloudinary.params import (
    InvalidParameter,
    check_add_ons,
    parse_bool,
)
from emulators.cloudinary.state import (
    DELETE_CHUNK,
    MAX_RESULTS,
    CloudinaryEmulator,
    CloudinaryError,
    emulator,
    resource_key,
)
from emulators.common.http import read_params

router = APIRouter()
RESOURCE_TYPES = ("image", "video", "raw")
ASSET_ID = re.compile(r"[0-9a-f]{32}")


@router.get("/v1_1/{cloud}/ping")
async def ping(cloud: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    return admin_json(emu, {"status": "ok"}, admin_auth(emu, request, cloud))


@router.get("/v1_1/{cloud}/folders")
@router.get("/v1_1/{cloud}/folders/{path:path}")
async def folders(cloud: str, request: Request, path: str = "") -> JSONResponse:
    """The folders (asset folders are public-ID prefixes here: fixed folder mode) at the root or
    below ``path``."""
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    prefix = f"{path.strip('/')}/" if path.strip("/") else ""
    names = sorted({r["public_id"][len(prefix):].split("/", 1)[0] for rt in RESOURCE_TYPES
                    for r in emu.account.iter(rt) if r["public_id"].startswith(prefix)
                    and "/" in r["public_id"][len(prefix):]})
    if prefix and not names and not any(r["public_id"].startswith(prefix) for rt in RESOURCE_TYPES
                                        for r in emu.account.iter(rt)):
        raise CloudinaryError(404, f"Can't find folder with path {path}")
    found = [{"name": n, "path": f"{prefix}{n}", "external_id": hashlib.sha1(f"{prefix}{n}".encode()).hexdigest()}
             for n in names]
    return admin_json(emu, {"folders": found, "next_cursor": None, "total_count": len(found)}, headers)


@router.get("/v1_1/{cloud}/resources")
async def resource_types(cloud: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    return admin_json(emu, {"resource_types": list(RESOURCE_TYPES)}, admin_auth(emu, request, cloud))


@router.get("/v1_1/{cloud}/usage")
@router.get("/v1_1/{cloud}/usage/{day}")
async def usage(cloud: str, request: Request, day: str | None = None) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    day = day or request.query_params.get("date")
    days = [parse_usage_date(emu, day)] if day else [date.fromisoformat(d) for d, _ in emu.store.iter("usage")]
    totals = {"bandwidth": 0, "transformations": 0, "requests": 0}
    for d in days:
        for key, value in emu.account.usage_day(d).items():
            totals[key] = totals.get(key, 0) + value
    storage, originals, derived = emu.account.storage_bytes()

    def metric(value: int, limit: int, per_credit: float | None = None) -> dict[str, Any]:
        used = {"usage": value, **({"credits_usage": round(value / per_credit, 4)} if per_credit else {})}
        # The plan's limits belong to the current report only; a day's report (date=) has none.
        return used if day else {**used, "limit": limit, "used_percent": round(100 * value / limit, 2)}

    body = {
        "plan": "Emulator", "last_updated": emu.control.now().date().isoformat(),
        "date_requested": days[0].isoformat() if day else emu.control.now().date().isoformat(),
        "transformations": metric(totals["transformations"], 25_000, 1000),
        "objects": metric(originals + derived, 500_000),
        "bandwidth": metric(totals["bandwidth"], 25 << 30, 1 << 30),
        "storage": metric(storage, 25 << 30, 1 << 30),
        "requests": totals["requests"], "resources": originals, "derived_resources": derived,
        "media_limits": {"image_max_size_bytes": 20 << 20, "video_max_size_bytes": 100 << 20,
                         "raw_max_size_bytes": 10 << 20, "image_max_px": 25_000_000,
                         "asset_max_total_px": 50_000_000},
    }
    return admin_json(emu, body, headers)


@router.get("/v1_1/{cloud}/metadata_fields")
async def list_metadata_fields(cloud: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    return admin_json(emu, {"metadata_fields": [f for _, f in emu.store.iter("metadata_field")]}, headers)


@router.post("/v1_1/{cloud}/metadata_fields")
async def add_metadata_field(cloud: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    body = await json_body(emu, request)
    external_id = body.get("external_id") or body.get("label")
    if not external_id or body.get("type") not in ("string", "integer", "date", "enum", "set"):
        raise InvalidParameter("A metadata field needs external_id (or label) and a type "
                               "string|integer|date|enum|set")
    if emu.store.get("metadata_field", external_id):
        raise CloudinaryError(409, f"External ID {external_id} already exists")
    # Every field answers default_value and validation (null when none); a list field its datasource.
    field = {"external_id": external_id, "label": body.get("label", external_id), "type": body["type"],
             "mandatory": bool(body.get("mandatory", False)), "default_value": body.get("default_value"),
             "validation": body.get("validation"),
             **{k: body[k] for k in ("restrictions", "allow_dynamic_list_values", "default_disabled") if k in body}}
    if body["type"] in ("enum", "set"):
        field["datasource"] = {"values": datasource_entries([], (body.get("datasource") or {}).get("values") or [])}
    emu.store.put("metadata_field", external_id, field)
    return admin_json(emu, field, headers)


@router.delete("/v1_1/{cloud}/metadata_fields/{external_id}")
async def delete_metadata_field(cloud: str, external_id: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    if not emu.store.delete("metadata_field", external_id):
        raise CloudinaryError(404, f"External ID {external_id} not found")
    return admin_json(emu, {"message": "ok"}, headers)


@router.put("/v1_1/{cloud}/metadata_fields/{external_id}/datasource")
async def update_datasource(cloud: str, external_id: str, request: Request) -> JSONResponse:
    """Entries whose external_id exists get the new value; the others are added (active)."""
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    field = metadata_field(emu, external_id)
    if field["type"] not in ("enum", "set"):
        raise InvalidParameter(f"Metadata field {external_id} is a {field['type']} field: it has no datasource")
    values = datasource_entries((field.get("datasource") or {}).get("values") or [],
                                (await json_body(emu, request)).get("values") or [])
    emu.store.put("metadata_field", external_id, {**field, "datasource": {"values": values}})
    return admin_json(emu, {"values": values}, headers)


def datasource_entries(current: list[dict[str, Any]], changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A datasource after ``changes``: each entry ``{value, external_id}`` (``state`` only once an
    entry is made inactive: an update's answer lists active entries exactly as given, as
    Cloudinary's SDK tests expect); an entry given without an external_id gets one generated."""
    out = {e["external_id"]: dict(e) for e in current}
    for change in changes:
        if not change.get("value"):
            raise InvalidParameter("A datasource entry needs a value")
        eid = change.get("external_id") or secrets.token_hex(6)
        out[eid] = {**out.get(eid, {}), "value": change["value"], "external_id": eid}
    return list(out.values())


@router.get("/v1_1/{cloud}/metadata_fields/{external_id}")
async def get_metadata_field(cloud: str, external_id: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)  # before the lookup: a stranger learns nothing
    return admin_json(emu, metadata_field(emu, external_id), headers)


def metadata_field(emu: CloudinaryEmulator, external_id: str) -> dict[str, Any]:
    field = emu.store.get("metadata_field", external_id)
    if field is None:
        raise CloudinaryError(404, f"External ID {external_id} not found")
    return field


@router.get("/v1_1/{cloud}/resources/{rt}/tags/{tag:path}")
async def resources_by_tag(cloud: str, rt: str, tag: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    params, _ = await read_params(request)
    return page(emu, [r for r in emu.account.iter(rt) if tag in r.get("tags", [])], request, params, headers)


@router.get("/v1_1/{cloud}/resources/{rt}/context")
async def resources_by_context(cloud: str, rt: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    params, _ = await read_params(request)
    key, value = params.get("key"), params.get("value")
    found = [r for r in emu.account.iter(rt) if key in r.get("context", {})
             and (value is None or r["context"][key] == value)]
    return page(emu, found, request, params, headers)


@router.get("/v1_1/{cloud}/resources/{rt}")
@router.get("/v1_1/{cloud}/resources/{rt}/{dtype}")
async def list_resources(cloud: str, rt: str, request: Request, dtype: str | None = None) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    params, _ = await read_params(request)
    if rt not in RESOURCE_TYPES:
        if dtype is None and ASSET_ID.fullmatch(rt):  # GET /resources/{asset_id}: one asset by its ID
            res = next((r for kind in RESOURCE_TYPES for r in emu.account.iter(kind) if r.get("asset_id") == rt), None)
            if res is None:
                raise CloudinaryError(404, f"Resource not found - {rt}")
            return resource_answer(emu, request, res, headers)
        raise CloudinaryError(400, f"Invalid resource type {rt}")
    if params.get("public_ids"):
        ids = params["public_ids"] if isinstance(params["public_ids"], list) else [params["public_ids"]]
        found = [r for r in (emu.account.get(rt, dtype or "upload", pid) for pid in ids) if r]
    elif dtype:  # one type: a page straight from the index, in public ID order
        key = resource_key(rt, dtype, params.get("prefix") or "")
        offset, limit = page_bounds(params)
        found = [r for _, r in emu.store.page("resource", key, offset, limit, by_id=True)]
        return page(emu, found, request, params, headers, total=emu.store.count("resource", key))
    else:
        prefix = params.get("prefix") or ""
        found = [r for r in emu.account.iter(rt, dtype) if r["public_id"].startswith(prefix)]
    return page(emu, found, request, params, headers)


@router.get("/v1_1/{cloud}/resources/{rt}/{dtype}/{public_id:path}")
async def get_resource(cloud: str, rt: str, dtype: str, public_id: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    return resource_answer(emu, request, emu.account.require(rt, dtype, public_id), headers)


def resource_answer(emu: CloudinaryEmulator, request: Request, res: dict[str, Any],
                    headers: dict[str, str]) -> JSONResponse:
    """One asset's details, with its derived files (Admin ``resource``)."""
    derived = [{"transformation": d["transformation"], "format": d["format"], "bytes": d["bytes"],
                "id": d["id"], "url": emu.delivery_url(request, res, d["transformation"], d["format"])}
               for d in res.get("derived", [])]
    body = emu.result(request, res, derived=derived, delivery=res.get("delivery", {}))
    body.pop("signature", None)
    return admin_json(emu, body, headers)


@router.post("/v1_1/{cloud}/resources/{rt}/{dtype}/{public_id:path}")
async def update_resource(cloud: str, rt: str, dtype: str, public_id: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    res = emu.account.require(rt, dtype, public_id)
    body = await json_body(emu, request)
    if emu.strict:
        check_add_ons(body, update=True)
    before = json.loads(json.dumps(res))
    emu.apply_common(res, body)
    emu.account.save(res)
    events.changed(emu, res, before)
    out = emu.result(request, res)
    out.pop("signature", None)
    return admin_json(emu, out, headers)


@router.delete("/v1_1/{cloud}/resources/{rt}/tags/{tag:path}")
async def delete_by_tag(cloud: str, rt: str, tag: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    found = [r for r in emu.account.iter(rt) if tag in r.get("tags", [])]
    return delete_many(emu, found, [], False, headers)


@router.delete("/v1_1/{cloud}/resources/{rt}/{dtype}")
async def delete_resources(cloud: str, rt: str, dtype: str, request: Request) -> JSONResponse:
    emu = emulator(request)
    headers = admin_auth(emu, request, cloud)
    body = await json_body(emu, request)
    keep_original = bool(body.get("keep_original"))
    requested = body.get("public_ids") or []
    if requested:
        found = [r for r in (emu.account.get(rt, dtype, pid) for pid in requested) if r]
    elif body.get("prefix"):
        found = [r for r in emu.account.iter(rt, dtype) if r["public_id"].startswith(body["prefix"])]
    elif body.get("all"):
        found = list(emu.account.iter(rt, dtype))
    else:
        raise InvalidParameter("Missing required parameter - public_ids, prefix or all")
    return delete_many(emu, found, list(requested), keep_original, headers, parse_bool(body.get("invalidate"), False))


def admin_auth(emu: CloudinaryEmulator, request: Request, cloud: str) -> dict[str, str]:
    """Basic auth plus the hourly limit; returns the rate-limit headers to send."""
    emu.check_cloud(cloud)
    header = request.headers.get("authorization", "")
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        user = password = ""
    if not header.startswith("Basic ") or user != emu.api_key or password != emu.api_secret:
        raise CloudinaryError(401, "Invalid credentials" if user == emu.api_key else f"Unknown API key {user}")
    now, window = emu.control.now(), emu.admin_window_seconds
    hour = int(now.timestamp() // window)
    if emu.admin_window["hour"] == -1:  # a limit just set: its spent calls count in this window
        emu.admin_window["hour"] = hour
    if emu.admin_window["hour"] != hour:
        emu.admin_window.update(hour=hour, used=0)
    limit = emu.admin_hourly_limit
    reset = format_datetime(datetime.fromtimestamp((hour + 1) * window, UTC), usegmt=True)
    headers = {"X-FeatureRateLimit-Limit": str(limit), "X-FeatureRateLimit-Reset": reset}
    if emu.admin_window["used"] >= limit:
        raise CloudinaryError(420, "Rate Limit Exceeded",
                              {**headers, "X-FeatureRateLimit-Remaining": "0",
                               "Retry-After": str(int((hour + 1) * window - now.timestamp()) + 1)})
    emu.admin_window["used"] += 1
    headers["X-FeatureRateLimit-Remaining"] = str(limit - emu.admin_window["used"])
    return headers


def admin_json(emu: CloudinaryEmulator, body: dict[str, Any], headers: dict[str, str]) -> JSONResponse:
    return JSONResponse(body, headers={"X-Request-Id": secrets.token_hex(8), **headers})


async def json_body(emu: CloudinaryEmulator, request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidParameter("Request body is not valid JSON") from exc
    return {k: v for k, v in body.items() if v is not None}


def parse_usage_date(emu: CloudinaryEmulator, text: str) -> date:
    for fmt in ("%d-%m-%Y", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InvalidParameter(f"Invalid date - {text} (use dd-mm-yyyy or yyyy-mm-dd)")


def page_bounds(params: dict[str, Any]) -> tuple[int, int]:
    """``(offset, max_results)`` of a listing call (the cursor is the offset, encoded)."""
    try:
        max_results = min(int(params.get("max_results") or 10), MAX_RESULTS)
        offset = int(base64.urlsafe_b64decode(params["next_cursor"]).decode()) if params.get("next_cursor") else 0
    except (ValueError, binascii.Error) as exc:
        raise InvalidParameter("Invalid max_results or next_cursor") from exc
    return offset, max_results


def page(emu: CloudinaryEmulator, resources: list[dict[str, Any]], request: Request, params: dict[str, Any],
         headers: dict[str, str], *, total: int | None = None) -> JSONResponse:
    """A page of ``resources`` (all of them, or with ``total`` given only this page's, sorted)."""
    offset, max_results = page_bounds(params)
    if total is None:
        total = len(resources)
        resources = sorted(resources, key=lambda r: r["public_id"])[offset: offset + max_results]
    chunk = resources
    with_tags = parse_bool(params.get("tags"), False)
    with_context = parse_bool(params.get("context"), False)
    with_metadata = parse_bool(params.get("metadata"), False)
    out = []
    for res in chunk:
        item = emu.result(request, res)
        if res.get("delivery"):  # emulator extension: per-asset figures (see README)
            item["delivery"] = res["delivery"]
        for flag_on, key in ((with_tags, "tags"), (with_context, "context"), (with_metadata, "metadata")):
            if not flag_on:
                item.pop(key, None)
        if with_metadata:  # asked for: an asset without values answers an empty object
            item.setdefault("metadata", {})
        item.pop("signature", None)
        if emu.strict:  # whether listings carry access_control is undocumented: they do not
            item.pop("access_control", None)
        out.append(item)
    body: dict[str, Any] = {"resources": out}
    if offset + max_results < total:
        body["next_cursor"] = base64.urlsafe_b64encode(str(offset + max_results).encode()).decode()
    return admin_json(emu, body, headers)


def delete_many(emu: CloudinaryEmulator, found: list[dict[str, Any]], requested: list[str], keep_original: bool,
                headers: dict[str, str], invalidate: bool = False) -> JSONResponse:
    deleted: dict[str, str] = {pid: "not_found" for pid in requested}
    if not keep_original:
        events.deleted(emu, found[:DELETE_CHUNK])
    for res in found[:DELETE_CHUNK]:
        emu.account.remove(res, keep_original=keep_original)
        deleted[res["public_id"]] = "deleted"
        if invalidate and not emu.strict:  # strict: bulk invalidation is off, as by default
            emu.purges.append(res["public_id"])
    body: dict[str, Any] = {"deleted": deleted, "partial": len(found) > DELETE_CHUNK,
                            "deleted_counts": {pid: {"original": 0 if keep_original else 1,
                                                     "derived": 1} for pid, s in deleted.items()
                                               if s == "deleted"}}
    if len(found) > DELETE_CHUNK:
        body["next_cursor"] = "more"
    return admin_json(emu, body, headers)

