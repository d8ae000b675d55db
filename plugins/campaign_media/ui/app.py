"""The campaign page's web app: a FastAPI app Airflow's API server mounts at :data:`PREFIX`.

Every route sits behind Airflow's own authentication (the UI's session cookie or a bearer
token, as for Airflow's REST API) and asks the auth manager whether the caller may read the
campaign DAGs; an anonymous request gets 401 before any storage is read. The routes read only
what the DAGs stored (object storage) and Airflow's own run records — never PhotoShelter or
Cloudinary while a person waits.
"""

from __future__ import annotations

import mimetypes
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import quote

from airflow.api_fastapi.core_api.security import requires_access_dag
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaign_media.config.loader import current_campaign, current_config
from campaign_media.config.models import Campaign, Market
from campaign_media.runtime import audit, storage
from campaign_media.ui import PREFIX, page
from campaign_media.ui.status import as_dict, build, dag_ids, load

ANCHOR_DAG = "campaign_media_ingest"  # read access to it = may see the campaigns' pages
# What the files route may serve below <storage>/<campaign>/ (never ingest plans or state).
SERVED = ("delivery/", "reports/", "archive/report/", "windows/latest.json")

app = FastAPI(title="Campaign media", docs_url=None, redoc_url=None, openapi_url=None,
              dependencies=[Depends(requires_access_dag("GET", param_dag_id=ANCHOR_DAG))])


@app.exception_handler(StarletteHTTPException)
async def refused(request: Request, exc: StarletteHTTPException) -> Response:
    """401/403 as JSON for tools, and as a page with a sign-in link for a browser."""
    if exc.status_code in (401, 403) and "text/html" in request.headers.get("accept", ""):
        target = f"/auth/login?next={quote(request.url.path)}"
        return HTMLResponse(f"<!doctype html><p>{exc.status_code}: {escape(str(exc.detail))}. "
                            f"<a href='{target}' target='_top'>Sign in to Airflow</a> to see this page.</p>",
                            status_code=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def campaign_or_404(campaign_id: str) -> tuple[Campaign, list[Market]]:
    try:
        return current_campaign(campaign_id)
    except KeyError:
        raise HTTPException(404, f"no valid campaign {campaign_id!r} in include/campaigns") from None


def last_runs(ids: list[str], per_dag: int = 3) -> list[dict[str, Any]]:
    """The latest runs of these DAGs, from Airflow's metadata database."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    out = []
    with create_session() as session:
        for dag_id in ids:
            query = select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.run_after.desc()).limit(per_dag)
            out += [{"dag_id": r.dag_id, "run_id": r.run_id, "run_type": str(getattr(r.run_type, "value", r.run_type)),
                     "state": str(getattr(r.state, "value", r.state)), "start": r.start_date}
                    for r in session.scalars(query)]
    return out


def now() -> datetime:
    return datetime.now(UTC)


def status_or_unreadable(campaign: Campaign, markets: list[Market], *, with_audit: bool = True) -> Any:
    """The campaign's status now, or the :class:`~campaign_media.runtime.storage.UnreadableDocument`
    that stopped it being read (one damaged file hides one campaign, not the page)."""
    try:
        return build(campaign, markets, load(campaign, with_audit=with_audit), now())
    except storage.UnreadableDocument as exc:
        return exc


@app.get("/", response_class=HTMLResponse)
def index() -> str:
    markets, campaigns = current_config()
    shown = [(c, status_or_unreadable(c, [markets[m] for m in c.markets], with_audit=False))
             for c in sorted(campaigns.values(), key=lambda c: c.id)]
    return page.index(shown, PREFIX)


@app.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(campaign_id: str) -> str:
    campaign, markets = campaign_or_404(campaign_id)
    status = status_or_unreadable(campaign, markets)
    if isinstance(status, storage.UnreadableDocument):
        return page.unreadable(campaign, status, PREFIX)
    return page.campaign(status, last_runs(dag_ids(campaign)), PREFIX)


@app.get("/api/campaigns/{campaign_id}")
def campaign_data(campaign_id: str) -> dict[str, Any]:
    campaign, markets = campaign_or_404(campaign_id)
    status = status_or_unreadable(campaign, markets)
    if isinstance(status, storage.UnreadableDocument):
        raise HTTPException(409, str(status))
    runs = [{**r, "start": r["start"].isoformat() if r["start"] else None} for r in last_runs(dag_ids(campaign))]
    return {**as_dict(status), "runs": runs}


@app.get("/campaigns/{campaign_id}/files/{name:path}")
def stored_file(campaign_id: str, name: str) -> Response:
    """A manifest, a report or the latest usage-window report, as stored."""
    campaign_or_404(campaign_id)
    if ".." in name.split("/") or not name.startswith(SERVED):
        raise HTTPException(404, f"{name!r} is not a file this page serves (manifests, reports, windows/latest.json)")
    target = storage.path(campaign_id, *name.split("/"))
    if not storage.within(target, storage.path(campaign_id), SERVED):  # e.g. a link to markets/fr/state.json
        raise HTTPException(404, f"{name!r} is not a file this page serves (it leads outside the served folders)")
    if not target.is_file():
        raise HTTPException(404, f"{name} has not been written for campaign {campaign_id} yet")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Response(target.read_bytes(), media_type=f"{kind}; charset=utf-8" if kind.startswith("text") else kind)


@app.get("/campaigns/{campaign_id}/audit")
def audit_records(campaign_id: str, format: str = Query("json", pattern="^(json|csv|counts)$"),
                  master: str | None = None, market: str | None = None, action: str | None = None,
                  since: str | None = None, until: str | None = None) -> Response:
    """The audit trail, filtered as the CLI does (``python -m campaign_media.cli audit``)."""
    campaign_or_404(campaign_id)
    records = audit.select(audit.read(campaign_id, since=since, until=until), master=master, market=market,
                           action=action)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(audit.export(records, format), media_type=media)
