"""Cloudinary's notifications instead of polling for video transcodes, over real HTTP: the
Cloudinary emulator POSTs signed notifications to the project's receiver (served by uvicorn, as
the API server mounts it), which records them in storage; the video trigger finishes on them.

* the receiver refuses what Cloudinary did not send (forged, unsigned, stale, from the future,
  oversized, not JSON, for an unknown connection or another service's, a signature spelt with
  extra characters, a non-ASCII one) and records nothing for it; a replay within the accepted
  window, in any spelling, is a duplicate and changes nothing;
* a market run's video copies finish on their notifications (the fallback poll is set to ten
  minutes: only the notification can end the wait in time), written back once;
* a duplicated notification is recorded once and looked at once;
* a lost notification still finishes through the fallback poll.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from campaign_media.domain.masters import MASTER_DELIVERY, master_public_id
from campaign_media.domain.notifications import MAX_BODY_BYTES, MOUNT, receiver_url
from campaign_media.hooks import CloudinaryHook
from campaign_media.runtime import notices, storage
from emulators.runner import CLD_CREDENTIALS, free_port
from tests.integration.test_lifecycle_dags import CAMPAIGN, PS_UPLOAD, UPLOAD, calls, run
from tests.integration.worlds import seeded_world

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
SECRET = CLD_CREDENTIALS["api_secret"]
SMTP_PASSWORD = "the-mail-password"
RESOURCE = "GET /v1_1/{cloud}/resources/{rt}/{dtype}/{public_id:path}"


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    """The receiver app mounted where the API server mounts it, on a real port; its base URL."""
    from campaign_media.notifications.receiver import app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Mount(MOUNT, app=app)]), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db, dagbag, receiver):
    """One image and one video master; Cloudinary's connection with a notification_base_url; the
    emulator waits 3 s before transcoding, so the trigger's first look finds the copy unmade."""
    from tests.conftest import cld_connection

    with seeded_world(tmp_path_factory.mktemp("notified"), images=1, videos=1,
                      cld_args=["--eager-delay", "3"]) as world:
        world["mp"].setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT",
                           cld_connection(world["cld"], extra={"notification_base_url": receiver}))
        world["mp"].setenv("AIRFLOW__CAMPAIGN_MEDIA__VIDEO_FALLBACK_POLL_SECONDS", "600")
        world["mp"].setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({"conn_type": "smtp", "host": "127.0.0.1",
                                                                  "password": SMTP_PASSWORD}))
        result, states = run(dagbag, "campaign_media_ingest", force=True)
        assert result.state == "success", states
        yield world


def signed(body: bytes, stamp: int, secret: str = SECRET) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Cld-Timestamp": str(stamp),
            "X-Cld-Signature": hashlib.sha1(body + str(stamp).encode() + secret.encode()).hexdigest()}


def eager_body(public_id: str) -> bytes:
    return json.dumps({"notification_type": "eager", "public_id": public_id, "batch_id": "b1",
                       "eager": [{"transformation": "c_fill,w_640/mp4", "bytes": 10}]}).encode()


def records(public_id: str) -> list[Path]:
    target = notices.folder("cloudinary_default", public_id)
    return sorted(target.iterdir()) if target.exists() else []


def test_the_receiver_refuses_what_cloudinary_did_not_send_and_keeps_one_of_each_notification(world,
                                                                                              receiver) -> None:
    url = receiver_url(receiver, "cloudinary_default")
    now = int(time.time())
    body = eager_body("campaigns/x/markets/fr/forged")
    refusals = {
        "forged": (httpx.post(url, content=body, headers=signed(body, now, secret="not-the-secret")), 401),
        "unsigned": (httpx.post(url, content=body, headers={"X-Cld-Timestamp": str(now)}), 401),
        "no timestamp": (httpx.post(url, content=body, headers={"X-Cld-Signature": "0" * 40}), 401),
        "altered body": (httpx.post(url, content=body.replace(b"b1", b"b2"), headers=signed(body, now)), 401),
        "stale": (httpx.post(url, content=body, headers=signed(body, now - 3 * 3600)), 401),
        "from the future": (httpx.post(url, content=body, headers=signed(body, now + 3600)), 401),
        "oversized": (httpx.post(url, content=b"x" * (MAX_BODY_BYTES + 1),
                                 headers=signed(b"x" * (MAX_BODY_BYTES + 1), now)), 413),
        "not JSON": (httpx.post(url, content=b"<xml/>", headers=signed(b"<xml/>", now)), 400),
        "unknown connection": (httpx.post(receiver_url(receiver, "no_such_conn"), content=body,
                                          headers=signed(body, now)), 401),
        # signed with another service's password: a receiver that took any connection's password
        # as the secret let strangers test password guesses
        "another service's connection": (httpx.post(receiver_url(receiver, "smtp_default"), content=body,
                                                    headers=signed(body, now, secret=SMTP_PASSWORD)), 401),
        "non-ASCII signature": (httpx.post(url, content=body, headers={
            "X-Cld-Timestamp": str(now), "X-Cld-Signature": ("é" * 40).encode("latin-1")}), 401),
    }
    for name, (answer, status) in refusals.items():
        assert answer.status_code == status, (name, answer.text)
        assert "error" in answer.json(), name
    assert "s old" in refusals["stale"][0].json()["error"]["message"]  # the reason is named
    # one answer whether the connection is missing, another service's, or the signature wrong
    assert refusals["unknown connection"][0].json() == refusals["forged"][0].json() == \
        refusals["another service's connection"][0].json()
    assert records("campaigns/x/markets/fr/forged") == []  # nothing refused was kept

    # Signed, then replayed within the window: one record; the replay is answered as a duplicate.
    good = eager_body("campaigns/x/markets/fr/real")
    first = httpx.post(url, content=good, headers=signed(good, now))
    again = httpx.post(url, content=good, headers=signed(good, now))
    assert first.status_code == again.status_code == 200
    assert (first.json(), again.json()) == ({"recorded": True, "duplicate": False},
                                            {"recorded": False, "duplicate": True})
    assert len(records("campaigns/x/markets/fr/real")) == 1
    spellings = {"padded": (signed(good, now)["X-Cld-Signature"] + "\xa0").encode("latin-1"),
                 "upper case": signed(good, now)["X-Cld-Signature"].upper()}
    padded = httpx.post(url, content=good, headers={**signed(good, now), "X-Cld-Signature": spellings["padded"]})
    upper = httpx.post(url, content=good, headers={**signed(good, now), "X-Cld-Signature": spellings["upper case"]})
    assert padded.status_code == 401 and upper.json() == {"recorded": False, "duplicate": True}
    assert len(records("campaigns/x/markets/fr/real")) == 1  # one record, whatever the spelling
    # A kind the project does not follow: answered 200 (no re-send), not recorded.
    other = json.dumps({"notification_type": "moderation", "public_id": "campaigns/x/y"}).encode()
    answer = httpx.post(url, content=other, headers=signed(other, now))
    assert answer.status_code == 200 and answer.json()["recorded"] is False
    assert records("campaigns/x/y") == []


def video_looks(result) -> dict:
    """The videos task's counts, with how the trigger learnt of the copies (``looks``)."""
    ti = next(ti for ti in result.get_task_instances() if ti.task_id == "videos")
    return ti.xcom_pull(task_ids="videos")


def video_copy(world, market: str) -> dict:
    """The market's delivery manifest entry of the video master."""
    return storage.read_json(storage.delivery_manifest(CAMPAIGN, market))["masters"][world["seed"]["videos"][0]]


def test_a_video_copy_finishes_on_its_notification_and_is_written_back_once(world, dagbag) -> None:
    cld, ps = world["cld"], world["ps"]
    looks_before = calls(cld, RESOURCE)
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    counts = video_looks(result)
    # One video copy: looked at once before deferring (not made yet: the emulator waits 3 s), then
    # by the trigger once after its notification (made); the fallback poll (10 minutes) never came.
    assert counts["completed"] == 1 and counts["looks"] == {"poll": 0, "notified": 1}, counts
    assert calls(cld, RESOURCE) - looks_before == 3  # those two looks + the finishing read
    sent = cld.control("GET", "notifications")["sent"]
    assert [a["status"] for a in sent[-1]["answers"]] == [200]
    entry = video_copy(world, "fr")
    assert len(records(entry["public_id"])) == 1
    assert not any(r.get("pending") for r in entry["renditions"].values())
    written = [r for r in entry["renditions"].values() if r.get("ps_image_id")]
    assert len(written) == 4  # film, reel and their posters (the stream is not written back)
    # The copy is open (France's window): its own derivatives were written back, the master was
    # not transcoded again for them (only its original was read, to make the copy).
    master = CloudinaryHook().resource(master_public_id(CAMPAIGN, world["seed"]["videos"][0]), MASTER_DELIVERY,
                                       "video")
    assert set(master["delivery"]["by_transformation"]) == {"original"}, master["delivery"]
    uploads, ps_uploads = calls(cld, UPLOAD), calls(ps, PS_UPLOAD)
    result, states = run(dagbag, "campaign_media_market_fr")
    assert result.state == "success", states
    assert (calls(cld, UPLOAD), calls(ps, PS_UPLOAD)) == (uploads, ps_uploads)


@pytest.fixture
def notification_faults(world) -> Iterator[None]:
    """The emulator's notification faults a test sets, cleared when it ends."""
    yield
    world["cld"].control("POST", "notifications", {"p_duplicate": 0.0, "p_drop": 0.0})


def test_a_duplicated_notification_is_recorded_and_looked_at_once(world, dagbag, notification_faults) -> None:
    cld = world["cld"]
    cld.control("POST", "notifications", {"p_duplicate": 1.0})
    result, states = run(dagbag, "campaign_media_market_jp")
    assert result.state == "success", states
    counts = video_looks(result)
    assert counts["completed"] == 1 and counts["looks"] == {"poll": 0, "notified": 1}, counts
    sent = cld.control("GET", "notifications")["sent"][-1]
    assert sent["duplicate"] and [a["status"] for a in sent["answers"]] == [200, 200]
    assert len(records(video_copy(world, "jp")["public_id"])) == 1


def test_a_lost_notification_still_finishes_through_the_fallback_poll(world, dagbag, notification_faults,
                                                                      monkeypatch) -> None:
    cld = world["cld"]
    cld.control("POST", "notifications", {"p_drop": 1.0})
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__VIDEO_FALLBACK_POLL_SECONDS", "4")
    result, states = run(dagbag, "campaign_media_market_sa")
    assert result.state == "success", states
    counts = video_looks(result)
    assert counts["completed"] == 1 and counts["looks"]["notified"] == 0 and counts["looks"]["poll"] >= 1, counts
    assert cld.control("GET", "notifications")["sent"][-1]["dropped"]


def test_the_account_check_names_the_receiver_and_whether_it_answers(world, receiver, capsys) -> None:
    from campaign_media.cli import main as cli
    from tests.conftest import cld_connection

    assert cli(["check-account", "--json"]) == 0
    notified = json.loads(capsys.readouterr().out)["cloudinary"]["notifications"]
    assert notified["receiver"] == receiver_url(receiver, "cloudinary_default")
    assert notified["answers_as_receiver"] is True and notified["receiver_probe"] == 405
    assert "woken by notifications" in notified["video_waits"]
    nowhere = f"http://127.0.0.1:{free_port()}"
    world["mp"].setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT",
                       cld_connection(world["cld"], extra={"notification_base_url": nowhere, "max_retries": 0}))
    try:
        assert cli(["check-account"]) == 0
        out = capsys.readouterr().out
        assert "notification receiver answers from here" in out and "NO" in out.split("answers from here")[1]
    finally:
        world["mp"].setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT",
                           cld_connection(world["cld"], extra={"notification_base_url": receiver}))


def test_a_writer_s_temporary_or_an_empty_document_is_not_a_notification(world) -> None:
    public_id = "campaigns/x/markets/fr/partial"
    target = notices.folder("cloudinary_default", public_id)
    target.mkdir(parents=True, exist_ok=True)
    (target / ".abc.json.1234.tmp").write_bytes(b"")  # a writer's temporary file
    (target / f"{'0' * 40}.json").write_bytes(b"")  # an empty document
    assert notices.notified("cloudinary_default", [public_id], 0) == {}
    notices.record("cloudinary_default", public_id, "a" * 40, {"notification_type": "eager"},
                   timestamp=int(time.time()))
    assert public_id in notices.notified("cloudinary_default", [public_id], 0)
