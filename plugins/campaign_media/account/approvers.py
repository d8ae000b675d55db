"""Whether the approvers a campaign file names can answer in this deployment.

Airflow offers a sign-off request to the users its auth manager knows. Under the simple auth
manager they are listed in ``[core] simple_auth_manager_users`` (``name:role,…``), so a name missing
there is a warning ``lint`` can give. Under FAB (or another auth manager) the users live in the
metadata database or an identity provider: ``lint`` says how to check them instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from campaign_media.config.models import Campaign


def auth_manager() -> str:
    from airflow.sdk.configuration import conf

    return conf.get("core", "auth_manager", fallback="")


def ids_are_usernames() -> bool:
    """Whether the auth manager uses usernames as user IDs (the simple one does; FAB's are numbers),
    so Airflow itself can match a request's assignees by name."""
    return auth_manager().endswith("SimpleAuthManager")


def simple_users() -> set[str]:
    """The users ``[core] simple_auth_manager_users`` names (``admin:admin,brand-lead:user``)."""
    from airflow.sdk.configuration import conf

    listed = conf.get("core", "simple_auth_manager_users", fallback="") or ""
    return {entry.split(":", 1)[0].strip() for entry in listed.split(",") if entry.strip()}


def warnings(campaigns: Iterable[Campaign]) -> list[str]:
    """One line per approver this deployment does not know (simple auth manager), or one line
    saying how to check them elsewhere."""
    named = sorted({user for c in campaigns if c.signoff for code in c.markets
                    for user in c.signoff.approvers_for(code)})
    if not named:
        return []
    manager = auth_manager()
    if not ids_are_usernames():
        return [f"sign-off approvers {', '.join(named)}: make sure each is a username of this deployment's auth "
                f"manager ({manager.rsplit('.', 1)[-1] or 'unknown'}), e.g. airflow users list under FAB; a name "
                "nobody signs in with leaves its markets closed"]
    known = simple_users()
    return [f"sign-off approver {user!r} is not among [core] simple_auth_manager_users "
            f"({', '.join(sorted(known))}): nobody can answer as {user}; add {user}:user there (docs/signoff.md)"
            for user in named if user not in known]
