"""The shared retry policy (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from campaign_media.hooks.retry import RetryBudgetExceeded, RetryPolicy, TransientError, must_wait


def flaky(failures: int, retry_after: float | None = None):
    state = {"calls": 0}

    def fn() -> str:
        state["calls"] += 1
        if state["calls"] <= failures:
            raise TransientError("HTTP 503", retry_after)
        return "ok"

    return fn, state


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, rng=random.Random(1))
    for attempt in range(8):
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert min(delays) >= 0 and max(delays) <= min(10.0, 2**attempt)
    assert max(policy.delay(6, None) for _ in range(200)) > 5  # jitter spreads up to the cap


def test_retry_after_is_used_as_given() -> None:
    assert RetryPolicy(max_delay=1).delay(0, 42.0) == 42.0


def test_transient_failures_are_retried_until_success() -> None:
    waits: list[float] = []
    fn, state = flaky(3, retry_after=0.5)
    assert RetryPolicy(sleep=waits.append).call("op", fn) == "ok"
    assert state["calls"] == 4 and waits == [0.5, 0.5, 0.5]


def test_attempts_are_bounded() -> None:
    fn, state = flaky(100)
    with pytest.raises(RetryBudgetExceeded, match="op failed after 3 attempt"):
        RetryPolicy(max_attempts=3, sleep=lambda s: None, base_delay=0).call("op", fn)
    assert state["calls"] == 3


def test_a_wait_beyond_the_budget_fails_at_once_and_says_so() -> None:
    fn, state = flaky(1, retry_after=3600)
    with pytest.raises(RetryBudgetExceeded, match="asked to wait 3600s"):
        RetryPolicy(budget_seconds=60, sleep=lambda s: pytest.fail("must not sleep")).call("op", fn)
    assert state["calls"] == 1


def test_a_rate_limit_beyond_the_budget_names_when_calls_resume() -> None:
    def limited() -> None:
        raise TransientError("HTTP 420", 1800, rate_limited=True)

    before = datetime.now(UTC)
    with pytest.raises(RetryBudgetExceeded) as caught:
        RetryPolicy(budget_seconds=60, sleep=lambda s: pytest.fail("must not sleep")).call("op", limited)
    assert must_wait(caught.value) and caught.value.rate_limited
    assert before + timedelta(seconds=1800) <= caught.value.retry_at <= datetime.now(UTC) + timedelta(seconds=1800)
    # A 5xx with Retry-After is not a quota: the task fails and Airflow's retries take over.
    fn, _ = flaky(10, retry_after=3600)
    with pytest.raises(RetryBudgetExceeded) as caught:
        RetryPolicy(budget_seconds=60, sleep=lambda s: None).call("op", fn)
    assert not must_wait(caught.value) and caught.value.retry_at is None


def test_other_errors_are_not_retried() -> None:
    calls = []

    def fn() -> None:
        calls.append(1)
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        RetryPolicy(sleep=lambda s: None).call("op", fn)
    assert calls == [1]


def test_policy_from_connection_extras() -> None:
    policy = RetryPolicy.from_extras({"max_retries": "2", "retry_base_delay": "0.1", "retry_budget_seconds": 5})
    assert (policy.max_attempts, policy.base_delay, policy.budget_seconds) == (3, 0.1, 5.0)


def test_a_rate_limit_one_thread_met_holds_back_the_others_sharing_the_policy() -> None:
    """A 429 with Retry-After on one call pauses every call sent through the same policy (one
    hook, one task's threads) until then, instead of each of them meeting its own 429."""
    import threading
    import time

    policy = RetryPolicy(max_attempts=3, budget_seconds=10)
    limited, other_sent = threading.Event(), []

    def rate_limited_once() -> str:
        if not limited.is_set():
            limited.set()
            raise TransientError("HTTP 429", retry_after=0.4, rate_limited=True)
        return "ok"

    started = time.monotonic()
    first = threading.Thread(target=policy.call, args=("first", rate_limited_once))
    first.start()
    limited.wait(2)
    time.sleep(0.05)  # the first call is in its backoff now
    policy.call("second", lambda: other_sent.append(time.monotonic() - started))
    first.join()
    assert other_sent and other_sent[0] >= 0.35  # sent only once the pause was over


def test_a_call_does_not_wait_twice_for_the_pause_it_met_itself() -> None:
    waits: list[float] = []
    policy = RetryPolicy(sleep=waits.append)
    calls = iter([TransientError("HTTP 429", 2.5, rate_limited=True), None])

    def once_limited() -> str:
        error = next(calls)
        if error:
            raise error
        return "ok"

    assert policy.call("x", once_limited) == "ok"
    assert waits == [2.5]
