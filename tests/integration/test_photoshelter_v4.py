"""The PhotoShelter hook on a v4 connection (``"api_version": 4``) against the emulator's v4 routes,
over real HTTP: the same answers as on v3 for what the steps read (so the steps need not know),
through v4's own routes where v4 documents them and v3's where it does not."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from campaign_media.domain.masters import custom_fields, licence_of, media_id
from campaign_media.hooks.photoshelter import MASTER_EXTEND, MEDIA_EXTEND, PhotoShelterAuthError, PhotoShelterHook
from tests.conftest import ps_connection

pytestmark = pytest.mark.integration


@pytest.fixture
def hooks(connections, monkeypatch: pytest.MonkeyPatch) -> tuple[PhotoShelterHook, PhotoShelterHook]:
    ps, _ = connections
    monkeypatch.setenv("AIRFLOW_CONN_PS_V3", ps_connection(ps, extra={"api_version": 3}))
    monkeypatch.setenv("AIRFLOW_CONN_PS_V4", ps_connection(ps, extra={"api_version": 4}))
    v3, v4 = PhotoShelterHook("ps_v3"), PhotoShelterHook("ps_v4")
    yield v3, v4
    v3.close()
    v4.close()


@pytest.fixture
def gallery(ps_seed) -> str:
    """The first seeded gallery (the session's account gains galleries as other modules write back:
    the walk's first may be one of those, and empty)."""
    return ps_seed[1]["gallery_ids"][0]


def comparable(record: dict) -> tuple:
    medium = record.get("Video") or record.get("Image") or {}
    return (media_id(record), record.get("media_type", "image"), medium.get("file_name"), str(medium.get("width")),
            str(medium.get("file_size")), sorted(custom_fields(record).items()), licence_of(record, "UTC") != "")


def spent(ps, before: dict[str, int]) -> dict[str, int]:
    """The emulator's calls by route since ``before`` (an earlier ``ps.calls()``)."""
    return {route: n - before.get(route, 0) for route, n in ps.calls().items() if n != before.get(route, 0)}


def test_v4_logs_in_and_lists_the_same_hierarchy_and_media_as_v3(hooks, connections, ps_seed, gallery, tmp_path,
                                                                  monkeypatch) -> None:
    from emulators.photoshelter.seed import seed
    from emulators.runner import start_photoshelter

    # The walk's routes, on an account of its own (the session's gains collections as other tests write back):
    # one collection, so v4's logins, the library, that collection's children, and no v3 route at all.
    seed(tmp_path / "ps", images=2, galleries=2)
    own = start_photoshelter(tmp_path / "ps")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_PS_OWN", ps_connection(own, extra={"api_version": 4}))
        with PhotoShelterHook("ps_own") as alone:
            list(alone.walk_galleries())
        assert own.calls() == {"POST /psapi/v4.0/authenticate": 1, "POST /psapi/v4.0/organization/authenticate": 1,
                               "GET /psapi/v4.0/library": 1, "GET /psapi/v4.0/collections/{collection_id}/children": 1,
                               "GET /psapi/v4.0/authenticate/logout": 1}
    finally:
        own.stop()
    ps, _ = connections
    v3, v4 = hooks
    before = ps.calls()
    v4.login()
    assert v4.org_id == ps_seed[1]["account"]["org_id"]
    walked = [(p, g["gallery_id"], g["name"]) for p, g in v4.walk_galleries()]
    assert not [route for route in spent(ps, before) if "/v3/" in route]  # v4's routes only
    assert walked == [(p, g["gallery_id"], g["name"]) for p, g in v3.walk_galleries()]
    for extend, media in ((MASTER_EXTEND, False), (MEDIA_EXTEND, True)):
        listed3 = list(v3.iter_gallery_media(gallery, extend=extend) if media else
                       v3.iter_gallery_images(gallery, extend=extend))
        listed4 = list(v4.iter_gallery_media(gallery, extend=extend) if media else
                       v4.iter_gallery_images(gallery, extend=extend))
        # the same media, whatever order each API lists them in (neither documents one)
        assert listed3 and sorted(map(comparable, listed4)) == sorted(map(comparable, listed3))
    # Licences as v3 reads them, in v3's zone: the same expiry instants.
    tz = v4.session_timezone()
    assert sorted((media_id(r), licence_of(r, tz)) for r in v4.iter_gallery_images(gallery)) == \
        sorted((media_id(r), licence_of(r, v3.session_timezone())) for r in v3.iter_gallery_images(gallery))
    assert v4.gallery_file_names(gallery) == v3.gallery_file_names(gallery)


def test_v4_pages_run_until_a_short_page(hooks, gallery) -> None:
    v3, v4 = hooks
    everything = sorted(media_id(r) for r in v3.iter_gallery_media(gallery))
    assert sorted(media_id(r) for r in v4.iter_gallery_media(gallery, per_page=3)) == everything  # each once
    assert len(everything) > 3


def test_originals_come_from_v4s_one_download_route(hooks, connections, gallery, tmp_path) -> None:
    ps, _ = connections
    v3, v4 = hooks
    image = next(r for r in v3.iter_gallery_images(gallery) if int(r["Image"].get("file_size") or 0) > 0)
    got3 = v3.download_original(image["image_id"], tmp_path / "v3")
    before = ps.calls()
    got4 = v4.download_original(image["image_id"], tmp_path / "v4")
    assert (got4.size, got4.sha256) == (got3.size, got3.sha256)
    assert hashlib.sha256((tmp_path / "v4").read_bytes()).hexdigest() == got3.sha256
    after = ps.calls()
    assert after.get("GET /psapi/v4.0/media/{media_id}/download", 0) == \
        before.get("GET /psapi/v4.0/media/{media_id}/download", 0) + 1


def test_an_expired_v4_session_is_renewed_once(hooks, connections) -> None:
    ps, _ = connections
    v3, v4 = hooks
    v4.login()
    v4.session_timezone()  # its v3 session open too
    httpx.post(f"{ps.base_url}/_emulator/sessions/expire")
    before = ps.calls()
    first = v4.get_children()
    assert first["galleries"] or first["collections"]
    assert v4.get_children() == first  # the renewed session serves the next call as it is
    # the v4 session renewed, once; the v3 session (not used here) left alone
    assert spent(ps, before) == {"GET /psapi/v4.0/library": 3,  # refused, then answered twice
                                 "POST /psapi/v4.0/authenticate": 1, "POST /psapi/v4.0/organization/authenticate": 1}


def test_a_v4_token_is_not_a_v3_session_on_the_strict_emulator(hooks, connections) -> None:
    ps, _ = connections
    _, v4 = hooks
    v4.login()
    answer = httpx.get(f"{ps.base_url}/psapi/v3/mem/user/session",
                       headers={"X-PS-Api-Key": ps.credentials["api_key"], "X-PS-Auth-Token": v4._token4})
    assert answer.status_code == 401
    # What v4 lacks goes through v3's own session: the time zone, and licences.
    assert v4.session_timezone() and v4._token is not None


def test_an_unknown_api_version_names_the_fix(connections, monkeypatch) -> None:
    ps, _ = connections
    monkeypatch.setenv("AIRFLOW_CONN_PS_V5", ps_connection(ps, extra={"api_version": "5"}))
    with pytest.raises(PhotoShelterAuthError, match="api_version must be 3 or 4"):
        PhotoShelterHook("ps_v5").login()


def test_the_account_check_says_which_versions_answer_and_which_to_name(tmp_path, monkeypatch) -> None:
    from campaign_media.account.check import check_api_versions, table
    from emulators.photoshelter.seed import seed
    from emulators.runner import start_photoshelter

    # An account of its own: the check samples its first gallery, which in the session's account may
    # be an empty one another module made (then no original is there to probe).
    seed(tmp_path / "own", images=2, galleries=1)
    own = start_photoshelter(tmp_path / "own")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_PS_OWN3", ps_connection(own, extra={"api_version": 3}))
        both = check_api_versions(PhotoShelterHook("ps_own3"))
    finally:
        own.stop()
    assert both["answers"] == [3, 4] and both["should_name"] == 4 and both["connection_names"] == 3
    assert set(both["v4"]["routes"]) == {"login (token, organisation)", "library and collections",
                                         "a gallery's media", "the original (image)"}
    assert all(answer == "yes" for answer in both["v4"]["routes"].values())
    lines = table({"photoshelter": {"login": True, "api_versions": both}})
    assert "3; should be 4 (change it)" in lines

    seed(tmp_path / "ps", images=2, galleries=1)
    old = start_photoshelter(tmp_path / "ps", args=["--no-v4"])  # an account v4 is not open to
    try:
        monkeypatch.setenv("AIRFLOW_CONN_PS_OLD", ps_connection(old, extra={"api_version": 4}))
        only = check_api_versions(PhotoShelterHook("ps_old"))
    finally:
        old.stop()
    assert only["answers"] == [3] and only["should_name"] == 3 and not only["v4"]["works"]
    assert only["v4"]["routes"]["login (token, organisation)"].startswith("NO: ")


def test_a_v4_page_costs_two_calls_whatever_its_size(hooks, connections, gallery) -> None:
    """The media from v4, licences and (where v4's children lack them) custom fields from v3's listing
    of the same page: never a call per medium when v3's page names them all."""
    ps, _ = connections
    v3, v4 = hooks
    v4.login()
    v4.session_timezone()  # its v3 session too: logins are not what is counted
    before = ps.calls()
    listed = list(v4.iter_gallery_media(gallery, per_page=1000))
    assert len(listed) > 5
    assert spent(ps, before) == {"GET /psapi/v4.0/galleries/{gallery_id}/children": 1,
                     "GET /psapi/v3/mem/gallery/{gallery_id}/media": 1}


def test_a_v4_page_whose_media_v3_lists_elsewhere_still_reads_every_licence(hooks, connections, gallery) -> None:
    """Neither API documents its order: with v4 listing a gallery by ID, page 1 of v4 and page 1 of
    v3 hold different media. Each image the v3 page does not name costs one v3 call for its
    licence, and every licence reads as on v3 (none fails closed for want of a join)."""
    ps, _ = connections
    v3, v4 = hooks
    was = ps.control("POST", "v4-order", {"order": "id"})["was"]
    try:
        v4.login()
        v4.session_timezone()
        def unwrapped(page: dict) -> list[dict]:
            return [r.get("GalleryVideo") or r.get("GalleryImage") or r for r in page["GalleryMedia"]]

        on_v3 = {media_id(r) for r in unwrapped(v3.gallery_page(gallery, per_page=4, media=True, extend=MEDIA_EXTEND))}
        before = ps.calls()
        page = unwrapped(v4.gallery_page(gallery, per_page=4, media=True, extend=MEDIA_EXTEND))
        images = [r for r in page if r.get("media_type", "image") == "image"]
        elsewhere = [r for r in images if media_id(r) not in on_v3]
        assert elsewhere, "the two page 1s hold the same images: the orders did not differ"
        calls = spent(ps, before)
        # custom fields too, one call each, where v4's children carry none (strict)
        custom = calls.pop("GET /psapi/v4.0/media/{media_id}/custom-metadata", 0)
        assert custom in (0, len([r for r in page if media_id(r) not in on_v3]))
        assert calls == {"GET /psapi/v4.0/galleries/{gallery_id}/children": 1,
                         "GET /psapi/v3/mem/gallery/{gallery_id}/media": 1,
                         "GET /psapi/v3/mem/image/{image_id}": len(elsewhere)}
        for record in images:
            own = v3.get_image(media_id(record), extend={"License": {}})
            assert licence_of(record, "UTC") == licence_of({"Image": own, "License": own.get("License")}, "UTC")
    finally:
        ps.control("POST", "v4-order", {"order": was})
