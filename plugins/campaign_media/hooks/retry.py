"""One retry policy for both APIs: exponential backoff with full jitter and a bounded budget.

A call is retried when the hook classifies its failure as transient (5xx, 420/429, a dropped
connection). The wait is the server's ``Retry-After`` (or rate-limit reset) when it gave one,
otherwise ``base * 2**attempt`` with full jitter, capped at ``max_delay``. Two bounds keep a
task from hanging: ``max_attempts`` and ``budget_seconds`` of total waiting; when either would
be passed (e.g. an hourly quota whose reset is 40 minutes away) the last error is raised at
once, wrapped in :class:`RetryBudgetExceeded`, naming the call and the wait asked for.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class TransientError(Exception):
    """A failure worth retrying; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RetryBudgetExceeded(RuntimeError):
    """Every allowed attempt failed with a transient error."""


@dataclass
class RetryPolicy:
    """How hard to try; built from a connection's extras with :meth:`from_extras`."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    budget_seconds: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    @classmethod
    def from_extras(cls, extras: dict[str, Any]) -> RetryPolicy:
        """Read ``max_retries``, ``retry_base_delay``, ``retry_max_delay`` and
        ``retry_budget_seconds`` from a connection's extras (all optional)."""
        policy = cls()
        if "max_retries" in extras:
            policy.max_attempts = int(extras["max_retries"]) + 1
        policy.base_delay = float(extras.get("retry_base_delay", policy.base_delay))
        policy.max_delay = float(extras.get("retry_max_delay", policy.max_delay))
        policy.budget_seconds = float(extras.get("retry_budget_seconds", policy.budget_seconds))
        return policy

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (attempt counts from 0)."""
        if retry_after is not None and retry_after >= 0:
            return retry_after  # the server's word; a wait beyond the budget ends the retries
        return self.rng.uniform(0, min(self.max_delay, self.base_delay * 2**attempt))

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` until it succeeds, raises a non-transient error, or the budget is spent."""
        waited = 0.0
        for attempt in range(self.max_attempts):
            try:
                return fn()
            except TransientError as exc:
                pause = self.delay(attempt, exc.retry_after)
                last_attempt = attempt + 1 >= self.max_attempts
                if last_attempt or waited + pause > self.budget_seconds:
                    hint = f" (the service asked to wait {pause:.0f}s)" if exc.retry_after else ""
                    raise RetryBudgetExceeded(
                        f"{what} failed after {attempt + 1} attempt(s) and {waited:.1f}s of backoff: {exc}{hint}. "
                        "The service kept answering with a transient error; retry the task later "
                        "or raise max_retries / retry_budget_seconds in the connection's extras."
                    ) from exc
                log.warning("%s: %s; retrying in %.2fs (attempt %d of %d)", what, exc, pause,
                            attempt + 2, self.max_attempts)
                self.sleep(pause)
                waited += pause
        raise AssertionError("unreachable")  # pragma: no cover
