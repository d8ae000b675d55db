"""Legal deadlines: a market copy's window end (campaign ∩ market ∩ licence) and a campaign's
archive due date must be confirmed on time (pure, no I/O).

Cloudinary's own rule closes a copy at its end whatever Airflow does. Confirming it closed is the
usage-window run's job: its report says as of when it decided. A deadline is *missed* when the
moment has passed by more than the tolerance and no usage-window run has decided as of that
moment or later, or the copy failed to get its rules in the run that did. The usual causes are a
paused DAG, a scheduler that was down, or failed runs. The archive is missed when its due date has
passed by more than the tolerance and the archive is not done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from campaign_media.domain.windows import iso


@dataclass(frozen=True)
class Missed:
    """One missed deadline: a market's copies that had to close at one moment, or an archive."""

    campaign: str
    kind: str  # "window_end" or "archive"
    due: datetime
    market: str | None = None
    masters: tuple[str, ...] = field(default_factory=tuple)
    last_confirmed: datetime | None = None  # the last usage-window run's "as of"

    @property
    def key(self) -> str:
        """What an alert is sent once for."""
        return f"{self.kind}|{self.market or ''}|{iso(self.due)}"

    def describe(self) -> str:
        seen = f"the last usage-window run decided as of {iso(self.last_confirmed)}" if self.last_confirmed \
            else "no usage-window run has decided for it yet"
        if self.kind == "archive":
            return (f"campaign {self.campaign}: its archive was due at {iso(self.due)} and is not done. "
                    "Cloudinary keeps serving nothing that is closed, but the copies and masters stay in "
                    "Cloudinary until the archive runs: unpause or trigger campaign_media_archive.")
        shown = ", ".join(self.masters[:5]) + (f" and {len(self.masters) - 5} more" if len(self.masters) > 5 else "")
        return (f"campaign {self.campaign}, market {self.market}: {len(self.masters)} copies had to close at "
                f"{iso(self.due)} ({shown}); {seen}. Cloudinary's own rule ends their window at that moment "
                "whatever Airflow does, but nothing has confirmed it: unpause campaign_media_usage_windows, check "
                "its last runs, and trigger it.")


def missed_window_ends(campaign: str, market: str, ends: dict[str, datetime | None], confirmed: datetime | None,
                       failed: Iterable[str], now: datetime, tolerance: timedelta) -> list[Missed]:
    """The missed window ends of one market's copies, grouped per moment.

    :param ends: ``image_id -> the moment its copy must close`` (``None``: open-ended)
    :param confirmed: the last usage-window run's "as of" (``None``: none yet)
    :param failed: copies that run could not give their rules (not confirmed, whatever its time)
    """
    failed = set(failed)
    late: dict[datetime, list[str]] = {}
    for image_id, end in ends.items():
        if end is None or now < end + tolerance:
            continue
        if confirmed is not None and confirmed >= end and image_id not in failed:
            continue
        late.setdefault(end, []).append(image_id)
    return [Missed(campaign, "window_end", due, market, tuple(sorted(ids)), confirmed)
            for due, ids in sorted(late.items())]


def missed_archive(campaign: str, due: datetime | None, done: bool, now: datetime,
                   tolerance: timedelta) -> Missed | None:
    if due is None or done or now < due + tolerance:
        return None
    return Missed(campaign, "archive", due)
