"""Legal deadlines (pure): what is missed, when, and what is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaign_media.domain.deadlines import missed_archive, missed_window_ends

END = datetime(2026, 3, 1, tzinfo=UTC)
TOL = timedelta(minutes=20)


def test_a_window_end_is_missed_only_after_the_tolerance_and_without_a_run_since() -> None:
    ends = {"I1": END, "I2": END, "I3": END + timedelta(days=3), "I4": None}
    before = END - timedelta(hours=1)
    assert missed_window_ends("c", "fr", ends, before, [], END + timedelta(minutes=19), TOL) == []
    (missed,) = missed_window_ends("c", "fr", ends, before, [], END + timedelta(minutes=21), TOL)
    assert (missed.market, missed.masters, missed.due, missed.last_confirmed) == ("fr", ("I1", "I2"), END, before)
    assert missed.key == "window_end|fr|2026-03-01T00:00:00Z"
    assert "2 copies had to close at 2026-03-01T00:00:00Z" in missed.describe()
    assert missed_window_ends("c", "fr", ends, END, [], END + timedelta(hours=5), TOL) == []  # confirmed


def test_a_copy_that_failed_in_the_confirming_run_is_still_missed() -> None:
    (missed,) = missed_window_ends("c", "fr", {"I1": END, "I2": END}, END + timedelta(minutes=5), ["I2"],
                                   END + timedelta(hours=1), TOL)
    assert missed.masters == ("I2",)


def test_an_archive_is_missed_after_its_due_date_unless_done() -> None:
    assert missed_archive("c", END, False, END + timedelta(minutes=10), TOL) is None
    assert missed_archive("c", END, True, END + timedelta(days=1), TOL) is None
    assert missed_archive("c", None, False, END + timedelta(days=1), TOL) is None
    missed = missed_archive("c", END, False, END + timedelta(days=1), TOL)
    assert missed is not None and missed.key == "archive||2026-03-01T00:00:00Z"
    assert "campaign_media_archive" in missed.describe()
