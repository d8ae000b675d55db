"""What both hooks share about HTTP: one retry policy (on tenacity), one ``Retry-After`` /
rate-limit parser, one stream-to-file-with-hash helper and the connection-pool limits.

A call is retried when the hook classifies its failure as transient (5xx, 420/429, a dropped
connection). The wait is the server's ``Retry-After`` (or rate-limit reset) when it gave one,
otherwise ``base * 2**attempt`` with full jitter, capped at ``max_delay``. Two bounds keep a
task from hanging: ``max_attempts`` and ``budget_seconds`` of total waiting; when either would
be passed (e.g. an hourly quota whose reset is 40 minutes away) the last error is raised at
once, wrapped in :class:`RetryBudgetExceeded`, naming the call and the wait asked for — the
task then fails and Airflow's own retries (minutes apart) take over.

Tenacity runs the loop; the wait is decided before the stop (tenacity's order), because a server's
``Retry-After`` beyond the budget must end the retries without sleeping.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import httpx
import tenacity

from campaign_media.exceptions import CampaignMediaError

T = TypeVar("T")
log = _log = logging.getLogger(__name__)
POOL_CONNECTIONS = 16  # kept-alive connections per host: a batch's threads (and a few tasks) at once
# An idle connection is not reused after a few seconds: a server that closed it meanwhile (many
# close after 5 s) would otherwise fail the next request on it with a read error and a retry.
KEEPALIVE = httpx.Limits(max_keepalive_connections=POOL_CONNECTIONS, keepalive_expiry=4)


@functools.cache
def _tls() -> ssl.SSLContext:
    return httpx.create_ssl_context()  # the CA bundle httpx would load (SSL_CERT_FILE/DIR honoured)


def http_client(**options: Any) -> httpx.Client:
    """An HTTP client with the hooks' pool limits. Every client of the process shares one TLS
    context: building one (reading the CA bundle) costs tens of milliseconds of CPU, which a
    client per task, or per rendition, would pay again."""
    return httpx.Client(verify=_tls(), limits=KEEPALIVE, **options)


class TransientError(CampaignMediaError):
    """A failure worth retrying; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(self, message: str, retry_after: float | None = None, *, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited


class RetryBudgetExceeded(CampaignMediaError, RuntimeError):
    """Every allowed attempt failed with a transient error. ``retry_at`` is when a rate-limited
    service said it would take calls again (its ``Retry-After`` or quota reset), if it said."""

    def __init__(self, message: str, rate_limited: bool = False, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.rate_limited = rate_limited
        self.retry_at = retry_at

    def carried_by(self, error: RetryBudgetExceeded) -> RetryBudgetExceeded:
        """``error`` (a hook's own rate-limit error) with this one's figures; returns it."""
        error.rate_limited, error.retry_at = self.rate_limited, self.retry_at
        return error


def must_wait(error: BaseException) -> bool:
    """A rate limit whose end the service named (or another reason to come back at a set time,
    ``retry_at``): a batch stops at once (every further call would be refused too) and its task
    waits until then instead of failing."""
    return getattr(error, "retry_at", None) is not None


def retry_after_seconds(value: str | None) -> float | None:
    """Parse ``Retry-After`` (seconds or an HTTP date) into seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def retry_hint(headers: dict[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` or, when an hourly quota is spent
    (``X-FeatureRateLimit-Remaining: 0``), its reset time. Header names in lower case."""
    wait = retry_after_seconds(headers.get("retry-after"))
    if wait is not None:
        return wait
    if headers.get("x-featureratelimit-remaining") == "0":
        return retry_after_seconds(headers.get("x-featureratelimit-reset"))
    return None


def credentials_only_to(origin: str, names: tuple[str, ...]) -> Callable[[httpx.Request], None]:
    """An httpx request hook that drops the ``names`` headers from any request that leaves
    ``origin`` (scheme, host and port): a redirect to a CDN or a storage bucket is followed
    without the service's credentials (httpx itself strips only ``Authorization``)."""
    home = httpx.URL(origin)

    def strip(request: httpx.Request) -> None:
        if (request.url.scheme, request.url.host, request.url.port) != (home.scheme, home.host, home.port):
            for name in names:
                request.headers.pop(name, None)

    return strip


def send_once(what: str, send: Callable[[], T], find: Callable[[], T | None],
              log: logging.Logger | Any = None) -> Callable[[], T]:
    """One attempt function for a write that must happen once (an upload, a new gallery), for a
    retry loop to call. A failure whose outcome is unknown — a 5xx or a dropped connection may come
    after the service carried the write out — makes the next attempt ``find`` the write's result
    first; only when it finds none is the write sent again."""
    sent = False

    def attempt() -> T:
        nonlocal sent
        if sent:
            found = find()
            if found is not None:
                (log or _log).info("%s: carried out by an earlier attempt whose answer was lost", what)
                return found
        sent = True
        return send()

    return attempt


@dataclass(frozen=True)
class ErrorKinds:
    """A hook's error classes by what an HTTP status means: one mapping for both hooks (the
    Cloudinary SDK's exception classes stand for the statuses it raised them on)."""

    other: type[Exception]
    not_found: type[Exception]
    auth: type[Exception]
    rejected: type[Exception]

    def for_status(self, status: int | None) -> type[Exception]:
        """404 not found; 401/403 credentials or permission; 400/409/422 the request's input."""
        if status == 404:
            return self.not_found
        if status in (401, 403):
            return self.auth
        if status in (400, 409, 422):
            return self.rejected
        return self.other


class Fetched(NamedTuple):
    """What a download wrote: its size and SHA-256 (to verify a copy against what was served)."""

    size: int
    sha256: str


class TooLarge(CampaignMediaError):
    """A download passed the size it may have; ``size`` is what had arrived, ``limit`` the cap."""

    retryable = False

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the stream passed {limit} bytes ({size} had arrived) and was stopped")
        self.size, self.limit = size, limit


def download_limit(expected: int | None, ceiling: int) -> int:
    """The most a download may bring: its expected size plus a margin (10 %, at least 1 MiB) when
    it is known, else ``ceiling``."""
    return expected + max(expected // 10, 1024 * 1024) if expected else ceiling


def stream_to_file(blocks: Iterable[bytes], dest: str | Path, limit: int | None = None) -> Fetched:
    """Write a body to ``dest`` block by block (truncating it first), hashing as it goes: memory
    stays at one block whatever the size. Past ``limit`` bytes it stops with :class:`TooLarge`."""
    size, digest = 0, hashlib.sha256()
    with open(dest, "wb") as out:
        for block in blocks:
            size += len(block)
            if limit is not None and size > limit:
                raise TooLarge(size, limit)
            out.write(block)
            digest.update(block)
    return Fetched(size, digest.hexdigest())


@dataclass
class RetryPolicy:
    """How hard to try; built from a connection's extras with :meth:`from_extras`."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 60.0
    budget_seconds: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)
    # A rate limit slows every thread that shares this policy (one hook, one task), not only the
    # call that met it: until this moment (monotonic) no call of theirs is sent.
    _paused_until: float = field(default=0.0, repr=False)

    @classmethod
    def from_extras(cls, extras: dict[str, Any]) -> RetryPolicy:
        """Read ``max_retries``, ``retry_base_delay``, ``retry_max_delay`` and
        ``retry_budget_seconds`` from a connection's extras (all optional)."""
        policy = cls()
        if extras.get("max_retries") not in (None, ""):
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

    def hold_back(self, own: float) -> None:
        """Wait while a rate limit another call met is in force (``own``: the pause this call set
        itself, already waited out by its own backoff)."""
        ahead = self._paused_until - time.monotonic()
        if ahead > 0 and self._paused_until != own:
            self.sleep(ahead)

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` until it succeeds, raises a non-transient error, or the budget is spent."""
        pause = {"next": 0.0, "own": 0.0}

        def attempt() -> T:
            self.hold_back(pause["own"])
            return fn()

        def wait(state: tenacity.RetryCallState) -> float:  # tenacity asks for the wait before ``stop``
            exc = state.outcome.exception() if state.outcome else None
            pause["next"] = self.delay(state.attempt_number - 1, getattr(exc, "retry_after", None))
            if getattr(exc, "rate_limited", False) and pause["next"] <= self.budget_seconds:
                pause["own"] = time.monotonic() + pause["next"]
                self._paused_until = max(self._paused_until, pause["own"])
            return pause["next"]

        def stop(state: tenacity.RetryCallState) -> bool:
            return state.attempt_number >= self.max_attempts or state.idle_for + pause["next"] > self.budget_seconds

        def before_sleep(state: tenacity.RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning("%s: %s; retrying in %.2fs (attempt %d of %d)", what, exc, pause["next"],
                        state.attempt_number + 1, self.max_attempts)

        retrying = tenacity.Retrying(stop=stop, wait=wait, sleep=self.sleep,
                                     retry=tenacity.retry_if_exception_type(TransientError),
                                     before_sleep=before_sleep)
        try:
            return retrying(attempt)
        except tenacity.RetryError as err:
            state = err.last_attempt
            exc = state.exception()
            hint = f" (the service asked to wait {pause['next']:.0f}s)" if getattr(exc, "retry_after", None) else ""
            waited = retrying.statistics.get("idle_for", 0)
            limited = bool(getattr(exc, "rate_limited", False))
            asked = getattr(exc, "retry_after", None)
            raise RetryBudgetExceeded(
                f"{what} failed after {state.attempt_number} attempt(s) and {waited:.1f}s of backoff: {exc}{hint}. "
                "The service kept answering with a transient error; retry the task later "
                "or raise max_retries / retry_budget_seconds in the connection's extras.",
                rate_limited=limited,
                retry_at=datetime.now(UTC) + timedelta(seconds=asked) if limited and asked is not None else None,
            ) from exc
