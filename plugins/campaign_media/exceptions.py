"""The package's one error root.

Every error class of ``campaign_media`` derives from :class:`CampaignMediaError`, itself an
``AirflowException``, so a caller can catch the package's failures in one clause and Airflow
treats them as task failures. The classes stay next to the code that raises them (the hooks'
``*AuthError``, ``*Rejected``, the steps' ``*Incomplete``…); each keeps the built-in base it had
(``RuntimeError``, ``ValueError``) as a second base, so code catching those still does.

``retryable = False`` marks an error that retrying cannot cure — a refused credential, input a
service rejects, an invalid campaign or market file, an account that lacks a capability. The
operators (``operators/waiting.py``) turn those into ``AirflowFailException`` at the task
boundary: the task fails at once instead of spending its retries and retry delays on them.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from airflow.sdk.exceptions import AirflowException

NOT_RETRIED = " (not retried: retrying cannot fix this)"  # how a task failed at once ends its message


class CampaignMediaError(AirflowException):
    """Root of every error the package raises."""

    retryable: ClassVar[bool] = True


class ComeBackLater(CampaignMediaError):
    """Work that can only be done from a known moment on (``retry_at``): the operators defer the
    task until then (``operators/waiting.py``) instead of failing it."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at
