"""What the connected accounts can do, as the read-only account check found it.

``python -m campaign_media.cli check-account`` (and the API health DAG) writes the capability
report to ``<storage>/_account/capabilities.json``; the DAGs read it to choose their path:

* **token access** (Cloudinary's premium token-based access, which needs a private CDN
  distribution): without it a campaign that asks for ``signed_urls`` is refused with a message
  that names the feature and the setting; the default path never needs it;
* **listings carry ``access_control``**: when they do, the usage-window DAG compares each copy's
  live rules; when not, it compares with the rules it last set.

An unchecked account counts as "no": the pessimistic reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from campaign_media.config.models import Campaign
from campaign_media.exceptions import CampaignMediaError
from campaign_media.runtime import storage


def report_path():
    return storage.capabilities()


@dataclass(frozen=True)
class Capabilities:
    token_access: bool | None = None  # None: not checked
    listing_access_control: bool | None = None
    checked_at: str | None = None
    why: str | None = None  # why the last check left token access unjudged

    @classmethod
    def load(cls) -> Capabilities:
        report = storage.read_json(report_path(), {}) or {}
        cld = report.get("cloudinary", {})
        why = cld.get("error") or "; ".join(cld.get("notes") or []) or None
        return cls(cld.get("token_access"), cld.get("listing_access_control"), report.get("checked_at"), why)


class TokenAccessMissing(CampaignMediaError, RuntimeError):
    """A campaign asks for signed (token) URLs on an account where they are not confirmed."""

    retryable = False


class TokenAccessUnknown(TokenAccessMissing):
    """No check could judge token access yet (no master to try it on, or the check failed): the
    task is retried, since the next try may judge it; meanwhile nothing signed-only opens."""

    retryable = True


def require_token_access(campaign: Campaign, caps: Capabilities, token_key: bool) -> None:
    """Refuse a campaign with ``signed_urls`` unless the connection has a token key and the
    account check confirmed token URLs work; the message names the feature and the setting."""
    if campaign.signed_urls is None or (token_key and caps.token_access):
        return
    unknown = token_key and caps.token_access is None
    if not token_key:
        found = "the cloudinary connection has no auth_token_key in its extras"
    elif unknown:
        found = "no account check has confirmed token access yet" + (f" ({caps.why})" if caps.why else "")
    else:
        found = f"the account check of {caps.checked_at} found token URLs refused"
    raise (TokenAccessUnknown if unknown else TokenAccessMissing)(
        f"campaign {campaign.id} asks for signed_urls (expiring Cloudinary token URLs) in "
        f"include/campaigns/{campaign.id}.yaml, but {found}. Token URLs need Cloudinary's token-based access, a "
        "premium feature served from a private CDN distribution, plus the account's token key (Console → "
        "Settings → Security) as auth_token_key and \"private_cdn\": true in the connection's extras. Fix: enable "
        "it and run `python -m campaign_media.cli check-account`, or remove signed_urls from the campaign.")


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """The flags a person acts on, for logs and the CLI."""
    cld, ps = report.get("cloudinary", {}), report.get("photoshelter", {})
    return {"token_access": cld.get("token_access"), "listing_access_control": cld.get("listing_access_control"),
            "signed_delivery": cld.get("signed_delivery"), "photoshelter_timezone": ps.get("timezone")}
