"""One run at a time per DAG (``campaign_media.runtime.claims``), on a local storage folder."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest

from campaign_media.hooks.retry import must_wait
from campaign_media.runtime import claims

DAG = "campaign_media_market_fr"


@pytest.fixture(autouse=True)
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CAMPAIGN_MEDIA__STORAGE", tmp_path.as_uri())


def holder() -> str | None:
    return claims.holder(DAG)


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


@pytest.mark.parametrize("stale", [None, "killed_run"])
def test_of_many_runs_claiming_at_once_exactly_one_wins(stale: str | None) -> None:
    """Twenty runs read the claim at the same moment (a free DAG, or one left by a dead run) and
    all try to take it: exactly one goes on, every other is told to wait for it."""
    if stale:
        claims.claim(DAG, stale, lambda run_id: "running")
    ready = threading.Barrier(20, timeout=30)
    real_current = claims.current
    outcomes: dict[str, str] = {}

    def read_together(dag_id: str):  # every run has read the claim before any of them writes
        seen = real_current(dag_id)
        if seen[1] is None or seen[1].get("run_id") == stale:
            with contextlib.suppress(threading.BrokenBarrierError):
                ready.wait()
        return seen

    def run(name: str) -> None:
        try:
            claims.claim(DAG, name, lambda run_id: "success" if run_id == stale else "running")
            outcomes[name] = "claimed"
        except claims.RunInProgress:
            outcomes[name] = "waits"

    with mock.patch.object(claims, "current", read_together):
        threads = [threading.Thread(target=run, args=(f"run-{n}",)) for n in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    winners = [name for name, outcome in outcomes.items() if outcome == "claimed"]
    assert len(outcomes) == 20 and len(winners) == 1, outcomes
    assert holder() == winners[0]
    claims.release(DAG, winners[0])
    assert holder() is None
