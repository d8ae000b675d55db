"""Where launch sign-off requests and answers are kept: per market, or per campaign when one yes
opens every market (``signoff.per_market: false``). Read by the runs, the sign-off DAG and the
campaign page.

Each entry is sealed with the password of the connection ``[campaign_media] signoff_key_conn_id``
(``campaign_media_signoff``), which Airflow serves from its secrets backend or metadata database to
tasks and the API server alike, and which is never written beside the records. Entries that do not
check out are left out (:func:`campaign_media.domain.signoff.trusted`) and named on the page.
"""

from __future__ import annotations

import logging
from typing import Any

from campaign_media import settings
from campaign_media.config.models import Campaign
from campaign_media.domain.signoff import Record, sealed, trusted
from campaign_media.exceptions import CampaignMediaError
from campaign_media.runtime import storage


class SigningKeyMissing(CampaignMediaError):
    """No key to seal sign-off records with: the message says how to make one."""

    retryable = False


log = logging.getLogger(__name__)


def record_path(campaign: Campaign, market: str) -> Any:
    assert campaign.signoff is not None
    return storage.signoff_record(campaign.id, market if campaign.signoff.per_market else None)


def scope(campaign: Campaign, market: str) -> str | None:
    """The market a record names: the market, or ``None`` for the campaign-wide record."""
    assert campaign.signoff is not None
    return market if campaign.signoff.per_market else None


def signing_key() -> bytes | None:
    """The sealing key (the connection's password), ``None`` when there is none or it cannot be
    read now. Without a key no record is trusted, so every copy that needs a yes stays closed; a
    lookup that failed for another reason than "not defined" is logged with its cause."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    conn_id = settings.get("signoff_key_conn_id")
    try:
        password = BaseHook.get_connection(conn_id).password
    except AirflowNotFoundException:
        return None
    except Exception as exc:  # noqa: BLE001 - a secrets backend or API server that failed: fail closed, say so
        log.warning("could not read the sign-off key connection %r (%s: %s): sign-off records are not trusted "
                    "until it can be read", conn_id, type(exc).__name__, exc)
        return None
    return password.encode() if password else None


def required_key() -> bytes:
    key = signing_key()
    if key is None:
        conn_id = settings.get("signoff_key_conn_id")
        raise SigningKeyMissing(
            f"no key to sign sign-off records with: connection {conn_id!r} has no password. Create it once "
            f"per deployment, e.g. airflow connections add {conn_id} --conn-type generic --conn-password "
            f"\"$(openssl rand -hex 32)\" (or in your secrets backend); docs/signoff.md says more")
    return key


def read(campaign: Campaign, market: str) -> Record:
    """The market's sign-off record as far as it can be believed (empty where none is asked for)."""
    if campaign.signoff_for(market) is None:
        return Record()
    stored = storage.read_json(record_path(campaign, market), {}) or {}
    entries = stored.get("requests", []) if isinstance(stored, dict) else []
    return trusted(entries, campaign.id, scope(campaign, market), signing_key())


def requests(campaign: Campaign, market: str) -> list[dict[str, Any]]:
    """The market's trusted sign-off requests, oldest first ([] where no sign-off is asked for)."""
    return read(campaign, market).requests


def find(campaign: Campaign, market: str, request_id: str) -> dict[str, Any] | None:
    """The trusted stored request with this ID."""
    return next((r for r in requests(campaign, market) if r.get("id") == request_id), None)


def save_request(campaign: Campaign, market: str, request: dict[str, Any]) -> None:
    """Seal and add a request, or replace the one with the same ``id`` (with its answer)."""
    key = required_key()
    target = record_path(campaign, market)
    stored = storage.read_json(target, {}) or {}
    kept = [r for r in stored.get("requests", []) if isinstance(r, dict) and r.get("id") != request["id"]]
    storage.write_json(target, {**stored, "requests": [*kept, sealed(request, key)]})


def claim_request(campaign: Campaign, market: str, slot: int, request_id: str) -> bool:
    """Whether this run makes the market's request number ``slot`` (the number of requests its
    record holds): the first to create the marker. Sign-off runs planning at once, one per market's
    delivery, see the same record, so one of them asks: one request per market at a time."""
    marker = record_path(campaign, market).parent / "signoff-asked" / f"{slot:06d}.json"  # beside the record
    return storage.create_json(marker, {"request": request_id})
