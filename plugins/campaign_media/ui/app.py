"""The campaign page's web app: a FastAPI app Airflow's API server mounts at :data:`PREFIX`.

Every route sits behind Airflow's own authentication (the UI's session cookie or a bearer
token, as for Airflow's REST API); an anonymous request gets 401 before any storage is read.
Each route then shows only the data of the DAGs the auth manager lets the caller read
(:mod:`campaign_media.ui.access`): campaigns, markets, runs, files and audit records. The routes read only
what the DAGs stored (object storage) and Airflow's own run records, with one exception: a
contact-sheet preview not made yet is fetched once from Cloudinary (``campaign_media.previews``),
then served from storage.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import quote

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.core_api.security import GetUserDep, requires_authenticated
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaign_media.config.loader import current_campaign, current_config
from campaign_media.config.models import Campaign, Market
from campaign_media.runtime import audit, storage
from campaign_media.ui import PREFIX, page
from campaign_media.ui.access import INGEST_DAG, Reader, dag_ids, file_dag
from campaign_media.ui.status import as_dict, build, load

# What the files route may serve below <storage>/<campaign>/ (never ingest plans or state).
SERVED = ("delivery/", "reports/", "archive/report/", "windows/latest.json")

app = FastAPI(title="Campaign media", docs_url=None, redoc_url=None, openapi_url=None,
              dependencies=[Depends(requires_authenticated())])


def readable_dags(user: GetUserDep) -> Reader:
    """What the caller may read: the campaign DAGs their auth manager lets them read."""
    _, campaigns = current_config()
    candidates = {dag for campaign in campaigns.values() for dag in dag_ids(campaign)}
    return Reader(frozenset(get_auth_manager().filter_authorized_dag_ids(dag_ids=candidates, user=user,
                                                                         method="GET")))


Readable = Annotated[Reader, Depends(readable_dags)]


@app.exception_handler(StarletteHTTPException)
async def refused(request: Request, exc: StarletteHTTPException) -> Response:
    """401/403 as JSON for tools, and as a page with a sign-in link for a browser."""
    if exc.status_code in (401, 403) and "text/html" in request.headers.get("accept", ""):
        target = f"/auth/login?next={quote(request.url.path)}"
        return HTMLResponse(f"<!doctype html><p>{exc.status_code}: {escape(str(exc.detail))}. "
                            f"<a href='{target}' target='_top'>Sign in to Airflow</a> to see this page.</p>",
                            status_code=exc.status_code)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def campaign_or_404(campaign_id: str, reader: Reader) -> tuple[Campaign, list[Market]]:
    """The campaign and the markets ``reader`` may see; 404 for no such campaign, 403 (naming the
    DAGs that would give access) for one none of whose DAGs they may read."""
    try:
        campaign, markets = current_campaign(campaign_id)
    except KeyError:
        raise HTTPException(404, f"no valid campaign {campaign_id!r} in include/campaigns") from None
    if not reader.campaign(campaign):
        raise HTTPException(403, reader.refusal(campaign))
    return campaign, reader.markets(markets)


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


def events_waiting(source: str) -> dict[str, Any]:
    """What the watcher fired that ingest has not finished yet, from Airflow's metadata database:
    the asset events queued for the ingest DAG (it runs one at a time, so events arriving during a
    run wait for the next: ``queued``, ``since``) and its asset-triggered runs not finished (``runs``)."""
    from airflow.models.asset import AssetDagRunQueue, AssetEvent, AssetModel
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    from campaign_media.domain.watch import asset_uri

    with create_session() as session:
        asset_id = session.scalar(select(AssetModel.id).where(AssetModel.uri == asset_uri(source)))
        queued_at = session.scalar(select(AssetDagRunQueue.created_at).where(
            AssetDagRunQueue.asset_id == asset_id, AssetDagRunQueue.target_dag_id == INGEST_DAG)) \
            if asset_id is not None else None
        queued = session.scalar(select(func.count()).select_from(AssetEvent).where(
            AssetEvent.asset_id == asset_id, AssetEvent.timestamp >= queued_at)) if queued_at else 0
        runs = session.scalar(select(func.count()).select_from(DagRun).where(
            DagRun.dag_id == INGEST_DAG, DagRun.run_type == "asset_triggered",
            DagRun.state.in_(("queued", "running"))))
    return {"queued": int(queued or 0), "since": queued_at, "runs": int(runs or 0)}


def with_events(status: Any) -> Any:
    """The status with its watcher's events waiting (the watcher is shown to ingest's readers only)."""
    if status.stored.watch is not None:
        status.stored.watch["events"] = events_waiting(status.stored.watch["source"])
    return status


def now() -> datetime:
    return datetime.now(UTC)


def status_or_unreadable(campaign: Campaign, markets: list[Market], reader: Reader, *,
                         with_audit: bool = True, campaigns: Iterable[Campaign] | None = None) -> Any:
    """The campaign's status now as ``reader`` may see it, or the
    :class:`~campaign_media.runtime.storage.UnreadableDocument` that stopped it being read (one
    damaged file hides one campaign, not the page)."""
    try:
        others = current_config()[1].values() if campaigns is None else campaigns  # the watcher they share
        stored = reader.stored(load(campaign, with_audit=with_audit, keep=reader.record, campaigns=others))
        return reader.status(build(campaign, markets, stored, now()))
    except storage.UnreadableDocument as exc:
        return exc


@app.get("/", response_class=HTMLResponse)
def index(reader: Readable) -> str:
    markets, campaigns = current_config()
    visible = [c for c in sorted(campaigns.values(), key=lambda c: c.id) if reader.campaign(c)]
    shown = [(c, status_or_unreadable(c, reader.markets([markets[m] for m in c.markets]), reader, with_audit=False,
                                      campaigns=campaigns.values()))
             for c in visible]
    return page.index(shown, PREFIX, hidden=len(campaigns) - len(visible))


@app.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def campaign_page(campaign_id: str, reader: Readable) -> str:
    campaign, markets = campaign_or_404(campaign_id, reader)
    status = status_or_unreadable(campaign, markets, reader)
    if isinstance(status, storage.UnreadableDocument):
        return page.unreadable(campaign, status, PREFIX)
    return page.campaign(with_events(status), last_runs(reader.runs_of(campaign)), PREFIX)


@app.get("/api/campaigns/{campaign_id}")
def campaign_data(campaign_id: str, reader: Readable) -> dict[str, Any]:
    campaign, markets = campaign_or_404(campaign_id, reader)
    status = status_or_unreadable(campaign, markets, reader)
    if isinstance(status, storage.UnreadableDocument):
        raise HTTPException(409, str(status))
    with_events(status)
    runs = [{**r, "start": r["start"].isoformat() if r["start"] else None} for r in last_runs(reader.runs_of(campaign))]
    return {**as_dict(status), "runs": runs}


@app.get("/campaigns/{campaign_id}/files/{name:path}")
def stored_file(campaign_id: str, name: str, reader: Readable) -> Response:
    """A manifest, a report or the latest usage-window report, as stored."""
    campaign_or_404(campaign_id, reader)
    if ".." in name.split("/") or not name.startswith(SERVED):
        raise HTTPException(404, f"{name!r} is not a file this page serves (manifests, reports, windows/latest.json)")
    target = storage.path(campaign_id, *name.split("/"))
    real = storage.served_name(target, storage.path(campaign_id), SERVED)
    if real is None:  # e.g. a link to markets/fr/state.json
        raise HTTPException(404, f"{name!r} is not a file this page serves (it leads outside the served folders)")
    if not reader.file(real):  # a link is judged by what it leads to
        raise HTTPException(403, f"{name} is data of {file_dag(real)}, which you may not read; ask an Airflow "
                                 "admin for read access to it")
    if not target.is_file():
        raise HTTPException(404, f"{name} has not been written for campaign {campaign_id} yet")
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    body = target.read_bytes()
    if name.endswith(".json") and TOKEN_PARAMETER.encode() in body:
        body = json.dumps(withhold_tokens(json.loads(body)), ensure_ascii=False).encode()
    return Response(body, media_type=f"{kind}; charset=utf-8" if kind.startswith("text") else kind)


TOKEN_PARAMETER = "__cld_token__"  # what opens a signed-only copy to whoever holds the URL until it expires
WITHHELD = "withheld: token URLs are not served by the campaign page; a consumer reads them from storage"


def withhold_tokens(value: Any) -> Any:
    """``value`` with every token URL replaced by :data:`WITHHELD` (anyone able to read the market
    DAG reads the page's files; a token URL would open the copy to them, and to whoever they pass it on to)."""
    if isinstance(value, dict):
        return {k: withhold_tokens(v) for k, v in value.items()}
    if isinstance(value, list):
        return [withhold_tokens(v) for v in value]
    return WITHHELD if isinstance(value, str) and TOKEN_PARAMETER in value else value


def market_or_404(campaign_id: str, code: str, reader: Reader) -> tuple[Campaign, Market]:
    """The campaign's market ``code``, if the caller may read its market DAG (else 404 or 403)."""
    campaign, markets = campaign_or_404(campaign_id, reader)
    market = next((m for m in markets if m.code == code), None)
    if market is None:
        if code in campaign.markets:
            raise HTTPException(403, f"market {code} is data of campaign_media_market_{code}, which you may not read")
        raise HTTPException(404, f"campaign {campaign_id} has no market {code!r}")
    return campaign, market


@app.get("/campaigns/{campaign_id}/markets/{code}/contact-sheet", response_class=HTMLResponse)
def contact_sheet(campaign_id: str, code: str, reader: Readable, page_no: int = Query(1, alias="page", ge=1)) -> str:
    """A market's renditions as pictures, for the people who sign them off."""
    campaign, market = market_or_404(campaign_id, code, reader)
    made = storage.read_json(storage.market_state(campaign.id, market.code), {}) or {}
    decisions = storage.read_json(storage.market_access(campaign.id, market.code), {}) or {}
    return page.contact_sheet(campaign, market, made, decisions, page_no, PREFIX)


@app.get("/campaigns/{campaign_id}/markets/{code}/previews/{image_id}/{rendition}.jpg")
def rendition_preview(campaign_id: str, code: str, image_id: str, rendition: str, reader: Readable) -> Response:
    """One rendition's preview (``campaign_media.previews``): fetched once with a signed URL on this
    side, cached, and served from here, so a closed copy still previews for a signed-in reviewer."""
    from campaign_media.hooks import CloudinaryHook
    from campaign_media.previews import PreviewUnavailable, preview

    campaign, market = market_or_404(campaign_id, code, reader)
    try:
        data = preview(CloudinaryHook(), campaign, market, image_id, rendition)
    except PreviewUnavailable as exc:
        raise HTTPException(404, str(exc)) from None
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"})


@app.get("/campaigns/{campaign_id}/audit")
def audit_records(campaign_id: str, reader: Readable, format: str = Query("json", pattern="^(json|csv|counts)$"),
                  master: str | None = None, market: str | None = None, action: str | None = None,
                  since: str | None = None, until: str | None = None) -> Response:
    """The audit trail, filtered as the CLI does (``python -m campaign_media.cli audit``), and
    to the records of DAGs (and markets) the caller may read."""
    campaign_or_404(campaign_id, reader)
    records = audit.select([r for r in audit.read(campaign_id, since=since, until=until) if reader.record(r)],
                           master=master, market=market, action=action)
    media = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(audit.export(records, format), media_type=media)
