"""``python -m bench.logs``: how fast the metrics report reads CDN access logs (lines per second,
per format, median of repeats) and how much memory that takes. Part of ``make bench``
(``--only ...,logs``); prints one JSON line per format.

The logs are generated here: a campaign of ``masters`` masters in 8 markets, requests spread over
them (one in ten to another campaign's URL, one in a hundred malformed), in hourly files of
50,000 lines. CloudFront's are gzip'd as CloudFront writes them.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

FIELDS = "#Fields: date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer)"
PER_FILE = 50_000


def path(rng: random.Random, masters: int) -> str:
    campaign = "spring" if rng.random() > 0.1 else "autumn"
    market = rng.choice(["fr", "jp", "sa", "de", "us", "uk", "br", "in"])
    chain = rng.choice(["c_fill,h_900,w_1600", "f_auto,q_auto,w_800", "c_fill,h_1080,w_1080"])
    return f"/demo/image/upload/{chain}/v1/campaigns/{campaign}/markets/{market}/I{rng.randrange(masters):014d}.jpg"


def write(folder: Path, fmt: str, lines: int, masters: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, lines, PER_FILE):
        rows = []
        for _ in range(min(PER_FILE, lines - start)):
            if rng.random() < 0.01:
                rows.append("malformed line")
                continue
            p, size = path(rng, masters), rng.randrange(20_000, 400_000)
            rows.append(json.dumps({"timestamp": "2026-03-02T10:00:00Z", "url": p, "status": 200,
                                    "response_bytes": size}) if fmt == "jsonl" else
                        f"2026-03-02\t10:00:00\tCDG50\t{size}\t192.0.2.1\tGET\td1.cloudfront.net\t{p}\t200\t-")
        text = "\n".join(([] if fmt == "jsonl" else ["#Version: 1.0", FIELDS]) + rows) + "\n"
        name = folder / f"part-{start // PER_FILE:04d}.{'gz' if fmt == 'cloudfront' else 'jsonl'}"
        name.write_bytes(gzip.compress(text.encode()) if fmt == "cloudfront" else text.encode())


def measure(folder: Path, fmt: str, masters: int) -> dict[str, Any]:
    from campaign_media.reports.access import tally
    from campaign_media.runtime.access_logs import hits

    known = {(f"I{n:014d}", m) for n in range(masters) for m in ["fr", "jp", "sa", "de", "us", "uk", "br", "in"]}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    figures = tally(hits(folder.as_uri(), fmt), "spring", known)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "lines": figures.lines, "counted": figures.counted,
            "rss_growth_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024, 1)}


def run_all(tmp: Path, *, lines: int = 500_000, masters: int = 2000, repeats: int = 3) -> list[dict[str, Any]]:
    out = []
    for fmt in ("cloudfront", "jsonl"):
        folder = tmp / fmt
        write(folder, fmt, lines, masters)
        runs = [measure(folder, fmt, masters) for _ in range(repeats)]
        seconds = statistics.median(r["seconds"] for r in runs)
        out.append({"scenario": f"access_logs_{fmt}", "lines": runs[0]["lines"], "counted": runs[0]["counted"],
                    "median_s": round(seconds, 2), "lines_per_s": round(runs[0]["lines"] / seconds),
                    "rss_growth_mb": max(r["rss_growth_mb"] for r in runs), "repeats": repeats})
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.logs", description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--repeats", type=int, default=3)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="campaign-media-logs-") as tmp:
        for row in run_all(Path(tmp), lines=opts.lines, repeats=opts.repeats):
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
