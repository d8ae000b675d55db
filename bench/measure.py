"""What the benchmark reads from outside the pipeline: the emulators' call counters split by API,
the bytes that crossed the wire, and the emulators' own CPU time; and the figures made of them
(pure functions, unit-tested)."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from typing import Any

from emulators.runner import EmulatorProcess

# Cloudinary's Admin API (hourly-limited) answers under /resources, /usage, /ping and
# /metadata_fields and /triggers, and (we assume: Cloudinary does not say) the v2 notifications
# module; the Upload API under /<resource type>/<action>; anything else is delivery (CDN).
ADMIN_PARTS = ("/resources", "/usage", "/ping", "/metadata_fields", "/triggers", "/folders")


def api_of(emulator: str, route: str) -> str:
    """``photoshelter``, ``cloudinary_admin``, ``cloudinary_upload``, ``cloudinary_delivery``, or
    ``service`` (a call the emulated service made itself: not the worker's)."""
    if route.startswith("(service) "):
        return "service"
    if emulator == "photoshelter":
        return "photoshelter"
    path = route.split(" ", 1)[-1]
    if path.startswith("/v2/notifications/"):
        return "cloudinary_admin"
    if not path.startswith("/v1_1/"):
        return "cloudinary_delivery"
    return "cloudinary_admin" if any(part in path for part in ADMIN_PARTS) else "cloudinary_upload"


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (Linux ``/proc``)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Traffic:
    """What the two emulators saw between :meth:`start` and :meth:`stop`."""

    calls: dict[str, int]
    bytes: int
    emulator_cpu_s: float


class Meter:
    """Reads the emulators' counters around one measured stretch of work."""

    def __init__(self, ps: EmulatorProcess, cld: EmulatorProcess) -> None:
        self.procs = {"photoshelter": ps, "cloudinary": cld}
        self.cpu0 = 0.0

    def start(self) -> None:
        for proc in self.procs.values():
            proc.control("POST", "calls/reset")
        self.cpu0 = self._cpu()

    def _cpu(self) -> float:
        return sum(cpu_seconds(p.process.pid) for p in self.procs.values() if p.process)

    def stop(self) -> Traffic:
        calls: dict[str, int] = {}
        moved = 0
        for name, proc in self.procs.items():
            seen = proc.control("GET", "calls")
            for route, count in seen["calls"].items():
                api = api_of(name, route)
                if api == "service":
                    continue
                calls[api] = calls.get(api, 0) + count
            moved += seen["bytes"]["received"] + seen["bytes"]["sent"]
        return Traffic(calls, moved, round(self._cpu() - self.cpu0, 2))


def limit_seconds(calls: int, latency_ms: float, concurrency: int) -> float:
    """The latency-bound limit: the calls' time at this concurrency with zero overhead."""
    return calls * latency_ms / 1000 / max(1, concurrency)


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians of the numeric fields over repeats (the rest from the first repeat)."""
    out = dict(rows[0])
    for key, value in rows[0].items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            values = [r[key] for r in rows if isinstance(r.get(key), int | float)]
            median = statistics.median(values)
            out[key] = round(median, 4) if isinstance(median, float) else median
    out["repeats"] = len(rows)
    return out
