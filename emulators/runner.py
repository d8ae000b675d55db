"""Start the emulators as real server processes on free loopback ports (tests, demo, benchmarks)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Tests and the demo run the emulators strict (the pessimistic reading of every undocumented
# point, docs/emulators.md) unless CAMPAIGN_MEDIA_EMULATORS=permissive.
STRICT = os.environ.get("CAMPAIGN_MEDIA_EMULATORS", "strict") != "permissive"
PS_CREDENTIALS = {"api_key": "PSEMULATOR1", "email": "pipeline@example.com", "password": "emulator-password"}
CLD_CREDENTIALS = {"cloud_name": "democloud", "api_key": "123456789012345", "api_secret": "emulator-secret",
                   "auth_token_key": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class EmulatorProcess:
    """A running emulator: its URL, credentials, and its ``/_emulator`` controls."""

    module: str
    data_dir: Path
    port: int
    credentials: dict[str, str]
    args: list[str] = field(default_factory=list)
    process: subprocess.Popen | None = None
    log_path: Path | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        cmd = [sys.executable, "-m", self.module, "--port", str(self.port), "--data-dir", str(self.data_dir)]
        for key, value in self.credentials.items():
            cmd += [f"--{key.replace('_', '-')}", value]
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the process's lifetime
        self.process = subprocess.Popen(cmd + self.args, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.module} exited early; see {self.log_path}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.module} did not answer /healthz within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def restart(self) -> EmulatorProcess:
        self.stop()
        return self.start()

    # ------------------------------------------------------------------ controls
    def control(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = httpx.request(method, f"{self.base_url}/_emulator/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def calls(self) -> dict[str, int]:
        return self.control("GET", "calls")["calls"]

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self.control("POST", "faults", faults)

    def set_clock(self, **clock: Any) -> dict[str, Any]:
        return self.control("POST", "clock", clock)

    def reset(self) -> None:
        """No faults, real time, counters at zero."""
        self.control("POST", "faults", {"latency_ms": 0, "p_5xx": 0, "p_429": 0, "p_drop": 0, "p_lost_reply": 0,
                                        "retry_after": 1.0, "seed": None, "path_prefix": "",
                                        "fail_after": None})
        self.control("POST", "clock", {})
        self.control("POST", "calls/reset")
        if self.module == "emulators.cloudinary":  # notifications delivered, none dropped or repeated; no CDN log
            self.control("POST", "access-log", {"folder": None})
            self.control("POST", "notifications", {"p_drop": 0, "p_duplicate": 0, "delay_seconds": 0,
                                                   "retry_seconds": 180.0, "attempts": 3, "seed": None})


def photoshelter_connection(proc: EmulatorProcess, **overrides: Any) -> str:
    """``AIRFLOW_CONN_PHOTOSHELTER_DEFAULT`` (JSON) for a running PhotoShelter emulator; keys in
    ``overrides`` replace the connection's fields, ``extra`` is merged into its extras."""
    extra = {"api_key": proc.credentials["api_key"], **overrides.pop("extra", {})}
    return json.dumps({"conn_type": "photoshelter", "host": proc.base_url, "login": proc.credentials["email"],
                       "password": proc.credentials["password"], "extra": extra, **overrides})


def cloudinary_connection(proc: EmulatorProcess, **overrides: Any) -> str:
    """``AIRFLOW_CONN_CLOUDINARY_DEFAULT`` (JSON) for a running Cloudinary emulator (with the
    token key and ``private_cdn`` when it was started with a private CDN distribution)."""
    extra = {"upload_prefix": proc.base_url, "delivery_host": f"127.0.0.1:{proc.port}",
             "auth_token_key": proc.credentials["auth_token_key"], **overrides.pop("extra", {})}
    if "--private-cdn" in proc.args:
        extra.setdefault("private_cdn", True)
    return json.dumps({"conn_type": "cloudinary", "host": proc.credentials["cloud_name"],
                       "login": proc.credentials["api_key"], "password": proc.credentials["api_secret"],
                       "extra": extra, **overrides})


def start_photoshelter(data_dir: Path, port: int | None = None, args: list[str] | None = None, *,
                       strict: bool = STRICT) -> EmulatorProcess:
    return EmulatorProcess("emulators.photoshelter", Path(data_dir), port or free_port(), dict(PS_CREDENTIALS),
                           [*(["--strict"] if strict else []), *(args or [])]).start()


def start_cloudinary(data_dir: Path, port: int | None = None, args: list[str] | None = None, *,
                     strict: bool = STRICT, private_cdn: bool = True) -> EmulatorProcess:
    """A Cloudinary emulator; by default strict with a private CDN distribution (an account with
    token-based access). ``private_cdn=False`` with ``strict`` is an account without it."""
    flags = [*(["--strict"] if strict else []), *(["--private-cdn"] if private_cdn else [])]
    return EmulatorProcess("emulators.cloudinary", Path(data_dir), port or free_port(), dict(CLD_CREDENTIALS),
                           [*flags, *(args or [])]).start()
