"""What Cloudinary's own SDK test suite (written against a real cloud) found the emulator doing
differently, each fact held here in our own words and data, through the real SDK over HTTP: so
``make test`` keeps them without the vendor's files (``make conformance`` runs the suite itself).
"""

from __future__ import annotations

import io
import uuid

import cloudinary.exceptions
import cloudinary.utils
import httpx
import pytest
from PIL import Image

from emulators.runner import CLD_CREDENTIALS, STRICT

pytestmark = pytest.mark.integration


def png() -> io.BytesIO:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "PNG")
    buf.seek(0)
    buf.name = "brand_logo.png"  # the SDK sends the file name (use_filename reads it)
    return buf


def uid() -> str:
    return f"facts/{uuid.uuid4().hex[:8]}"


def test_upload_and_admin_answers_carry_a_request_id(sdk) -> None:
    uploaded = sdk.upload.upload(png(), public_id=uid())
    assert len(uploaded["request_id"]) >= 8  # the SDK copies X-Request-Id into the result
    assert sdk.admin.ping().request_id


def test_tags_come_back_sorted_whatever_the_order_given(sdk) -> None:
    pid = uid()
    assert sdk.upload.upload(png(), public_id=pid, tags=["zeta", "alpha", "mid"])["tags"] == ["alpha", "mid", "zeta"]
    sdk.upload.add_tag("beta", [pid])
    assert sdk.admin.resource(pid)["tags"] == ["alpha", "beta", "mid", "zeta"]


def test_a_day_s_usage_report_has_no_plan_limits(sdk) -> None:
    current, day = sdk.admin.usage(), sdk.admin.usage(date="2026-01-15")
    assert {"limit", "used_percent"} <= set(current["transformations"]) and "limit" in current["objects"]
    assert "limit" not in day["transformations"] and "used_percent" not in day["bandwidth"]
    assert "usage" in day["transformations"] and "limit" not in day["objects"]


def test_a_metadata_field_s_default_value_is_kept_and_applied_and_listings_say_metadata(sdk) -> None:
    field = f"f_{uuid.uuid4().hex[:6]}"
    made = sdk.admin.add_metadata_field({"external_id": field, "label": field, "type": "string",
                                         "default_value": "unreviewed"})
    assert made["default_value"] == "unreviewed"
    pid, other = uid(), uid()
    assert sdk.upload.upload(png(), public_id=pid)["metadata"][field] == "unreviewed"
    sdk.upload.upload(png(), public_id=other, metadata={field: "approved"})
    listed = {r["public_id"]: r for r in sdk.admin.resources(type="upload", prefix="facts/", metadata=True,
                                                              max_results=500)["resources"]}
    assert listed[pid]["metadata"][field] == "unreviewed" and listed[other]["metadata"][field] == "approved"
    assert all("metadata" in r for r in listed.values())  # asked for: present, {} when there are none
    sdk.admin.delete_metadata_field(field)  # its default would reach every later test's uploads


def test_use_filename_names_the_asset_after_its_file(sdk) -> None:
    unique = sdk.upload.upload(png(), use_filename=True)["public_id"]
    assert unique.startswith("brand_logo_") and len(unique) == len("brand_logo_") + 6
    assert sdk.upload.upload(png(), use_filename=True, unique_filename=False)["public_id"] == "brand_logo"
    assert len(sdk.upload.upload(png())["public_id"]) >= 16  # neither: a random public ID


def test_an_api_route_the_emulator_lacks_answers_cloudinary_s_error_so_the_sdk_raises(sdk, connections) -> None:
    _, cld = connections
    auth = (CLD_CREDENTIALS["api_key"], CLD_CREDENTIALS["api_secret"])
    base = f"{cld.base_url}/v1_1/{CLD_CREDENTIALS['cloud_name']}"
    missing = httpx.post(f"{base}/image/no_such_method", auth=auth)
    assert missing.status_code == 404 and "message" in missing.json()["error"]
    wrong = httpx.put(f"{base}/image/upload", auth=auth)  # a documented path, another method
    assert wrong.status_code == 405 and "POST" in wrong.json()["error"]["message"]
    assert httpx.get(f"{base}/no_such_admin_area/x", auth=auth).json()["error"]
    with pytest.raises(cloudinary.exceptions.NotFound):
        sdk.admin.resource_by_asset_id("0" * 32)
    with pytest.raises(cloudinary.exceptions.Error, match="Resource not found"):
        sdk.upload.call_api("no_such_method", {})  # a future Upload API call the emulator lacks fails loudly


def test_an_asset_is_found_by_its_asset_id(sdk) -> None:
    uploaded = sdk.upload.upload(png(), public_id=uid())
    assert sdk.admin.resource_by_asset_id(uploaded["asset_id"])["public_id"] == uploaded["public_id"]


@pytest.mark.skipif(not STRICT, reason="option values are validated by the strict emulator only")
def test_add_on_options_with_values_cloudinary_does_not_document_are_refused(sdk) -> None:
    pid = uid()
    for option, message in (("categorization", "is not valid"), ("detection", "Detection invalid model"),
                            ("background_removal", "is invalid")):
        with pytest.raises(cloudinary.exceptions.BadRequest, match=message):
            sdk.upload.upload(png(), public_id=pid, **{option: "illegal"})
    sdk.upload.upload(png(), public_id=pid)
    with pytest.raises(cloudinary.exceptions.BadRequest, match="Illegal value"):
        sdk.admin.update(pid, detection="illegal")
    assert sdk.upload.upload(png(), public_id=pid, categorization="google_tagging")["public_id"] == pid


def test_a_chunked_upload_named_after_its_file_keeps_that_name_across_its_parts(sdk, tmp_path) -> None:
    """The SDK sends the first part's public ID with the later parts: use_filename must name it
    from the first part on."""
    big = tmp_path / "hero_cut.bmp"
    Image.new("RGB", (1400, 1400), (10, 90, 160)).save(big, "BMP")  # ~5.9 MB: two parts of 5 MB
    result = sdk.upload.upload_large(str(big), chunk_size=5 * 1024 * 1024, resource_type="image",
                                     use_filename=True, unique_filename=False)
    assert result["public_id"] == "hero_cut" and (result["width"], result["height"]) == (1400, 1400)


def test_a_metadata_field_is_read_and_deleted_by_its_external_id(sdk) -> None:
    field = f"gone_{uuid.uuid4().hex[:6]}"
    sdk.admin.add_metadata_field({"external_id": field, "label": field, "type": "string"})
    assert sdk.admin.metadata_field_by_field_id(field)["external_id"] == field
    sdk.admin.delete_metadata_field(field)
    with pytest.raises(cloudinary.exceptions.NotFound):
        sdk.admin.metadata_field_by_field_id(field)


def test_list_field_values_are_entry_ids_a_datasource_grows_and_an_empty_value_clears(sdk) -> None:
    """Enum and set values are the external IDs of the field's entries (not their labels); a
    datasource update renames entries it names and adds the others; typed fields refuse values
    of another type; "" removes a value."""
    field, day = f"rights_{uuid.uuid4().hex[:6]}", f"expiry_{uuid.uuid4().hex[:6]}"
    sdk.admin.add_metadata_field({"external_id": field, "label": "Rights", "type": "enum",
                                  "datasource": {"values": [{"external_id": "ww", "value": "Worldwide"}]}})
    sdk.admin.add_metadata_field({"external_id": day, "label": "Expiry", "type": "date"})
    pid = uid()
    sdk.upload.upload(png(), public_id=pid, metadata={field: "ww", day: "2027-01-31"})
    with pytest.raises(cloudinary.exceptions.BadRequest):
        sdk.upload.update_metadata({field: "Worldwide"}, [pid])  # the label is not a value
    with pytest.raises(cloudinary.exceptions.BadRequest):
        sdk.upload.update_metadata({field: "emea"}, [pid])  # not one of its entries (yet)
    with pytest.raises(cloudinary.exceptions.BadRequest):
        sdk.upload.update_metadata({day: "31/01/2027"}, [pid])
    values = sdk.admin.update_metadata_field_datasource(field, [{"external_id": "emea", "value": "EMEA web"},
                                                                {"external_id": "ww", "value": "Worldwide (all)"}])
    assert values["values"] == [{"external_id": "ww", "value": "Worldwide (all)"},
                                {"external_id": "emea", "value": "EMEA web"}]
    assert sdk.upload.update_metadata({field: "emea", day: ""}, [pid])["public_ids"] == [pid]
    held = sdk.admin.resource(pid)["metadata"]
    assert held[field] == "emea" and day not in held


def test_a_field_always_answers_its_default_and_validation_and_entries_get_ids(sdk) -> None:
    """Every field says ``default_value`` and ``validation`` (null when unset) and keeps the
    options it was made with; a list entry given without an external ID gets one."""
    plain, listed = f"plain_{uuid.uuid4().hex[:6]}", f"listed_{uuid.uuid4().hex[:6]}"
    sdk.admin.add_metadata_field({"external_id": plain, "label": "Plain", "type": "string",
                                  "restrictions": {"readonly_ui": True}})
    field = sdk.admin.metadata_field_by_field_id(plain)
    assert (field["default_value"], field["validation"], field["mandatory"]) == (None, None, False)
    assert field["restrictions"] == {"readonly_ui": True}
    made = sdk.admin.add_metadata_field({"external_id": listed, "label": "Listed", "type": "set",
                                         "datasource": {"values": [{"value": "red"}, {"value": "blue"}]}})
    entries = made["datasource"]["values"]
    assert [e["value"] for e in entries] == ["red", "blue"] and all(e["external_id"] for e in entries)
    assert len({e["external_id"] for e in entries}) == 2


def test_admin_answers_say_the_rate_limit_on_folders_and_resource_types_too(sdk) -> None:
    pid = uid()
    sdk.upload.upload(png(), public_id=pid)
    for answer in (sdk.admin.ping(), sdk.admin.root_folders(), sdk.admin.resource_types()):
        assert answer.rate_limit_allowed > 0 and answer.rate_limit_remaining > 0 and answer.rate_limit_reset_at
        assert answer.request_id and "request_id" not in answer
    assert "facts" in [f["name"] for f in sdk.admin.root_folders()["folders"]]
    assert "image" in sdk.admin.resource_types()["resource_types"]
    with pytest.raises(cloudinary.exceptions.NotFound):
        sdk.admin.subfolders("no-such-folder")


def test_an_archive_with_two_transformations_holds_each_asset_twice(sdk, connections) -> None:
    import zipfile

    from campaign_media.hooks import CloudinaryHook

    tag = f"zip_{uuid.uuid4().hex[:6]}"
    for _ in range(2):
        sdk.upload.upload(png(), public_id=uid(), tags=[tag])
    account = {k: v for k, v in CloudinaryHook().account.api.items() if k != "timeout"}
    url = cloudinary.utils.download_zip_url(tags=[tag], transformations=[{"width": 32}, {"width": 16, "crop": "scale"}],
                                            **account)
    archive = zipfile.ZipFile(io.BytesIO(httpx.get(url, timeout=30).content))
    sizes = sorted(Image.open(archive.open(name)).size for name in archive.namelist())
    assert sizes == [(16, 12), (16, 12), (32, 24), (32, 24)]  # one derived file per asset and transformation
