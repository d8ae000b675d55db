"""``governance: structured``: owner, approval, usage rights and licence expiry in Cloudinary's
structured metadata fields, through the lifecycle (real Airflow, strict emulators over HTTP).

The connection's ``governance`` extra turns it on. The fields are refused until the account
check creates them (with consent). Ingest writes them, a rights edit in PhotoShelter updates
them, the market run decides from what they hold (the masters' context no longer carries
governance), and the usage-window run puts back a value someone changed by hand in the console.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from campaign_media.config.loader import current_config
from campaign_media.domain.governance import FIELDS, StructuredFieldsMissing, entry_id, read_back
from campaign_media.domain.masters import MASTER_DELIVERY
from campaign_media.domain.windows import CLOSED
from campaign_media.hooks import CloudinaryHook
from campaign_media.runtime import audit, storage
from campaign_media.steps.shared import governance
from tests.integration.test_lifecycle_dags import CAMPAIGN, UPLOAD, calls, run, today
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
EXPLICIT = "POST /v1_1/{cloud}/{rt}/explicit"


@contextlib.contextmanager
def structured_world(base: Path, images: int) -> Iterator[dict]:
    with seeded_world(base, images=images, extra={"governance": "structured"}) as world:
        yield world


@pytest.fixture
def bare_world(tmp_path, airflow_db):
    """An account of its own where the governance fields were never created."""
    with structured_world(tmp_path, images=3) as world:
        yield world


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag):
    """The fields created by the account check (with consent), then ingest run once."""
    from campaign_media.account.check import run as check

    with structured_world(tmp_path_factory.mktemp("structured"), images=9) as world:
        markets, campaigns = current_config()
        check(None, CloudinaryHook(), [campaigns[CAMPAIGN]], markets=markets, create_metadata_fields=True)
        world["ingest"] = run(dagbag, "campaign_media_ingest", force=True)
        yield world


def stored(kind: str = "masters") -> dict[str, dict]:
    """The campaign's masters (or one market's copies: ``markets/jp``) in Cloudinary by image ID."""
    cld = CloudinaryHook()
    options = {"delivery_type": MASTER_DELIVERY} if kind == "masters" else {}
    return {r["public_id"].rsplit("/", 1)[1]: r for r in cld.iter_resources(
        prefix=f"campaigns/{CAMPAIGN}/{kind}/", **options)}


def test_without_the_fields_nothing_is_written_and_the_error_names_the_fix(bare_world, dagbag) -> None:
    with pytest.raises(StructuredFieldsMissing, match="check-account --create-metadata-fields"):
        governance.fields(CloudinaryHook())
    result, states = run(dagbag, "campaign_media_ingest", force=True)
    assert result.state == "failed", states
    assert calls(bare_world["cld"], UPLOAD) == 0  # refused before any upload: nothing half-described


def test_the_account_check_creates_the_fields_only_when_asked(bare_world) -> None:
    from campaign_media.account.check import run as check
    from campaign_media.account.check import table

    markets, campaigns = current_config()
    report = check(None, CloudinaryHook(), [campaigns[CAMPAIGN]], markets=markets)
    fields = report["cloudinary"]["structured_governance"]
    assert fields["campaigns"] == [CAMPAIGN] and fields["created"] == [] and len(fields["problems"]) == len(FIELDS)
    assert "NO: cmp_campaign (string) is not defined" in table(report)
    report = check(None, CloudinaryHook(), [campaigns[CAMPAIGN]], markets=markets, create_metadata_fields=True)
    fields = report["cloudinary"]["structured_governance"]
    assert fields["problems"] == [] and fields["created"] == [f.external_id for f in FIELDS]
    defined = CloudinaryHook().metadata_fields()
    assert {k: defined[k]["type"] for k in fields["created"]} == {f.external_id: f.type for f in FIELDS}
    approvals = [e["value"] for e in defined["cmp_approval"]["datasource"]["values"]]
    assert approvals == ["Approved"]  # seeded from the campaign's approval rule
    assert "worldwide-digital" in [e["value"] for e in defined["cmp_usage_rights"]["datasource"]["values"]]


def test_ingest_writes_the_fields_and_keeps_governance_out_of_context(world) -> None:
    seeded = world["seed"]
    result, states = world["ingest"]
    assert result.state == "success", states
    masters = stored()
    assert set(seeded["approved"]) <= set(masters)
    defined = CloudinaryHook().metadata_fields()
    for image_id in seeded["approved"]:
        res = masters[image_id]
        context = res["context"]["custom"]
        assert not {"owner", "approval", "usage_rights", "licence_expiry"} & set(context), context
        assert context["ps_image_id"] == image_id  # the pipeline's own keys stay in context
        metadata = res["metadata"]
        assert metadata["cmp_campaign"] == CAMPAIGN
        assert metadata["cmp_approval"] == entry_id("Approved")
        assert sorted(metadata["cmp_markets"]) == sorted(entry_id(m) for m in ("fr", "jp", "sa"))
        held = read_back(metadata, defined, {})
        assert held["usage_rights"] in ("worldwide-digital", "emea-web-only") and held["owner"]
        assert metadata["cmp_licence_expiry"] == held["licence_expiry"][:10]
    # emea-web-only was not among the values the fields were created with: the run added it
    offered = [e["value"] for e in defined["cmp_usage_rights"]["datasource"]["values"]]
    assert "emea-web-only" in offered
    added = [r for r in audit.read(CAMPAIGN) if r["action"] == "metadata_entries_added"]
    assert any("emea-web-only" in r["after"]["values"] for r in added)


def test_a_rights_edit_updates_the_fields_and_the_market_decides_from_them(world, dagbag) -> None:
    ps, cld, seeded = world["ps"], world["cld"], world["seed"]
    defined = CloudinaryHook().metadata_fields()
    worldwide = [i for i in seeded["approved"]
                 if read_back(stored()[i]["metadata"], defined, {})["usage_rights"] == "worldwide-digital"]
    edited, kept = worldwide[0], worldwide[1]
    ps.control("POST", f"images/{edited}/custom-metadata", {"Usage Rights": "emea-web-only"})
    new_expiry = (datetime.now(UTC) + timedelta(days=400)).replace(microsecond=0)
    ps.control("POST", f"images/{edited}/license", {"license_etime": new_expiry.strftime("%Y-%m-%d %H:%M:%S GMT")})
    uploads, explicit = calls(cld, UPLOAD), calls(cld, EXPLICIT)
    result, states = run(dagbag, "campaign_media_ingest", logical_date=today() + timedelta(days=1))
    assert result.state == "success", states
    assert (calls(cld, UPLOAD), calls(cld, EXPLICIT)) == (uploads, explicit + 1)  # described, not re-uploaded
    metadata = stored()[edited]["metadata"]
    assert metadata["cmp_usage_rights"] == entry_id("emea-web-only")
    assert metadata["cmp_licence_expiry"] == new_expiry.strftime("%Y-%m-%d")
    assert metadata["cmp_licence_expires_at"] == new_expiry.isoformat()

    # Japan clears worldwide-digital only: the edited master (its context no longer says) is
    # restricted there from what the fields hold; an unedited one is not.
    result, states = run(dagbag, "campaign_media_market_jp")
    assert result.state == "success", states
    state = storage.read_json(storage.market_state(CAMPAIGN, "jp"))
    copies = stored("markets/jp")
    assert copies[edited]["metadata"]["cmp_markets"] == [entry_id("jp")]
    assert copies[edited]["metadata"]["cmp_usage_rights"] == entry_id("emea-web-only")
    assert "usage_rights" not in copies[edited]["context"]["custom"]
    assert state[edited]["rules"] == CLOSED and state[kept]["rules"] != CLOSED, (state[edited], state[kept])
    made = {r["master"]: r for r in audit.read(CAMPAIGN) if r["action"] == "copy_made" and r.get("market") == "jp"}
    assert "emea-web-only" in made[edited]["reason"], made[edited]


def test_the_usage_window_run_puts_back_a_hand_edit_in_the_console(world, dagbag) -> None:
    seeded = world["seed"]
    cld = CloudinaryHook()
    target = seeded["approved"][0]
    before = stored()[target]["metadata"]
    cld.update_metadata([f"campaigns/{CAMPAIGN}/masters/{target}"], {"cmp_owner": "someone-in-the-console"},
                        delivery_type=MASTER_DELIVERY)
    assert stored()[target]["metadata"]["cmp_owner"] == "someone-in-the-console"
    result, states = run(dagbag, "campaign_media_usage_windows")
    assert result.state == "success", states
    report = storage.read_json(storage.windows_report(CAMPAIGN))
    refreshed = {i["image_id"]: i for i in report["governance_refreshed"]}
    assert list(refreshed) == [target] and "someone-in-the-console" in refreshed[target]["reason"]
    assert stored()[target]["metadata"] == before
    result, states = run(dagbag, "campaign_media_usage_windows")  # nothing differs now: nothing written
    assert storage.read_json(storage.windows_report(CAMPAIGN))["governance_refreshed"] == []
