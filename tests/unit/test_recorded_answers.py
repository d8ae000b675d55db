"""The Cloudinary emulator's answers held to answers recorded from real accounts in public
repositories (the shapes written here in our own words; no recording is copied):

* an eager notification for a video job (a training repository of Cloudinary's, and a 2026
  audit of a production webhook): ``notification_type``, an ISO ``timestamp`` with ``+00:00``,
  a 32-hex ``request_id``, ``asset_id``, ``public_id``, ``batch_id``, ``api_key`` and
  ``signature_key`` (both the API key), ``notification_context.triggered_by`` ``{id, source:
  api}`` with ``triggered_at`` in UTC ``Z``, and ``eager`` entries carrying ``transformation`` (a
  string), ``width``/``height``/``bytes`` (integers), ``format``, ``url`` and ``secure_url`` —
  no ``duration``, no ``resource_type``;
* Admin answers' rate-limit headers (SDK test fixtures and third-party clients recorded against
  real accounts): ``X-FeatureRateLimit-Limit`` and ``-Remaining`` integers, ``-Reset`` an HTTP
  date in GMT.

Known differences, left as they are: a real ``batch_id`` is 96 hex digits (ours: 32), and a
real account may send ``X-FeatureRateLimit-*`` on Upload API answers too (ours: Admin only).
"""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from fastapi.testclient import TestClient

from emulators.cloudinary.app import DEFAULT_API_KEY, DEFAULT_API_SECRET, DEFAULT_CLOUD, create_app
from emulators.cloudinary.notifications import Notifier

RECORDED_EAGER_KEYS = {"notification_type", "timestamp", "request_id", "eager", "api_key", "asset_id", "batch_id",
                       "public_id", "signature_key", "notification_context"}
RECORDED_ENTRY_KEYS = {"transformation", "width", "height", "bytes", "format", "url", "secure_url"}


def test_an_eager_notification_has_the_fields_of_a_recorded_one() -> None:
    res = {"asset_id": "a" * 32, "public_id": "campaigns/c/markets/fr/VD1", "resource_type": "video"}
    made = [{"transformation": "c_fill,w_640/mp4", "width": 640, "height": 360, "bytes": 123456, "format": "mp4",
             "url": "http://x/v.mp4", "secure_url": "https://x/v.mp4", "id": "d1", "eager": "c_fill,w_640/mp4"}]
    body = Notifier(DEFAULT_API_KEY, DEFAULT_API_SECRET).eager_notification(res, "b" * 32, made)
    assert set(body) == RECORDED_EAGER_KEYS
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", body["timestamp"])
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert body["api_key"] == body["signature_key"] == DEFAULT_API_KEY
    context = body["notification_context"]
    assert context["triggered_by"] == {"id": DEFAULT_API_KEY, "source": "api"}
    assert context["triggered_at"].endswith("Z")
    [entry] = body["eager"]
    assert set(entry) <= RECORDED_ENTRY_KEYS and isinstance(entry["transformation"], str)
    assert all(isinstance(entry[k], int) for k in ("width", "height", "bytes"))


def test_admin_answers_carry_the_rate_limit_headers_as_recorded(tmp_path) -> None:
    client = TestClient(create_app(str(tmp_path)))
    answer = client.get(f"/v1_1/{DEFAULT_CLOUD}/ping", auth=(DEFAULT_API_KEY, DEFAULT_API_SECRET))
    assert answer.status_code == 200
    assert int(answer.headers["X-FeatureRateLimit-Limit"]) > int(answer.headers["X-FeatureRateLimit-Remaining"]) >= 0
    reset = answer.headers["X-FeatureRateLimit-Reset"]
    assert reset.endswith(" GMT") and parsedate_to_datetime(reset).tzinfo is not None
