"""The pure and per-account checks of Cloudinary's notifications: the signature as the SDK's own
``verify_notification_signature`` computes it (with the connection's secret rather than the SDK's
global config), the timestamp's window, and which copy a notification names."""

from __future__ import annotations

import hashlib
import json
import time

import cloudinary
import cloudinary.utils
import pytest

from campaign_media.domain.notifications import (
    FUTURE_SKEW_SECONDS,
    VALID_FOR_SECONDS,
    copy_named,
    parse,
    receiver_url,
    timestamp_problem,
)
from campaign_media.hooks import CloudinaryHook

SECRET = "unit-secret"
CONN = json.dumps({"conn_type": "cloudinary", "host": "unitcloud", "login": "111", "password": SECRET})


@pytest.fixture
def hook(monkeypatch) -> CloudinaryHook:
    monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_UNIT", CONN)
    return CloudinaryHook("cloudinary_unit")


@pytest.mark.parametrize("algorithm", ["sha1", "sha256"])
def test_a_signature_is_accepted_exactly_when_the_sdk_accepts_it(hook, algorithm) -> None:
    body = '{"notification_type":"eager","public_id":"a/b"}'
    stamp = str(int(time.time()))
    good = cloudinary.utils.compute_hex_hash(body + stamp + SECRET, algorithm)
    cases = {"good": (body, good), "altered body": (body.replace("a/b", "a/c"), good),
             "another secret": (body, cloudinary.utils.compute_hex_hash(body + stamp + "other", algorithm)),
             "upper-case hex": (body, good.upper())}
    saved = cloudinary.config().api_secret
    cloudinary.config(api_secret=SECRET)
    try:
        for name, (text, signature) in cases.items():
            sdk = cloudinary.utils.verify_notification_signature(text, stamp, signature.lower(), algorithm=algorithm)
            ours = hook.verify_notification(text.encode(), stamp, signature)
            assert ours == sdk, name
    finally:
        cloudinary.config(api_secret=saved)
    assert hook.verify_notification(body.encode(), stamp, good)
    assert not hook.verify_notification(body.encode(), stamp, None)
    assert not hook.verify_notification(body.encode(), stamp, "abc")
    assert not hook.verify_notification(b"\xff" + body.encode(), stamp,
                                        hashlib.sha1(b"\xff" + body.encode() + stamp.encode() + SECRET.encode())
                                        .hexdigest())  # not UTF-8: never JSON Cloudinary sent


def test_timestamps_outside_the_window_are_refused_with_the_reason() -> None:
    now = 1_800_000_000.0
    assert timestamp_problem(str(int(now)), now) is None
    assert timestamp_problem(str(int(now - VALID_FOR_SECONDS + 5)), now) is None
    assert "old" in timestamp_problem(str(int(now - VALID_FOR_SECONDS - 5)), now)
    assert "ahead" in timestamp_problem(str(int(now + FUTURE_SKEW_SECONDS + 5)), now)
    assert "no X-Cld-Timestamp" in timestamp_problem(None, now)
    assert "not a Unix time" in timestamp_problem("yesterday", now)


def test_the_receiver_url_and_the_copy_a_notification_names() -> None:
    assert receiver_url("https://airflow.example.com/", "cloudinary default") == \
        "https://airflow.example.com/campaign-media/notifications/cloudinary/cloudinary%20default"
    assert copy_named({"notification_type": "eager", "public_id": "c/m/fr/1"}) == "c/m/fr/1"
    assert copy_named({"notification_type": "moderation", "public_id": "c/m/fr/1"}) is None
    assert copy_named({"notification_type": "eager", "public_id": ""}) is None
    assert copy_named({"notification_type": "eager", "public_id": ["x"]}) is None
    with pytest.raises(ValueError, match="not JSON"):
        parse(b"<xml/>")
    with pytest.raises(ValueError, match="not a JSON object"):
        parse(b"[1, 2]")


def test_signatures_have_one_spelling_and_only_named_connections_are_received() -> None:
    from campaign_media.domain.notifications import canonical_signature, received, signature_problem

    assert signature_problem("a" * 40) is None and signature_problem("A" * 64) is None
    for bad in ("a" * 39, "a" * 40 + "\xa0", " " + "a" * 40, "é" * 40, "g" * 40, "", None):
        assert signature_problem(bad), bad
    assert canonical_signature("ABC" + "d" * 37) == "abc" + "d" * 37
    assert received("cloudinary_default", "cloudinary_default, cld_eu")
    assert received("cld_eu", "cloudinary_default, cld_eu") and not received("smtp_default", "cloudinary_default")
