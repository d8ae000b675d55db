"""One run at a time per DAG (``campaign_media.runtime.claims``), on a local storage folder."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaign_media.hooks.retry import must_wait
from campaign_media.runtime import claims, storage

DAG = "campaign_media_market_fr"


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", tmp_path.as_uri())
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__CLAIM_SETTLE_SECONDS", "0")


def holder() -> str | None:
    return (storage.read_json(storage.claim_file(DAG)) or {}).get("run_id")


def test_a_free_dag_is_claimed_and_let_go_only_by_its_run() -> None:
    claims.claim(DAG, "run-a", lambda run_id: pytest.fail("nobody to ask about"))
    assert holder() == "run-a"
    claims.release(DAG, "run-b")
    assert holder() == "run-a"
    claims.release(DAG, "run-a")
    assert holder() is None


def test_a_run_still_going_makes_the_other_wait_and_says_which() -> None:
    claims.claim(DAG, "backfill__1", lambda run_id: "success")
    with pytest.raises(claims.RunInProgress, match="run backfill__1 .* is doing this DAG's work") as waiting:
        claims.claim(DAG, "scheduled__2", {"backfill__1": "running"}.__getitem__)
    assert must_wait(waiting.value)
    assert timedelta(0) < waiting.value.retry_at - datetime.now(UTC) <= claims.poll_interval()
    assert holder() == "backfill__1"
    claims.claim(DAG, "backfill__1", lambda run_id: pytest.fail("its own claim"))  # a cleared task of that run


@pytest.mark.parametrize("state", ["success", "failed", "deleted"])
def test_the_claim_of_a_run_that_ended_is_taken_over(state: str) -> None:
    claims.claim(DAG, "old", lambda run_id: "running")
    claims.claim(DAG, "new", {"old": state}.__getitem__)
    assert holder() == "new"


def test_of_two_runs_writing_at_once_only_the_last_writer_goes_on(monkeypatch) -> None:
    def other_run_writes_meanwhile(seconds: float) -> None:
        storage.write_json(storage.claim_file(DAG), {"run_id": "other", "since": "now"})

    monkeypatch.setattr(claims.time, "sleep", other_run_writes_meanwhile)
    with pytest.raises(claims.RunInProgress, match="run other"):
        claims.claim(DAG, "this", lambda run_id: "running")
    assert holder() == "other"
