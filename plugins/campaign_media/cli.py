"""``campaign-media`` (or ``python -m campaign_media.cli``) — the project's command line; ``--version``.

* ``lint [include/]``: check campaign and market files before a PR (what Airflow will say).
* ``init <folder>``: a starter include folder (template, one market, a campaign for a standard account).
* ``schema [--write include/schema]``: the JSON Schemas of market and campaign files, which the
  template references so editors validate while typing.
* ``check-account [--campaign ID] [--allow-billable] [--create-metadata-fields]``: the read-only
  account check (both services, through the ``photoshelter_default`` and ``cloudinary_default``
  connections); prints a table and writes the capability report the DAGs read
  (``docs/real-accounts.md``). ``--create-metadata-fields`` is the one change it makes, when
  asked: the structured governance fields.
* ``events [--apply | --remove]``: the Cloudinary triggers of the deployment's poll channel
  (``[campaign_media] cloudinary_events = pull``), compared with the account's, made or deleted,
  with what pulling costs of the Admin API budget.
* ``signoff pending [--campaign ID]``: the launch sign-off requests waiting for an answer (from
  the sealed records), and how to answer them.
* ``audit --campaign ID [--master ID] [--market CODE] [--action A] [--since D] [--until D]
  [--format table|csv|json|counts]``: the audit trail — who published, closed, wrote back or
  archived what, when, under which rule (``campaign_media.runtime.audit``).

(Not a package ``__main__.py``: Airflow's plugin loader imports every file under ``plugins/`` by
its stem, and a ``__main__`` module would run its CLI inside every Airflow process.)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from campaign_media.config.loader import include_dir, lint, load_campaigns, load_markets
from campaign_media.config.models import Campaign, Market

SCHEMAS = {"market": Market, "campaign": Campaign}


def schema(kind: str) -> str:
    """The JSON Schema of one kind of file, as committed under ``include/schema/``."""
    body = SCHEMAS[kind].model_json_schema(by_alias=True, mode="validation")
    body = {"$schema": "https://json-schema.org/draft/2020-12/schema", **body,
            "title": f"campaign-media {kind} file (include/{kind}s/*.yaml)"}  # not the model's own "Campaign"
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def reference_page(kind: str) -> str:
    """The Markdown reference of one kind of file, from its JSON Schema."""
    from campaign_media.config.reference import reference

    return reference(json.loads(schema(kind)), f"{kind}s/<{'id' if kind == 'campaign' else 'code'}>.yaml")


def _lint(include: Path) -> int:
    problems = lint(include) + capability_problems(include)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"\n{len(problems)} file(s) need fixing.", file=sys.stderr)
        return 1
    markets = load_markets(include / "markets").items
    campaigns = load_campaigns(include / "campaigns").items
    print(f"ok: {len(markets)} market(s) ({', '.join(sorted(markets))}), "
          f"{len(campaigns)} campaign(s) ({', '.join(sorted(campaigns))})")
    for campaign in campaigns.values():
        zone = campaign.window.timezone
        print(f"{campaign.id}: " + (f"one instant everywhere ({zone} midnights)" if zone else
                                    "each market at its own midnight") + ":")
        for code in campaign.markets:
            print(f"  {window_line(markets[code], *campaign.market_window(markets[code]))}")
        if campaign.signoff:
            print("  sign-off: " + "; ".join(
                f"{code} by {', '.join(campaign.signoff.approvers_for(code))}" if campaign.signoff_for(code)
                else f"{code} none (goes live without one)" for code in campaign.markets))
    from campaign_media.account.approvers import warnings

    for warning in warnings(campaigns.values()):
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def _signoff_pending(campaign_id: str) -> int:
    """The sign-off requests waiting for an answer, from the sealed records, and how to answer them."""
    from campaign_media.config.loader import current_config
    from campaign_media.runtime import signoffs

    _, campaigns = current_config()
    waiting = 0
    for campaign in sorted(campaigns.values(), key=lambda c: c.id):
        if campaign.signoff is None or campaign_id not in ("all", campaign.id):
            continue
        codes = [m for m in campaign.markets if campaign.signoff_for(m)]
        for code in codes if campaign.signoff.per_market else codes[:1]:
            record = signoffs.read(campaign, code)
            for why in record.ignored:
                print(f"{campaign.id} {code}: a sign-off record was ignored: {why}", file=sys.stderr)
            for req in record.requests:
                if req["state"] in ("awaiting", "overdue"):
                    waiting += 1
                    run_id = str(req["id"]).split("|", 1)[0]
                    print(f"{campaign.id} {req['market'] or 'all'}: {req['state']} since {req['asked_at']}, "
                          f"{len(req['masters'])} masters, asked of {', '.join(req['assignees'])}, due "
                          f"{req['deadline'] or 'no deadline'}; run {run_id}")
    print(f"{waiting} request(s) waiting. Answer them in the UI (Browse → Required Actions), or list them with "
          "GET /api/v2/dags/campaign_media_signoff/dagRuns/~/hitlDetails?response_received=false and answer "
          "with PATCH …/dagRuns/{run}/taskInstances/signoff/{map_index}/hitlDetails (docs/signoff.md)")
    return 0


def window_line(market, start, end) -> str:
    """``fr (Europe/Paris): opens 2026-03-01 00:00 local = 2026-02-28 23:00 UTC; closes …``"""
    from zoneinfo import ZoneInfo

    def both(moment) -> str:
        if moment is None:
            return "open-ended"
        local = moment.astimezone(ZoneInfo(market.timezone))
        return f"{local:%Y-%m-%d %H:%M} local = {moment:%Y-%m-%d %H:%M} UTC"

    return f"{market.code} ({market.timezone}): opens {both(start)}; closes {both(end)}"


def capability_problems(include: Path) -> list[str]:
    """Campaigns asking for what the last account check found missing (token URLs)."""
    from campaign_media.account.capabilities import Capabilities, TokenAccessMissing, require_token_access

    caps = Capabilities.load()
    if caps.token_access is not False:
        return []  # confirmed, or never checked: the DAGs check again before they rely on it
    problems = []
    for campaign in load_campaigns(include / "campaigns").items.values():
        try:
            require_token_access(campaign, caps, token_key=True)
        except TokenAccessMissing as exc:
            problems.append(f"{include / 'campaigns' / (campaign.id + '.yaml')}: 1 problem(s)\n  - signed_urls: {exc}")
    return problems


def _schema(kind: str | None, write: Path | None) -> int:
    if write is None:
        print(schema(kind or "market"), end="")
        return 0
    write.mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        (write / f"{name}.schema.json").write_text(schema(name), encoding="utf-8")
        print(f"wrote {write / f'{name}.schema.json'}")
    return 0


def _init(folder: Path) -> int:
    from datetime import UTC, datetime

    from campaign_media.config import starter

    try:
        starter.write(folder, starter.files(datetime.now(UTC).date(), {k: schema(k) for k in SCHEMAS}), print)
    except FileExistsError as exc:
        print(f"campaign-media init: {exc}", file=sys.stderr)
        return 1
    print(f"next: point [campaign_media] include at {folder.resolve()} (AIRFLOW__CAMPAIGN_MEDIA__INCLUDE), edit the "
          f"campaign's collection_name to your PhotoShelter collection, then run campaign-media lint {folder}")
    return _lint(folder)


def _check_account(chosen: str, allow_billable: bool, as_json: bool, create_fields: bool = False) -> int:
    from campaign_media.account.check import run, table
    from campaign_media.config.loader import current_config
    from campaign_media.hooks import CloudinaryHook, PhotoShelterHook

    markets, loaded = current_config()
    campaigns = [c for cid, c in sorted(loaded.items()) if chosen in ("all", cid)]
    with PhotoShelterHook() as ps:
        report = run(ps, CloudinaryHook(), campaigns, allow_billable=allow_billable,
                     create_metadata_fields=create_fields, markets=markets)
    print(json.dumps(report, indent=1, default=str) if as_json else table(report))
    from campaign_media.account.approvers import warnings

    for warning in warnings(campaigns):
        print(f"warning: {warning}", file=sys.stderr)
    fields = report.get("cloudinary", {}).get("structured_governance") or {}
    failed = not report.get("photoshelter", {}).get("login") or not report.get("cloudinary", {}).get("ping") \
        or bool(fields.get("problems"))
    return 1 if failed else 0


def _events(apply: bool, remove: bool) -> int:
    """The deployment's Cloudinary triggers: listed and compared (default), made (``--apply``) or
    deleted (``--remove``); with what pulling events costs of the Admin API budget."""
    from campaign_media import settings
    from campaign_media.domain.events import CONNECTION, channel_name
    from campaign_media.hooks import CloudinaryHook
    from campaign_media.steps import events

    cld = CloudinaryHook(CONNECTION)
    channel = channel_name(CONNECTION, str(settings.get("events_channel")))
    if remove:
        print(f"poll://{channel}: {events.remove_triggers(cld, channel)} trigger(s) deleted")
        return 0
    plan = events.ensure_triggers(cld, channel, apply=apply)
    print(f"[campaign_media] cloudinary_events = {settings.get('cloudinary_events')}; channel poll://{channel}")
    for trigger in plan.keep:
        print(f"  in place   {trigger['event_type']:<28} {trigger['id']}")
    for wanted in plan.create:
        print(f"  {'created' if apply else 'missing':<10} {wanted['event_type']}")
    for stale in plan.delete:
        print(f"  {'deleted' if apply else 'stale':<10} {stale['event_type']:<28} {stale['id']}")
    wait = int(settings.get("events_wait_seconds"))
    print(f"Admin API: this command made {1 + (len(plan.create) + len(plan.delete) if apply else 0)} call(s); "
          f"pulling costs {3600 // max(1, wait)} calls an hour while idle (one long poll every {wait} s) and one "
          "per 100 events otherwise, plus one acknowledgement per poll that brought any")
    if plan.create and not apply:
        print("run again with --apply to make them (the triggerer also makes them when it starts)")
    return 0


def _setup(create_fields: bool) -> int:
    """What a deployment needs made once, each step said before it is done: the pools, the
    Cloudinary event channel's triggers (when events are pulled), then the account check that
    writes the capability report (with ``create_fields``, the structured governance fields too).
    A step that fails is said and the others still run; the exit code is 1 if any failed."""
    from campaign_media import settings
    from campaign_media.account.doctor import plain_error
    from campaign_media.pools import POOLS, create

    pull = settings.get("cloudinary_events") == "pull"
    steps = [(f"creating or updating the pools {', '.join(f'{n} ({p.slots})' for n, p in POOLS.items())} in this "
              "Airflow's metadata database", lambda: print("\n".join(f"  {line}" for line in create())) or 0),
             *([("making the Cloudinary event channel's triggers (Admin API calls)",
                 lambda: _events(apply=True, remove=False))] if pull else []),
             ("checking both accounts (reads them; writes the capability report the DAGs read"
              + ("; creates the structured governance fields" if create_fields else "") + ")",
              lambda: _check_account("all", False, False, create_fields))]
    failed = []
    for n, (what, step) in enumerate(steps, 1):
        print(f"[{n}/{len(steps)}] {what}", flush=True)
        try:
            code = step()
        except Exception as exc:  # noqa: BLE001 - said in one line; the next steps still run
            said = plain_error(exc)
            if said is None:
                raise
            print(f"  failed: {said}")
            code = 1
        if code:
            failed.append(n)
    print(f"set-up incomplete: step(s) {', '.join(map(str, failed))} failed (above)" if failed else
          "set up; campaign-media doctor checks the rest (a triggerer running, shared storage)")
    return 1 if failed else 0


def _audit(args: argparse.Namespace) -> int:
    from campaign_media.runtime import audit

    records = audit.select(audit.read(args.campaign, since=args.since, until=args.until), master=args.master,
                           market=args.market, action=args.action)
    if args.format in audit.EXPORTS:
        print(audit.export(records, args.format), end="")
    elif records:
        shown = audit.table(records)[["time", "market", "master", "action", "reason", "after", "run_type",
                                      "triggered_by", "run_id"]]
        print(shown.to_string(index=False, max_colwidth=60))
    else:
        print(f"no audit records for campaign {args.campaign} with these filters", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag (the docs-drift test reads them from here)."""
    from campaign_media import __version__

    parser = argparse.ArgumentParser(prog="campaign-media", description="Campaign media pipelines' command line "
                                     "(also python -m campaign_media.cli)")
    parser.add_argument("--version", action="version", version=f"campaign-media {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("lint", help="validate include/markets/*.yaml and include/campaigns/*.yaml")
    check.add_argument("include", nargs="?", help="a folder (default: [campaign_media] include)")
    export = sub.add_parser("schema", help="print a file kind's JSON Schema, or --write both into a folder")
    export.add_argument("kind", nargs="?", choices=sorted(SCHEMAS))
    export.add_argument("--write", type=Path, metavar="DIR", help="e.g. include/schema")
    export.add_argument("--reference", action="store_true",
                        help="print the file kind's reference in Markdown (docs/<kind>-file.md holds it)")
    account = sub.add_parser("check-account", help="check the PhotoShelter and Cloudinary accounts (reads them; writes "
                                                   "the capability report the DAGs read to storage)")
    account.add_argument("--campaign", default="all", help="one campaign id, or all")
    account.add_argument("--allow-billable", action="store_true",
                         help="also try an on-the-fly transformation and background removal (billable)")
    account.add_argument("--create-metadata-fields", action="store_true",
                         help="add the structured governance fields governance: structured needs (changes the "
                              "Cloudinary account)")
    account.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    pools = sub.add_parser("pools", help="create the pools the DAGs run in (--create), or print them as JSON for "
                                         "'airflow pools import FILE'")
    pools.add_argument("--create", action="store_true", help="create or update them in this Airflow's database")
    trig = sub.add_parser("events", help="the Cloudinary triggers the deployment's event channel needs: compared "
                                         "with the account's (default), made (--apply) or deleted (--remove)")
    trig.add_argument("--apply", action="store_true", help="create the missing ones, delete stale ones of the channel")
    trig.add_argument("--remove", action="store_true", help="delete every trigger to the channel (the deployment "
                                                          "goes away)")
    sub.add_parser("check-deployment", help="refuse real credentials aimed at emulator endpoints (compose's init)")
    doctor = sub.add_parser("doctor", help="check this deployment as it runs: connections, pools, a triggerer, "
                                           "shared storage, include, approvers, the events path (exit 1 on a problem)")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON")
    setup = sub.add_parser("setup", help="make what the deployment needs once, saying each step first: the pools, "
                                         "the Cloudinary event channel's triggers, the capability report")
    setup.add_argument("--create-metadata-fields", action="store_true",
                       help="also add the structured governance fields (changes the Cloudinary account)")
    init = sub.add_parser("init", help="write a starter include folder (the market template, a market, a campaign "
                                       "for a standard Cloudinary account, the schemas); overwrites nothing")
    init.add_argument("folder", type=Path)
    signoff = sub.add_parser("signoff", help="launch sign-off: the requests waiting for an answer")
    signoff.add_argument("what", choices=["pending"])
    signoff.add_argument("--campaign", default="all", help="one campaign id, or all")
    trail = sub.add_parser("audit", help="the audit trail: per master, market, action or day (table, CSV, JSON)")
    trail.add_argument("--campaign", required=True)
    trail.add_argument("--master", help="a PhotoShelter image or video ID")
    trail.add_argument("--market", help="a market code")
    trail.add_argument("--action", help="e.g. copy_made, window_closed, written_back, archive_verified")
    trail.add_argument("--since", metavar="YYYY-MM-DD", help="first run day (inclusive)")
    trail.add_argument("--until", metavar="YYYY-MM-DD", help="last run day (inclusive)")
    trail.add_argument("--format", choices=["table", "csv", "json", "counts"], default="table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from campaign_media.account.doctor import plain_error

    try:
        return run_command(args)
    except Exception as exc:  # noqa: BLE001 - said in one line, with what to do; the traceback is for bugs
        said = plain_error(exc)
        if said is None:
            raise
        print(f"campaign-media {args.command}: {said}", file=sys.stderr)
        return 2


def run_command(args: argparse.Namespace) -> int:
    if args.command == "audit":
        return _audit(args)
    if args.command == "events":
        return _events(args.apply, args.remove)
    if args.command == "signoff":
        return _signoff_pending(args.campaign)
    if args.command == "pools":
        from campaign_media.pools import create, import_file

        print("\n".join(create()) if args.create else import_file())
        return 0
    if args.command == "check-deployment":
        import os

        from campaign_media.account.deployment import problems

        found = problems(os.environ)
        for problem in found:
            print(f"refused: {problem}", file=sys.stderr)
        return 1 if found else 0
    if args.command == "check-account":
        return _check_account(args.campaign, args.allow_billable, args.json, args.create_metadata_fields)
    if args.command == "schema":
        if args.reference:
            print(reference_page(args.kind or "campaign"), end="")
            return 0
        return _schema(args.kind, args.write)
    if args.command == "init":
        return _init(args.folder)
    if args.command == "setup":
        return _setup(args.create_metadata_fields)
    if args.command == "doctor":
        from dataclasses import asdict

        from campaign_media.account import doctor

        findings = doctor.run()
        print(json.dumps([asdict(f) for f in findings], indent=1) if args.json else doctor.report(findings))
        return 1 if any(not f.ok for f in findings) else 0
    return _lint(Path(args.include) if args.include else include_dir())


if __name__ == "__main__":
    raise SystemExit(main())
