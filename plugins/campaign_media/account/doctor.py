"""``campaign-media doctor``: is this deployment able to run the pipelines, as it runs now?

Run it where ``airflow`` commands work (the scheduler's or API server's machine, a compose or
Helm job): it reads Airflow's metadata database (pools, the triggerer's heartbeat, the API-health
runs), the two connections, the include folder and storage. Each check says what it found and,
for a problem, the fix; nothing is printed as a traceback. It changes nothing but a probe file in
storage, which it deletes. The exit code is 1 when any check failed, for CI.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from campaign_media import settings
from campaign_media.pools import POOLS

API_HEALTH = "campaign_media_api_health"
CONNECTIONS = {"photoshelter_default": "photoshelter", "cloudinary_default": "cloudinary"}
DISTRIBUTED = ("CeleryExecutor", "KubernetesExecutor", "EdgeExecutor", "CeleryKubernetesExecutor")


@dataclass(frozen=True)
class Finding:
    """One check: what it found, and for a problem what to do."""

    check: str
    ok: bool
    found: str
    fix: str = ""


def worker_marker() -> Any:
    """Where the API-health DAG's task notes which run wrote to storage (the proof it is shared)."""
    from campaign_media.runtime import storage

    return storage.path("_deployment", "worker.json")


def note_worker(dag_id: str, run_id: str) -> None:
    """Called by the API-health task: this run, on this worker, wrote to storage."""
    from campaign_media.runtime import storage

    storage.write_json(worker_marker(), {"dag_id": dag_id, "run_id": run_id, "host": socket.gethostname(),
                                         "at": datetime.now(UTC).isoformat(timespec="seconds")})


def plain_error(exc: Exception) -> str | None:
    """A missing connection or an unreachable service, said with what to do (None: a bug)."""
    from airflow.sdk.exceptions import AirflowNotFoundException
    from sqlalchemy.exc import DBAPIError

    from campaign_media.exceptions import CampaignMediaError
    from campaign_media.hooks.retry import RetryBudgetExceeded

    if isinstance(exc, AirflowNotFoundException):
        return (f"{exc}. Define it where this command runs: an AIRFLOW_CONN_<ID> variable, airflow connections add, "
                "or your secrets backend (docs/real-accounts.md says which fields each service needs)")
    if isinstance(exc, RetryBudgetExceeded):
        what = str(exc).split(". The service kept answering", 1)[0]
        return f"{what}. Check the connection's host and this machine's network, then run the command again"
    if isinstance(exc, CampaignMediaError):
        return str(exc)
    if isinstance(exc, DBAPIError):
        first = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return (f"Airflow's metadata database could not be read ({first}). Run this where airflow commands work, "
                "after airflow db migrate")
    return None


def guarded(check: str, probe: Callable[[], list[Finding]]) -> list[Finding]:
    """Run one check; an error it did not expect is a finding too, said in one line."""
    try:
        return probe()
    except Exception as exc:  # noqa: BLE001 - every check ends as a finding, never a traceback
        return [Finding(check, False, plain_error(exc) or f"{type(exc).__name__}: {exc}",
                        "fix what it names, then run campaign-media doctor again")]


def connections() -> list[Finding]:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    out = []
    for conn_id, kind in CONNECTIONS.items():
        check = f"connection {conn_id}"
        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            out.append(Finding(check, False, "not defined", f"airflow connections add {conn_id} --conn-type {kind} "
                                                            "... (docs/real-accounts.md lists the fields)"))
            continue
        if conn.conn_type != kind:
            out.append(Finding(check, False, f"is of type {conn.conn_type!r}, not {kind!r}",
                               f"define it again with --conn-type {kind}: its form and fields are that type's "
                               "(docs/operators.md)"))
            continue
        out += guarded(check, lambda c=check, k=kind, i=conn_id: [Finding(c, True, reach(k, i))])
    return out


def reach(kind: str, conn_id: str) -> str:
    from campaign_media.hooks import CloudinaryHook, PhotoShelterHook

    if kind == "photoshelter":
        with PhotoShelterHook(conn_id) as hook:
            hook.login()
            return f"logged in (organisation {hook.org_id}, API v{hook.api_version})"
    hook = CloudinaryHook(conn_id)
    if not hook.ping():
        raise RuntimeError(f"Cloudinary cloud {hook.cloud_name!r} did not answer its ping")
    return f"cloud {hook.cloud_name!r} answers"


def pools() -> list[Finding]:
    from airflow.models.pool import Pool

    out = []
    for name, wanted in POOLS.items():
        pool = Pool.get_pool(name)
        if pool is None:
            out.append(Finding(f"pool {name}", False, "missing: the tasks in it wait in the queue for ever",
                               "campaign-media pools --create"))
        else:
            out.append(Finding(f"pool {name}", pool.slots > 0, f"{pool.slots} slots (the package asks {wanted.slots})",
                               "" if pool.slots > 0 else "campaign-media pools --create"))
    return out


def triggerer() -> list[Finding]:
    from airflow.jobs.job import most_recent_job
    from airflow.utils.session import create_session

    with create_session() as session:
        job = most_recent_job("TriggererJob", session=session)
        alive = job is not None and job.is_alive()
        seen = job.latest_heartbeat.isoformat(timespec="seconds") if job and job.latest_heartbeat else None
    if alive:
        return [Finding("triggerer", True, f"alive (last heartbeat {seen})")]
    return [Finding("triggerer", False, "none alive" + (f" (last heartbeat {seen})" if seen else ""),
                    "run one: airflow triggerer (compose: the airflow-triggerer service; Helm: triggerer.enabled). "
                    "It runs the PhotoShelter watcher, the video waits and the Cloudinary events")]


def storage_checks(executor: str) -> list[Finding]:
    from airflow.utils.session import create_session

    from campaign_media.runtime import storage

    url = settings.storage_url()
    probe = storage.path("_deployment", f"doctor-{socket.gethostname()}-{os.getpid()}.json")
    storage.write_json(probe, {"at": datetime.now(UTC).isoformat()})
    readable = storage.read_json(probe) is not None
    probe.unlink()
    out = [Finding("storage", readable, f"{url} is writable from here" if readable else f"{url}: a probe written "
                   "here could not be read back", "" if readable else "check the storage URL and its connection")]
    local = url.startswith("file://")
    if local and executor in DISTRIBUTED:
        out.append(Finding("storage shared", False, f"a local folder ({url}) under the {executor}: each machine "
                           "would keep its own state, claims and manifests",
                           "set [campaign_media] storage to S3, GCS or a volume every worker, the triggerer and "
                           "the API server mount"))
        return out
    from airflow.models.dagrun import DagRun

    with create_session() as session:
        last = (session.query(DagRun).filter(DagRun.dag_id == API_HEALTH, DagRun.state == "success")
                .order_by(DagRun.end_date.desc()).first())
        run_id = last.run_id if last else None
        started = last.start_date.astimezone(UTC).isoformat(timespec="seconds") if last and last.start_date else ""
    if run_id is None:
        out.append(Finding("storage shared", True, f"not proven yet: no successful {API_HEALTH} run (it notes in "
                           "storage which run wrote there); trigger it, then run doctor again"))
        return out
    marker = storage.read_json(worker_marker(), {}) or {}
    seen = marker.get("run_id")
    later = bool(seen) and marker.get("at", "") >= started  # a run started since wrote it
    if seen == run_id or later:
        return [*out, Finding("storage shared", True, f"{API_HEALTH} run {seen} wrote here from {marker.get('host')}")]
    return [*out, Finding("storage shared", False, f"{API_HEALTH} run {run_id} succeeded, but what its task wrote "
                          f"is not in {url} as seen from here" + (f" (found run {seen})" if seen else ""),
                          "point [campaign_media] storage, on every machine, at one location they all share "
                          "(S3, GCS or a shared volume)")]


def include_checks() -> list[Finding]:
    from campaign_media.config.loader import include_dir, lint, load_campaigns, load_markets

    folder = include_dir()
    problems = lint(folder)
    if problems:
        return [Finding("include", False, f"{folder}: {len(problems)} file(s) do not validate: "
                        + "; ".join(p.splitlines()[0] for p in problems), f"campaign-media lint {folder}")]
    markets, campaigns = load_markets(folder / "markets").items, load_campaigns(folder / "campaigns").items
    return [Finding("include", True, f"{folder}: {len(markets)} market(s), {len(campaigns)} campaign(s)")]


def approver_checks() -> list[Finding]:
    from campaign_media.account import approvers
    from campaign_media.config.loader import current_config

    campaigns = list(current_config()[1].values())
    named = sorted({u for c in campaigns if c.signoff for m in c.markets for u in c.signoff.approvers_for(m)})
    if not named:
        return [Finding("sign-off approvers", True, "no campaign asks for a sign-off")]
    known = approvers.simple_users() if approvers.ids_are_usernames() else fab_users()
    if known is None:
        return [Finding("sign-off approvers", True, f"{', '.join(named)}: not checked (the auth manager "
                        f"{approvers.auth_manager().rsplit('.', 1)[-1]} keeps its users elsewhere)")]
    unknown = [u for u in named if u not in known]
    if unknown:
        return [Finding("sign-off approvers", False, f"{', '.join(unknown)} named in a campaign file but unknown to "
                        "the auth manager: nobody can answer as them, and their markets stay closed",
                        "create the user(s), or fix the name in the campaign file's signoff (docs/signoff.md)")]
    return [Finding("sign-off approvers", True, f"{', '.join(named)} known to the auth manager")]


def fab_users() -> set[str] | None:
    """FAB's usernames, from the metadata database; None when the auth manager is not FAB's."""
    from campaign_media.account import approvers

    if "fab" not in approvers.auth_manager().lower():
        return None
    from airflow.providers.fab.auth_manager.models import User
    from airflow.utils.session import create_session

    with create_session() as session:
        return {u.username for u in session.query(User).all()}


def event_checks() -> list[Finding]:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    from campaign_media.account.check import check_notifications
    from campaign_media.hooks import CloudinaryHook

    try:
        BaseHook.get_connection(CloudinaryHook.default_conn_name)
    except AirflowNotFoundException:  # said once, by the connection's own check
        return [Finding("Cloudinary events", False, "not checked: the Cloudinary connection is missing (above)")]
    said = check_notifications(CloudinaryHook())
    return [Finding("Cloudinary events", True, f"{said['event_path']}: {said.get('why', '')}".rstrip(": ")
                    + (f"; triggers: {said['triggers']}" if said.get("triggers") else ""))]


def leftover_checks(env: Mapping[str, str]) -> list[Finding]:
    from campaign_media.account.deployment import problems

    found = problems(env)
    return [Finding("emulator leftovers", False, problem, "set the variables it names (.env.example)")
            for problem in found] or [Finding("emulator leftovers", True, "none beside real credentials")]


def run(env: Mapping[str, str] | None = None) -> list[Finding]:
    """Every check, in the order a person fixes things."""
    from airflow.configuration import conf

    executor = conf.get("core", "executor", fallback="")
    checks: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("emulator leftovers", lambda: leftover_checks(os.environ if env is None else env)),
        ("connections", connections), ("pools", pools), ("triggerer", triggerer),
        ("storage", lambda: storage_checks(executor)), ("include", include_checks),
        ("sign-off approvers", approver_checks), ("Cloudinary events", event_checks)]
    return [finding for name, probe in checks for finding in guarded(name, probe)]


def report(findings: list[Finding]) -> str:
    lines = []
    for f in findings:
        lines.append(f"{'ok  ' if f.ok else 'FAIL'}  {f.check}: {f.found}")
        if not f.ok and f.fix:
            lines.append(f"      fix: {f.fix}")
    failed = sum(not f.ok for f in findings)
    lines.append(f"{failed} problem(s)" if failed else "the deployment can run the pipelines")
    return "\n".join(lines)
