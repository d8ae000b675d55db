"""The CDN's access log for the emulator's deliveries: what the distribution in front of a
custom or private delivery host writes to its log bucket, so the metrics report can be shown
end to end (``--access-log-dir``, or ``POST /_emulator/access-log``).

Formats: ``cloudfront`` (CloudFront's standard log: gzip'd, tab-separated, ``#Version`` and
``#Fields`` lines first, one file per hour), ``jsonl`` (one JSON object per request, keys as
Fastly-style log streaming names them) and ``csv`` (the project's ``url,bytes,status,time``).
Every request to a delivery route is logged, refused ones included, with the bytes of the body
served.
"""

from __future__ import annotations

import gzip
import json
import os
import threading
from datetime import datetime
from pathlib import Path

FIELDS = ("date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
          "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
          "cs-bytes time-taken")
FORMATS = ("cloudfront", "jsonl", "csv")


class AccessLog:
    """Appends one line per delivery to the hour's file under ``folder``."""

    def __init__(self, folder: str | Path, fmt: str = "cloudfront", distribution: str = "EEMULATOR0001") -> None:
        if fmt not in FORMATS:
            raise ValueError(f"access log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        self.folder, self.format, self.distribution = Path(folder), fmt, distribution
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write(self, *, when: datetime, host: str, path: str, query: str, status: int, size: int, client: str) -> None:
        hour = when.strftime("%Y-%m-%d-%H")
        with self._lock:
            if self.format == "cloudfront":
                # Files are named and compressed as CloudFront names them; each line is its own
                # gzip member (a concatenation of members is one valid gzip stream).
                target = self.folder / f"{self.distribution}.{hour}.{os.getpid():x}.gz"
                head = "" if target.exists() else f"#Version: 1.0\n#Fields: {FIELDS}\n"
                line = "\t".join([when.strftime("%Y-%m-%d"), when.strftime("%H:%M:%S"), "EMU1", str(size), client,
                                  "GET", host, path, str(status), "-", "emulator", query or "-", "-",
                                  "Hit" if status < 400 else "Error", os.urandom(8).hex(), host, "http", "0",
                                  "0.001"])
                with target.open("ab") as out:
                    out.write(gzip.compress((head + line + "\n").encode()))
            elif self.format == "jsonl":
                record = {"timestamp": when.isoformat(), "url": f"http://{host}{path}" + (f"?{query}" if query else ""),
                          "status": status, "response_bytes": size, "client_ip": client}
                with (self.folder / f"{hour}.jsonl").open("a") as out:
                    out.write(json.dumps(record) + "\n")
            else:
                target = self.folder / f"{hour}.csv"
                head = "" if target.exists() else "url,bytes,status,time\n"
                with target.open("a") as out:
                    out.write(f'{head}"http://{host}{path}",{size},{status},{when.isoformat()}\n')
