"""The benchmark's verdicts against the performance targets, its table, and ``bench/RESULTS.md``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

XCOM_LIMIT = 64 * 1024
EDIT_KINDS = ("delete", "rename", "access", "governance")  # bench/edits.py's KINDS
LIVE = ("approval_to_live", "watch_poll_cost", "hand_edit_repaired")  # bench/live.py's, edits.py's rows
COLUMNS = [("scenario", "scenario"), ("n_masters", "N"), ("n_markets", "M"), ("wall_s", "wall s"),
           ("baseline_wall_s", "naive s"), ("speedup", "speedup"), ("limit_s", "limit s"),
           ("efficiency", "eff."), ("calls_per_master", "calls/master"), ("admin_calls_per_master", "admin/master"),
           ("upload_calls_per_item", "uploads/item"), ("worker_bytes", "worker MB"), ("peak_rss_mb", "RSS MB"),
           ("max_xcom_bytes", "max XCom B"), ("worker_cpu_s", "worker CPU s"), ("emulator_cpu_s", "emulator CPU s")]


class Check(NamedTuple):
    target: str
    figure: str
    met: bool


def _find(rows: list[dict[str, Any]], scenario: str) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r["scenario"] == scenario), key=lambda r: r["n_masters"])


def targets(rows: list[dict[str, Any]]) -> list[Check]:
    """Each target of the performance issue that these rows can judge, with the measured figure."""
    checks: list[Check] = []
    for row in _find(rows, "variants")[-1:]:
        checks.append(Check(f"variants ≥ 20× the naive baseline (N={row['n_masters']}, M={row['n_markets']})",
                            f"{row['speedup']}×", (row["speedup"] or 0) >= 20))
    for scenario in ("ingest", "variants"):
        for row in _find(rows, scenario)[-1:]:
            checks.append(Check(f"{scenario}: efficiency ≥ 0.5 of the latency-bound limit",
                                f"{row['efficiency']}", (row["efficiency"] or 0) >= 0.5))
            checks.append(Check(f"{scenario}: ≤ 1 Upload API call per master{' per market' * (scenario != 'ingest')}",
                                f"{row['upload_calls_per_item']}", row["upload_calls_per_item"] <= 1))
    for row in _find(rows, "windows_nochange")[-1:]:
        copies, pages = row["n_masters"] * row["n_markets"], -(-row["n_masters"] // 500)
        # 40 per 16,000 copies; below that size, the least a listing can take: a page per 500 copies of
        # each market plus the campaign's masters (listed for the summary and for any left public).
        allowed = max(copies // 400, (row["n_markets"] + 2) * pages)
        admin = round(row["admin_calls_per_master"] * row["n_masters"])
        checks.append(Check(f"no-change usage-window run over {copies} copies: ≤ {allowed} Admin calls (40 per "
                            "16,000; at least one listing page per market) and no Upload call",
                            f"{admin} Admin, {row['calls'].get('cloudinary_upload', 0)} Upload",
                            admin <= allowed and not row["calls"].get("cloudinary_upload")))
    amortised = [r for r in rows if r["scenario"] in ("ingest", "variants", "windows_nochange", "windows_5pct")]
    if amortised:
        worst = max(amortised, key=lambda r: r["admin_calls_per_master"])
        checks.append(Check("Cloudinary Admin calls ≤ 0.05 per master (amortised)",
                            f"{worst['admin_calls_per_master']} ({worst['scenario']})",
                            worst["admin_calls_per_master"] <= 0.05))
    ingest = _find(rows, "ingest")
    if len(ingest) > 1:
        small, large = ingest[0], ingest[-1]
        ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
        checks.append(Check(f"peak RSS at N={large['n_masters']} ≤ 1.25× N={small['n_masters']}",
                            f"{ratio:.2f}× ({large['peak_rss_mb']} / {small['peak_rss_mb']} MB)", ratio <= 1.25))
    measured = [r for r in rows if "max_xcom_bytes" in r]
    if measured:
        biggest = max(measured, key=lambda r: r["max_xcom_bytes"])
        checks.append(Check("no XCom over 64 KB", f"{biggest['max_xcom_bytes']} B ({biggest['scenario']})",
                            biggest["max_xcom_bytes"] <= XCOM_LIMIT))
    for row in _find(rows, "approval_to_live"):
        checks += live_targets(row)
    for row in _find(rows, "hand_edit_repaired"):
        checks += edits_targets(row)
    for row in _find(rows, "watch_poll_cost"):
        checks.append(Check(f"a poll of {row['media']} media costs ceil(N / 1000) calls (stated per hour at 60 s)",
                            f"{row['calls_per_poll']} calls, {row['calls_per_hour_at_60s']} an hour",
                            row["calls_per_poll"] == -(-row["media"] // 1000)))
    for row in _find(rows, "parse"):
        checks.append(Check(f"DAG folder with {row['n_markets']} markets: < 2 s per file, < 10 s in total",
                            f"{row['parse_s_max']} s max ({row['slowest_file']}), {row['parse_s_total']} s total",
                            row["parse_s_max"] < 2 and row["parse_s_total"] < 10))
    return checks


def live_targets(row: dict[str, Any]) -> list[Check]:
    """The event-driven issue's targets, from one approval-to-live run."""
    interval, mode = row["watch_interval_s"], "with" if row["notifications"] else "without"
    checks = []
    if row["images"]:
        checks += [
            Check(f"p95 approval → master in Cloudinary ≤ poll interval + 30 s ({interval:.0f} + 30)",
                  f"{row['to_master']['p95']} s (p50 {row['to_master']['p50']}, max {row['to_master']['max']}, "
                  f"n={row['to_master']['n']})", (row["to_master"]["p95"] or 1e9) <= interval + 30),
            Check("p95 approval → every market live and written back ≤ 60 s at the default call budget",
                  f"{row['to_every_market']['p95']} s (p50 {row['to_every_market']['p50']}, "
                  f"{row['finished']}/{row['approvals']} finished)",
                  (row["to_every_market"]["p95"] or 1e9) <= 60 and row["finished"] == row["approvals"]),
            Check("0 Cloudinary (so 0 Admin API) calls per watcher poll",
                  f"{row['cloudinary_calls_in_idle_polls']} calls over {row['idle_polls']} idle polls",
                  row["cloudinary_calls_in_idle_polls"] == 0 and row["idle_polls"] > 0)]
    video = row["video_transcoded_to_written_back"]
    if row["notifications"] or row.get("events") == "pull":
        how = "webhook notifications" if row["notifications"] else "events pulled by the triggerer, no public URL"
        checks.append(Check(f"video: transcode finished → written back, p95 ≤ 15 s with {how}",
                            f"{video['p95']} s (p50 {video['p50']}, n={video['n']})", (video["p95"] or 1e9) <= 15))
    else:
        checks.append(Check(f"video: transcode finished → written back {mode} notifications (for comparison: "
                            "bounded by the trigger's poll)", f"{video['p95']} s p95 (p50 {video['p50']}, "
                            f"n={video['n']})", video["n"] > 0))
    return checks


def edits_targets(row: dict[str, Any]) -> list[Check]:
    """The hand-edit targets, from one run of bench/edits.py."""
    checks = [Check(f"hand edit ({kind}) → repaired, p95 ≤ 60 s",
                    f"{row[f'{kind}_repaired']['p95']} s (p50 {row[f'{kind}_repaired']['p50']}, max "
                    f"{row[f'{kind}_repaired']['max']}, n={row[f'{kind}_repaired']['n']})",
                    (row[f"{kind}_repaired"]["p95"] or 1e9) <= 60 and row[f"{kind}_repaired"]["n"] >= 20)
              for kind in EDIT_KINDS]
    checks.append(Check("every hand edit repaired", f"{row['repaired']}/{row['edits']}",
                        row["repaired"] == row["edits"]))
    checks.append(Check("idle Admin API calls per hour ≤ 120 (the event channel's long polls)",
                        f"{row['idle_admin_calls_per_hour']} an hour (over {row['idle_measured_s']:.0f} s)",
                        row["idle_admin_calls_per_hour"] <= 120))
    return checks


def _trio(figures: dict[str, Any]) -> str:
    return f"{figures['p50']}/{figures['p95']}/{figures['max']}"


def live_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The approval-to-live runs and the poll cost, one line each."""
    out = []
    for r in rows:
        if r["scenario"] == "approval_to_live":
            mode = "webhook notifications" if r["notifications"] else (
                "events pulled by the triggerer" if r.get("events") == "pull" else "no Cloudinary notifications")
            out.append(
                f"\nApproval to live ({mode}; {r['approvals']} approvals over "
                f"{r['spread_s']:.0f} s, watcher every {r['watch_interval_s']:.0f} s, {r['latency_ms']:g} ms latency): "
                f"to Cloudinary p50/p95/max {_trio(r['to_master'])} s; to every market written back "
                f"{_trio(r['to_every_market'])} s; video transcoded → written back "
                f"{_trio(r['video_transcoded_to_written_back'])} s; {r['calls_per_poll']} PhotoShelter calls per poll, "
                f"{r['cloudinary_calls_in_idle_polls']} Cloudinary calls in {r['idle_polls']} idle polls; "
                f"{r['admin_calls_during_approvals']} Admin calls by the pipeline during the approvals; "
                f"{r['ingest_runs']} ingest runs in all.")
        elif r["scenario"] == "hand_edit_repaired":
            kinds = "; ".join(f"{k} {_trio(r[f'{k}_repaired'])} s" for k in EDIT_KINDS)
            out.append(f"\nHand edits in the Cloudinary console ({r['edits']} over {r['spread_s']:.0f} s, "
                       f"{r['latency_ms']:g} ms latency, events pulled by the triggerer): repaired p50/p95/max "
                       f"{kinds}; {r['repaired']}/{r['edits']} repaired; {r['pipeline_admin_calls_during_edits']} "
                       f"Admin calls by the pipeline meanwhile; idle {r['idle_admin_calls_per_hour']} Admin calls "
                       f"an hour; runs {r['runs']}.")
        elif r["scenario"] == "watch_poll_cost":
            out.append(f"\nOne watcher poll of {r['media']} media in a gallery named by ID: {r['calls_per_poll']} "
                       f"calls ({r['routes']}), {r['calls_per_hour_at_60s']} an hour at 60 s.")
    return out


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return "–"
    if key == "worker_bytes":
        return f"{value / 1e6:.1f}"
    return str(value)


def table(rows: list[dict[str, Any]]) -> list[str]:
    """A Markdown table of the scenarios (parse has its own line)."""
    flows = [r for r in rows if r["scenario"] not in ("parse", *LIVE)]
    lines = ["| " + " | ".join(label for _, label in COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cell(r, key) for key, _ in COLUMNS) + " |" for r in flows]
    for r in rows:
        if r["scenario"] == "parse":
            lines.append(f"\nParse, {r['n_markets']} market files: {r['parse_s_max']} s for the slowest file "
                         f"({r['slowest_file']}), {r['parse_s_total']} s in total, {r['dags']} DAGs.")
    return lines + live_lines(rows)


def verdicts(checks: list[Check]) -> list[str]:
    return [f"- {'met' if c.met else 'NOT met'}: {c.target} — {c.figure}" for c in checks]


def print_table(rows: list[dict[str, Any]], checks: list[Check]) -> None:
    print("\n".join(["", *table(rows), "", *verdicts(checks)]))


def write_results(path: Path, rows: list[dict[str, Any]], checks: list[Check], run: dict[str, Any]) -> None:
    """``bench/RESULTS.md``: the machine, the date, the table and the verdicts (kept in git, so a
    regression shows in review)."""
    cpu = sum(r.get("emulator_cpu_s") or 0 for r in rows)
    wall = sum(r.get("wall_s") or 0 for r in rows if r["scenario"] not in ("parse", *LIVE))
    head = [
        "# Benchmark results", "",
        f"Written by `make bench{' QUICK=1' if run['quick'] else ''}` on {run['date']} ({run['machine']}); "
        f"{run['repeats']} repeat(s), medians; {run['latency_ms']:g} ms added to every emulator call; "
        f"{run['task_threads']} masters in flight per ingest task and {run['render_threads']} per market render "
        f"task, {run['slots']} market DAGs at once; took "
        f"{run['took_s']} s.", "",
        "*naive s* is the naive baseline (bench/naive.py) timed on a sample and scaled to the scenario's items: "
        "it is serial, so linear. *limit s* is the latency-bound limit: the scenario's calls × latency ÷ the "
        "concurrency it ran with. *eff.* = limit ÷ wall.", "",
        *table(rows), "",
        f"The emulators' own CPU over the measured runs: {cpu:.0f} s against {wall:.0f} s of wall time "
        f"({cpu / wall:.0%} of one core of this {run['machine'].split(', ')[1]} machine)" if wall else "", "",
        "## Targets", "", *verdicts(checks), "",
    ]
    path.write_text("\n".join(head))
