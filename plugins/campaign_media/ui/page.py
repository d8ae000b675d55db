"""The campaign page as server-rendered HTML with an inline SVG timeline (pure: no I/O).

Times are written in UTC and in each market's zone on the server; a few lines of inline script
add the viewer's own zone (``<time class="viewer">``). Links to Airflow's grid open in the top
window, since the page is shown inside the Airflow UI's frame.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any
from urllib.parse import quote

from campaign_media.config.models import Campaign
from campaign_media.domain.signoff import view as signoff_view
from campaign_media.domain.windows import iso, parse_rule_time
from campaign_media.reports.html import STYLE, card
from campaign_media.ui.status import CampaignStatus, local

PAGE_STYLE = STYLE + """
.badge{display:inline-block;border-radius:10px;padding:.05rem .55rem;font-size:.8rem;font-weight:600}
.live{background:#dff5e3;color:#17692a} .opens{background:#e4edfc;color:#1f4fa3}
.closed{background:#eceef1;color:#505a66} .restricted,.not-published{background:#fdeaea;color:#9b1c1c}
.done{background:#dff5e3;color:#17692a} .incomplete,.due{background:#fdeaea;color:#9b1c1c}
.in-progress,.not-due{background:#e4edfc;color:#1f4fa3} nav a{margin-right:1rem} small{color:#66707f}
.badge,time,#markets td:nth-child(3){white-space:nowrap} body{max-width:1300px}
.approved{background:#dff5e3;color:#17692a} .refused,.overdue{background:#fdeaea;color:#9b1c1c}
.awaiting,.not-asked{background:#fff3d6;color:#7a5200}
.sheet{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1rem}
.master{border:1px solid #e3e7ee;border-radius:8px;padding:.6rem} .master.marked{border-color:#d64545}
.renditions{display:flex;flex-wrap:wrap;gap:.5rem} .renditions figure{margin:0;font-size:.75rem}
.renditions img{display:block;background:#f4f6fa;border-radius:4px;max-width:240px;height:auto}
"""
SHEET_PAGE = 40  # masters per contact-sheet page (x renditions each): the page stays small at 2,000 masters
VIEWER_SCRIPT = """<script>
for (const t of document.querySelectorAll('time.viewer')) {
  t.textContent = new Date(t.dateTime).toLocaleString(undefined,
    {year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
     timeZoneName: 'short'});
}
const z = document.getElementById('viewer-zone');
if (z) z.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone;
</script>"""
LISTED = 50  # rows of a long list shown on the page; the JSON endpoint has them all
ANCHORS = {0: "start", 5: "end"}  # the first and last date ticks stay inside the figure
COLOURS = {"live": "#2f9e44", "opens": "#3d7be0", "closed": "#9aa3ad", "restricted": "#d64545",
           "not published": "#d64545"}


def signoff_line(asked: dict[str, Any] | None, required: bool, now: datetime) -> str:
    """A market's launch sign-off as its row says it (:func:`campaign_media.domain.signoff.view`),
    and each record entry ignored."""
    view = signoff_view(asked, required, now)
    if view is None:
        return ""
    state = view["state"]
    asked_of = ", ".join(view.get("asked_of") or [])
    text = {"not asked": "sign-off: not asked yet",
            "signed": f"signed off by {view.get('by')} at {view.get('at')}",
            "refused": f"refused by {view.get('by')} at {view.get('at')}: {view.get('reason')}",
            "overdue": f"sign-off overdue (asked {view.get('asked_at')} of {asked_of}, due {view.get('deadline')})",
            "awaiting": f"awaiting sign-off: asked {view.get('asked_at')} of {asked_of}"
                        f"{', due ' + str(view['deadline']) if view.get('deadline') else ''}"}[state]
    ignored = "".join(f"<br><small class='ignored'>a sign-off record was ignored: {escape(why)}</small>"
                      for why in view.get("ignored") or [])
    return (f"<br><span class='signoff' data-signoff='{state.replace(' ', '-')}'>{badge(state)} "
            f"<small>{escape(text)}</small></span>{ignored}")


def viewer_time(moment: datetime | None) -> str:
    """A time the viewer's browser shows in its own zone (UTC without script)."""
    if moment is None:
        return ""
    return f"<time class='viewer' datetime='{iso(moment)}'>{escape(local(moment, 'UTC'))}</time>"


def badge(state: str) -> str:
    return f"<span class='badge {state.replace(' ', '-')}'>{escape(state)}</span>"


def layout(title: str, body: str, base: str) -> str:
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{PAGE_STYLE}</style></head><body><nav><a href='{base}/'>All campaigns</a>"
            f"<a href='/' target='_top'>Airflow home</a></nav>{body}{VIEWER_SCRIPT}</body></html>")


def index(campaigns: list[tuple[Campaign, CampaignStatus | Exception]], base: str, hidden: int = 0) -> str:
    """Every campaign shown with its markets' statuses; one whose stored documents cannot be read
    shows as ``unreadable: <file>`` (an exception with a ``path``), the others as usual;
    ``hidden`` counts those the viewer may read no DAG of."""
    def row(c: Campaign, s: CampaignStatus | Exception) -> str:
        name = (f"<td><a href='{base}/campaigns/{quote(c.id)}'>{escape(c.name)}</a><br>"
                f"<small>{escape(c.id)}</small></td>")
        if isinstance(s, Exception):
            return (f"<tr data-campaign='{escape(c.id)}' data-status='unreadable'>{name}<td colspan=2>"
                    f"{badge('unreadable')} <small>unreadable: {escape(getattr(s, 'path', str(s)))}</small></td></tr>")
        return (f"<tr data-campaign='{escape(c.id)}'>{name}"
                f"<td>{' '.join(f'{escape(m.code)} {badge(m.status)}' for m in s.markets)}</td>"
                f"<td>{badge(s.archive.state)}</td></tr>")

    none = "No campaign you may read." if hidden else "No campaign files in include/campaigns."
    rows = "".join(row(c, s) for c, s in campaigns) or f"<tr><td colspan=3>{none}</td></tr>"
    body = ("<h1>Campaigns</h1><p class='muted'>From what the pipelines stored; nothing here calls PhotoShelter "
            f"or Cloudinary.</p><table><tr><th>Campaign</th><th>Markets now</th><th>Archive</th></tr>{rows}</table>"
            + (f"<p class='muted' id='hidden'>{hidden} more campaign{'s' if hidden > 1 else ''} whose DAGs you may "
               "not read; an Airflow admin can give your role read access to them.</p>" if hidden else ""))
    return layout("Campaigns", body, base)


def market_rows(status: CampaignStatus, base: str) -> str:
    cid = quote(status.campaign.id)
    archived = "<br><small>deleted by the archive</small>" if status.archive.state == "done" else ""
    rows = []
    for m in status.markets:
        change = m.next_change
        manifest = f"<a href='{base}/campaigns/{cid}/files/delivery/{quote(m.code)}.json'>manifest</a>" \
            if m.code in status.stored.manifests else "<small>none yet</small>"
        sheet = f"<br><a href='{base}/campaigns/{cid}/markets/{quote(m.code)}/contact-sheet'>contact sheet</a>" \
            if m.copies else ""
        manifest += sheet + signoff_line(status.stored.signoffs.get(m.code),
                                         bool(status.campaign.signoff_for(m.code)), status.now)
        rows.append(
            f"<tr data-market='{escape(m.code)}' data-status='{escape(m.status)}'><td><b>{escape(m.code)}</b><br>"
            f"<small>{escape(m.timezone)}</small></td><td>{badge(m.status)}"
            f"{'' if m.checked else '<br><small>not yet checked by usage windows</small>'}</td>"
            f"<td>{escape(local(m.start, m.timezone)) or 'open'} →<br>{escape(local(m.end, m.timezone)) or 'open'}</td>"
            f"<td>{escape(change.what) + '<br>' + escape(local(change.at, m.timezone)) if change else '—'}</td>"
            f"<td>{viewer_time(change.at) if change else ''}</td>"
            f"<td class='num'>{m.copies}{archived}</td><td class='num'>{m.public}</td><td class='num'>{m.signed}</td>"
            f"<td class='num'>{m.restricted}</td><td>{manifest}</td></tr>")
    return ("<table id='markets'><tr><th>Market</th><th>Status now</th><th>Window (market time)</th>"
            "<th>Next change (market time)</th><th>In your time (<span id='viewer-zone'>UTC</span>)</th>"
            "<th class='num'>Copies</th><th class='num'>Served now</th><th class='num'>Signed only</th>"
            f"<th class='num'>Restricted</th><th>Delivery</th></tr>{''.join(rows)}</table>")


def timeline(status: CampaignStatus) -> str:
    """Each market's window as a bar, licence ends as marks, and a line at now (inline SVG)."""
    now = status.now
    bounds = [t for m in status.markets for t in (m.start, m.end) if t is not None] + [now]
    licence_ends = [x.ends for x in status.licences]
    lo, hi = min(bounds + licence_ends), max(bounds + licence_ends)
    if hi - lo < timedelta(days=2):
        lo, hi = lo - timedelta(days=1), hi + timedelta(days=1)
    pad = (hi - lo) * 0.04
    lo, hi = lo - pad, hi + pad
    width, label_w, row_h, top = 900, 70, 30, 24
    span = (hi - lo).total_seconds()

    def x(moment: datetime) -> float:
        return label_w + (moment - lo).total_seconds() / span * (width - label_w - 10)

    parts = []
    for i in range(6):  # date ticks
        tick = lo + (hi - lo) * (i / 5)
        parts.append(f"<line x1='{x(tick):.1f}' x2='{x(tick):.1f}' y1='{top - 4}' "
                     f"y2='{top + row_h * len(status.markets)}' stroke='#e3e7ee'/>"
                     f"<text x='{x(tick):.1f}' y='{top - 8}' text-anchor='{ANCHORS.get(i, 'middle')}'>"
                     f"{tick:%Y-%m-%d}</text>")
    for i, m in enumerate(status.markets):
        y = top + i * row_h
        start, end = m.start or lo, m.end or hi
        parts.append(f"<text x='{label_w - 8}' y='{y + 19}' text-anchor='end'>{escape(m.code)}</text>"
                     f"<rect x='{x(start):.1f}' y='{y + 6}' width='{max(2.0, x(end) - x(start)):.1f}' height='18' "
                     f"rx='4' fill='{COLOURS[m.status]}'><title>{escape(m.code)} {escape(m.status)}: "
                     f"{escape(local(m.start, m.timezone) or 'open')} → {escape(local(m.end, m.timezone) or 'open')}"
                     "</title></rect>")
        days: dict[str, tuple[datetime, list[str]]] = {}  # one mark per day: there may be thousands
        for lic in status.licences:
            if m.code in lic.markets:
                days.setdefault(local(lic.ends, m.timezone)[:10], (lic.ends, []))[1].append(lic.master)
        for day, (moment, masters) in days.items():
            parts.append(f"<path d='M{x(moment):.1f},{y + 2} l5,6 l-5,6 l-5,-6 z' fill='#f08c00'>"
                         f"<title>{day}: licence of {escape(', '.join(masters[:5]))}"
                         f"{f' and {len(masters) - 5} more' if len(masters) > 5 else ''} ends</title></path>")
    height = top + row_h * len(status.markets) + 8
    parts.append(f"<line x1='{x(now):.1f}' x2='{x(now):.1f}' y1='{top - 4}' y2='{height}' stroke='#c92a2a' "
                 f"stroke-dasharray='4 3'/><text x='{x(now) + 4:.1f}' y='{height - 2}' fill='#c92a2a'>now</text>")
    return (f"<svg id='timeline' role='img' aria-label='usage windows timeline' width='{width}' height='{height + 4}' "
            f"viewBox='0 0 {width} {height + 4}'>{''.join(parts)}</svg><p><small>Bars: each market's window "
            "(coloured by its status now); ◆ a licence end; dashed line: now.</small></p>")


def more_line(total: int) -> str:
    more = total - LISTED
    return f"<p class='muted'>… and {more} more (all in the page's JSON).</p>" if more > 0 else ""


def held_table(status: CampaignStatus) -> str:
    if not status.held:
        return "<p class='muted'>None: every copy follows its market's window.</p>"
    rows = "".join(f"<tr><td>{escape(h.master)}</td><td>{badge(h.mode)}</td><td>{escape(h.reason)}</td>"
                   f"<td>{escape(', '.join(h.markets))}</td></tr>" for h in status.held[:LISTED])
    return (f"<table id='held'><tr><th>Master</th><th>Mode</th><th>Why</th><th>Markets</th></tr>{rows}</table>"
            + more_line(len(status.held)))


def licence_table(status: CampaignStatus) -> str:
    if not status.licences:
        return "<p class='muted'>No licence of a delivered master ends within 30 days.</p>"
    rows = []
    for lic in status.licences[:LISTED]:
        days = (lic.ends - status.now).total_seconds() / 86400
        left = f"{days:.1f} days left" if days >= 0 else f"ended {-days:.1f} days ago"
        rows.append(f"<tr><td>{escape(lic.master)}</td><td>{escape(local(lic.ends, 'UTC'))}<br>"
                    f"{viewer_time(lic.ends)}</td><td>{left}</td><td>{escape(', '.join(lic.markets))}</td></tr>")
    return (f"<table id='licences'><tr><th>Master</th><th>Licence ends</th><th></th><th>Markets with copies</th></tr>"
            f"{''.join(rows)}</table>" + more_line(len(status.licences)))


def runs_table(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "<p class='muted'>No runs yet.</p>"
    rows = "".join(
        f"<tr><td>{escape(r['dag_id'])}</td><td><a target='_top' href='/dags/{quote(r['dag_id'])}/runs/"
        f"{quote(r['run_id'], safe='')}'>{escape(r['run_id'])}</a></td><td>{escape(r['run_type'])}</td>"
        f"<td>{badge(r['state'])}</td><td>{viewer_time(r['start'])}</td>"
        f"<td><a target='_top' href='/dags/{quote(r['dag_id'])}'>grid</a></td></tr>" for r in runs)
    return ("<table id='runs'><tr><th>DAG</th><th>Run</th><th>Type</th><th>State</th><th>Started</th><th></th></tr>"
            f"{rows}</table>")


def links(status: CampaignStatus, base: str) -> str:
    cid = quote(status.campaign.id)
    files = f"{base}/campaigns/{cid}/files"
    items = [f"<a href='{files}/delivery/{quote(m)}.json'>delivery manifest {escape(m)}</a>"
             for m in status.stored.manifests]
    items += [f"<a href='{files}/reports/{quote(day)}/index.html'>metrics report {escape(day)}</a>"
              for day in status.stored.reports[-5:][::-1]]
    if status.stored.windows:
        items.append(f"<a href='{files}/windows/latest.json'>latest usage-window report</a>")
    if status.archive.state == "done":
        items.append(f"<a href='{files}/archive/report/index.html'>final report (archived)</a>")
    audit = f"{base}/campaigns/{cid}/audit"
    items += [f"<a href='{audit}?format=csv'>audit trail (CSV)</a>", f"<a href='{audit}?format=json'>audit (JSON)</a>"]
    return "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"


def watch_section(status: CampaignStatus) -> str:
    """The PhotoShelter watcher of the campaign's source: its latest poll and what it named."""
    watch = status.stored.watch
    if watch is None:
        return ("<p class='muted' id='watch'>Not watched (or not yours to see): the daily ingest run picks up "
                "approvals.</p>")
    poll = watch.get("last_poll")
    pace = (poll or {}).get("interval") or watch["interval"]
    cost = f" ({poll['calls'] * 3600 / pace:.0f} PhotoShelter calls an hour)" if poll and poll.get("calls") else ""
    head = f"every {pace:.0f} s{cost}, source <code>{escape(watch['source'])}</code>"
    if not poll:
        return f"<p id='watch'>{head}: no poll yet (the ingest DAG must be unpaused and a triggerer running).</p>"
    if poll.get("result") == "failed":
        what = f"{badge('failed')} {escape(poll.get('error', ''))} — no event was fired; it tries again"
    else:
        named = sum((poll.get("named") or {}).values())
        what = (f"{escape(poll.get('result', ''))}: {poll.get('seen', 0)} media seen, {poll.get('changed', 0)} "
                f"changed, {named} sent to ingest, {poll.get('calls', 0)} PhotoShelter calls")
    return (f"<p id='watch'>{head}; last poll {viewer_time(parse_rule_time(poll['at']))}: {what}</p>"
            + events_line(watch.get("events")))


def events_line(events: dict[str, Any] | None) -> str:
    """What the watcher fired that ingest has not finished (Airflow's asset queue and runs)."""
    if not events:
        return ""
    if not events["queued"] and not events["runs"]:
        return "<p id='watch-events'>Events waiting: none (every change the watcher named is ingested).</p>"
    parts = []
    if events["queued"]:
        parts.append(f"<b>{events['queued']}</b> event{'s' * (events['queued'] != 1)} waiting since "
                     f"{viewer_time(events['since'])} for the running ingest to finish (one run at a time)")
    if events["runs"]:
        parts.append(f"<b>{events['runs']}</b> event-triggered ingest run{'s' * (events['runs'] != 1)} not finished")
    return f"<p id='watch-events'>Events waiting: {'; '.join(parts)}.</p>"


def audit_section(status: CampaignStatus) -> str:
    counts = status.stored.audit
    if not counts:
        return "<p class='muted'>No audit records yet.</p>"
    summary = " · ".join(f"{escape(a)} <b>{n}</b>" for a, n in counts.items())
    rows = "".join(f"<tr><td>{escape(r['time'])}</td><td>{escape(r['action'])}</td><td>{escape(r.get('market') or '')}"
                   f"</td><td>{escape(r.get('master') or '')}</td><td>{escape(r.get('reason') or '')}</td>"
                   f"<td>{escape(r.get('run_type') or '')} {escape(r.get('triggered_by') or '')}</td></tr>"
                   for r in status.stored.recent)
    return (f"<p id='audit-counts'>{summary}</p><table><tr><th>Time (UTC)</th><th>Action</th><th>Market</th>"
            f"<th>Master</th><th>Reason</th><th>Run</th></tr>{rows}</table>")


def unreadable(campaign: Campaign, error: Exception, base: str) -> str:
    """The page of a campaign one of whose stored documents cannot be read: which file, what to do."""
    body = (f"<h1>{escape(campaign.name)}</h1><p>{badge('unreadable')} unreadable: "
            f"<code>{escape(getattr(error, 'path', ''))}</code></p><p>{escape(str(error))}</p>")
    return layout(campaign.name, body, base)


def campaign(status: CampaignStatus, runs: list[dict[str, Any]], base: str) -> str:
    c, a = status.campaign, status.archive
    live = sum(m.status == "live" for m in status.markets)
    cards = "".join([card("markets live", f"{live} / {len(status.markets)}"),
                     card("copies", sum(m.copies for m in status.markets)),
                     card("restricted / signed masters", f"{sum(h.mode == 'restricted' for h in status.held)} / "
                                                         f"{sum(h.mode == 'signed' for h in status.held)}"),
                     card("licences ending ≤ 30 days", len(status.licences)),
                     card("archive", a.state)])
    window = f"{c.window.start or 'open'} → {c.window.end or 'open'}"
    body = (f"<h1>{escape(c.name)}</h1><p class='muted'>{escape(c.id)} · window {escape(str(window))}"
            f"{' (' + escape(c.window.timezone) + ')' if c.window.timezone else ' (each market at its own midnight)'}"
            f" · as of {escape(local(status.now, 'UTC'))} ({viewer_time(status.now)} your time)</p>"
            f"<div class='cards'>{cards}</div>"
            f"<h2>Markets</h2>{market_rows(status, base)}<h2>Windows</h2>{timeline(status)}"
            f"<h2>Restricted and signed-only masters</h2>{held_table(status)}"
            f"<h2>Licences ending within 30 days</h2>{licence_table(status)}"
            f"<h2>Archive</h2><p id='archive'>{badge(a.state)} {escape(a.detail)}"
            f"{'; due ' + escape(local(a.due, 'UTC')) if a.due and a.state in ('not due', 'due') else ''}</p>"
            f"<h2>PhotoShelter watcher</h2>{watch_section(status)}"
            f"<h2>Last runs</h2>{runs_table(runs)}<h2>Files</h2>{links(status, base)}"
            f"<h2>Audit</h2>{audit_section(status)}")
    return layout(c.name, body, base)


def sheet_mark(decision: dict[str, Any] | None) -> str:
    """Why a master is not served in the market (as the last usage-window run decided), or ""."""
    if decision is None:
        return "not yet checked by the usage-window run"
    if decision.get("mode") == "restricted":
        return f"restricted: {decision.get('reason') or 'rights'}"
    if not decision.get("public"):
        phase = decision.get("phase")
        return {"before": "held: its window has not opened", "after": "closed: its window has ended"}.get(
            phase or "", f"held ({decision.get('mode')})")
    return ""


def contact_sheet(campaign: Campaign, market: Any, made: dict[str, Any], decisions: dict[str, Any], page_no: int,
                  base: str) -> str:
    """One page of a market's contact sheet: each master's renditions as previews (loaded lazily
    from the page's own preview route), their names and sizes, the headline as drawn, and the
    masters that are held or restricted, marked."""
    cid, code = quote(campaign.id), quote(market.code)
    ids = sorted(made)
    pages = max(1, -(-len(ids) // SHEET_PAGE))
    page_no = min(max(page_no, 1), pages)
    shown = ids[(page_no - 1) * SHEET_PAGE:page_no * SHEET_PAGE]
    headline = campaign.headline(market.primary_locale) if market.draws_headline else None
    cards = []
    for image_id in shown:
        entry = made[image_id]
        mark = sheet_mark(decisions.get(image_id))
        figures = []
        for name, r in sorted((entry.get("renditions") or {}).items()):
            size = f"{r['width']}×{r['height']}" if r.get("width") else escape(str(r.get("format") or ""))
            src = f"{base}/campaigns/{cid}/markets/{code}/previews/{quote(image_id)}/{quote(name)}.jpg"
            figures.append(f"<figure data-rendition='{escape(name)}'><img loading='lazy' src='{src}' "
                           f"alt='{escape(image_id)} {escape(name)}'><figcaption>{escape(name)} · {size}"
                           "</figcaption></figure>")
        cards.append(f"<section class='master{' marked' if mark else ''}' data-master='{escape(image_id)}'>"
                     f"<b>{escape(image_id)}</b> {badge('restricted') if mark.startswith('restricted') else ''}"
                     f"{'<br><small>' + escape(mark) + '</small>' if mark else ''}"
                     f"<div class='renditions'>{''.join(figures)}</div></section>")
    nav = " ".join(f"<a href='?page={n}'>{n}</a>" if n != page_no else f"<b>{n}</b>" for n in range(1, pages + 1)) \
        if pages > 1 else ""
    body = (f"<h1>{escape(campaign.name)} — {escape(market.code)} contact sheet</h1>"
            f"<p class='muted'>{len(ids)} masters · page {page_no} of {pages}"
            + (f" · headline as drawn: “{escape(headline)}”" if headline else "") + "</p>"
            f"<p id='sheet-pages'>{nav}</p><div class='sheet' id='sheet'>{''.join(cards)}</div>")
    return layout(f"{campaign.name} — {market.code} contact sheet", body, base)
