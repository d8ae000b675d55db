"""Token URLs: what the hook builds, the emulator verifies (both sides of §3.6)."""

from __future__ import annotations

import json
from urllib.parse import urlparse

import pytest

from campaign_media.hooks import CloudinaryHook
from campaign_media.hooks.cloudinary import CloudinaryError
from emulators.cloudinary.signing import token_valid

KEY = "a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> CloudinaryHook:
    monkeypatch.setenv("AIRFLOW_CONN_CLD_TOKEN", json.dumps({
        "conn_type": "cloudinary", "host": "democloud", "login": "k", "password": "s",
        "extra": {"delivery_host": "127.0.0.1:9", "auth_token_key": KEY}}))
    return CloudinaryHook("cld_token")


def test_a_token_opens_exactly_its_url_until_it_expires(hook: CloudinaryHook) -> None:
    url = hook.delivery_url("campaigns/c/markets/fr/Ié", transformation={"width": 100, "crop": "scale"},
                            format="jpg", token_ttl=600)
    parsed = urlparse(url)
    token = parsed.query.split("=", 1)[1]
    exp = int(token.split("exp=")[1].split("~")[0])
    assert token_valid(token, parsed.path, KEY, exp - 1) == (True, "")
    assert token_valid(token, parsed.path, KEY, exp)[0] is False  # expired
    assert token_valid(token, parsed.path.replace("w_100", "w_101"), KEY, exp - 1)[0] is False  # other URL
    assert token_valid(token, parsed.path, "00" * 16, exp - 1)[0] is False  # other key


def test_without_a_key_the_error_says_where_to_put_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_CLD_NOKEY", json.dumps({
        "conn_type": "cloudinary", "host": "democloud", "login": "k", "password": "s"}))
    with pytest.raises(CloudinaryError, match="auth_token_key"):
        CloudinaryHook("cld_nokey").delivery_url("a", token_ttl=60)


def test_signed_links_in_error_messages_are_redacted() -> None:
    from campaign_media.hooks.cloudinary import redact

    text = ("Error in loading http://ps/img-get2/I1/original?exp=1795898300&sig=de91548d - 404; "
            "then https://cdn/democloud/image/upload/v1/a.jpg?__cld_token__=exp=1~hmac=ab failed")
    assert redact(text) == ("Error in loading http://ps/img-get2/I1/original?[redacted] - 404; "
                            "then https://cdn/democloud/image/upload/v1/a.jpg?[redacted] failed")


def _specs() -> list[dict]:
    from campaign_media.config.loader import load_campaigns, load_markets
    from campaign_media.domain.renditions import market_specs

    markets = load_markets()
    campaigns = load_campaigns(markets=markets)
    return [spec for campaign in campaigns.items.values() for market in markets.items.values()
            for spec in market_specs(campaign, market)[0]]


@pytest.mark.parametrize("delivery_type", ["upload", "authenticated"])
def test_urls_built_from_the_cached_transformation_text_are_the_sdks_own(hook: CloudinaryHook,
                                                                         delivery_type: str) -> None:
    import cloudinary.utils

    specs = _specs()
    assert len(specs) >= 6
    options = dict(hook._delivery, type=delivery_type, sign_url=delivery_type == "authenticated")
    for spec in specs:
        chain = spec["transformation"]
        ours = hook.delivery_url("c/m/I1", transformation=chain, format=spec["format"], delivery_type=delivery_type)
        theirs, _ = cloudinary.utils.cloudinary_url("c/m/I1", transformation=chain if isinstance(chain, list)
                                                    else [chain], format=spec["format"], **options)
        assert ours == theirs  # the same text, so the same signature
        with_raw = hook.delivery_url("c/m/I1", transformation=chain, raw_transformation="e_grayscale",
                                     delivery_type=delivery_type)
        theirs, _ = cloudinary.utils.cloudinary_url("c/m/I1", transformation=chain if isinstance(chain, list)
                                                    else [chain], raw_transformation="e_grayscale", **options)
        assert with_raw == theirs


def test_a_copy_s_rotation_is_read_back_from_its_public_id() -> None:
    from campaign_media.domain.masters import copy_identity, market_public_id

    assert market_public_id("c", "fr", "I0000ab.c_d") == "campaigns/c/markets/fr/I0000ab.c_d"
    assert market_public_id("c", "fr", "I0000abc", 2) == "campaigns/c/markets/fr/I0000abc--r2"
    assert copy_identity("I0000abc--r2") == ("I0000abc", 2)
    assert copy_identity("I0000abc") == ("I0000abc", 0)
    assert copy_identity("I0000abc--rx") == ("I0000abc--rx", 0)  # not ours: left as it is (then skipped)


def test_the_latest_rotation_wins_whether_cloudinary_or_the_access_file_knows_it() -> None:
    from campaign_media.steps.variants import latest_rotations

    prefix = "campaigns/c/markets/fr/"
    copies = {prefix + "I0000a", prefix + "I0000b--r1", prefix + "I0000c"}
    # I0000c was renamed twice, then deleted by hand and made again: never under an old ID.
    assert latest_rotations(copies, prefix, {"I0000c": {"rotation": 2}, "I0000d": {}}) == \
        {"I0000a": 0, "I0000b": 1, "I0000c": 2, "I0000d": 0}


@pytest.mark.parametrize(("mode", "phase", "end", "tokens", "outlives"), [
    ("signed", "open", None, True, False),  # still signed-only, no end: the next run re-issues
    ("signed", "open", 30, True, False),  # its window ends after the issued URLs expire
    ("signed", "open", 5, True, True),  # licence shortened to before their expiry
    ("restricted", "open", None, True, True),  # approval revoked
    ("public", "open", None, True, True),  # no longer signed-only: token URLs are not how it is served
    ("signed", "after", -1, True, True),  # licence ended
    ("signed", "open", None, False, True),  # the account lost token access
])
def test_issued_token_urls_outlive_rights_that_shrank(mode, phase, end, tokens, outlives) -> None:
    from datetime import UTC, datetime, timedelta

    from campaign_media.domain.windows import Access, outlived

    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    issued = {"expires_at": "2026-12-03T22:00:00Z", "renditions": {"hero": "https://…"}}
    access = Access(mode, phase, None, now + timedelta(hours=end) if end is not None else None)
    assert outlived(issued, access, tokens, now) is outlives
    assert outlived(issued, access, tokens, now + timedelta(hours=11)) is False  # they have expired by then
    assert outlived({}, access, tokens, now) is False  # none issued
