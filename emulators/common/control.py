"""What both emulators share: call counters, fault injection and a controllable clock.

Every request passes through :class:`ControlMiddleware`, which

* counts the call under its route template (``"GET /psapi/v3/mem/gallery/{gallery_id}/images"``),
* injects the configured faults: added latency, a probability of a 5xx, of a 429 with
  ``Retry-After``, of a dropped connection (the response starts, then the socket closes
  mid-body) and of a *lost reply* (the call is carried out — an upload stored, a gallery made —
  but its answer never arrives: the case that makes a naive retry write twice), all drawn from
  one seeded RNG so a run is repeatable.

The ``/_emulator/*`` routes (never counted, never faulted) let tests and benchmarks read the
counters, change the faults and move the clock while the server runs.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

CONTROL_PREFIX = "/_emulator"
# The header an emulator's own outgoing fetches carry (Cloudinary fetching an upload's remote
# URL): counted as ``"(service) <route>"``, apart from the client's calls.
SELF_FETCH = "x-emulator-fetch"


@dataclass
class Faults:
    """Fault settings; probabilities are per call, in [0, 1]."""

    latency_ms: float = 0.0
    p_5xx: float = 0.0
    p_429: float = 0.0
    p_drop: float = 0.0
    p_lost_reply: float = 0.0  # carried out, then the connection drops before the answer
    retry_after: float = 1.0
    seed: int | None = None
    # Only calls whose path starts with this are faulted ("" = all API calls).
    path_prefix: str = ""
    # Deterministic outage: after this many matching calls, every further one gets a 503.
    fail_after: int | None = None


@dataclass
class Control:
    """Mutable, thread-safe run-time state of one emulator."""

    faults: Faults = field(default_factory=Faults)
    calls: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)  # faults served, by kind
    traffic: Counter[str] = field(default_factory=Counter)  # API body bytes "received" and "sent"
    clock_offset: timedelta = timedelta(0)
    clock_fixed: datetime | None = None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.faults.seed)
        self._matched = 0

    def now(self) -> datetime:
        """The emulator's notion of "now" (UTC), which tests may pin or shift."""
        base = self.clock_fixed or datetime.now(UTC)
        return base + self.clock_offset

    def set_faults(self, **values: Any) -> Faults:
        with self._lock:
            self.faults = Faults(**{**asdict(self.faults), **values})
            self._rng = random.Random(self.faults.seed)
            self._matched = 0
        return self.faults

    def count(self, key: str) -> None:
        with self._lock:
            self.calls[key] += 1

    def draw(self) -> str | None:
        """Pick this call's fault, if any: ``"drop"``, ``"lost"``, ``"429"``, ``"5xx"`` or None."""
        f = self.faults
        with self._lock:
            roll = self._rng.random()
            self._matched += 1
            if f.fail_after is not None and self._matched > f.fail_after:
                self.injected["5xx"] += 1
                return "5xx"
            for name, p in (("drop", f.p_drop), ("lost", f.p_lost_reply), ("429", f.p_429), ("5xx", f.p_5xx)):
                if roll < p:
                    self.injected[name] += 1
                    return name
                roll -= p
        return None


def route_template(app: FastAPI, scope: Scope) -> str:
    """The route template a request matches, e.g. ``GET /v1_1/{cloud}/{rt}/upload``."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return f"{scope['method']} {route.path}"  # type: ignore[attr-defined]
    return f"{scope['method']} <unmatched>"


class ControlMiddleware:
    """Counts every API call and applies the configured faults before the route runs."""

    def __init__(self, app: ASGIApp, *, fastapi_app: FastAPI, control: Control) -> None:
        self.app = app
        self.fastapi_app = fastapi_app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith(CONTROL_PREFIX) or path == "/healthz":
            await self.app(scope, receive, send)
            return
        own = any(name == SELF_FETCH.encode() for name, _ in scope.get("headers", []))
        self.control.count(("(service) " if own else "") + route_template(self.fastapi_app, scope))
        receive, send = self.metered(receive, send)
        faults = self.control.faults
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        fault = self.control.draw() if path.startswith(faults.path_prefix) else None
        if fault == "lost":
            async def swallow(message: Any) -> None:  # the answer is made, then never sent
                return None

            await self.app(scope, receive, swallow)
        if fault in ("drop", "lost"):
            # Promise a body, send part of it, then fail: the server closes the socket and the
            # client sees a broken connection, as on a real network drop.
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"64"), (b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": b'{"status":', "more_body": True})
            kind = "lost reply" if fault == "lost" else "dropped connection"
            raise ConnectionAbortedError(f"emulator: injected {kind}")
        if fault in ("429", "5xx"):
            status = 429 if fault == "429" else 503
            body = b'{"error":{"message":"emulator: injected fault"}}'
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
            if status == 429:
                headers.append((b"retry-after", str(faults.retry_after).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


    def metered(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """``receive`` and ``send`` that add the body bytes passing through to the traffic
        counters (what a client sent and got: the benchmark's bytes through the worker)."""
        traffic = self.control.traffic

        async def counted_receive() -> Any:
            message = await receive()
            traffic["received"] += len(message.get("body", b""))
            return message

        async def counted_send(message: Any) -> None:
            traffic["sent"] += len(message.get("body", b""))
            await send(message)

        return counted_receive, counted_send


def control_router(control: Control) -> APIRouter:
    """The ``/_emulator`` admin routes shared by both emulators."""
    router = APIRouter(prefix=CONTROL_PREFIX)

    @router.get("/calls")
    def get_calls() -> dict[str, Any]:
        return {"calls": dict(control.calls), "total": sum(control.calls.values()), "faults": dict(control.injected),
                "bytes": {"received": control.traffic["received"], "sent": control.traffic["sent"]}}

    @router.post("/calls/reset")
    def reset_calls() -> dict[str, Any]:
        control.calls.clear()
        control.injected.clear()
        control.traffic.clear()
        return {"calls": {}}

    @router.get("/faults")
    def get_faults() -> dict[str, Any]:
        return asdict(control.faults)

    @router.post("/faults")
    def set_faults(values: dict[str, Any]) -> dict[str, Any]:
        unknown = set(values) - set(asdict(Faults()))
        if unknown:
            return {"error": {"message": f"unknown fault settings: {sorted(unknown)}"}}
        return asdict(control.set_faults(**values))

    @router.get("/clock")
    def get_clock() -> dict[str, Any]:
        return {"now": control.now().isoformat()}

    @router.post("/clock")
    def set_clock(values: dict[str, Any]) -> dict[str, Any]:
        """``{"now": ISO-8601}`` pins the clock, ``{"offset_seconds": N}`` shifts it,
        ``{}`` restores real time."""
        control.clock_fixed = datetime.fromisoformat(values["now"]) if values.get("now") else None
        control.clock_offset = timedelta(seconds=float(values.get("offset_seconds", 0)))
        return {"now": control.now().isoformat()}

    return router


def add_fault_arguments(parser: Any) -> None:
    """The fault-injection flags both emulators accept on their command line."""
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added latency per call")
    parser.add_argument("--p-5xx", type=float, default=0.0, help="probability of a 503 per call")
    parser.add_argument("--p-429", type=float, default=0.0, help="probability of a 429 per call")
    parser.add_argument("--p-drop", type=float, default=0.0, help="probability of a dropped connection")
    parser.add_argument("--p-lost-reply", type=float, default=0.0,
                        help="probability that a call is carried out but its answer is lost")
    parser.add_argument("--retry-after", type=float, default=1.0, help="Retry-After seconds sent with 429s")
    parser.add_argument("--fault-seed", type=int, default=None, help="seed for repeatable faults")


def add_host_argument(parser: Any) -> None:
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on: 127.0.0.1 (this machine only, the default) or 0.0.0.0 (every "
                             "interface, as in a container other containers reach)")


def faults_from_args(args: Any) -> Faults:
    return Faults(latency_ms=args.latency_ms, p_5xx=args.p_5xx, p_429=args.p_429,
                  p_drop=args.p_drop, p_lost_reply=args.p_lost_reply, retry_after=args.retry_after,
                  seed=args.fault_seed)


def serve(app: FastAPI, port: int, host: str = "127.0.0.1") -> None:
    """Run an emulator app with uvicorn (one process, quiet access log)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
