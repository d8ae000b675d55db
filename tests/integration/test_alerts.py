"""Alerts reach people: a task that fails for good sends its e-mail through the SMTP provider to a
real SMTP server the test starts (aiosmtpd), which reads it back (real Airflow, ``dag.test()``)."""

from __future__ import annotations

import email

import httpx
import pytest

from emulators.photoshelter.seed import seed
from emulators.runner import start_cloudinary, start_photoshelter
from tests.conftest import UI, cld_connection, ps_connection
from tests.integration.test_lifecycle_dags import run

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def body(message: email.message.EmailMessage) -> str:
    return message.get_body(("html", "plain")).get_content()


def test_a_task_that_fails_for_good_mails_what_failed_what_to_do_and_links(inbox, tmp_path, dagbag, airflow_db,
                                                                           monkeypatch) -> None:
    seed(tmp_path / "ps", images=3, galleries=1)
    ps, cld = start_photoshelter(tmp_path / "ps"), start_cloudinary(tmp_path / "cld")
    try:
        monkeypatch.setenv("AIRFLOW_CONN_PHOTOSHELTER_DEFAULT", ps_connection(ps, password="not-the-password"))
        monkeypatch.setenv("AIRFLOW_CONN_CLOUDINARY_DEFAULT", cld_connection(cld))
        monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", (tmp_path / "storage").as_uri())
        result, states = run(dagbag, "campaign_media_ingest", force=True)
    finally:
        ps.stop()
        cld.stop()
    assert result.state == "failed", states
    assert len(inbox.messages) == 1, [m["Subject"] for m in inbox.messages]  # one failed task, one message
    message = inbox.messages[0]
    assert inbox.recipients[0] == ["brand-ops@example.com", "legal@example.com"]
    assert message["From"] == "pipelines@brand.example" and message["X-Campaign-Media"] == "alert"
    failed = next(task for task, state in states.items() if state == "failed")
    task_id = failed.split("[")[0]
    assert message["Subject"] == f"[campaign media] failed: campaign_media_ingest.{task_id}", message["Subject"]
    text = body(message)
    assert "What failed:" in text and "password" in text.lower()  # the login error, named
    assert "retrying cannot fix this" in text and "What to do:" in text and "Clear" in text
    assert "not-the-password" not in text  # the secret itself never travels
    link = f"{UI}/dags/campaign_media_ingest/runs/{result.run_id.replace(':', '%3A').replace('+', '%2B')}" \
           f"/tasks/{task_id}"
    assert link in text, text
    assert httpx.URL(link).host == "airflow.brand.example"
