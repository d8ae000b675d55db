"""The base of every operator here: a task whose service says when its rate limit ends waits
for it deferred, instead of failing and spending one of its retries; so does a plan whose DAG
another run is working on (``campaign_media.runtime.claims``).

Cloudinary's Admin API allows a fixed number of calls an hour and answers 420 with the reset
once they are spent; PhotoShelter answers 429 with ``Retry-After``. The hooks wait out a short
limit themselves (inside the connection's retry budget). A longer one reaches the operator as a
rate-limit error that names the moment (``retry_at``): the task is then deferred with a
``DateTimeTrigger`` until just after it — it frees its worker and pool slot, shows as *deferred*
in the UI, keeps its try number — and runs again from the start when the trigger fires. Every
step is resumable (progress is saved per master), so running again carries on where it stopped.

An error that retrying cannot cure (``retryable = False`` in ``campaign_media.exceptions``: a refused
credential, rejected input, an invalid config file) fails the task at once as
``AirflowFailException``: no retry and no retry delay are spent on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from campaign_media import settings
from campaign_media.exceptions import NOT_RETRIED, CampaignMediaError, ComeBackLater
from campaign_media.hooks.retry import RetryBudgetExceeded, must_wait
from campaign_media.runtime import audit

AFTER_RESET = timedelta(seconds=5)  # clocks differ: resume a little after the service's moment


class WaitTooLong(CampaignMediaError):
    """A service named a moment to come back beyond ``[campaign_media] max_rate_limit_wait_hours``."""

    retryable = False  # Airflow's retries, minutes apart, would meet the same limit


class WaitingOperator(BaseOperator):
    """Subclasses implement :meth:`run` (what ``execute`` would be)."""

    def execute(self, context: Context) -> Any:
        return self.run_or_wait(context, self.run)

    def resume_after_wait(self, context: Context, event: Any = None) -> Any:
        """Where a deferred task comes back: the whole task again (its steps carry on)."""
        return self.run_or_wait(context, self.run)

    def run(self, context: Context) -> Any:
        raise NotImplementedError

    def run_or_wait(self, context: Context, work: Callable[[Context], Any]) -> Any:
        """Do ``work`` with the task's audit trail open; a rate limit or claim with a named end
        defers the task until then (it comes back in :meth:`resume_after_wait`), and an error
        retrying cannot fix fails it without retries. Every way into a task goes through here:
        ``execute`` and any method a deferral resumes in."""
        try:
            with failing_fast(), audit.recording(audit.RunInfo.from_context(context)):
                return work(context)
        except (RetryBudgetExceeded, ComeBackLater) as exc:  # retryable: failing_fast let them through
            if not must_wait(exc):
                raise
            assert exc.retry_at is not None
            moment = exc.retry_at + AFTER_RESET
            longest = timedelta(hours=settings.get("max_rate_limit_wait_hours"))
            if moment - datetime.now(UTC) > longest:
                raise not_retried(WaitTooLong(
                    f"{exc} — the service asks to wait until {moment.isoformat(timespec='seconds')}, "
                    f"{(moment - datetime.now(UTC)).total_seconds() / 3600:.1f} h from now, beyond the "
                    f"{longest.total_seconds() / 3600:g} h this deployment waits "
                    "([campaign_media] max_rate_limit_wait_hours): failed instead; run it again after that moment")
                ) from exc
            self.log.warning("%s — waiting until %s (deferred: no retry is spent, the worker and pool slot "
                             "are free meanwhile); the task then runs again and carries on where it stopped", exc,
                             moment.isoformat(timespec="seconds"))
            self.defer(trigger=DateTimeTrigger(moment=moment), method_name="resume_after_wait")


def not_retried(exc: CampaignMediaError) -> AirflowFailException:
    """``exc`` as the task's end: an ``AirflowFailException`` fails it at once, its retries unspent."""
    return AirflowFailException(f"{exc}{NOT_RETRIED}")


@contextmanager
def failing_fast() -> Iterator[None]:
    """An error retrying cannot fix (``retryable = False``) fails the task at once; the others pass
    as they are. The operators run every task under it; TaskFlow tasks that call hooks use it too."""
    try:
        yield
    except CampaignMediaError as exc:
        if exc.retryable:
            raise
        raise not_retried(exc) from exc
