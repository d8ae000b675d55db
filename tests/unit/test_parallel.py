"""The batch runner every step shares: masters in flight at once, errors kept per master,
progress saved, a named rate limit stopping the hand-out of work."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from campaign_media.hooks.retry import RetryBudgetExceeded
from campaign_media.runtime.parallel import Progress, work_through


class Final(Exception):
    pass


def test_masters_run_concurrently_and_every_outcome_is_saved() -> None:
    running, peak, lock = [0], [0], threading.Lock()
    together = threading.Barrier(4, timeout=30)  # the first four meet here: only if four run at once
    saved: list[int] = []

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        if n < 4:
            together.wait()  # a pool of fewer threads breaks the barrier: a bug, raised by work_through
        with lock:
            running[0] -= 1
        if n == 3:
            raise Final("master 3 is broken")
        if n == 5:
            raise RetryBudgetExceeded("503 beyond the budget")
        return n * 10

    progress = work_through(((str(n), n) for n in range(8)), work, Progress(), final_errors=(Final,),
                            save=lambda p: saved.append(len(p.done) + len(p.not_done)), threads=4)
    assert peak[0] == 4
    assert progress.done == {str(n): n * 10 for n in range(8) if n not in (3, 5)}
    assert progress.failed == {"3": "master 3 is broken"}
    assert list(progress.retry) == ["5"]
    assert saved[-1] == 8 and len(saved) == 9  # after each master, and once at the end


def test_done_masters_are_skipped() -> None:
    seen: list[int] = []
    progress = Progress(done={"0": 0, "1": 10})
    work_through(((str(n), n) for n in range(3)), lambda n: seen.append(n) or n * 10, progress,
                 final_errors=(Final,), save=lambda p: None)
    assert seen == [2] and progress.done == {"0": 0, "1": 10, "2": 20}


@pytest.mark.parametrize("threads", [1, 2])
def test_a_named_rate_limit_stops_handing_out_work_and_is_raised_after_saving(threads: int) -> None:
    """Master 1 meets a spent quota while master 0 is in flight (two threads) or done (one): no
    master after them is started, and master 0's result is saved before the error is raised."""
    started: list[int] = []
    limit_met = threading.Event()
    saved: list[dict] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 1:
            limit_met.set()
            raise RetryBudgetExceeded("quota spent", rate_limited=True, retry_at=datetime.now(UTC))
        if threads == 2 and n == 0:
            assert limit_met.wait(timeout=30)  # still in flight when the limit is met
        return n

    with pytest.raises(RetryBudgetExceeded, match="quota spent"):
        work_through(((str(n), n) for n in range(50)), work, Progress(), final_errors=(Final,),
                     save=lambda p: saved.append(dict(p.done)), threads=threads)
    if threads == 1:
        assert started == [0, 1]  # nothing after the limit was sent
    else:  # a thread freed meanwhile may take a master before it sees the stop: not counted here
        assert sorted(started[:2]) == [0, 1]
    assert saved and saved[-1].get("0") == 0  # what finished before, or was in flight, is kept


def test_a_bug_is_raised_not_recorded_as_a_master_failure() -> None:
    with pytest.raises(KeyError):
        work_through([("a", 1)], lambda n: {}["missing"], Progress(), final_errors=(Final,), save=lambda p: None)
