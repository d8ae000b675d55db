"""Token URLs only where the account check confirmed them: the refusal names feature and setting."""

from __future__ import annotations

import pytest

from campaign_media.account.capabilities import (
    Capabilities,
    TokenAccessMissing,
    TokenAccessUnknown,
    require_token_access,
)
from campaign_media.config.loader import load_campaigns, load_markets

CAMPAIGN = load_campaigns(markets=load_markets()).items["spring-launch-2026"]


@pytest.mark.parametrize(("caps", "key", "found", "retried"), [
    (Capabilities(token_access=False, checked_at="2026-11-28T10:00:00Z"), True, "found token URLs refused", False),
    (Capabilities(why="no authenticated master yet"), True,
     "no account check has confirmed token access yet (no authenticated master yet)", True),
    (Capabilities(token_access=True), False, "has no auth_token_key", False),
])
def test_signed_urls_need_confirmed_token_access(caps, key, found, retried) -> None:
    """Refused for good where the check said no or the key is missing; where no check could judge
    yet (a master uploaded seconds ago, a failed check) the task is retried instead."""
    with pytest.raises(TokenAccessMissing) as caught:
        require_token_access(CAMPAIGN, caps, key)
    message = str(caught.value)
    assert isinstance(caught.value, TokenAccessUnknown) is retried and caught.value.retryable is retried
    assert found in message and "include/campaigns/spring-launch-2026.yaml" in message
    assert "token-based access" in message and "private_cdn" in message and "auth_token_key" in message


def test_confirmed_or_not_asked_passes() -> None:
    require_token_access(CAMPAIGN, Capabilities(token_access=True), True)
    require_token_access(CAMPAIGN.model_copy(update={"signed_urls": None}), Capabilities(token_access=False), False)


@pytest.mark.parametrize(("verdict", "statuses", "expected"), [
    (True, (200,), True), (False, (401,), False), (False, (200, 403), False),
    (False, (404,), None), (False, (200, 502), None)])
def test_a_probe_that_answered_neither_yes_nor_no_judges_nothing(verdict, statuses, expected) -> None:
    """A token URL answering 404 (a master listed a moment ago) or a 5xx after the retries says
    nothing of access: not judged, so the next check tries again and the run is retried."""
    from campaign_media.account.check import judged

    assert judged(verdict, *statuses) is expected
